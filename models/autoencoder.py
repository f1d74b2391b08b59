"""Sparse autoencoder (Q1): one sigmoid hidden layer, sigmoid output, desired output d = input.

Shapes (batch of N rows, Lin inputs, Lhid hidden units):

    x  : (N, Lin)          W1 : (Lin, Lhid)   b1 : (Lhid,)
    h  = sigmoid(x W1 + b1)               (N, Lhid)   hidden activations
    o  = sigmoid(h W2 + b2)               (N, Lin)    reconstructions, W2 : (Lhid, Lin), b2 : (Lin,)

Cost (biases not regularised, weight decay NOT divided by N):

    J = 1/(2N) sum_m ||x_m - o_m||^2  +  lam/2 (sum W1^2 + sum W2^2)  +  beta sum_b KL(rho || rhohat_b)
    KL(rho || r) = rho log(rho / r) + (1 - rho) log((1 - rho) / (1 - r))
    rhohat_b = clip(mean_m h_mb, eps, 1 - eps)

Gradient (back-propagation; the clip has zero derivative where it is active, so the KL gradient is
masked there and stays consistent with the cost):

    delta2 = (o - x) / N * o (1 - o)                                           (N, Lin)
    dW2 = h^T delta2 + lam W2,            db2 = sum_m delta2
    s_b = beta (-rho / rhohat_b + (1 - rho) / (1 - rhohat_b)) / N * [eps < mean_m h_mb < 1 - eps]
    delta1 = (delta2 W2^T + s) * h (1 - h)                                     (N, Lhid)
    dW1 = x^T delta1 + lam W1,            db1 = sum_m delta1

The hidden unit b's first-layer weight vector (its "feature") is the column W1[:, b].

The same math serves the assignment's flat interface `ae_cost(We, data, params)`, where We holds
W1, W2, b1, b2 in that order (each flattened row-major in the shapes above) and data is Lin x N.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from models.activations import sigmoid
from models.contract import Batch, Params
from models.init import uniform_glorot

PARAM_ORDER = ("W1", "W2", "b1", "b2")


@dataclass(frozen=True)
class SparseAutoencoder:
    """Sparse autoencoder with `n_in` inputs and `n_hidden` hidden units.

    lam: weight decay lambda >= 0; beta: sparsity weight >= 0; rho: target mean activation in (0, 1);
    eps: rhohat is clipped to [eps, 1 - eps] so the KL term stays finite (at least the dtype's
    machine epsilon, so that 1 - eps < 1 also in float32).
    """

    n_in: int
    n_hidden: int
    lam: float
    beta: float
    rho: float
    eps: float = 1e-8

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every parameter, in the flat-vector order W1, W2, b1, b2."""
        return {
            "W1": (self.n_in, self.n_hidden),
            "W2": (self.n_hidden, self.n_in),
            "b1": (self.n_hidden,),
            "b2": (self.n_in,),
        }

    def init_params(self, rng: np.random.Generator, dtype: type = np.float64) -> Params:
        """Weights and biases uniform in [-w0, w0], w0 = sqrt(6 / (L_pre + L_post)) of their layer."""
        layer_fans = {"W1": (self.n_in, self.n_hidden), "W2": (self.n_hidden, self.n_in)}
        layer_fans.update(b1=layer_fans["W1"], b2=layer_fans["W2"])
        return {
            name: uniform_glorot(rng, shape, *layer_fans[name], dtype=dtype) for name, shape in self.shapes().items()
        }

    def hidden(self, params: Params, x: np.ndarray) -> np.ndarray:
        """Hidden activations h = sigmoid(x W1 + b1), (N, Lhid)."""
        return sigmoid(x @ params["W1"] + params["b1"])

    def predict(self, params: Params, x: np.ndarray) -> np.ndarray:
        """Reconstructions o = sigmoid(h W2 + b2), (N, Lin)."""
        return sigmoid(self.hidden(params, x) @ params["W2"] + params["b2"])

    def cost_terms(
        self, params: Params, x: np.ndarray, want_grads: bool = True
    ) -> tuple[dict[str, float], Params | None]:
        """{'loss', 'mse', 'decay', 'sparsity', 'rho_hat'} of batch x (N, Lin), and the gradients if asked.

        'rho_hat' is the mean over hidden units of rhohat_b (before clipping); grads is None when not asked.
        """
        n = len(x)
        h = self.hidden(params, x)
        o = sigmoid(h @ params["W2"] + params["b2"])
        err = o - x
        mean_h = h.mean(axis=0)
        eps = max(self.eps, float(np.finfo(h.dtype).eps))  # 1 - 1e-8 rounds to 1 in float32
        rhohat = np.clip(mean_h, eps, 1 - eps)
        rho = self.rho
        kl = rho * np.log(rho / rhohat) + (1 - rho) * np.log((1 - rho) / (1 - rhohat))
        w1, w2 = params["W1"], params["W2"]
        terms = {
            "mse": float(np.vdot(err, err)) / (2 * n),
            "decay": self.lam / 2 * (float(np.vdot(w1, w1)) + float(np.vdot(w2, w2))),
            "sparsity": self.beta * float(kl.sum()),
            "rho_hat": float(mean_h.mean()),
        }
        terms["loss"] = terms["mse"] + terms["decay"] + terms["sparsity"]
        if not want_grads:
            return terms, None
        delta2 = 1 - o  # in place from here: these (N, Lin) passes cost as much as the matmuls
        delta2 *= o
        delta2 *= err
        delta2 /= n
        inside = (mean_h > eps) & (mean_h < 1 - eps)
        kl_grad = self.beta * (-rho / rhohat + (1 - rho) / (1 - rhohat)) / n * inside
        delta1 = delta2 @ w2.T
        delta1 += kl_grad.astype(h.dtype)
        delta1 *= h * (1 - h)
        grads = {
            "W1": x.T @ delta1 + self.lam * w1,
            "W2": h.T @ delta2 + self.lam * w2,
            "b1": delta1.sum(axis=0),
            "b2": delta2.sum(axis=0),
        }
        return terms, grads

    def loss_and_grads(self, params: Params, batch: Batch) -> tuple[float, Params]:
        """J of the batch `(x,)` and its gradient for W1, W2, b1, b2 (same keys and shapes)."""
        terms, grads = self.cost_terms(params, batch[0], want_grads=True)
        return terms["loss"], grads

    def evaluate(self, params: Params, batch: Batch) -> dict[str, float]:
        """'loss' = 'mse' + 'decay' + 'sparsity' of the batch `(x,)`, and 'rho_hat' = mean of rhohat_b.

        Note the sparsity term uses rhohat of this batch, so values over chunks of a large set are a
        sample-weighted approximation of the whole-set value.
        """
        return self.cost_terms(params, batch[0], want_grads=False)[0]


