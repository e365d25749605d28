"""What other trackers keep when a series is too long to draw: the baselines the benchmarks
(bench/ui.py) and the downsampling tests compare losslens' per-pixel min/max against.

Not part of the package: nothing in losslens draws this way.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def stride_indices(n: int, max_rows: int) -> IntArray:
    """Every k-th row with k the smallest power of two that fits, plus the last row (the
    plain server-side stride some trackers use)."""
    if n <= max_rows:
        return np.arange(n, dtype=np.int64)
    k = 1
    while (n + k - 1) // k > max_rows - 1:
        k *= 2
    idx = np.arange(0, n, k, dtype=np.int64)
    if idx[-1] != n - 1:
        idx = np.r_[idx, n - 1]
    return idx


def reservoir_indices(n: int, size: int, seed: int = 0) -> IntArray:
    """A uniform random sample of ``size`` rows that always keeps the last one (the
    reservoir some dashboards keep per tag)."""
    if n <= size:
        return np.arange(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    picked = rng.choice(n - 1, size=size - 1, replace=False)
    return np.sort(np.r_[picked, n - 1]).astype(np.int64)
