"""Many-to-one sequence classifier: a recurrent layer (rnn, lstm or gru) over all T steps, then an MLP head.

    h_T = Layer(x_1 .. x_T)                       (models.recurrent, full BPTT)
    p = softmax(MLP(h_T)),   J = -1/N sum_m log p[m, y_m]    (models.mlp)

Follows models.contract.Model: batch = (x, y) with x (N, T, D) float and y (N,) int in 0..C-1; the
parameters' dtype is the compute dtype (float32 for training, float64 for gradient checks).
Parameters: the layer's Wx, Wh, b (and bhn for the GRU), then the head's W1, b1, ..., WL, bL.

`workers` > 1 splits each mini-batch into that many row blocks processed in parallel threads (NumPy
releases the GIL inside its loops and BLAS calls); the rows of a batch are independent until the
gradients are averaged, so the result is the same up to float rounding, and deterministic. BLAS should run
single-threaded then: the caller sets that (the Q3 stages do, with threadpoolctl).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from models.contract import Batch, Params
from models.mlp import MLPHead
from models.recurrent import LAYERS, RECURRENT_INITS, Workspace


class RecurrentClassifier:
    """Parameters
    ----------
    cell : 'rnn', 'lstm' or 'gru'.
    n_inputs, hidden, n_classes : D, H and C.
    head : ReLU hidden-layer widths of the MLP head (may be empty: softmax straight on h_T).
    recurrent_init, recurrent_gain : Wh blocks 'glorot' (Xavier-uniform), 'orthogonal' or 'identity',
        multiplied by the gain.
    workers : threads per mini-batch (1 = none).
    eval_chunk : rows per forward pass in `predict` / `evaluate` (bounds the step buffers' memory).
    """

    def __init__(
        self,
        cell: str,
        n_inputs: int,
        hidden: int,
        head: tuple[int, ...],
        n_classes: int,
        recurrent_init: str,
        recurrent_gain: float,
        layers: int = 1,
        workers: int = 1,
        eval_chunk: int = 256,
    ) -> None:
        if cell not in LAYERS:
            raise ValueError(f"unknown cell {cell!r}; expected one of {', '.join(LAYERS)}")
        if recurrent_init not in RECURRENT_INITS:
            raise ValueError(f"unknown recurrent init {recurrent_init!r}; expected one of {RECURRENT_INITS}")
        if layers != 1:
            raise ValueError("layers > 1: not yet")
        self.cell, self.layer, self.layers = cell, LAYERS[cell], layers
        self.n_inputs, self.hidden = n_inputs, hidden
        self.head = MLPHead(hidden, tuple(head), n_classes)
        self.recurrent_init, self.recurrent_gain = recurrent_init, recurrent_gain
        self.workers, self.eval_chunk = workers, eval_chunk
        self._workspaces = [Workspace() for _ in range(workers)]
        self._pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def init_params(self, rng: np.random.Generator, dtype: type = np.float64) -> Params:
        params = self.layer.init_params(
            rng, self.n_inputs, self.hidden, dtype, self.recurrent_init, self.recurrent_gain
        )
        params.update(self.head.init_params(rng, dtype))
        return params

    def _time_major(self, params: Params, x: np.ndarray) -> np.ndarray:
        """(N, T, D) -> contiguous (T, N, D) in the parameters' dtype."""
        return np.ascontiguousarray(np.swapaxes(x, 0, 1), dtype=params["Wx"].dtype)

    def _block(self, params: Params, x: np.ndarray, y: np.ndarray, ws: Workspace) -> tuple[float, Params]:
        """Mean loss and gradients over one block of rows, x (N, T, D)."""
        h_last, cache = self.layer.forward(params, self._time_major(params, x), ws)
        loss, grads, dh_last, _ = self.head.loss_and_grads(params, h_last, y)
        grads.update(self.layer.backward(params, cache, dh_last, ws))
        return loss, grads

    def loss_and_grads(self, params: Params, batch: Batch) -> tuple[float, Params]:
        x, y = batch
        if self._pool is None or len(y) < 2 * self.workers:
            return self._block(params, x, y, self._workspaces[0])
        bounds = np.linspace(0, len(y), self.workers + 1).astype(int)
        jobs = [
            self._pool.submit(self._block, params, x[lo:hi], y[lo:hi], ws)
            for lo, hi, ws in zip(bounds[:-1], bounds[1:], self._workspaces, strict=True)
        ]
        results = [job.result() for job in jobs]
        weights = np.diff(bounds) / len(y)
        loss = sum(w * part_loss for w, (part_loss, _) in zip(weights, results, strict=True))
        grads = {name: sum(w * g[name] for w, (_, g) in zip(weights, results, strict=True))
                 for name in results[0][1]}
        return float(loss), grads

    def log_probabilities(self, params: Params, x: np.ndarray) -> np.ndarray:
        """log p (N, C), computed `eval_chunk` rows at a time."""
        parts = []
        for start in range(0, len(x), self.eval_chunk):
            chunk = self._time_major(params, x[start : start + self.eval_chunk])
            h_last, _ = self.layer.forward(params, chunk, self._workspaces[0])
            parts.append(self.head.log_probabilities(params, h_last))
        return np.concatenate(parts)

    def predict(self, params: Params, x: np.ndarray) -> np.ndarray:
        """Class probabilities (N, C)."""
        return np.exp(self.log_probabilities(params, x))

    def evaluate(self, params: Params, batch: Batch) -> dict[str, float]:
        x, y = batch
        logp = self.log_probabilities(params, x)
        loss = float(-np.mean(logp[np.arange(len(y)), y]))
        return {"loss": loss, "accuracy": float(np.mean(logp.argmax(axis=1) == y))}

    def count_params(self, params: Params) -> int:
        return int(sum(array.size for array in params.values()))
