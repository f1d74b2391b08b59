"""The params.yaml `q1` section: what each Q1 parameter is and which values it may take."""

from __future__ import annotations

from pipeline.common.config import (
    Data,
    Section,
    declared,
    finite,
    grid,
    less,
    momentum,
    non_negative,
    non_negative_int,
    one_of,
    open_unit,
    param,
    positive,
    positive_int,
    section,
)

SOLVERS = ("lbfgs", "sgd")
DTYPES = ("float32", "float64")


@declared
class Preprocess(Section):
    clip_std: float = param(positive, "clip at +-k sigma, sigma = std over all pixels of the data set")
    low: float = param(finite, "[-k sigma, +k sigma] maps linearly onto [low, high]")
    high: float = param(finite, "upper end of the normalised range")
    sample_size: int = param(positive_int, "patches shown in the RGB / normalised figure")
    seed: int = param(non_negative_int, "which patches are shown")

    def check(self, key: str) -> list[str]:
        return less(key, "low", self.low, "high", self.high)


@declared
class Lbfgs(Section):
    iterations: int = param(positive_int, "L-BFGS iteration limit of q1_train and q1_sweep")
    log_every: int = param(positive_int, "progress line every k iterations")


@declared
class Sgd(Section):
    epochs: int = param(positive_int, "epochs of mini-batch momentum SGD")
    batch_size: int = param(positive_int, "mini-batch size")
    lr: float = param(positive, "learning rate")
    momentum: float = param(momentum, "classical momentum alpha")


@declared
class Quality(Section):
    window: int = param(positive_int, "side of the localisation window of the feature score (pixels)")


@declared
class Search(Section):
    hidden: int = param(positive_int, "Lhid of the search")
    lam: float = param(non_negative, "weight decay of the search", key="lambda")
    beta: list = param(grid(non_negative), "the beta grid")
    rho: list = param(grid(open_unit), "the rho grid")
    min_r2: float = param(open_unit, "eligible if the held-out variance explained is at least this")
    iterations: int = param(positive_int, "L-BFGS iteration limit of the search")
    seeds: list = param(grid(non_negative_int), "the grid is searched once per seed (held-out split, "
                        "initialisation); the first seed's choice is q1.beta, q1.rho")


@declared
class Sweep(Section):
    hidden: list = param(grid(positive_int), "Lhid values of the Lhid x lambda grid")
    lam: list = param(grid(non_negative), "lambda values of the grid", key="lambda")


@declared
class Q1(Section):
    """params.yaml `q1`: the sparse autoencoder study (preprocessing, search, training, sweep)."""

    preprocess: Preprocess = section(Preprocess, "q1_preprocess: grayscale, clip and map the patches")
    hidden: int = param(positive_int, "Lhid of q1_train")
    lam: float = param(non_negative, "weight decay lambda of q1_train (not divided by N)", key="lambda")
    beta: float = param(non_negative, "sparsity weight (q1_search's choice; also used by the sweep)")
    rho: float = param(open_unit, "target mean hidden activation (q1_search's choice; also the sweep's)")
    seed: int = param(non_negative_int, "held-out split, initialisation, SGD shuffling")
    holdout: float = param(open_unit, "fraction of patches held out for the reconstruction error")
    dtype: str = param(one_of(*DTYPES), "training precision")
    solver: str = param(one_of(*SOLVERS), "lbfgs (full batch, scipy L-BFGS-B) or sgd (mini-batch momentum SGD)")
    lbfgs: Lbfgs = section(Lbfgs, "L-BFGS settings")
    sgd: Sgd = section(Sgd, "SGD settings")
    quality: Quality = section(Quality, "the feature score")
    shown: int = param(positive_int, "held-out patches in the reconstruction figure")
    search: Search = section(Search, "q1_search: the beta x rho grid")
    sweep: Sweep = section(Sweep, "q1_sweep: the Lhid x lambda grid")


SCHEMA = {"data": Data, "q1": Q1}
PATCH_KEYS = ("data.data1", "q1.preprocess.clip_std", "q1.preprocess.low", "q1.preprocess.high", "q1.holdout",
              "q1.seed", "q1.dtype")  # what the training / held-out patches depend on (pipeline.q1.data.split)
FIT_KEYS = ("q1.solver", "q1.lbfgs", "q1.sgd", "q1.quality")  # the solver and the feature score
