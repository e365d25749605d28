"""Dashboard data path at 1,000,000 points x 6 metrics: time, bytes, and spikes kept.

Run: .venv/bin/python bench/ui.py [--points 1000000]

Builds a store with one run of 6 metrics x N points (20 single-step spikes injected into
train/loss at odd steps), serves it with uvicorn on loopback, and measures the run page's
data request (all charts, width 1000 px) cold (first request after start: reads SQLite)
and warm (cached), a zoom request, payload bytes per chart, and how many of the 20 spikes
each downsampling approach keeps: ours (per-pixel M4 from the API response), a plain
power-of-two stride to 3,000 rows (trackio's server-side method), and TensorBoard's own
reservoir of 1,000 (``tensorboard.backend.event_processing.reservoir``).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

# bench/ holds a module named logging.py: keep it from shadowing the standard library.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.append(str(Path(__file__).resolve().parent))  # last: baselines.py, never the stdlib

import httpx  # noqa: E402
import numpy as np  # noqa: E402

from baselines import reservoir_indices, stride_indices  # noqa: E402
from losslens.model import MetricPoint, RunStatus  # noqa: E402
from losslens.store import Store  # noqa: E402

KEYS = (
    "train/loss",
    "eval/loss",
    "train/learning_rate",
    "train/grad_norm",
    "train/epoch",
    "train/tokens_per_second",
)
SPIKES = 20


def build(path: Path, n: int) -> tuple[str, np.ndarray]:
    rng = np.random.default_rng(0)
    steps = np.arange(n, dtype=np.int64)
    with Store(path) as st:
        info = st.create_run("bench", "big", status=RunStatus.FINISHED, end_time=time.time())
        spikes = np.sort(rng.choice(np.arange(1001, n - 1, 2), SPIKES, replace=False))
        for key in KEYS:
            base = 2.0 * np.exp(-steps / n * 5) + 0.3
            vals = base + rng.normal(0, 0.02, n)
            if key == "train/loss":
                vals[spikes] += 3.0
            for a in range(0, n, 250_000):
                chunk = zip(
                    steps[a : a + 250_000].tolist(), vals[a : a + 250_000].tolist(), strict=True
                )
                st.write_points(info.id, [MetricPoint(key, s, v, None) for s, v in chunk])
    return info.id, spikes


def serve(path: Path) -> tuple[str, object, threading.Thread]:
    import uvicorn

    from losslens.ui import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(
        uvicorn.Config(create_app(path), log_level="warning", access_log=False, lifespan="off")
    )
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    while not server.started:
        time.sleep(0.02)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, t


def timed(client: httpx.Client, url: str) -> tuple[float, httpx.Response]:
    t = time.perf_counter()
    r = client.get(url)
    r.raise_for_status()
    return time.perf_counter() - t, r


def tensorboard_reservoir_kept(n: int, spikes: np.ndarray) -> int | None:
    try:
        from tensorboard.backend.event_processing.reservoir import Reservoir
    except ImportError:
        return None
    res = Reservoir(size=1000)
    for s in range(n):
        res.AddItem("loss", s)
    kept = set(res.Items("loss"))
    return int(sum(int(s) in kept for s in spikes))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--width", type=int, default=1000)
    args = ap.parse_args()
    n, width = args.points, args.width
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t = time.perf_counter()
        run_id, spikes = build(path, n)
        print(
            f"store: {n:,} points x {len(KEYS)} metrics written in {time.perf_counter() - t:.1f} s"
        )
        base, server, thread = serve(path)
        with httpx.Client(timeout=600) as c:
            url = f"{base}/api/runs/{run_id}/data?width={width}"
            cold, r = timed(c, url)
            warm = [timed(c, url)[0] for _ in range(5)]
            lo, hi = n // 2, n // 2 + n // 100
            zoom_url = f"{url}&group=loss&step_min={lo}&step_max={hi}"
            zoom = [timed(c, zoom_url)[0] for _ in range(5)]
            page_bytes = len(r.content)
            groups = r.json()["groups"]
            per_chart = {g["id"]: len(json.dumps(g, separators=(",", ":"))) for g in groups}
            loss = next(s for g in groups for s in g["series"] if s["key"] == "train/loss")
            shown = dict(zip(loss["x"], loss["y"], strict=True))
            ours = int(sum(int(s) in shown and shown[int(s)] > 2.5 for s in spikes))
            shown_points = loss["n_shown"]
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=10)
    stride = stride_indices(n, 3000)
    reservoir = reservoir_indices(n, 1000)
    tb = tensorboard_reservoir_kept(n, spikes)
    print(f"\nrun page data, {len(groups)} charts at {width} px (uvicorn on loopback, httpx):")
    print(
        f"  cold (first request, reads SQLite) : {cold * 1000:8.0f} ms  {page_bytes / 1024:7.1f} KB"
    )
    print(f"  warm (median of 5)                 : {statistics.median(warm) * 1000:8.0f} ms")
    print(f"  zoom to 1% of steps (median of 5)  : {statistics.median(zoom) * 1000:8.0f} ms")
    print(
        "  payload per chart: " + ", ".join(f"{k} {v / 1024:.1f} KB" for k, v in per_chart.items())
    )
    print(f"\nspikes kept out of {SPIKES} (train/loss, {n:,} steps):")
    rows = [
        ("losslens per-pixel M4", shown_points, ours),
        ("stride to 3,000 rows (trackio)", len(stride), int(np.isin(spikes, stride).sum())),
        ("random reservoir 1,000 (numpy)", len(reservoir), int(np.isin(spikes, reservoir).sum())),
    ]
    if tb is not None:
        rows.append(("TensorBoard Reservoir(1000)", 1000, tb))
    for name, pts, kept in rows:
        print(f"  {name:34s} {pts:6d} points  {kept:3d}/{SPIKES} kept  ({kept / SPIKES:4.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
