"""Report section Q1 (a)-(d): sparse autoencoder, from metrics/q1.json and results/q1/search and sweep_summary."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.common import paths
from pipeline.common.document import Block, Bullets, Heading, Paragraph, Table
from pipeline.report.sources import Sources, change, num, pct, trend

SCORES = ("heldout_r2", "rho_hat_mean", "localisation", "coherence", "feature_score")  # of search.csv and sweep.csv
SEARCH_NUMBERS = ("seed", "beta", "rho", *SCORES)
SWEEP_NUMBERS = ("hidden", "lambda", *SCORES)


def preprocessing(src: Sources, q1: dict) -> list[Block]:
    """Q1 (a): the normalisation, and how many pixels it clipped (from results/q1/preprocess/summary.json)."""
    pre = q1["preprocess"]
    summary = src.json(paths.Q1_PREPROCESS_RESULTS / "summary.json")
    return [
        Heading(3, "Q1 (a) Preprocessing"),
        Paragraph(
            f"{summary['patches']} RGB patches were converted to luminosity (0.2126 R + 0.7152 G + 0.0722 B), "
            f"each patch's own mean was removed, values were clipped at ±{num(pre['clip_std'])} standard deviations "
            f"of all pixels and mapped linearly onto [{num(pre['low'])}, {num(pre['high'])}]. "
            f"{pct(summary['at_clip_bound'])} of the pixels ended at a clip bound, and the normalised values have a "
            f"standard deviation of {num(summary['std'], 3)} "
            f"around the middle {num((pre['low'] + pre['high']) / 2)}."
        ),
        src.figure(paths.Q1_PREPROCESS_PLOTS / "patches_rgb_vs_normalised.png",
                   f"{pre['sample_size']} random patches in RGB (left) "
                   "and the same patches after normalisation (right)."),
        Paragraph(
            "Colour and absolute brightness are gone after normalisation: what is left is local contrast — edges, "
            "bars and texture — which is what the autoencoder should learn features of. Flat patches become "
            "uniform grey, and the rare very bright or dark pixels are clipped, so a few extreme pixels cannot "
            f"dominate the squared-error cost; the [{num(pre['low'])}, {num(pre['high'])}] range stays inside the "
            "(0, 1) range of the sigmoid output layer."
        ),
    ]


def search(src: Sources, q1: dict) -> list[Block]:
    """Q1 (b): the β × ρ search and the pair it chose."""
    every = src.csv(paths.Q1_SEARCH_RESULTS / "search.csv", ("eligible", "chosen"), SEARCH_NUMBERS)
    seeds = list(dict.fromkeys(every["seed"]))
    table = every[every["seed"] == seeds[0]]
    picks = every[every["chosen"].astype(bool)]
    chosen = picks.iloc[0]
    agrees = np.isclose(chosen["beta"], q1["beta"]) and np.isclose(chosen["rho"], q1["rho"])
    stable = len({(float(r["beta"]), float(r["rho"])) for _, r in picks.iterrows()}) == 1
    per_seed = ", ".join(f"seed {int(r['seed'])}: β = {num(r['beta'])}, ρ = {num(r['rho'])} (score "
                         f"{num(r['feature_score'], 3)})" for _, r in picks.iterrows())
    return [
        Heading(3, "Q1 (b) Choosing β and ρ"),
        Paragraph(
            f"With Lhid = {q1['search']['hidden']} and λ = {num(q1['search']['lambda'])}, every pair of "
            f"β ∈ {{{', '.join(num(v) for v in q1['search']['beta'])}}} and "
            f"ρ ∈ {{{', '.join(num(v) for v in q1['search']['rho'])}}} was trained with the {q1['solver']} solver. "
            "The quality criterion (see the README) is the feature score: the mean over hidden units of how "
            f"localised a filter is (largest share of its energy in a window of {q1['quality']['window']}×"
            f"{q1['quality']['window']} pixels) times how oriented it is (structure-tensor coherence), among the "
            f"pairs whose held-out variance explained (heldout_r2) is at least {num(q1['search']['min_r2'])}."
        ),
        Table(table[["seed", "beta", "rho", "heldout_r2", "rho_hat_mean", "localisation", "coherence", "feature_score",
                     "eligible", "chosen"]]),
        src.figure(paths.Q1_SEARCH_PLOTS / "heatmap.png", f"Search scores over β × ρ (seed {seeds[0]})."),
        Paragraph(
            f"The search chooses β = {num(chosen['beta'])}, ρ = {num(chosen['rho'])} (feature score "
            f"{num(chosen['feature_score'], 3)}, heldout_r2 {num(chosen['heldout_r2'], 3)}; seed {seeds[0]}). "
            + (f"Searched again with {len(seeds) - 1} other seed(s) (another held-out split and initialisation): "
               f"{per_seed}; " + ("the same pair every time. " if stable else
                                  "the pick changes with the draw, so the choice is not settled by this grid. ")
               if len(seeds) > 1 else "")
            + ("These are the values in params.yaml, used below."
               if agrees else
               f"params.yaml currently sets β = {num(q1['beta'])}, ρ = {num(q1['rho'])}, which the sections below use.")
        ),
    ]


def features(src: Sources, q1: dict) -> list[Block]:
    """Q1 (b) result and Q1 (c): the network of params.yaml, its cost terms and its filters."""
    m = src.json(paths.Q1_TRAIN_RESULTS / paths.RESULT)
    pca = src.json(paths.Q1_BASELINE_RESULTS / "pca.json")["heldout_r2"]
    return [
        Paragraph(
            f"The network of params.yaml (Lhid = {q1['hidden']}, λ = {num(q1['lambda'])}, β = {num(q1['beta'])}, "
            f"ρ = {num(q1['rho'])}) reached a final cost of {num(m['final_loss'])} = {num(m['final_mse'])} "
            f"(reconstruction) + {num(m['final_decay'])} (weight decay) + {num(m['final_sparsity'])} (sparsity) "
            f"after {m['steps']} {'iterations' if q1['solver'] == 'lbfgs' else 'epochs'}. The mean hidden activation "
            f"is {num(m['rho_hat_mean'], 3)} "
            f"(spread {num(m['rho_hat_std'], 3)}) for a target of {num(q1['rho'])}; on held-out patches the "
            f"reconstruction error is {num(m['heldout_mse'])} ({pct(m['heldout_r2'])} of the variance explained). "
            f"The linear code of the same size, the first {q1['hidden']} principal components of the training "
            f"patches (baseline, `q1_baseline`), explains {pct(pca[str(q1['hidden'])])}: the sparsity term makes "
            "the network give up reconstruction for a code in which few units are active at once."
        ),
        src.figure(paths.Q1_TRAIN_PLOTS / "curve.png", "Training cost and its three terms."),
        Heading(3, "Q1 (c) The learned features"),
        src.figure(paths.Q1_TRAIN_PLOTS / "features.png",
                   f"First-layer weights of the {q1['hidden']} hidden units, each "
                   "scaled on its own."),
        Paragraph(
            f"The filters have a mean localisation of {num(m['localisation'], 3)} and a mean orientation coherence "
            f"of {num(m['coherence'], 3)} (1 would be a perfectly straight edge; a spread-out filter scores "
            f"{num((q1['quality']['window'] / 16) ** 2, 2)} on localisation). Localised, oriented edge and bar "
            "detectors at several positions and orientations are the structure of natural images — the same kind "
            "of features as simple cells in the primary visual cortex and the Gabor-like filters of sparse coding; "
            "the two scores measure how close the filters come to that, i.e. how far they represent natural images "
            "rather than individual patches."
        ),
        src.figure(paths.Q1_TRAIN_PLOTS / "reconstructions.png", "Held-out patches beside their reconstructions."),
    ]


def means_by(sweep: pd.DataFrame, key: str, column: str) -> tuple[list[float], list[float]]:
    """The settings of `key` in increasing order and the mean of `column` over the rest of the grid."""
    settings = sorted(sweep[key].unique().tolist())
    return settings, [float(sweep.loc[sweep[key] == v, column].mean()) for v in settings]


def seed_noise(search: pd.DataFrame, q1: dict) -> float | None:
    """How far the feature score of params.yaml's (β, ρ) moves between the search's seeds (max - min); None with one
    seed. Each sweep network is trained once, so this is the scale below which a sweep difference is a tie."""
    pair = search[np.isclose(search["beta"], q1["beta"]) & np.isclose(search["rho"], q1["rho"])]
    return float(pair["feature_score"].max() - pair["feature_score"].min()) if pair["seed"].nunique() > 1 else None


def margin(best: pd.Series, runner_up: pd.Series | None, noise: float | None) -> str:
    """'; 0.012 above the next (Lhid 50, λ 0): inside the seed-to-seed change of 0.02, a tie' or ''."""
    if runner_up is None or noise is None:
        return ""
    gap = float(best["feature_score"] - runner_up["feature_score"])
    return (f"; {num(gap, 2)} above the next (Lhid = {int(runner_up['hidden'])}, λ = {num(runner_up['lambda'])}), "
            + (f"inside the change of {num(noise, 2)} between two seeds of the same network in the search: a tie"
               if gap < noise else f"more than the change of {num(noise, 2)} between two seeds in the search"))


def sweep_section(src: Sources, q1: dict) -> list[Block]:
    """Q1 (d): Lhid × λ grid; every comparison is computed from results/q1/sweep_summary/sweep.csv."""
    sweep = src.csv(paths.Q1_SUMMARY_RESULTS / "sweep.csv", numeric=SWEEP_NUMBERS)
    pca = src.json(paths.Q1_BASELINE_RESULTS / "pca.json")["heldout_r2"]
    lams, score_by_lam = means_by(sweep, "lambda", "feature_score")
    _, coherence_by_lam = means_by(sweep, "lambda", "coherence")
    _, r2_by_lam = means_by(sweep, "lambda", "heldout_r2")
    hiddens, r2_by_hidden = means_by(sweep, "hidden", "heldout_r2")
    _, local_by_hidden = means_by(sweep, "hidden", "localisation")
    lam_names = [f"λ = {num(v)}" for v in lams]
    hidden_names = [f"Lhid = {v}" for v in hiddens]
    ranked = sweep.sort_values("feature_score", ascending=False).reset_index(drop=True)
    best = ranked.iloc[0]
    noise = seed_noise(src.csv(paths.Q1_SEARCH_RESULTS / "search.csv", numeric=SEARCH_NUMBERS), q1)
    runner_up = ranked.iloc[1] if len(ranked) > 1 else None
    return [
        Heading(3, "Q1 (d) Lhid × λ"),
        Paragraph(f"{len(sweep)} networks, Lhid ∈ {{{', '.join(map(str, hiddens))}}} × "
                  f"λ ∈ {{{', '.join(num(v) for v in lams)}}}, with "
                  f"β = {num(q1['beta'])} and ρ = {num(q1['rho'])} fixed, each trained once (seed {q1['seed']})."),
        src.figure(paths.Q1_SUMMARY_PLOTS / "features.png", "Features of every network: rows λ, columns Lhid."),
        Table(sweep[["hidden", "lambda", "heldout_r2", "rho_hat_mean", "localisation", "coherence",
                     "feature_score"]]),
        Bullets((
            trend(coherence_by_lam, lam_names, "The mean orientation coherence over Lhid") + ".",
            trend(score_by_lam, lam_names, "The mean feature score over Lhid") + ".",
            trend(r2_by_hidden, hidden_names, "The held-out variance explained (mean over λ)") + "; PCA with as "
            "many components (baseline) explains " + ", ".join(f"{pct(pca[str(h)])} at {h}" for h in hiddens) + ".",
            trend(local_by_hidden, hidden_names, "The mean localisation over λ") + ".",
            f"The highest feature score is at Lhid = {int(best['hidden'])}, λ = {num(best['lambda'])} "
            f"({num(best['feature_score'], 3)})" + margin(best, runner_up, noise) + ".",
        )),
        Paragraph(
            "Weight decay penalises large weights, so it trades reconstruction for smooth filters: from "
            f"{lam_names[0]} to {lam_names[-1]} the orientation coherence (how sharp and edge-like the filters are) "
            f"{change(coherence_by_lam[0], coherence_by_lam[-1])} and the held-out variance explained "
            f"{change(r2_by_lam[0], r2_by_lam[-1])} ({num(r2_by_lam[0], 3)} to {num(r2_by_lam[-1], 3)}). "
            "The number of hidden "
            "units sets how many distinct positions and orientations the filters can cover, and how much of each "
            "patch the code can reconstruct."
        ),
    ]


def q1_section(src: Sources, params: dict) -> list[Block]:
    """Q1 (a)-(d) in order."""
    q1 = params["q1"]
    return [Heading(2, "Q1 — Sparse autoencoder on natural image patches"), *preprocessing(src, q1),
            *search(src, q1), *features(src, q1), *sweep_section(src, q1)]
