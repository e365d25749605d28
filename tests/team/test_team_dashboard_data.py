"""The dashboard served from PostgreSQL (``losslens.ui.pgdata.PgDataSource``) shows what the
SQLite one (``losslens.ui.data.DataSource``) shows for the same logs: runs, table rows with
the host column, verdicts and findings, series at full resolution, and charts of long runs
summarised in PostgreSQL with every extreme and every NaN kept. Real logs imported by real
``losslens import`` subprocesses into a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from extras import needs

needs("psycopg", "team")
needs("starlette", "ui")

import pgcluster  # noqa: E402
from losslens.model import RunStatus, Series  # noqa: E402
from losslens.render.downsample import Candidates  # noqa: E402
from losslens.store import Store  # noqa: E402
from losslens.store.pg import PgStore  # noqa: E402
from losslens.ui import api  # noqa: E402
from losslens.ui.data import DataSource  # noqa: E402
from losslens.ui.pgdata import PgDataSource  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ROOT / "tests" / "data" / "faults"
REAL = ROOT / "corpus" / "shared" / "real" / "files"
LOGS = [
    FAULTS / "nan_hidden",
    FAULTS / "lr_too_high",
    FAULTS / "overfit_with_eval",
    FAULTS / "healthy",
    REAL / "013_llama3-lora-overfit-eval-rising.json",
    REAL / "046_dpo-per-step-json-nan-gradnorm.json",
    REAL / "026_console_vicuna-lora-loss-inf-nan.txt",
    REAL / "001_project-lora-3ep.json",
]
BIG = 200_000
#: Steps of the long run that hold NaN (far apart: one per pixel column at any width).
NAN_STEPS = (7, 40_000, 123_457, 199_999)
WIDTH = 800


def _import(store: str, home: Path) -> dict[str, str]:
    env = {**os.environ, "LOSSLENS_HOME": str(home), "COLUMNS": "120"}
    env.pop("LOSSLENS_STORE", None)
    got = subprocess.run(
        [sys.executable, "-m", "losslens", "import", *map(str, LOGS), "--store", store, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert got.returncode == 0, got.stderr
    out = json.loads(got.stdout)
    assert out["errors"] == []
    return {e["name"]: e["id"] for e in out["imported"]}


def _big_points() -> list[tuple[str, int, float, float | None]]:
    rng = np.random.default_rng(11)
    v = 2.0 * np.exp(-np.arange(BIG) / 50_000) + rng.normal(0, 0.05, BIG)
    v[77_777] = 9.5  # the global maximum, one step
    v[150_001] = -3.25  # the global minimum, one step
    v[list(NAN_STEPS)] = math.nan
    v[99_000] = math.inf
    return [("train/loss", i, float(v[i]), 1.7e9 + i) for i in range(BIG)]


@pytest.fixture(scope="module")
def both(
    tmp_path_factory: pytest.TempPathFactory, pg_cluster: Path, _pg_template: str
) -> Iterator[dict[str, Any]]:
    """The same logs (and a 200k-point run) in a SQLite store and a PostgreSQL store, with a
    host set on each run; ``ids``: name -> (SQLite id, PostgreSQL id)."""
    tmp = tmp_path_factory.mktemp("dash")
    db = pgcluster.new_database(pg_cluster, template=_pg_template)
    url = pgcluster.url(pg_cluster, pgcluster.PORT, db)
    path = tmp / "store.db"
    lite_ids = _import(str(path), tmp / "home")
    pg_ids = _import(url, tmp / "home")
    assert set(lite_ids) == set(pg_ids) and len(lite_ids) == len(LOGS)
    ids = {name: (lite_ids[name], pg_ids[name]) for name in lite_ids}
    big = _big_points()
    lite, pg = Store(path), PgStore(url)
    made = [
        st.create_run(
            "big", "big-run", status=RunStatus.FINISHED, start_time=1.7e9, end_time=1.7e9 + BIG
        ).id
        for st in (lite, pg)
    ]
    ids["big-run"] = (made[0], made[1])
    for k, st in enumerate((lite, pg)):
        st.write_points(made[k], big)
        for n, (_, pair) in enumerate(sorted(ids.items())):
            st.update_run(pair[k], host=f"gpu-{n % 3:02d}")
    lite.close()
    try:
        yield {"lite": DataSource(path), "pg": PgDataSource(pg), "ids": ids, "url": url}
    finally:
        pg.close()
        pgcluster.drop_database(pg_cluster, pgcluster.PORT, db)


def _row(ds: Any, run_id: str) -> dict[str, Any]:
    info = ds.run(run_id)
    heads, stats, found = ds.table([info])
    row = api.run_row(ds, info, heads[info.id], stored=found.get(info.id), stats=stats[info.id])
    row.pop("id")
    row.pop("heartbeat")  # the moment of each import
    return row


def _same_floats(a: Any, b: Any) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def test_runs_and_table_rows_agree_host_included(both: dict[str, Any]) -> None:
    lite, pg, ids = both["lite"], both["pg"], both["ids"]
    by_name = {r.name: r for r in pg.runs()}
    assert sorted(by_name) == sorted(r.name for r in lite.runs()) == sorted(ids)
    hosts = set()
    for name, (lid, pid) in ids.items():
        want, got = _row(lite, lid), _row(pg, pid)
        assert got == want, name
        hosts.add(got["host"])
        assert by_name[name].host == got["host"]
    assert hosts == {"gpu-00", "gpu-01", "gpu-02"}
    # the whole table at once gives the same rows as one run at a time
    infos = pg.runs()
    heads, stats, found = pg.table(infos)
    for info in infos:
        assert stats[info.id] == pg.loss_stats(info)
        assert [h[2] for h in heads[info.id]] == [h[2] for h in pg.heads(info)]
        assert found[info.id] is not None


def test_verdicts_and_findings_agree_and_are_stored_once(both: dict[str, Any]) -> None:
    lite, pg, ids = both["lite"], both["pg"], both["ids"]
    for name, (lid, pid) in ids.items():
        a, b = lite.report(lite.run(lid)), pg.report(pg.run(pid))
        assert a is not None and b is not None
        assert str(b.verdict) == str(a.verdict), name
        fa = sorted((f.rule_id, str(f.severity), f.evidence.step_start) for f in a.findings)
        fb = sorted((f.rule_id, str(f.severity), f.evidence.step_start) for f in b.findings)
        assert fb == fa, name
    kinds = {str(pg.report(pg.run(ids[n][1])).verdict) for n in ids}  # type: ignore[union-attr]
    assert len(kinds) >= 2  # the logs are not all alike
    infos = [pg.run(p) for _, p in ids.values()]
    first = pg.verdicts(infos)
    again = pg.verdicts(infos)  # read back from the store: not analysed again
    assert {k: v.created_at for k, v in first.items() if v} == {
        k: v.created_at for k, v in again.items() if v
    }
    fresh = PgDataSource(pg.store())  # another process would see the same stored report
    for info in infos:
        got = fresh.cached_report(info)
        assert got is not None and str(got.verdict) == first[info.id].verdict  # type: ignore[union-attr]


def test_series_and_chart_payloads_agree_at_full_resolution(both: dict[str, Any]) -> None:
    lite, pg, ids = both["lite"], both["pg"], both["ids"]
    checked = 0
    for name, (lid, pid) in ids.items():
        if name == "big-run":
            continue
        la, pa = lite.run(lid), pg.run(pid)
        lh, ph = lite.heads(la), pg.heads(pa)
        assert [(h[1], h[2]) for h in ph] == [(h[1], h[2]) for h in lh], name
        for _, kind, key, _ in lh:
            a, b = lite.series(la, kind, key, lh), pg.series(pa, kind, key, ph)
            _, first = np.unique(a.steps, return_index=True)  # PostgreSQL: one per step
            assert b.steps.tolist() == a.steps[first].tolist(), (name, key)
            assert _same_floats(b.values, a.values[first]), (name, key)
            if len(first) == len(a.steps):
                want = api._drawn_payload(lite, la, lh, (kind, key), "step", WIDTH, None, None)
                got = api._drawn_payload(pg, pa, ph, (kind, key), "step", WIDTH, None, None)
                assert got == want, (name, key)
            checked += 1
    assert checked > 20


def test_long_run_chart_is_summarised_in_postgresql(both: dict[str, Any]) -> None:
    lite, ids = both["lite"], both["ids"]
    pg = PgDataSource(both["pg"].store())  # nothing in memory: the chart comes from SQL
    lid, pid = ids["big-run"]
    la, pa = lite.run(lid), pg.run(pid)
    lh, ph = lite.heads(la), pg.heads(pa)
    src = pg.drawable(pa, "metric", "train/loss", ph, WIDTH)
    assert isinstance(src, Candidates)
    assert src.n_total == BIG
    assert len(src.steps) <= 6 * WIDTH  # bounded, never every point
    at = dict(zip(src.steps.tolist(), src.values.tolist(), strict=True))
    assert at[77_777] == 9.5 and at[150_001] == -3.25
    assert all(math.isnan(at[s]) for s in NAN_STEPS) and at[99_000] == math.inf
    assert sum(src.means.n) == BIG - len(NAN_STEPS) - 1
    got = api._drawn_payload(pg, pa, ph, ("metric", "train/loss"), "step", WIDTH, None, None)
    want = api._drawn_payload(lite, la, lh, ("metric", "train/loss"), "step", WIDTH, None, None)
    assert got["n_total"] == want["n_total"] == BIG
    assert got["n_shown"] <= 5 * WIDTH
    ys = [y for y in got["y"] if y is not None]
    assert max(ys) == 9.5 and min(ys) == -3.25
    assert got["nonfinite"] == want["nonfinite"]
    assert sorted(x for x, _ in got["nonfinite"]) == sorted([*NAN_STEPS, 99_000])
    assert len(got["mean"]["x"]) == len(want["mean"]["x"])
    # a zoomed range that holds few points is drawn from its exact points
    zoom = pg.drawable(pa, "metric", "train/loss", ph, WIDTH, 39_900, 40_400)
    assert isinstance(zoom, Series) and zoom.steps[0] == 39_899 and zoom.steps[-1] == 40_401
    got = api._drawn_payload(pg, pa, ph, ("metric", "train/loss"), "step", WIDTH, 39_900, 40_400)
    want = api._drawn_payload(lite, la, lh, ("metric", "train/loss"), "step", WIDTH, 39_900, 40_400)
    assert got["x"] == want["x"] and got["y"] == want["y"]
    assert got["nonfinite"] == want["nonfinite"] == [[40_000, "NaN"]]
    # read whole (a comparison, an analysis): every point, exactly as SQLite has them
    whole, want_s = pg.series(pa, "metric", "train/loss"), lite.series(la, "metric", "train/loss")
    assert whole.steps.tolist() == want_s.steps.tolist() and _same_floats(
        whole.values, want_s.values
    )
    steps, _, walls, n = pg.store().read_points(ph[0][0], with_wall=True)
    assert n == BIG and walls[5] == 1.7e9 + 5 and steps[-1] == BIG - 1
    # a sparkline's summaries come from the same store
    subs = pg.store().rollup_subs(ph[0][0])
    assert int(subs["n"].sum()) == BIG and float(subs["v_max"].max()) == 9.5


def test_live_poll_reads_by_step(both: dict[str, Any]) -> None:
    pg = both["pg"]
    st = pg.store()
    info = st.create_run("live", "live-run", host="gpu-09")
    pts = [("train/loss", i, 2.0 - i / 100, None) for i in range(100)]
    pts[60] = ("train/loss", 60, math.nan, None)
    st.write_points(info.id, pts)
    info = pg.run(info.id)
    got = pg.live_poll(info, 49)
    assert got["points"]["train/loss"]["x"] == list(range(50, 100))
    assert got["points"]["train/loss"]["y"][10] is None  # NaN, as the SQLite path sends it
    assert got["last_step"] == 99 and got["report"] is not None
    assert pg.loss_stats(info)["final_loss"] == pytest.approx(1.01)
    before = pg.points_read
    seen = pg.data_version()
    st.write_points(info.id, [("train/loss", i, 1.0, None) for i in range(100, 120)])
    assert pg.data_version() != seen
    got = pg.live_poll(pg.run(info.id), 99)
    assert got["points"]["train/loss"]["x"] == list(range(100, 120))
    assert pg.points_read - before == 40  # 20 for the page, 20 for the live analysis
    assert pg.live_poll(pg.run(info.id), 119)["points"] == {}
    stats = pg.loss_stats(pg.run(info.id))  # a new state of the key: read again
    assert stats["final_loss"] == 1.0 and stats["best_loss"] == 1.0


def test_dashboard_pages_on_postgresql(both: dict[str, Any], tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from losslens.ui.app import create_app

    Store(tmp_path / "empty.db").close()
    guard = create_app(tmp_path / "empty.db")
    guard.app.state.data = both["pg"]  # what create_app will do for a postgresql:// URL
    pid = both["ids"]["013_llama3-lora-overfit-eval-rising"][1]
    big = both["ids"]["big-run"][1]
    with TestClient(guard, base_url="http://127.0.0.1") as client:
        page = client.get("/")
        assert page.status_code == 200 and "gpu-01" in page.text and "big-run" in page.text
        rows = client.get("/api/runs").json()
        assert {r["host"] for r in rows} >= {"gpu-00", "gpu-01", "gpu-02"}
        assert client.get(f"/runs/{pid}").status_code == 200
        data = client.get(f"/api/runs/{big}/data?width=400").json()
        loss = next(s for g in data["groups"] for s in g["series"] if s["key"] == "train/loss")
        assert loss["n_total"] == BIG and loss["n_shown"] <= 2000
        assert client.get(f"/api/runs/{pid}/report").json()["verdict"]
        assert client.get(f"/api/runs/{pid}/poll?after=0").status_code == 200
        other = both["ids"]["overfit_with_eval"][1]
        cmp = client.get(f"/api/compare?runs={pid},{other}").json()
        assert len(cmp["runs"]) == 2 and cmp["comparison"]
        assert client.get(f"/compare?runs={pid},{other}").status_code == 200


def test_compare_agrees_and_reads_a_long_run_bounded(both: dict[str, Any]) -> None:
    from losslens.analysis.compare import comparison_to_dict

    lite, ids = both["lite"], both["ids"]
    pg = PgDataSource(both["pg"].store())
    for names in (
        ("big-run", "healthy"),
        ("013_llama3-lora-overfit-eval-rising", "overfit_with_eval"),
    ):
        results = []
        for k, ds in ((0, lite), (1, pg)):
            pairs = [(ds.run(ids[n][k]), None) for n in names]
            got = comparison_to_dict(api.comparison(ds, pairs))
            results.append(json.dumps(got, sort_keys=True).replace(ids[names[0]][k], "A"))
        assert results[0].replace(ids[names[1]][0], "B") == results[1].replace(
            ids[names[1]][1], "B"
        )
    assert 0 < pg.compare_points_read < BIG // 20  # the long run is never read whole


def test_step_summaries_are_exact_over_the_whole_step_range(both: dict[str, Any]) -> None:
    st = both["pg"].store()
    run = st.create_run("steps", "extreme-steps", status=RunStatus.FINISHED)
    steps = [-(2**63), -(2**62) - 3, -5, 0, 3, 2**53 + 1, 2**62 + 7, 2**63 - 2, 2**63 - 1]
    values = [5.0, -1.0, math.nan, 2.0, 2.0, math.inf, -1.0, 9.0, math.nan]
    st.write_points(run.id, [("x", s, v, None) for s, v in zip(steps, values, strict=True)])
    kid = st.key_heads(run.id)[0][0]
    (b,) = st.step_buckets(kid, None, None, 1)
    assert (int(b["n"]), int(b["nf"]), int(b["s_lo"]), int(b["s_hi"])) == (
        9,
        6,
        -(2**63),
        2**63 - 1,
    )
    assert (int(b["s_first"]), float(b["v_first"])) == (-(2**63), 5.0)
    assert (int(b["s_last"]), float(b["v_last"])) == (2**63 - 2, 9.0)
    assert (int(b["s_min"]), float(b["v_min"])) == (-(2**62) - 3, -1.0)  # ties: the first
    assert (int(b["s_max"]), float(b["v_max"])) == (2**63 - 2, 9.0)
    assert int(b["s_bad"]) == -5 and math.isnan(b["v_bad"]) and math.isnan(b["v_hi"])
    got = st.read_points(kid)
    assert got[0].tolist() == steps and _same_floats(got[1], values)