def pack_params(params: Params) -> np.ndarray:
    """One flat vector W1, W2, b1, b2 (each raveled row-major), (Lin*Lhid*2 + Lhid + Lin,)."""
    return np.concatenate([params[name].ravel() for name in PARAM_ORDER])


def unpack_params(flat: np.ndarray, n_in: int, n_hidden: int) -> Params:
    """Inverse of `pack_params`: views into `flat` shaped as `SparseAutoencoder.shapes()`."""
    shapes = SparseAutoencoder(n_in, n_hidden, 0.0, 0.0, 0.5).shapes()
    sizes = [int(np.prod(shapes[name])) for name in PARAM_ORDER]
    if flat.shape != (sum(sizes),):
        raise ValueError(f"flat parameter vector has shape {flat.shape}, expected ({sum(sizes)},)")
    chunks = np.split(flat, np.cumsum(sizes)[:-1])
    return {name: chunk.reshape(shapes[name]) for name, chunk in zip(PARAM_ORDER, chunks, strict=True)}


def _field(params: Mapping | object, name: str):
    return params[name] if isinstance(params, Mapping) else getattr(params, name)


def model_from_params(params: Mapping | object) -> SparseAutoencoder:
    """SparseAutoencoder from the assignment's params (fields Lin, Lhid, lambda, beta, rho)."""
    return SparseAutoencoder(
        n_in=int(_field(params, "Lin")),
        n_hidden=int(_field(params, "Lhid")),
        lam=float(_field(params, "lambda")),
        beta=float(_field(params, "beta")),
        rho=float(_field(params, "rho")),
    )


def ae_cost_terms(We: np.ndarray, data: np.ndarray, params: Mapping | object) -> tuple[dict[str, float], np.ndarray]:
    """`ae_cost` that also reports the terms: ({'loss', 'mse', 'decay', 'sparsity', 'rho_hat'}, Jgrad).

    A solver that logs the three terms per iteration gets them from the same pass as J.
    """
    model = model_from_params(params)
    terms, grads = model.cost_terms(unpack_params(We, model.n_in, model.n_hidden), data.T, want_grads=True)
    return terms, pack_params(grads)


def ae_cost(We: np.ndarray, data: np.ndarray, params: Mapping | object) -> tuple[float, np.ndarray]:
    """The assignment's interface: J and its gradient as one flat vector.

    Parameters
    ----------
    We : (Lin*Lhid*2 + Lhid + Lin,) flat W1, W2, b1, b2 (see `pack_params`).
    data : (Lin, N) one patch per column.
    params : mapping or object with fields Lin, Lhid, lambda, beta, rho.

    Returns
    -------
    J : float, the cost of the module docstring.
    Jgrad : same shape and dtype as We.
    """
    terms, grad = ae_cost_terms(We, data, params)
    return terms["loss"], grad
