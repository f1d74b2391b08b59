"""Analytic FLOP counts of one training step (forward + backward), GEMMs only.

A product of an (m, k) and a (k, n) matrix costs 2 m k n FLOPs. Element-wise work (activations,
losses, the momentum update) is O(parameters + activations) and is left out: the counts are the
matrix products every correct implementation must do, so achieved GFLOP/s compare like with like.
Backward: each layer y = x W needs dW = x^T dy (same cost as the forward) and, unless x is the
network input, dx = dy W^T (same cost again).
"""

from __future__ import annotations

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def autoencoder(n_in: int, n_hid: int) -> float:
    """Per sample: forward 2(n_in n_hid) * 2 layers, backward dW1, dW2, dh -> 10 n_in n_hid."""
    return 10.0 * n_in * n_hid


def language(vocab: int, dim: int, hidden: int, context: int = 3) -> float:
    """Per sample: 6 (3D P + P V); the embedding rows need dx of the first layer, so both layers pay 3x."""
    return 6.0 * (context * dim * hidden + hidden * vocab)


def recurrent(cell: str, n_in: int, hidden: int, steps: int, head: int, classes: int) -> float:
    """Per sample: T [2GH(I+H) forward + 2GH(I+H) dW + 2GH H dh_prev] + 6 (H M + M C) for the MLP head.

    G is the number of gate blocks (1 RNN, 4 LSTM, 3 GRU); the input x needs no gradient, the head's
    first layer needs its input gradient (dh_T).
    """
    g = GATES[cell]
    per_step = 4.0 * g * hidden * (n_in + hidden) + 2.0 * g * hidden * hidden
    return steps * per_step + 6.0 * (hidden * head + head * classes)
