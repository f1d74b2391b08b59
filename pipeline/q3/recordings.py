"""Recordings in a data3-layout file, found in the data itself, and a validation split of whole recordings.

Windows cut from one recording with a stride shorter than the window share samples: in the bundled data3,
neighbouring windows share 100 of their 150 steps. Two windows belong to one recording when they share a run of
RUN consecutive samples (exactly equal 3-D readings); recordings are the connected groups of that relation
(union-find). A validation split of single windows would put near-copies of training windows into validation, so
`recording_split` holds out whole recordings, stratified by class. This works on any file in the course layout;
where no two windows share a run (every window its own recording) it is the per-window stratified split.
"""

from __future__ import annotations

import numpy as np

RUN = 5  # consecutive samples two windows must share to count as cut from one recording


def recordings(x: np.ndarray) -> np.ndarray:
    """(N,) recording label per window of x (N, T, D): windows sharing a run of RUN samples get one label."""
    parent = np.arange(len(x))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_seen: dict[bytes, int] = {}
    for i, window in enumerate(np.ascontiguousarray(x)):
        for start in range(window.shape[0] - RUN + 1):
            j = first_seen.setdefault(window[start : start + RUN].tobytes(), i)
            a, b = root(i), root(j)
            if a != b:
                parent[a] = b
    return np.unique([root(i) for i in range(len(x))], return_inverse=True)[1]


def overlapping(x: np.ndarray, rows: np.ndarray, others: np.ndarray) -> int:
    """How many windows x[rows] share a run of RUN samples with any window x[others]."""
    runs = {window[s : s + RUN].tobytes() for window in np.ascontiguousarray(x[others])
            for s in range(window.shape[0] - RUN + 1)}
    return int(sum(any(window[s : s + RUN].tobytes() in runs for s in range(window.shape[0] - RUN + 1))
                   for window in np.ascontiguousarray(x[rows])))
