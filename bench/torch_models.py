"""The PyTorch side: the same models as nn modules, trained with autograd and torch.optim.SGD.

Written as a PyTorch user would (float32, nn.Linear / nn.Embedding / nn.RNN / nn.LSTM / nn.GRU,
F.cross_entropy, loss.backward(), optimizer.step()), with the reference weights copied in so the
maths is ours exactly:

- nn.Linear stores W^T (out, in); the reference uses x W, so weights are transposed on the way in.
- nn.RNN/LSTM/GRU have two bias vectors (b_ih, b_hh); ours have one (b), so b_ih = b and b_hh is
  frozen at 0 (requires_grad False) -- except the GRU's b_hn, which sits inside r * (h W_hn + b_hn)
  and is ours' bhn; a gradient hook zeroes the r and z parts of b_hh so only b_hn trains.
- torch.optim.SGD(momentum=alpha) keeps u = alpha u + g, theta -= eta u, which is classical momentum
  v = alpha v - eta g with v = -eta u at a constant eta.

Imported only by the benchmark (never by models/ or pipeline/).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from bench.runner import batch_rows
from models.trainer import TrainingDiverged


def _set(param: torch.nn.Parameter, value: np.ndarray) -> None:
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))


class Autoencoder(nn.Module):
    """x -> sigmoid(x W1 + b1) -> sigmoid(h W2 + b2); loss = MSE/2 + lambda/2 sum W^2 + beta sum KL."""

    def __init__(self, weights: dict[str, np.ndarray], lam: float, beta: float, rho: float) -> None:
        super().__init__()
        n_in, n_hid = weights["W1"].shape
        self.enc, self.dec = nn.Linear(n_in, n_hid), nn.Linear(n_hid, n_in)
        _set(self.enc.weight, weights["W1"].T)
        _set(self.enc.bias, weights["b1"])
        _set(self.dec.weight, weights["W2"].T)
        _set(self.dec.bias, weights["b2"])
        self.lam, self.beta, self.rho = lam, beta, rho

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.sigmoid(self.enc(x))
        o = torch.sigmoid(self.dec(h))
        rho, rho_hat = self.rho, h.mean(dim=0)
        kl = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
        decay = self.enc.weight.pow(2).sum() + self.dec.weight.pow(2).sum()
        return 0.5 * (o - x).pow(2).sum(dim=1).mean() + 0.5 * self.lam * decay + self.beta * kl


class TrigramLM(nn.Module):
    """Embedding (V, D) of 3 words, concatenated -> sigmoid P -> V logits; cross-entropy."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        vocab, dim = weights["R"].shape
        hidden = weights["W1"].shape[1]
        self.embed, self.hid, self.out = nn.Embedding(vocab, dim), nn.Linear(3 * dim, hidden), nn.Linear(hidden, vocab)
        _set(self.embed.weight, weights["R"])
        for layer, w, b in ((self.hid, "W1", "b1"), (self.out, "W2", "b2")):
            _set(layer.weight, weights[w].T)
            _set(layer.bias, weights[b])

    def loss(self, x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        e = self.embed(x).reshape(len(x), -1)
        return F.cross_entropy(self.out(torch.sigmoid(self.hid(e))), d)


class SequenceClassifier(nn.Module):
    """nn.RNN / nn.LSTM / nn.GRU (batch_first) -> last hidden state -> Linear, ReLU, Linear; cross-entropy."""

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, cell: str, weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        n_in, hidden = weights["Wx"].shape[0], weights["Wh"].shape[0]
        head, classes = weights["W2"].shape
        self.rnn = self.CELLS[cell](n_in, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden, head), nn.ReLU(), nn.Linear(head, classes))
        _set(self.rnn.weight_ih_l0, weights["Wx"].T)
        _set(self.rnn.weight_hh_l0, weights["Wh"].T)
        _set(self.rnn.bias_ih_l0, weights["b"])
        bias_hh = np.zeros(weights["b"].shape)
        if cell == "gru":
            bias_hh[2 * hidden :] = weights["bhn"]
            mask = torch.zeros(3 * hidden)
            mask[2 * hidden :] = 1
            self.rnn.bias_hh_l0.register_hook(lambda grad: grad * mask)
        else:
            self.rnn.bias_hh_l0.requires_grad_(False)
        _set(self.rnn.bias_hh_l0, bias_hh)
        for layer, w, b in ((self.head[0], "W1", "b1"), (self.head[2], "W2", "b2")):
            _set(layer.weight, weights[w].T)
            _set(layer.bias, weights[b])

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(x)
        h_last = state[0] if isinstance(state, tuple) else state
        return F.cross_entropy(self.head(h_last[-1]), y)


def make_module(work, weights: dict[str, np.ndarray]) -> nn.Module:
    if work.family == "autoencoder":
        h = work.hyper
        return Autoencoder(weights, h["lam"], h["beta"], h["rho"])
    if work.family == "language":
        return TrigramLM(weights)
    return SequenceClassifier(work.family, weights)


class TorchRunner:
    """A `bench.runner.Runner`: the usual zero_grad / backward / step loop over index-gathered batches.

    flush_denormal: run the epoch under torch.set_flush_denormal(True) (restored to False after, so
    the NumPy runners never see it).
    """

    def __init__(self, work, weights: dict[str, np.ndarray], order: np.ndarray, flush_denormal: bool) -> None:
        self.work, self.weights, self.flush_denormal = work, weights, flush_denormal
        self.label = "torch+FTZ" if flush_denormal else "torch"
        self.data = tuple(
            torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32 if a.dtype.kind == "f" else np.int64))
            for a in work.data
        )
        self.order = torch.from_numpy(np.asarray(order, dtype=np.int64))
        self.reset()

    def reset(self) -> None:
        self.module = make_module(self.work, self.weights)
        trainable = [p for p in self.module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(trainable, lr=self.work.lr, momentum=self.work.momentum)

    def _batch(self, index: int) -> tuple[torch.Tensor, ...]:
        rows = batch_rows(self.order, self.work.batch_size, index)
        return tuple(a[rows] for a in self.data)

    def batch_loss(self, index: int) -> float:
        with torch.no_grad():
            return float(self.module.loss(*self._batch(index)))

    def train_batches(self, count: int) -> None:
        torch.set_flush_denormal(self.flush_denormal)
        try:
            for index in range(count):
                loss = self.module.loss(*self._batch(index))
                self.optimizer.zero_grad()
                loss.backward()
                value = loss.item()
                if not math.isfinite(value):
                    raise TrainingDiverged(1, value)
                self.optimizer.step()
        finally:
            torch.set_flush_denormal(False)
