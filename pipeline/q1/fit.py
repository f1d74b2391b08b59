"""Fitting a sparse autoencoder with either solver, with progress lines and a per-step cost curve.

- 'lbfgs': full-batch L-BFGS (scipy.optimize.minimize, method L-BFGS-B, jac=True) on the flat vector
  We = (W1, W2, b1, b2) through `models.autoencoder.ae_cost_terms` (the assignment's ae_cost plus the
  three terms of the same pass, for the curve). One curve row per iteration.
- 'sgd': mini-batch classical momentum SGD with the library's trainer. One curve row per epoch.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from models.autoencoder import SparseAutoencoder, ae_cost_terms, pack_params, unpack_params
from models.optim import MomentumSGD
from models.trainer import TrainingDiverged, train
from pipeline.common.errors import UserError, diverged
from pipeline.common.memory import check_batch
from pipeline.q1.params import Q1

INIT_PURPOSE, SHUFFLE_PURPOSE = 1, 2  # default_rng([seed, purpose]), see pipeline.q1.data
CURVE_COLUMNS = ["step", "loss", "mse", "decay", "sparsity", "rho_hat"]

@dataclass(frozen=True)
class SolverSettings:
    """Solver choice and its settings (the q1.solver, q1.dtype, q1.seed, q1.lbfgs.*, q1.sgd.* keys)."""

    solver: str
    dtype: str
    seed: int
    iterations: int
    log_every: int
    epochs: int
    batch_size: int
    lr: float
    momentum: float

    @classmethod
    def of(cls, q1: Q1, iterations: int) -> SolverSettings:
        """The settings of params.yaml q1 with the L-BFGS limit `iterations` (the search has its own)."""
        return cls(q1.solver, q1.dtype, q1.seed, iterations, q1.lbfgs.log_every, q1.sgd.epochs, q1.sgd.batch_size,
                   q1.sgd.lr, q1.sgd.momentum)


def memory_needed(n_in: int, hidden: int, rows: int) -> float:
    """Bytes a fit of an (n_in, hidden) network on `rows` patches needs, roughly: float64 parameter vectors for the
    solver (L-BFGS keeps 10 pairs of them) and the full-batch activations and deltas."""
    n_params = 2 * n_in * hidden + hidden + n_in
    return 8.0 * (30 * n_params + 6 * rows * hidden)


@dataclass
class Fit:
    """Fitted parameters (float64 copies), the curve (CURVE_COLUMNS, training-set terms) and timing."""

    params: dict[str, np.ndarray]
    curve: pd.DataFrame
    seconds: float
    steps: int


def _progress(label: str, unit: str, step: int, terms: dict[str, float], seconds: float) -> None:
    print(
        f"{label} {unit} {step}: loss {terms['loss']:.5f} (mse {terms['mse']:.5f}, decay {terms['decay']:.5f}, "
        f"sparsity {terms['sparsity']:.5f}) rho_hat {terms['rho_hat']:.4f} {seconds:.1f}s",
        file=sys.stderr,
        flush=True,
    )


class _Objective:
    """f(We) -> (J, Jgrad) in float64 for scipy, computed in the dtype of `data`; remembers the last terms."""

    def __init__(self, model: SparseAutoencoder, data: np.ndarray) -> None:
        self.fields = {"Lin": model.n_in, "Lhid": model.n_hidden, "lambda": model.lam,
                       "beta": model.beta, "rho": model.rho}
        self.data = data  # (Lin, N)
        self.last_w: np.ndarray | None = None
        self.last_terms: dict[str, float] = {}

    def __call__(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        terms, grad = ae_cost_terms(w.astype(self.data.dtype), self.data, self.fields)
        self.last_w, self.last_terms = w.copy(), terms
        return terms["loss"], grad.astype(np.float64)

    def terms_at(self, w: np.ndarray) -> dict[str, float]:
        if self.last_w is None or not np.array_equal(w, self.last_w):
            self(w)
        return self.last_terms


def _fit_lbfgs(model: SparseAutoencoder, params, x: np.ndarray, settings: SolverSettings, label: str) -> Fit:
    objective = _Objective(model, x.T)
    rows: list[dict[str, float]] = []
    started = time.perf_counter()

    def callback(intermediate_result) -> None:
        terms = objective.terms_at(intermediate_result.x)
        rows.append({"step": len(rows) + 1, **terms})
        if len(rows) % settings.log_every == 0:
            _progress(label, "iter", len(rows), terms, time.perf_counter() - started)

    result = minimize(objective, pack_params(params).astype(np.float64), jac=True, method="L-BFGS-B",
                      callback=callback, options={"maxiter": settings.iterations})
    if not np.isfinite(result.fun):
        raise UserError(f"{label}: L-BFGS cost became {result.fun} (check the patch file and q1.lambda/beta)")
    fitted = {k: v.copy() for k, v in unpack_params(result.x, model.n_in, model.n_hidden).items()}
    print(f"{label}: L-BFGS stopped after {result.nit} iterations: {result.message}", file=sys.stderr, flush=True)
    return Fit(fitted, pd.DataFrame(rows, columns=CURVE_COLUMNS), time.perf_counter() - started, int(result.nit))


def _fit_sgd(model: SparseAutoencoder, params, x: np.ndarray, settings: SolverSettings, label: str) -> Fit:
    def callback(entry: dict[str, float]) -> None:
        terms = {k: entry[f"train_{k}"] for k in CURVE_COLUMNS[1:]}
        _progress(label, "epoch", int(entry["epoch"]), terms, entry["seconds"])

    try:
        result = train(model, params, (x,), optimizer=MomentumSGD(settings.lr, settings.momentum),
                       epochs=settings.epochs, batch_size=settings.batch_size,
                       rng=np.random.default_rng([settings.seed, SHUFFLE_PURPOSE]), callback=callback)
    except TrainingDiverged as err:
        raise diverged(label, err.epoch, err.loss, {"q1.sgd.lr": settings.lr, "q1.sgd.momentum": settings.momentum},
                       f", or this fit's weight decay lambda (now {model.lam:g}) or beta (now {model.beta:g})"
                       ) from None
    rows = [{"step": e["epoch"], **{k: e[f"train_{k}"] for k in CURVE_COLUMNS[1:]}} for e in result.history]
    fitted = {k: v.astype(np.float64) for k, v in result.params.items()}
    return Fit(fitted, pd.DataFrame(rows, columns=CURVE_COLUMNS), result.seconds, result.stopped_epoch)


def fit(model: SparseAutoencoder, x: np.ndarray, settings: SolverSettings, label: str) -> Fit:
    """Initialise from q1.seed and fit `model` to the training rows x (N, Lin) with settings.solver.

    Every configuration starts from the same seed, so grids compare hyperparameters, not draws.
    The stage runs it on one BLAS thread, numpy's and scipy's (pipeline.common.errors.run): one full-batch cost
    and gradient (Lhid 64, float32) took 26 ms with 1 thread and 21 ms with 2 on the idle 2-core machine, but
    175-225 ms with 2 when another job held a core; and scipy's L-BFGS sums (BLAS ddot) round differently with
    another thread count.
    """
    if settings.solver == "sgd":
        check_batch("q1.sgd.batch_size", settings.batch_size, len(x), "patches")
    params = model.init_params(np.random.default_rng([settings.seed, INIT_PURPOSE]), x.dtype.type)
    solve = _fit_lbfgs if settings.solver == "lbfgs" else _fit_sgd
    return solve(model, params, x, settings, label)
