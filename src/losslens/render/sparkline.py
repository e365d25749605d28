"""Unicode sparklines like the end-of-run summary of W&B (``█▅▃▂▁▁``)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from losslens.model import FloatArray

BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: FloatArray, width: int = 20) -> str:
    """``width`` bars, each the mean of its bucket; non-finite buckets show as ``·``."""
    n = int(values.shape[0])
    if n == 0:
        return ""
    width = min(width, n)
    edges = np.linspace(0, n, width + 1).astype(int)
    buckets = []
    for a, b in pairwise(edges):
        chunk = values[a : max(b, a + 1)]
        fin = chunk[np.isfinite(chunk)]
        # the mean as a sum of x/n: values near the float maximum do not overflow to inf
        ok = fin.size == len(chunk) and fin.size
        buckets.append(float(np.sum(fin / fin.size)) if ok else float("nan"))
    arr = np.asarray(buckets)
    fin = arr[np.isfinite(arr)]
    if fin.size == 0:
        return "·" * width
    # halves: hi - lo of values near ±1.8e308 would overflow to inf
    lo, hi = float(fin.min()) / 2, float(fin.max()) / 2
    span = hi - lo
    out = []
    for v in arr:
        if not np.isfinite(v):
            out.append("·")
        elif span <= 0:
            out.append(BARS[3])
        else:
            level = (v / 2 - lo) / span * (len(BARS) - 1) + 0.5
            out.append(BARS[max(0, min(len(BARS) - 1, int(level)))])
    return "".join(out)
