"""Classical momentum SGD (with optional weight decay) and gradient-norm clipping."""

from __future__ import annotations

import numpy as np

from models.contract import Params


class MomentumSGD:
    """Classical momentum, one velocity per parameter, with optional L2 weight decay of the matrices:

        g <- grad + weight_decay * theta   (theta with ndim >= 2: weights and embeddings; biases are not decayed)
        v <- alpha * v - lr * g
        theta <- theta + v

    (not the damped form v <- alpha v + (1 - alpha) g). The decay is the gradient of weight_decay / 2 * |theta|^2,
    a penalty the model's own loss does not contain. Parameters are updated in place.
    """

    def __init__(self, lr: float, momentum: float, weight_decay: float = 0.0) -> None:
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.velocity: Params = {}

    def step(self, params: Params, grads: Params) -> None:
        for name, grad in grads.items():
            v = self.velocity.get(name)
            if v is None:
                v = self.velocity[name] = np.zeros_like(params[name])
            if self.weight_decay and params[name].ndim >= 2:
                grad = grad + self.weight_decay * params[name]
            v *= self.momentum
            v -= self.lr * grad
            params[name] += v


def global_norm(grads: Params) -> float:
    """sqrt(sum of squared entries over every gradient array)."""
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))


def clip_grad_norm(grads: Params, max_norm: float) -> float:
    """Scale all gradients in place so their global norm is at most `max_norm`; return the norm before."""
    norm = global_norm(grads)
    if norm > max_norm:
        scale = max_norm / (norm + 1e-12)
        for grad in grads.values():
            grad *= scale
    return norm
