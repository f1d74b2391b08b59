"""A multi-layer perceptron classifier head: ReLU hidden layers, softmax output, mean cross-entropy.

With layer sizes n_0 (input), n_1, ..., n_L (classes) and a_0 the input (N, n_0):

    z_k = a_{k-1} W_k + b_k,   a_k = relu(z_k)          k = 1 .. L-1 (hidden layers, possibly none)
    z_L = a_{L-1} W_L + b_L,   p = softmax(z_L)
    J = -1/N sum_m log p[m, y_m]

Back-propagation (Y one-hot):

    dz_L = (p - Y) / N
    dW_k = a_{k-1}^T dz_k,   db_k = sum_m dz_k[m],   da_{k-1} = dz_k W_k^T
    dz_{k-1} = da_{k-1} * [z_{k-1} > 0]

Parameters are named W1, b1, ..., WL, bL (W_k of shape (n_{k-1}, n_k)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.activations import log_softmax, softmax
from models.contract import Params
from models.init import uniform_glorot


@dataclass(frozen=True)
class MLPHead:
    """Sizes: `n_in` inputs, ReLU `hidden` layers (tuple, may be empty), `n_classes` softmax outputs."""

    n_in: int
    hidden: tuple[int, ...]
    n_classes: int

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.n_in, *self.hidden, self.n_classes)

    def init_params(self, rng: np.random.Generator, dtype: type = np.float64) -> Params:
        """Xavier-uniform W_k, zero b_k."""
        params = {}
        for k, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True), start=1):
            params[f"W{k}"] = uniform_glorot(rng, (fan_in, fan_out), fan_in, fan_out, dtype)
            params[f"b{k}"] = np.zeros(fan_out, dtype=dtype)
        return params

    def logits(self, params: Params, a: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """z_L (N, n_classes) and the layer inputs [a_0, ..., a_{L-1}] (kept for the backward pass)."""
        inputs = [a]
        n_layers = len(self.sizes) - 1
        for k in range(1, n_layers):
            z = a @ params[f"W{k}"]
            z += params[f"b{k}"]
            a = np.maximum(z, 0, out=z)
            inputs.append(a)
        z = a @ params[f"W{n_layers}"]
        z += params[f"b{n_layers}"]
        return z, inputs

    def log_probabilities(self, params: Params, a: np.ndarray) -> np.ndarray:
        """log p (N, n_classes) by a stable log-softmax: finite in float32 even where p underflows to 0."""
        return log_softmax(self.logits(params, a)[0])

    def loss_and_grads(
        self, params: Params, a: np.ndarray, y: np.ndarray
    ) -> tuple[float, Params, np.ndarray, np.ndarray]:
        """Mean cross-entropy, the head's gradients, dJ/da_0 (N, n_in) and p (N, n_classes)."""
        z, inputs = self.logits(params, a)
        rows = np.arange(len(y))
        loss = float(-np.mean(log_softmax(z)[rows, y]))
        p = softmax(z)
        dz = p.copy()
        dz[rows, y] -= 1
        dz /= len(y)
        grads = {}
        for k in range(len(inputs), 0, -1):
            a_prev = inputs[k - 1]
            grads[f"W{k}"] = a_prev.T @ dz
            grads[f"b{k}"] = dz.sum(axis=0)
            da = dz @ params[f"W{k}"].T
            if k > 1:
                da *= a_prev > 0  # ReLU'(z_{k-1}); a_{k-1} > 0 exactly where z_{k-1} > 0
            dz = da
        return loss, grads, dz, p
