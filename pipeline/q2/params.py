"""The params.yaml `q2` section: what each Q2 parameter is and which values it may take."""

from __future__ import annotations

from models.schedules import SCHEDULES
from pipeline.common.config import (
    Data,
    Section,
    declared,
    entries,
    factor,
    grid,
    less,
    momentum,
    name,
    non_negative,
    non_negative_int,
    one_of,
    param,
    positive,
    positive_int,
    section,
    text,
)

DTYPES = ("float32", "float64")


@declared
class Size(Section):
    dim: int = param(positive_int, "D, embedding size per word")
    hidden: int = param(positive_int, "P, sigmoid hidden units")
    epochs: int = param(positive_int, "epoch limit (and the cosine schedule's length)")
    lr: float = param(positive, "learning rate (peak of the schedule)")
    weight_decay: float = param(non_negative, "L2 weight decay of the matrices R, W1, W2 (0 = off)")


@declared
class Predict(Section):
    network: str = param(name, "the q2.sizes entry whose predictions are shown")
    count: int = param(positive_int, "test trigrams shown")
    top: int = param(positive_int, "candidates listed per trigram")
    seed: int = param(non_negative_int, "which test trigrams")


@declared
class Embeddings(Section):
    network: str = param(name, "the q2.sizes entry whose embeddings are shown")
    words: str = param(text, "comma-separated query words")
    neighbours: int = param(positive_int, "nearest words listed per query word")


@declared
class Q2(Section):
    """params.yaml `q2`: the trigram language model study (networks, SGD, predictions, embeddings)."""

    sizes: dict = entries(Size, "one q2_train@<name> network per entry")
    batch_size: int = param(positive_int, "mini-batch size")
    momentum: float = param(momentum, "classical momentum alpha")
    patience: int = param(positive_int, "epochs without a validation improvement before stopping")
    min_delta: float = param(non_negative, "validation improvement that counts")
    init_std: float = param(positive, "Gaussian std of every initial weight and bias")
    schedule: str = param(one_of(*SCHEDULES), "learning-rate schedule")
    lr_min: float = param(non_negative, "cosine: learning rate of the last epoch")
    gamma: float = param(factor, "step: factor applied every step_epochs epochs")
    step_epochs: int = param(positive_int, "step: epochs between decays")
    train_eval_size: int = param(positive_int, "training rows evaluated per epoch for the curve")
    dtype: str = param(one_of(*DTYPES), "training precision")
    seeds: list = param(grid(non_negative_int), "one training per seed (initialisation and shuffling); scores are "
                        "reported as mean and spread")
    predict: Predict = section(Predict, "q2_predict: top candidates for a few test trigrams")
    embeddings: Embeddings = section(Embeddings, "q2_embeddings: nearest words and a PCA map")

    def check(self, key: str) -> list[str]:
        if self.schedule != "cosine":
            return []
        return [problem for name, size in self.sizes.items()
                for problem in less(key, "lr_min", self.lr_min, f"sizes.{name}.lr", size.lr)]


TRAINING_KEYS = ("q2.batch_size", "q2.momentum", "q2.patience", "q2.min_delta", "q2.init_std",
                 "q2.schedule", "q2.lr_min", "q2.gamma", "q2.step_epochs", "q2.train_eval_size", "q2.dtype",
                 "q2.seeds")


SCHEMA = {"data": Data, "q2": Q2}
