"""When each step happened: a small step -> seconds map for the wall-time and relative-time
x axes of step charts.

The dashboard reads metric series without their wall times (half the bytes), so the map is
read once per run state from one key: the longest step metric that is still short enough
to read whole (:data:`MAX_POINTS`), thinned to :data:`KEEP` points. A run whose every key
is longer has no map, and the pages offer step and epoch only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from losslens.model import RunInfo
from losslens.ui.source import DashboardData

#: The longest series read whole (with wall times) for the map.
MAX_POINTS = 65_536
#: Points kept in the map (linear in between).
KEEP = 2048
_CACHE: OrderedDict[tuple[Any, ...], dict[str, list[float]] | None] = OrderedDict()
_LOCK = threading.Lock()


def clock(ds: DashboardData, info: RunInfo, heads: list[Any]) -> dict[str, list[float]] | None:
    """``{"x": steps, "t": seconds since the run started}`` (ascending), or None.

    Cached per state of the run's metric keys: a poll that finds nothing new costs a lookup."""
    metric = tuple((h[0], h[3]) for h in heads if h[1] == "metric")
    ck = (str(ds.store_path), info.id, info.start_time, metric)
    with _LOCK:
        if ck in _CACHE:
            _CACHE.move_to_end(ck)
            return _CACHE[ck]
    st = ds.store()
    sizes = [(st.count_in(key_id, None, None), key_id) for key_id, _ in metric]
    fits = [s for s in sizes if 2 <= s[0] <= MAX_POINTS]
    out: dict[str, list[float]] | None = None
    steps = walls = np.zeros(0)
    if fits:
        steps, _, walls, _ = st.read_points(max(fits)[1], with_wall=True)
    ok = np.isfinite(walls)
    if ok.sum() >= 2:
        x, w = steps[ok].astype(np.float64), walls[ok]
        if len(x) > KEEP:
            idx = np.unique(np.linspace(0, len(x) - 1, KEEP).round().astype(np.int64))
            x, w = x[idx], w[idx]
        t0 = info.start_time if info.start_time else float(w.min())
        t = np.maximum.accumulate(w - t0)  # a clock never runs back
        out = {"x": [int(v) for v in x.tolist()], "t": [round(v, 2) for v in t.tolist()]}
    with _LOCK:
        _CACHE[ck] = out
        while len(_CACHE) > 256:
            _CACHE.popitem(last=False)
    return out
