"""Trials in a data3-layout file, found in the data itself: the unit of the validation split and the test bootstrap.

A trial is one person doing one activity once; the file holds 150-step windows cut from it. Nothing in the file
names the trial, so it is found in two steps (every window of a trial gets one label):

1. Fragments: windows cut with a stride shorter than the window share samples (in the bundled data3 neighbouring
   windows share 100 of their 150 steps). Two windows sharing a run of RUN consecutive samples (exactly equal 3-D
   readings) are one fragment (the connected groups of that relation, by union-find). Fragments are not trials: the
   bundled test file has 261 fragments, 126 of them single windows, from about 60 trials.
2. Trials: the phone's orientation is fixed during a trial, so the gravity direction (the unit vector of a window's
   mean acceleration) barely moves within it: a fragment's nearest fragment of its class is 0.3-1 degree away and
   from the same trial 66-98 % of the time. Fragments of one class whose mean gravity directions are within
   `degrees` of each other are linked, and trials are the connected groups (single linkage). A larger threshold
   merges more (fewer, larger units: wider intervals, a stricter split), never splits a trial's fragments apart
   more than a smaller one.

The grouping is of trials, not of people: two trials of one person are two units.
"""

from __future__ import annotations

import numpy as np

RUN = 5  # consecutive samples two windows must share to count as cut from one fragment


def _components(n: int, links: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(n,) labels 0..K-1 of the connected components of n nodes, given pairs of index arrays (i, j) linked."""
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for left, right in links:
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            a, b = root(i), root(j)
            if a != b:
                parent[a] = b
    return np.unique([root(i) for i in range(n)], return_inverse=True)[1]


def fragments(x: np.ndarray) -> np.ndarray:
    """(N,) fragment label per window of x (N, T, D): windows sharing a run of RUN samples get one label."""
    first_seen: dict[bytes, int] = {}
    left, right = [], []
    for i, window in enumerate(np.ascontiguousarray(x)):
        for start in range(window.shape[0] - RUN + 1):
            left.append(i)
            right.append(first_seen.setdefault(window[start : start + RUN].tobytes(), i))
    return _components(len(x), [(np.array(left, dtype=np.int64), np.array(right, dtype=np.int64))])


def gravity(x: np.ndarray) -> np.ndarray:
    """(N, D) unit vector of each window's mean reading (the gravity direction for an accelerometer); a window whose
    mean is zero gets the zero vector (it links to nothing)."""
    mean = x.mean(axis=1)
    norm = np.linalg.norm(mean, axis=1, keepdims=True)
    return np.divide(mean, norm, out=np.zeros_like(mean), where=norm > 0)


def trials(x: np.ndarray, y: np.ndarray, frag: np.ndarray, degrees: float) -> np.ndarray:
    """(N,) trial label per window of x (N, T, D) with labels y (N,) and fragments frag (N,) (`fragments(x)`):
    fragments of one class whose mean gravity directions lie within `degrees` of each other are linked; trials are
    the connected groups."""
    n = int(frag.max()) + 1 if len(frag) else 0
    sums = np.zeros((n, x.shape[2]))
    np.add.at(sums, frag, gravity(x))
    norm = np.linalg.norm(sums, axis=1, keepdims=True)
    direction = np.divide(sums, norm, out=np.zeros_like(sums), where=norm > 0)
    label = y[np.unique(frag, return_index=True)[1]]
    cosine = np.cos(np.radians(degrees))
    links = []
    for c in np.unique(label):
        members = np.flatnonzero(label == c)
        near = np.triu(direction[members] @ direction[members].T >= cosine, 1)
        i, j = np.nonzero(near & (norm[members] > 0) & (norm[members] > 0).T)
        links.append((members[i], members[j]))
    return _components(n, links)[frag]


def unit_counts(unit: np.ndarray) -> dict[str, float]:
    """What a grouping (N,) labels makes of N windows: units, single-window units, windows per unit."""
    sizes = np.bincount(np.unique(unit, return_inverse=True)[1])
    return {"units": int(len(sizes)), "single_window_units": int(np.sum(sizes == 1)),
            "windows_per_unit_median": float(np.median(sizes)), "windows_per_unit_max": int(sizes.max())}


def overlapping(x: np.ndarray, rows: np.ndarray, others: np.ndarray) -> int:
    """How many windows x[rows] share a run of RUN samples with any window x[others]."""
    runs = {window[s : s + RUN].tobytes() for window in np.ascontiguousarray(x[others])
            for s in range(window.shape[0] - RUN + 1)}
    return int(sum(any(window[s : s + RUN].tobytes() in runs for s in range(window.shape[0] - RUN + 1))
                   for window in np.ascontiguousarray(x[rows])))
