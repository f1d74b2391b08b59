"""W3 baseline: the RNN, LSTM and GRU classifiers of models.recurrent_reference, one recurrent layer.

That module is written the way a typical course solution is: float64, one weight matrix per gate (sliced
out of the packed parameters), a Python loop over the time steps forward and back (BPTT), the cache a list
of per-step arrays, every intermediate a fresh array; its backward also returns dx, as cs231n's
rnn_backward does. The last hidden state h_T feeds the MLP head of models.mlp (ReLU layer, softmax, mean
cross-entropy), here in float64. The reference weights of bench.workloads are already in that layout.
"""

from __future__ import annotations

import numpy as np

from bench.baseline_sgd import BaselineRunner
from models.mlp import MLPHead
from models.recurrent_reference import ReferenceClassifier


def build(work, weights: dict[str, np.ndarray], order: np.ndarray) -> BaselineRunner:
    """Runner for W3 with cell work.family."""
    h = work.hyper
    model = ReferenceClassifier(work.family, 1, MLPHead(h["hidden"], (h["head"],), h["classes"]))
    params = {name: np.asarray(w, dtype=np.float64) for name, w in weights.items()}
    return BaselineRunner(model.loss_and_grads, params, work.data, order, work.batch_size, work.lr, work.momentum)
