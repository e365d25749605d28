"""Write-time rollups: kept right by every writer, and drawing from them gives the same
per-pixel picture as drawing every raw point.

SQLite only: the PostgreSQL store has no ``rollups`` table (docs/team.md; the dashboard on
PostgreSQL comes later)."""

from __future__ import annotations

import math
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

from losslens.model import MetricPoint
from losslens.render.downsample import _bins, bucket_means, m4_indices
from losslens.store import Store
from losslens.store.rollups import BLOCK, SUB, from_blob
from losslens.ui.data import draw_from_rollups


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = np.cumsum(rng.normal(0, 1, n)) + rng.normal(0, 0.3, n)
    spikes = rng.choice(n, max(1, n // 500), replace=False)
    values[spikes] += rng.choice([-50.0, 50.0], len(spikes))
    bad = rng.choice(n, max(1, n // 700), replace=False)
    values[bad] = rng.choice([math.nan, math.inf, -math.inf], len(bad))
    steps = np.arange(n, dtype=np.int64) * 3 + rng.integers(0, 2, n)
    steps[n // 2 : n // 2 + 40] -= 90  # a resumed run: steps go back for a while
    return steps, values


def _write(path: Path, steps: np.ndarray, values: np.ndarray, seed: int) -> tuple[str, int]:
    """Write in batches of random size, reopening the store now and then."""
    rng = np.random.default_rng(seed)
    st = Store(path)
    run = st.create_run("p", "r")
    i = 0
    while i < len(steps):
        k = int(rng.integers(1, 700))
        pts = [
            MetricPoint("loss", int(s), float(v), None)
            for s, v in zip(steps[i : i + k], values[i : i + k], strict=True)
        ]
        st.write_points(run.id, [*pts, MetricPoint("other", int(steps[i]), 1.0, None)])
        i += k
        if rng.random() < 0.2:
            st.close()
            st = Store(path)
    kid = int(
        st.conn.execute(
            "SELECT id FROM metric_keys WHERE run_id = ? AND key = 'loss'", (run.id,)
        ).fetchone()[0]
    )
    st.close()
    return run.id, kid


def _check_invariants(st: Store, key_id: int) -> None:
    rows = st.conn.execute(
        "SELECT seq, n, n_finite, step_min, step_max, v_min, v_max, sub FROM rollups "
        "WHERE key_id = ? ORDER BY seq",
        (key_id,),
    ).fetchall()
    pts = st.conn.execute(
        "SELECT step, value FROM points WHERE key_id = ? ORDER BY rowid", (key_id,)
    ).fetchall()
    assert [r[0] for r in rows] == list(range(len(rows)))
    assert [r[1] for r in rows] == [min(BLOCK, len(pts) - i) for i in range(0, len(pts), BLOCK)]
    for r, i in zip(rows, range(0, len(pts), BLOCK), strict=True):
        block = pts[i : i + BLOCK]
        v = np.array([p[1] for p in block], dtype=float)
        fin = np.isfinite(v)
        assert r[2] == fin.sum()
        assert (r[3], r[4]) == (min(p[0] for p in block), max(p[0] for p in block))
        if fin.any():
            assert (r[5], r[6]) == (v[fin].min(), v[fin].max())
        sub = from_blob(r[7])
        assert sub["n"].tolist() == [min(SUB, len(block) - j) for j in range(0, len(block), SUB)]


def _columns(x: np.ndarray, y: np.ndarray, lo: float, hi: float, width: int) -> dict[str, object]:
    """Per column: (min, max, first, last) of finite values, and the first non-finite."""
    fin = np.isfinite(y)
    fx, fy = x[fin], y[fin]
    fb = _bins(np.r_[lo, fx, hi], width)[1:-1]
    cols = {}
    for b in np.unique(fb):
        m = fb == b
        cols[int(b)] = (fy[m].min(), fy[m].max(), fx[m][0], fx[m][-1])
    bad = {}
    ab = _bins(np.r_[x.min(), x, x.max()], width)[1:-1]
    for b, xv, yv in zip(ab[~fin], x[~fin], y[~fin], strict=True):
        bad.setdefault(int(b), (xv, str(yv)))
    return {"finite": cols, "bad": bad}


def _raw_view(st: Store, run_id: str, lo: int | None, hi: int | None) -> tuple:
    s = st.series(run_id, "loss")
    xs = s.steps.astype(float)
    a, b = 0, len(xs)
    if lo is not None:
        a = max(0, int(np.searchsorted(xs, lo, "left")) - 1)
    if hi is not None:
        b = min(len(xs), int(np.searchsorted(xs, hi, "right")) + 1)
    return xs[a:b], s.values[a:b]


@pytest.mark.parametrize("seed", [1, 2])
def test_drawing_from_rollups_matches_raw_m4(store_path: Path, seed: int) -> None:
    n = 30_000
    steps, values = _data(n, seed)
    run_id, kid = _write(store_path, steps, values, seed)
    with Store(store_path) as st:
        _check_invariants(st, kid)
        top = int(steps.max())
        views = [(None, None), (top // 4, top // 2), (1000, 1500), (None, top // 3), (7, None)]
        for width in (50, 173, 1000):
            for lo, hi in views:
                x, y = _raw_view(st, run_id, lo, hi)
                cand = draw_from_rollups(st, kid, width, lo, hi)
                assert cand.n_total == len(x)
                fin = np.isfinite(y)
                flo, fhi = float(x[fin][0]), float(x[fin][-1])
                want = _columns(x, y, flo, fhi, width)
                got = _columns(cand.steps.astype(float), cand.values, flo, fhi, width)
                assert got["finite"] == want["finite"], (width, lo, hi)
                assert got["bad"] == want["bad"], (width, lo, hi)
                # What the chart draws (M4 on either) keeps the same per-column extremes.
                idx = m4_indices(x, y, width, use_fast=False)
                drawn = _columns(x[idx], y[idx], flo, fhi, width)
                assert {k: v[:2] for k, v in drawn["finite"].items()} == {
                    k: v[:2] for k, v in got["finite"].items()
                }
                bm = bucket_means(x, y, width)
                np.testing.assert_allclose(cand.means.mean, bm.mean, rtol=1e-9, atol=1e-9)
                np.testing.assert_allclose(cand.means.x, bm.x, rtol=1e-12)
                assert cand.means.n.tolist() == bm.n.tolist()
                assert len(cand.steps) <= 5 * width


def test_every_spike_survives_a_million_points(store_path: Path) -> None:
    n = 1_000_000
    rng = np.random.default_rng(3)
    values = 2.0 * np.exp(-np.arange(n) / n * 5) + rng.normal(0, 0.02, n)
    spikes = np.sort(rng.choice(np.arange(1001, n - 1, 2), 20, replace=False))
    values[spikes] += 3.0
    with Store(store_path) as st:
        run = st.create_run("p", "big")
        for a in range(0, n, 250_000):
            st.write_points(
                run.id,
                [
                    MetricPoint("loss", s, v, None)
                    for s, v in zip(
                        range(a, a + 250_000), values[a : a + 250_000].tolist(), strict=True
                    )
                ],
            )
        kid = st.key_heads(run.id)[0][0]
        cand = draw_from_rollups(st, kid, 1000, None, None)
    shown = dict(zip(cand.steps.tolist(), cand.values.tolist(), strict=True))
    assert all(shown.get(int(s), 0.0) > 2.5 for s in spikes)
    assert cand.n_total == n and len(cand.steps) <= 4000


def test_rollups_stay_right_with_four_processes_writing(store_path: Path, python: str) -> None:
    Store(store_path).close()
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from losslens.model import MetricPoint
        from losslens.store import Store
        path, seed = sys.argv[1], int(sys.argv[2])
        rng = np.random.default_rng(seed)
        with Store(path) as st:
            run = st.create_run("p", f"w{seed}")
        step = 0
        for _ in range(60):
            with Store(path) as st:  # a fresh instance now and then, like a resumed writer
                for _ in range(3):
                    k = int(rng.integers(1, 200))
                    v = rng.normal(0, 1, k)
                    v[rng.random(k) < 0.02] = np.nan
                    st.write_points(run.id, [
                        MetricPoint(key, step + i, float(x), None)
                        for i, x in enumerate(v) for key in ("a", "b")
                    ])
                    step += k
        """
    )
    procs = [subprocess.Popen([python, "-c", code, str(store_path), str(i)]) for i in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    with Store(store_path) as st:
        kids = [int(r[0]) for r in st.conn.execute("SELECT id FROM metric_keys")]
        assert len(kids) == 8
        for kid in kids:
            _check_invariants(st, kid)
        assert st.integrity_check() == "ok"


def test_rebuild_rollups_after_plain_sql_inserts(store_path: Path) -> None:
    with Store(store_path) as st:
        run = st.create_run("p", "r")
        st.write_points(run.id, [MetricPoint("loss", i, float(i), None) for i in range(300)])
        kid = st.key_heads(run.id)[0][0]
        with st.transaction() as conn:
            conn.executemany(
                "INSERT INTO points VALUES (?, ?, NULL, ?)",
                [(kid, i, -float(i)) for i in range(300, 700)],
            )
        st.rebuild_rollups(run.id)
        _check_invariants(st, kid)
        st.delete_run(run.id)
        assert st.conn.execute("SELECT COUNT(*) FROM rollups").fetchone()[0] == 0
