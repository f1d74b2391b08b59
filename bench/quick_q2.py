"""Quick side-by-side epoch timing for Q2: our TrigramLM vs PyTorch vs a course-style NumPy baseline.

    python -m bench.quick_q2 [--rounds 3] [--threads 2] [--dim 32 --hidden 256] [--fraction 1.0]

One "epoch" = a fresh permutation, then forward + backward + momentum update for every mini-batch of
200 trigrams of data2's training set (or its first `fraction`), no evaluation. The three
implementations run alternately, round after round, so a busy machine slows them alike; the table
shows the median seconds per epoch and the ratios. A progress scratch tool, not the official benchmark.
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
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from models.language import TrigramLM  # noqa: E402
from models.optim import MomentumSGD  # noqa: E402
from models.trainer import train  # noqa: E402
from pipeline.q2.data import load_trigrams  # noqa: E402

BATCH, LR, MOMENTUM, STD = 200, 0.15, 0.85, 0.01


def ours(x, d, dim, hidden, seed):
    model = TrigramLM(vocab=250, dim=dim, hidden=hidden, init_std=STD)
    params = model.init_params(np.random.default_rng(seed), np.float32)
    opt = MomentumSGD(LR, MOMENTUM)
    start = time.perf_counter()
    # the real trainer loop; train_eval_size=1 makes its end-of-epoch evaluation negligible
    train(model, params, (x, d), optimizer=opt, epochs=1, batch_size=BATCH, rng=np.random.default_rng(seed),
          train_eval_size=1)
    return time.perf_counter() - start


def baseline(x, d, dim, hidden, seed):
    """Straightforward float64 version, as course solutions write it (np.add.at, fresh arrays)."""
    rng = np.random.default_rng(seed)
    v = 250
    p = {"R": rng.normal(0, STD, (v, dim)), "W1": rng.normal(0, STD, (3 * dim, hidden)),
         "b1": rng.normal(0, STD, hidden), "W2": rng.normal(0, STD, (hidden, v)), "b2": rng.normal(0, STD, v)}
    vel = {k: np.zeros_like(a) for k, a in p.items()}
    start = time.perf_counter()
    order = rng.permutation(len(x))
    for s in range(0, len(x), BATCH):
        rows = order[s : s + BATCH]
        xb, db = x[rows], d[rows]
        n = len(rows)
        e = p["R"][xb].reshape(n, -1)
        h = 1 / (1 + np.exp(-(e @ p["W1"] + p["b1"])))
        z = h @ p["W2"] + p["b2"]
        z = z - z.max(axis=1, keepdims=True)
        prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        y = np.zeros_like(prob)
        y[np.arange(n), db] = 1
        dz = (prob - y) / n
        g = {"W2": h.T @ dz, "b2": dz.sum(0)}
        da = (dz @ p["W2"].T) * h * (1 - h)
        g["W1"], g["b1"] = e.T @ da, da.sum(0)
        de = (da @ p["W1"].T).reshape(n * 3, dim)
        g["R"] = np.zeros_like(p["R"])
        np.add.at(g["R"], xb.reshape(-1), de)
        for k in p:
            vel[k] = MOMENTUM * vel[k] - LR * g[k]
            p[k] = p[k] + vel[k]
    return time.perf_counter() - start


def pytorch(x, d, dim, hidden, seed):
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Embedding(250, dim), torch.nn.Flatten(), torch.nn.Linear(3 * dim, hidden),
                              torch.nn.Sigmoid(), torch.nn.Linear(hidden, 250))
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    xt, dt = torch.from_numpy(x), torch.from_numpy(d)
    start = time.perf_counter()
    order = torch.randperm(len(x))
    for s in range(0, len(x), BATCH):
        rows = order[s : s + BATCH]
        loss = torch.nn.functional.cross_entropy(net(xt[rows]), dt[rows])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--fraction", type=float, default=1.0)
    ap.add_argument("--skip", nargs="*", default=[], choices=["baseline", "pytorch"])
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    data = load_trigrams("data/raw/data2.h5")
    m = int(len(data.train_x) * args.fraction)
    x, d = data.train_x[:m], data.train_d[:m]
    runs = {"ours": ours, "pytorch": pytorch, "baseline": baseline}
    times: dict[str, list[float]] = {k: [] for k in runs if k not in args.skip}
    for r in range(args.rounds):
        for name in times:
            times[name].append(runs[name](x, d, args.dim, args.hidden, seed=r))
            print(f"round {r + 1} {name:9s} {times[name][-1]:.3f} s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"(D, P) = ({args.dim}, {args.hidden}), {m} trigrams, batch {BATCH}, {args.threads} threads, "
          f"median of {args.rounds} rounds")
    for k, v in med.items():
        print(f"  {k:9s} {v:7.3f} s per pass over the {m} trigrams   ours/{k} = {med['ours'] / v:.3f}")


if __name__ == "__main__":
    main()
