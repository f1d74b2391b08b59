"""Many-to-one sequence classifier: L stacked recurrent layers (rnn, lstm or gru) over all T steps, then an
MLP head on the top layer's last hidden state.

    h^1_1 .. h^1_T = Layer_1(x_1 .. x_T),   h^k_1 .. h^k_T = Layer_k(h^{k-1}_1 .. h^{k-1}_T)   (models.recurrent)
    p = softmax(MLP(h^L_T)),   J = -1/N sum_m log p[m, y_m]                                     (models.mlp)

Backward: the head gives dJ/dh^L_T; the top layer gets dout = 0 except that last step, every layer below
gets the dx (T, N, H) of the layer above as its dout (full BPTT in each), and the first layer's dx is not
computed.

Follows models.contract.Model: batch = (x, y) with x (N, T, D) float and y (N,) int in 0..C-1; the
parameters' dtype is the compute dtype (float32 for training, float64 for gradient checks).
Parameters: layer 1's Wx (D, G H), Wh (H, G H), b (G H,) (and bhn (H,) for the GRU); layer k >= 2's Wx_k
(H, G H), Wh_k, b_k (, bhn_k); then the head's W1, b1, W2, b2, ... (models.mlp). They are drawn in that
order, so for the same generator layer 1 starts from the same weights whatever `layers` is, and a one-layer
model from the weights it had before layers could be stacked.

`workers` > 1 splits each mini-batch into that many row blocks processed in parallel threads (NumPy
releases the GIL inside its loops and BLAS calls); the rows of a batch are independent until the
gradients are averaged, so the result is the same up to float rounding, and deterministic. BLAS should run
single-threaded then: the caller sets that (the Q3 stages do, with threadpoolctl). Every worker has its own
layer objects, and so its own buffers (models.recurrent.Workspace); `predict` and `evaluate` use worker 0's.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from models.contract import Batch, Params
from models.mlp import MLPHead
from models.recurrent import LAYERS, RECURRENT_INITS, layer_key


class RecurrentClassifier:
    """Parameters
    ----------
    cell : 'rnn', 'lstm' or 'gru'.
    n_inputs, hidden, n_classes : D, H and C.
    head : ReLU hidden-layer widths of the MLP head (may be empty: softmax straight on h_T).
    recurrent_init, recurrent_gain : Wh blocks 'glorot' (Xavier-uniform), 'orthogonal' or 'identity',
        multiplied by the gain.
    layers : stacked recurrent layers L >= 1, all of `cell` and width H.
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
        if layers < 1:
            raise ValueError(f"layers must be at least 1 (the number of stacked recurrent layers), got {layers}")
        self.cell, self.layers = cell, layers
        self.n_inputs, self.hidden = n_inputs, hidden
        self.head = MLPHead(hidden, tuple(head), n_classes)
        self.recurrent_init, self.recurrent_gain = recurrent_init, recurrent_gain
        self.workers, self.eval_chunk = workers, eval_chunk
        self._stacks = [[LAYERS[cell]() for _ in range(layers)] for _ in range(workers)]  # [worker][layer - 1]
        self._top_douts: list[dict] = [{} for _ in range(workers)]  # see _top_dout
        self._pool = ThreadPoolExecutor(workers) if workers > 1 else None

    def init_params(self, rng: np.random.Generator, dtype: type = np.float64) -> Params:
        params = {}
        for k, layer in enumerate(self._stacks[0], start=1):
            n_in = self.n_inputs if k == 1 else self.hidden
            layer_params = layer.init_params(rng, n_in, self.hidden, dtype, self.recurrent_init, self.recurrent_gain)
            params.update({layer_key(name, k): array for name, array in layer_params.items()})
        params.update(self.head.init_params(rng, dtype))
        return params

    def _time_major(self, params: Params, x: np.ndarray) -> np.ndarray:
        """(N, T, D) -> contiguous (T, N, D) in the parameters' dtype."""
        return np.ascontiguousarray(np.swapaxes(x, 0, 1), dtype=params["Wx"].dtype)

    @staticmethod
    def _layer_params(params: Params, layer, k: int) -> Params:
        """Layer k's parameters under the layer's own names (Wx, Wh, b, bhn)."""
        return {name: params[layer_key(name, k)] for name in layer.param_names}

    def _forward(self, params: Params, x: np.ndarray, stack: list) -> tuple[np.ndarray, list[dict]]:
        """x (N, T, D) through every layer of `stack`: the top layer's output (T, N, H) and each layer's cache."""
        sequence, caches = self._time_major(params, x), []
        for k, layer in enumerate(stack, start=1):
            sequence, cache = layer.forward(self._layer_params(params, layer, k), sequence)
            caches.append(cache)
        return sequence, caches

    def _top_dout(self, worker: int, dh_last: np.ndarray, steps: int) -> np.ndarray:
        """The top layer's dout (T, N, H): 0 but for dout[T-1] = dh_last (N, H), as the head reads only h_T.
        Each worker keeps one such array per shape and rewrites only its last step (layers only read dout):
        a fresh np.zeros of 2.4 MB per batch cost the LSTM 1.5-3 % of its time (N 32, T 150, H 128)."""
        key = (steps, *dh_last.shape, dh_last.dtype)
        dout = self._top_douts[worker].get(key)
        if dout is None:
            dout = self._top_douts[worker][key] = np.zeros((steps, *dh_last.shape), dtype=dh_last.dtype)
        dout[-1] = dh_last
        return dout

    def _block(self, params: Params, x: np.ndarray, y: np.ndarray, worker: int) -> tuple[float, Params]:
        """Mean loss and gradients over one block of rows, x (N, T, D), on one worker's layers."""
        stack = self._stacks[worker]
        top, caches = self._forward(params, x, stack)
        loss, grads, dh_last, _ = self.head.loss_and_grads(params, top[-1], y)
        dout = self._top_dout(worker, dh_last, len(top))
        for k in range(len(stack), 0, -1):
            layer = stack[k - 1]
            dout, layer_grads = layer.backward(self._layer_params(params, layer, k), caches[k - 1], dout,
                                               input_grad=k > 1)
            grads.update({layer_key(name, k): grad for name, grad in layer_grads.items()})
        return loss, grads

    def loss_and_grads(self, params: Params, batch: Batch) -> tuple[float, Params]:
        x, y = batch
        if self._pool is None or len(y) < 2 * self.workers:
            return self._block(params, x, y, 0)
        bounds = np.linspace(0, len(y), self.workers + 1).astype(int)
        jobs = [
            self._pool.submit(self._block, params, x[lo:hi], y[lo:hi], worker)
            for worker, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
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
            top, _ = self._forward(params, x[start : start + self.eval_chunk], self._stacks[0])
            parts.append(self.head.log_probabilities(params, top[-1]))
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
