"""The benchmark workloads: data, sizes, hyperparameters, shared initial weights and FLOP counts.

Every implementation of a workload starts from the same reference weights (row-vector convention,
y = x W + b) and sees the same mini-batches in the same order.

Reference weight layouts
------------------------
autoencoder : W1 (n_in, n_hid), b1 (n_hid,), W2 (n_hid, n_in), b2 (n_in,)
language    : R (V, D), W1 (3D, P), b1 (P,), W2 (P, V), b2 (V,)
recurrent   : Wx (I, G H), Wh (H, G H), b (G H,) with gate blocks in order
              rnn: (candidate), lstm: (i, f, g, o), gru: (r, z, n); gru also bhn (H,), the bias inside
              r * (h W_hn + b_hn); head W1 (H, M), b1 (M,), W2 (M, C), b2 (C,)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench import flops
from models.init import gaussian, uniform_glorot
from pipeline.q1.data import load_patches
from pipeline.q2.data import VOCAB_SIZE, load_trigrams
from pipeline.q3.data import load_activities

CELLS = ("rnn", "lstm", "gru")


@dataclass(frozen=True)
class Workload:
    """One benchmark case.

    data: float64 inputs first, then integer targets if any (e.g. (x,) or (x, y)); row i is sample i.
    hyper: model sizes and loss constants (names as in the module docstring).
    flops_per_sample: forward + backward GEMM FLOPs per training sample (bench.flops).
    """

    key: str
    family: str
    title: str
    data: tuple[np.ndarray, ...]
    batch_size: int
    lr: float
    momentum: float
    hyper: dict = field(default_factory=dict)
    flops_per_sample: float = 0.0

    @property
    def n_samples(self) -> int:
        return len(self.data[0])

    def n_batches(self, fraction: float = 1.0) -> int:
        """Mini-batches in `fraction` of an epoch (at least one)."""
        full = -(-self.n_samples // self.batch_size)
        return max(1, int(round(full * fraction)))

    def samples_in(self, n_batches: int) -> int:
        return min(self.n_samples, n_batches * self.batch_size)


def autoencoder(patches: np.ndarray) -> Workload:
    """W1: (N, 256) patches in [0.1, 0.9] -> 64 sigmoid -> 256 sigmoid, batch 32.

    Q1 sets no learning rate; at batch 32 with beta = 3, eta = 0.1 throws rhohat against 0 or 1 in the
    first steps (torch then gives inf), eta = 0.03 trains stably in all three implementations.
    """
    n_in, n_hid = patches.shape[1], 64
    return Workload(
        key="W1", family="autoencoder", title=f"sparse autoencoder {len(patches)} x {n_in} -> {n_hid} -> {n_in}",
        data=(patches,), batch_size=32, lr=0.03, momentum=0.85,
        hyper={"n_in": n_in, "n_hid": n_hid, "lam": 5e-4, "beta": 3.0, "rho": 0.05},
        flops_per_sample=flops.autoencoder(n_in, n_hid),
    )


def language(context: np.ndarray, target: np.ndarray) -> Workload:
    """W2: trigram -> next word, D = 32, P = 256, batch 200, eta 0.15, alpha 0.85 (Q2 a)."""
    dim, hidden = 32, 256
    return Workload(
        key="W2", family="language", title=f"trigram LM {len(context)} trigrams, V={VOCAB_SIZE}, D={dim}, P={hidden}",
        data=(context, target), batch_size=200, lr=0.15, momentum=0.85,
        hyper={"vocab": VOCAB_SIZE, "dim": dim, "hidden": hidden},
        flops_per_sample=flops.language(VOCAB_SIZE, dim, hidden),
    )


def recurrent(cell: str, x: np.ndarray, y: np.ndarray) -> Workload:
    """W3: (N, T, 3) standardised sequences -> 128 hidden `cell` -> ReLU 64 -> softmax 6, batch 32, eta 0.1."""
    hidden, head, classes = 128, 64, 6
    _, steps, n_in = x.shape
    return Workload(
        key=f"W3-{cell.upper()}", family=cell, title=f"{cell.upper()} {len(x)} x {steps} x {n_in}, H={hidden}, "
        f"head {head}, {classes} classes",
        data=(x, y), batch_size=32, lr=0.1, momentum=0.85,
        hyper={"n_in": n_in, "hidden": hidden, "head": head, "classes": classes},
        flops_per_sample=flops.recurrent(cell, n_in, hidden, steps, head, classes),
    )


def load_all(data1: str, data2: str, data3: str, rng: np.random.Generator) -> list[Workload]:
    """Every workload from the raw data files (Q1 preprocessing with its defaults; Q3: 90 % of trX)."""
    from pipeline.q1.data import normalise

    patches = normalise(load_patches(data1), clip_std=3.0, low=0.1, high=0.9)
    trigrams = load_trigrams(data2)
    acts = load_activities(data3)
    keep = rng.permutation(len(acts.train_x))[: int(round(0.9 * len(acts.train_x)))]
    x = acts.train_x[keep]
    x = (x - x.mean(axis=(0, 1))) / x.std(axis=(0, 1))
    y = acts.train_y[keep]
    return [autoencoder(patches), language(trigrams.train_x, trigrams.train_d)] + [
        recurrent(cell, x, y) for cell in CELLS
    ]


def reference_weights(work: Workload, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """float64 initial weights in the reference layout, by the assignment's rule for each question.

    autoencoder: uniform in [-w0, w0], w0 = sqrt(6 / (L_pre + L_post)), biases too (Q1 b);
    language: Gaussian, std 0.01 (Q2 a); recurrent: Xavier-uniform matrices, zero biases (Q3 a).
    """
    h = work.hyper
    if work.family == "autoencoder":
        n_in, n_hid = h["n_in"], h["n_hid"]
        return {
            "W1": uniform_glorot(rng, (n_in, n_hid), n_in, n_hid),
            "b1": uniform_glorot(rng, (n_hid,), n_in, n_hid),
            "W2": uniform_glorot(rng, (n_hid, n_in), n_hid, n_in),
            "b2": uniform_glorot(rng, (n_in,), n_hid, n_in),
        }
    if work.family == "language":
        v, d, p = h["vocab"], h["dim"], h["hidden"]
        shapes = {"R": (v, d), "W1": (3 * d, p), "b1": (p,), "W2": (p, v), "b2": (v,)}
        return {name: gaussian(rng, shape, 0.01) for name, shape in shapes.items()}
    n_in, hid, head, classes = h["n_in"], h["hidden"], h["head"], h["classes"]
    gh = flops.GATES[work.family] * hid
    weights = {
        "Wx": uniform_glorot(rng, (n_in, gh), n_in, hid),
        "Wh": uniform_glorot(rng, (hid, gh), hid, hid),
        "b": np.zeros(gh),
        "W1": uniform_glorot(rng, (hid, head), hid, head),
        "b1": np.zeros(head),
        "W2": uniform_glorot(rng, (head, classes), head, classes),
        "b2": np.zeros(classes),
    }
    if work.family == "gru":
        weights["bhn"] = np.zeros(hid)
    return weights
