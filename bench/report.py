"""Turn raw timings into ratios, GFLOP/s and fractions of the GEMM peak; write Markdown and JSON."""

from __future__ import annotations

from pathlib import Path

from bench import timing
from pipeline.common import io

TARGET_RATIO = 0.5  # ours / torch: at most
TARGET_SPEEDUP = 3.0  # baseline / ours: at least
FLOP_NOTE = (
    "GFLOP/s count only the matrix products of forward + backward (2mkn per (m,k)x(k,n) product, see "
    "bench/flops.py), per sample: W1 10·n_in·n_hid; W2 6·(3D·P + P·V); W3 T·(4GH(I+H) + 2GH²) + 6(HM + MC) "
    "with G = 1 (RNN), 4 (LSTM), 3 (GRU) gate blocks. % peak is against NumPy's own large GEMM (2048³, best "
    "of 3, measured before and after the workloads, the higher kept) in the implementation's dtype and thread "
    "count (baseline float64, the others float32). On a loaded machine the peak and the workloads see different "
    "load, so the fractions are rough."
)


def _impl_stats(label: str, seconds: list[float], gflop: float, peaks: dict, threads: int) -> dict:
    dtype = "float64" if label == "baseline" else "float32"
    used = 1 if label.endswith("(1 thread)") else threads
    stats = timing.summary(seconds)
    rate = gflop / stats["median"]
    return {**stats, "seconds": seconds, "dtype": dtype, "threads": used, "gflops": rate,
            "peak_fraction": rate / peaks[f"{dtype}@{used}"]}


def summarise(results: list[dict], peaks: dict, threads: int, rtol: dict[str, float]) -> list[dict]:
    """Per workload: stats per implementation, ours/torch (vs the faster torch), baseline/ours, loss agreement."""
    out = []
    for res in results:
        gflop = res["flops_per_sample"] * res["samples"] / 1e9
        impls = {label: _impl_stats(label, sec, gflop, peaks, threads) for label, sec in res["seconds"].items()}
        row = {k: v for k, v in res.items() if k != "seconds"}
        diffs = res["loss_max_rel_diff"]
        row.update(gflop=gflop, impls=impls, loss_agree=all(diffs[k] <= tol for k, tol in rtol.items()))
        torch_best = min(("torch", "torch+FTZ"), key=lambda k: impls[k]["median"])
        row["torch_best"] = torch_best
        if "ours" in impls:
            ours = impls["ours"]["median"]
            row["ours_over_torch"] = ours / impls[torch_best]["median"]
            row["baseline_over_ours"] = impls["baseline"]["median"] / ours
            one = impls.get("ours (1 thread)")
            row["ours_1thread_over_ours"] = one["median"] / ours if one else None
        out.append(row)
    return out


def _cell(stats: dict | None) -> str:
    if stats is None:
        return "—"
    return f"{stats['median']:.3f} ({stats['min']:.3f}–{stats['max']:.3f})"


def _rate(stats: dict | None) -> str:
    return "—" if stats is None else f"{stats['gflops']:.1f} ({100 * stats['peak_fraction']:.1f} %)"


def _target(value: float | None, ok: bool) -> str:
    return "—" if value is None else f"{value:.2f} {'✓' if ok else '✗'}"


def markdown(info: dict, settings: dict, peaks: dict, rows: list[dict]) -> str:
    labels = ["ours", "torch", "torch+FTZ", "baseline", "ours (1 thread)"]
    tolerances = " / ".join(f"{v:g}" for v in settings["agree_rtol"].values())
    span = "epoch" if settings["fraction"] >= 1 else f"{settings['fraction']:.0%} of an epoch"
    lines = [
        "# Training-speed benchmark: ours vs PyTorch vs a typical NumPy baseline",
        "",
        f"{info['date']} · {info['cpu']}, {info['cores']} cores · load average (1/5/15 min) before "
        f"{'/'.join(f'{x:.2f}' for x in info['loadavg_before'])}, after "
        f"{'/'.join(f'{x:.2f}' for x in info['loadavg_1_5_15'])} · command `{settings['command']}`",
        "",
        f"numpy {info['numpy']} ({info['numpy_blas']}), {settings['threads']} BLAS thread(s); "
        f"torch {info.get('torch', '?')} ({info.get('torch_blas', '')}), {info.get('torch_threads')} thread(s); "
        f"Python {info['python']}. GEMM peak (GFLOP/s): "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(peaks.items())) + ".",
        "",
        f"Seconds per {span} "
        f"(forward, backward, momentum update over every mini-batch): median (min–max) of {settings['reps']} "
        f"interleaved repetitions after {settings['warmup']} warm-up round(s) of a tenth as many batches. "
        f"ours/torch is against the faster "
        f"of torch and torch+FTZ (target ≤ {TARGET_RATIO}); baseline/ours is the speed-up (target ≥ "
        f"{TARGET_SPEEDUP:g}). Losses agree: largest relative difference to the float64 baseline on mini-batch 0 "
        f"at the initial weights / after 3 training steps (tolerances {tolerances}).",
        "",
        "| workload | batches | " + " | ".join(labels) + " | ours/torch | baseline/ours | losses agree |",
        "|---" * (len(labels) + 5) + "|",
    ]
    for r in rows:
        diffs = " / ".join(f"{v:.0e}" for v in r["loss_max_rel_diff"].values())
        agree = f"{'yes' if r['loss_agree'] else 'NO'} ({diffs})"
        ratio, speedup = r.get("ours_over_torch"), r.get("baseline_over_ours")
        lines.append(
            f"| {r['key']} | {r['batches']} × {r['batch_size']} | "
            + " | ".join(_cell(r["impls"].get(k)) for k in labels)
            + f" | {_target(ratio, ratio is not None and ratio <= TARGET_RATIO)}"
            f" | {_target(speedup, speedup is not None and speedup >= TARGET_SPEEDUP)} | {agree} |"
        )
    lines += ["", "Achieved GFLOP/s (% of the GEMM peak in the same dtype and thread count):", "",
              "| workload | GFLOP per run | " + " | ".join(labels) + " |", "|---" * (len(labels) + 2) + "|"]
    for r in rows:
        lines.append(f"| {r['key']} | {r['gflop']:.1f} | " + " | ".join(_rate(r["impls"].get(k)) for k in labels)
                     + " |")
    lines += ["", FLOP_NOTE, "", "Workloads:", ""]
    for r in rows:
        first = ", ".join(f"{k} {v['first_batch']:.6f}" for k, v in r["losses"].items())
        lines.append(f"- **{r['key']}** {r['title']}; batch {r['batch_size']}, η = {r['lr']}, α = {r['momentum']}. "
                     f"First-batch loss: {first}." + "".join(f" {n}." for n in r["notes"]))
    return "\n".join(lines) + "\n"


def write(out_dir: Path, name: str, info: dict, settings: dict, peaks: dict, rows: list[dict]) -> None:
    """<out_dir>/<name>.json (everything, sorted keys) and <name>.md (the tables), atomically."""
    io.write_json(out_dir / f"{name}.json",
                      {"machine": info, "settings": settings, "gemm_peak_gflops": peaks, "workloads": rows})
    io.write_text(out_dir / f"{name}.md", markdown(info, settings, peaks, rows))
