"""Quick side-by-side epoch timing for Q3: our RecurrentClassifier vs PyTorch (vs the course-style baseline).

    python bench/quick_q3.py [--cells rnn lstm gru] [--rounds 3] [--threads 2] [--workers 1 2]
                             [--fraction 1.0] [--baseline]

One "epoch" = forward + backward + momentum update for every mini-batch of 32 sequences of 90 % of
data3's training set (standardised), 128 hidden units, head 64, float32, in a fixed batch order. The
implementations run alternately, round after round, so a busy machine slows them alike; the table
shows the median seconds per epoch and the ratio to the faster PyTorch variant (with / without
torch.set_flush_denormal). A progress scratch tool, not the official benchmark.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # BLAS reads its thread count once, at import
    _threads = sys.argv[sys.argv.index("--threads") + 1] if "--threads" in sys.argv else "2"
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = _threads
    sys.path[0] = str(Path(__file__).resolve().parents[1])  # the repo, not bench/ (whose modules shadow stdlib)

import numpy as np  # noqa: E402

from models.optim import MomentumSGD  # noqa: E402
from models.sequence_classifier import RecurrentClassifier  # noqa: E402
from pipeline.q3.data import load_activities  # noqa: E402

BATCH, LR, MOMENTUM, HIDDEN, HEAD = 32, 0.1, 0.85, 128, 64


def ours(cell, x, y, order, workers):
    model = RecurrentClassifier(cell, 3, HIDDEN, (HEAD,), 6, "glorot", 1.0, workers=workers)
    params = model.init_params(np.random.default_rng(0), np.float32)
    x32 = x.astype(np.float32)
    opt = MomentumSGD(LR, MOMENTUM)

    def epoch():
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            _, grads = model.loss_and_grads(params, (x32[rows], y[rows]))
            opt.step(params, grads)

    return epoch


def torch_epoch(cell, x, y, order, flush):
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    torch.manual_seed(0)
    rnn = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](3, HIDDEN, batch_first=True)
    head = torch.nn.Sequential(torch.nn.Linear(HIDDEN, HEAD), torch.nn.ReLU(), torch.nn.Linear(HEAD, 6))
    opt = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=LR, momentum=MOMENTUM)
    xt, yt, order_t = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y), torch.from_numpy(order)

    def epoch():
        torch.set_flush_denormal(flush)
        for start in range(0, len(order), BATCH):
            rows = order_t[start : start + BATCH]
            out, _ = rnn(xt[rows])
            loss = torch.nn.functional.cross_entropy(head(out[:, -1]), yt[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
        torch.set_flush_denormal(False)

    return epoch


def baseline(cell, x, y, order):
    from bench import baseline_recurrent

    model = RecurrentClassifier(cell, 3, HIDDEN, (HEAD,), 6, "glorot", 1.0)
    params = baseline_recurrent.from_reference(cell, model.init_params(np.random.default_rng(0)))
    velocity = {k: np.zeros_like(v) for k, v in params.items()}

    def epoch():
        for start in range(0, len(order), BATCH):
            rows = order[start : start + BATCH]
            _, grads = baseline_recurrent.cost(cell, params, (x[rows], y[rows]))
            for k in params:
                velocity[k] = MOMENTUM * velocity[k] - LR * grads[k]
                params[k] = params[k] + velocity[k]

    return epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["rnn", "lstm", "gru"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="2")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--fraction", type=float, default=1.0)
    parser.add_argument("--baseline", action="store_true", help="also time the course-style float64 baseline")
    parser.add_argument("--data", default="data/raw/data3.h5")
    args = parser.parse_args()

    acts = load_activities(args.data)
    rng = np.random.default_rng(0)
    keep = rng.permutation(len(acts.train_x))[: int(round(0.9 * args.fraction * len(acts.train_x)))]
    x = acts.train_x[keep]
    x = (x - x.mean(axis=(0, 1))) / x.std(axis=(0, 1))
    y = acts.train_y[keep]
    order = rng.permutation(len(x))
    print(f"{len(x)} sequences x {x.shape[1]} steps, BLAS/torch threads {args.threads}")
    for cell in args.cells:
        runs = {f"ours w={w}": ours(cell, x, y, order, w) for w in args.workers}
        runs["torch"] = torch_epoch(cell, x, y, order, False)
        runs["torch ftz"] = torch_epoch(cell, x, y, order, True)
        if args.baseline:
            runs["baseline f64"] = baseline(cell, x, y, order)
        times = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, epoch in runs.items():
                start = time.perf_counter()
                epoch()
                times[name].append(time.perf_counter() - start)
        med = {name: statistics.median(t) for name, t in times.items()}
        torch_best = min(med["torch"], med["torch ftz"])
        for name, seconds in med.items():
            print(f"{cell:5s} {name:13s} {seconds:7.3f} s/epoch  ratio to torch {seconds / torch_best:5.2f}")


if __name__ == "__main__":
    main()
