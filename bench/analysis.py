"""Reading runs back at the size of real runs: analysis, the runs page, a live run, compare.

    .venv/bin/python bench/analysis.py                        # everything, default sizes
    .venv/bin/python bench/analysis.py --only analyze --steps 100000
    .venv/bin/python bench/analysis.py --markdown results.md  # also write the tables

Every measured command runs in its own subprocess, one after the other, in one run of this
script; wall time is the whole command (interpreter start included) and peak RSS is the
child's own (``os.wait4``). Sections:

* ``analyze``: one run of ``--steps`` steps x 3 metrics (loss, learning rate, grad norm)
  logged with ``losslens.init/log``, and the same points as a ``trainer_state.json``.
  ``losslens analyze`` on the stored run and on the file, next to trainproof, runmedic and
  losslint on the file (their venv: ``bench/.env``, see bench/diagnosis.py), and the floor:
  a Python process that merely reads those points out of the store (every row, no
  conversion, no analysis).
* ``big``: ``--big`` steps x 1 metric, floor and ``losslens analyze``.
* ``runs``: a store of ``--runs`` runs holding ``--runs-points`` points in all; the
  dashboard's ``/api/runs`` and runs page, cold (first request: runs never analysed are
  analysed once and kept) and warm.
* ``live``: a run of ``--steps`` steps still being logged (one step a second); a client
  polls like the run page (``/api/runs/ID/poll?after=LAST&wait=20``, held open by the
  server until a point arrives): how long a new point takes to reach it, and the server's
  CPU per open tab while no point arrives (the logger alive, logging nothing).
* ``compare``: two runs of ``--steps`` steps; a fresh server's first chart of
  ``/api/compare/data``, the ``/compare`` page (never-analysed runs: verdicts left to the
  page's script), ``/api/compare`` (which analyses them once) and the page again on a fresh
  server (findings read from the store).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ENV = ROOT / "bench" / ".env"
POLL_S = 1.5  # losslens.ui.pages.POLL_MS: the page's interval when it cannot hold a poll
WAIT_S = 20  # the run page's held poll (?after=LAST&wait=20)

# -- children ---------------------------------------------------------------------------------

LOGGER = r"""
import math, os, sys, time, json
import numpy as np
import losslens
path, name = sys.argv[1], sys.argv[4]
n, metrics, live_s = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[5])
rng = np.random.default_rng(len(name))
run = losslens.init(project="bench", name=name, dir=path, system_metrics=False,
                    config={"learning_rate": 2e-4, "max_steps": n, "lora_r": 8})
steps = np.arange(1, n + 1)
loss = (2.5 * np.exp(-steps / (n / 5)) + 0.8 + 0.05 * rng.standard_normal(n)).tolist()
warm = max(1, n // 100)
lr = np.where(steps < warm, 2e-4 * steps / warm,
              2e-4 * 0.5 * (1 + np.cos(math.pi * (steps - warm) / max(1, n - warm)))).tolist()
gn = (0.8 + 0.1 * rng.standard_normal(n)).tolist()
log = losslens.log
if metrics == 1:
    for i in range(n):
        log({"train/loss": loss[i]}, step=i + 1)
else:
    for i in range(n):
        row = {"train/loss": loss[i], "train/learning_rate": lr[i], "train/grad_norm": gn[i]}
        log(row, step=i + 1)
print(run.id, flush=True)
if live_s > 0:
    k = n
    end = time.time() + live_s
    stop = os.path.join(path, "stop")
    while time.time() < end and not os.path.exists(stop):
        k += 1
        log({"train/loss": 0.8, "train/learning_rate": 1e-6, "train/grad_norm": 0.8}, step=k)
        time.sleep(1.0)
    time.sleep(3600)  # killed by the parent: the run is left "running"
losslens.finish()
"""

FLOOR = r"""
import sqlite3, sys, time
t = time.perf_counter()
conn = sqlite3.connect(sys.argv[1])
ids = [r[0] for r in conn.execute("SELECT id FROM metric_keys WHERE run_id = ?", (sys.argv[2],))]
n = 0
for kid in ids:
    sql = "SELECT step, value FROM points WHERE key_id = ? ORDER BY step, rowid"
    for _ in conn.execute(sql, (kid,)):
        n += 1
print(n, time.perf_counter() - t)
"""

MANY = r"""
import math, sys, time
import numpy as np
from losslens.model import MetricPoint, RunStatus
from losslens.store import Store
path, runs, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
per = max(1, total // runs // 3)
rng = np.random.default_rng(0)
with Store(path) as st:
    for r in range(runs):
        cfg = {"learning_rate": float(10 ** rng.uniform(-5, -3)), "lora_r": 8}
        info = st.create_run(f"sweep-{r // 100}", f"run-{r}", status=RunStatus.FINISHED,
                             config=cfg)
        steps = np.arange(1, per + 1)
        loss = 2.5 * np.exp(-steps / (per / 5)) + 0.8 + 0.05 * rng.standard_normal(per)
        if r % 10 == 0:
            loss[per // 2:] = math.nan
        pts = []
        for s, v in zip(steps.tolist(), loss.tolist()):
            pts += [MetricPoint("train/loss", s, v), MetricPoint("train/learning_rate", s, 2e-4),
                    MetricPoint("train/grad_norm", s, 0.8 + 0.01 * (s % 7))]
        st.write_points(info.id, pts)
print("ok")
"""


def run_child(cmd: list[str], timeout: float = 900) -> dict[str, Any]:
    """Wall seconds, peak RSS (MB), exit code and stdout of one command.

    Peak RSS comes from ``/usr/bin/time``: Linux carries a process's high-water mark across
    ``exec``, so ``wait4`` on a child forked from this script would report at least this
    script's own size; ``time`` forks from a small process."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = Path(tmp) / "rss"
        full = ["/usr/bin/time", "-o", str(rss_file), "-f", "%M", *cmd]
        t0 = time.perf_counter()
        try:
            done = subprocess.run(full, capture_output=True, cwd=ROOT, timeout=timeout)
            rc, out, err = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as exc:
            rc, out, err = 124, exc.stdout or b"", exc.stderr or b""
        wall = time.perf_counter() - t0
        try:
            rss = int(rss_file.read_text().split()[-1]) / 1024
        except (OSError, ValueError, IndexError):
            rss = math.nan
    return {
        "wall": wall,
        "rss": rss,
        "rc": rc,
        "out": out.decode("utf-8", "replace"),
        "err": err.decode("utf-8", "replace")[-2000:],
    }


def ll(*args: str) -> list[str]:
    return [PY, "-m", "losslens", *args]


def make_run(store: Path, n: int, metrics: int, name: str) -> str:
    r = run_child([PY, "-c", LOGGER, str(store), str(n), str(metrics), name, "0"], timeout=3600)
    if r["rc"] != 0:
        raise SystemExit(f"logging failed: {r['err']}")
    return str(r["out"].split()[-1])


def trainer_state(store: Path, run_id: str, out: Path) -> None:
    """The stored run as a ``trainer_state.json`` (same points, HF names)."""
    conn = sqlite3.connect(store / "losslens.db")
    names = {"train/loss": "loss", "train/learning_rate": "learning_rate"}
    names["train/grad_norm"] = "grad_norm"
    rows: dict[int, dict[str, Any]] = {}
    for key, step, value in conn.execute(
        "SELECT k.key, p.step, p.value FROM points p JOIN metric_keys k ON k.id = p.key_id "
        "WHERE k.run_id = ? ORDER BY p.rowid",
        (run_id,),
    ):
        rows.setdefault(int(step), {"step": int(step)})[names[key]] = value
    n = max(rows)
    hist = [{**rows[s], "epoch": s / n} for s in sorted(rows)]
    out.write_text(json.dumps({"log_history": hist, "global_step": n, "max_steps": n}))


def _findings(tool: str, text: str) -> str:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return "no JSON"
    if tool == "losslens":
        return f"{doc.get('verdict')}, {len(doc.get('findings', []))} findings"
    if tool == "trainproof":
        n = sum(len(r.get("findings", [])) for r in doc.get("reports", []))
        return f"{n} findings"
    if tool == "losslint":
        return f"{len(doc.get('findings', []))} findings"
    if tool == "runmedic":
        runs = doc if isinstance(doc, list) else doc.get("runs", [doc])
        n = sum(len(r.get("findings", [])) for r in runs if isinstance(r, dict))
        return f"{n} findings"
    return ""


def floor(db: Path, run_id: str) -> dict[str, Any]:
    r = run_child([PY, "-c", FLOOR, str(db), run_id])
    n, inner = r["out"].split()
    r["points"], r["inner"] = int(n), float(inner)
    return r


# -- sections ---------------------------------------------------------------------------------


def section_analyze(work: Path, steps: int, peers: bool) -> list[str]:
    store = work / "s1"
    run_id = make_run(store, steps, 3, f"big-{steps}")
    state = work / "trainer_state.json"
    r = run_child([PY, str(Path(__file__)), "--trainer-state", str(store), run_id, str(state)])
    if r["rc"]:
        raise SystemExit(r["err"])
    db = store / "losslens.db"
    rows: list[tuple[str, dict[str, Any], str]] = []
    fl = floor(db, run_id)
    rows.append(("read the points from the store (floor)", fl, f"{fl['points']:,} rows"))
    r = run_child(ll("analyze", run_id, "--store", str(store), "--format", "json"))
    rows.append(("losslens analyze RUN (store)", r, _findings("losslens", r["out"])))
    r = run_child(ll("analyze", str(state), "--format", "json", "--store", str(work / "x")))
    rows.append(("losslens analyze trainer_state.json", r, _findings("losslens", r["out"])))
    if peers:
        for tool, cmd in (
            ("trainproof", [str(ENV / "bin" / "trainproof"), "doctor", "--json", str(state)]),
            ("runmedic", [str(ENV / "bin" / "runmedic"), "diagnose", "--json", str(state)]),
            (
                "losslint",
                [str(ENV / "bin" / "losslint"), "check", "--format", "json", str(state)],
            ),
        ):
            if not Path(cmd[0]).exists():
                continue
            r = run_child(cmd)
            rows.append((f"{tool} (trainer_state.json)", r, _findings(tool, r["out"])))
    mb = state.stat().st_size / 1e6
    lines = [
        f"#### analyze: {steps:,} steps x 3 metrics ({3 * steps:,} points; "
        f"trainer_state.json {mb:.0f} MB)",
        "",
        "| command | wall s | x floor | peak RSS MB | exit | result |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, r, note in rows:
        ratio = r["wall"] / fl["wall"]
        lines.append(
            f"| {name} | {r['wall']:.2f} | {ratio:.2f} | {r['rss']:.0f} | {r['rc']} | {note} |"
        )
    lines.append("")
    lines.append(
        f"Floor: a `python -c` that opens the store and iterates `SELECT step, value ... ORDER "
        f"BY step, rowid` for the run's keys ({fl['inner']:.2f} s of it inside the loop)."
    )
    return lines


def section_big(work: Path, steps: int) -> list[str]:
    store = work / "s10m"
    run_id = make_run(store, steps, 1, f"huge-{steps}")
    fl = floor(store / "losslens.db", run_id)
    r = run_child(ll("analyze", run_id, "--store", str(store), "--format", "json"))
    return [
        f"#### analyze: {steps:,} steps x 1 metric",
        "",
        "| command | wall s | x floor | peak RSS MB | result |",
        "|---|---:|---:|---:|---|",
        f"| floor | {fl['wall']:.2f} | 1.00 | {fl['rss']:.0f} | {fl['points']:,} rows |",
        f"| losslens analyze RUN | {r['wall']:.2f} | {r['wall'] / fl['wall']:.2f} "
        f"| {r['rss']:.0f} | {_findings('losslens', r['out'])} |",
    ]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, store: Path) -> None:
        self.port = _port()
        self.proc = subprocess.Popen(
            ll("ui", "--store", str(store), "--port", str(self.port)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/api/projects")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def get(self, path: str) -> tuple[float, bytes]:
        t = time.perf_counter()
        with urllib.request.urlopen(self.base + path, timeout=900) as resp:
            body = resp.read()
        return time.perf_counter() - t, body

    def cpu(self) -> float:
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return float(t.user + t.system)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def section_runs(work: Path, runs: int, points: int, reuse: Path | None = None) -> list[str]:
    store = reuse or work / "many"
    if reuse is None:
        r = run_child([PY, "-c", MANY, str(store / "losslens.db"), str(runs), str(points)], 7200)
        if r["rc"]:
            raise SystemExit(r["err"])
    srv = Server(store)
    try:
        cold, body = srv.get("/api/runs")
        n = len(json.loads(body))
        failed = len(json.loads(srv.get("/api/runs?verdict=failed")[1]))
        warm = [srv.get("/api/runs")[0] for _ in range(5)]
        page = [srv.get("/")[0] for _ in range(5)]
    finally:
        srv.close()
    fresh_api, fresh_pages = [], []
    for _ in range(3):  # fresh servers on the same store: verdicts are read, not computed
        srv = Server(store)
        try:
            fresh_api.append(srv.get("/api/runs")[0])
            fresh_pages.append(srv.get("/")[0])
        finally:
            srv.close()
    fresh, fresh_page = _median(fresh_api), _median(fresh_pages)
    first_pages = []
    for _ in range(3):  # the page as the very first request of a fresh server
        srv = Server(store)
        try:
            first_pages.append(srv.get("/")[0])
        finally:
            srv.close()
    return [
        f"#### runs page: {runs:,} runs, {points:,} points",
        "",
        "| request | seconds |",
        "|---|---:|",
        f"| `/api/runs`, first ever (analyses {n} never-analysed runs, once) | {cold:.2f} |",
        f"| `/api/runs`, warm (median of 5) | {_median(warm):.3f} |",
        f"| runs page `/`, warm (median of 5) | {_median(page):.3f} |",
        f"| `/api/runs` on a fresh server (verdicts read from the store; median of 3 servers, "
        f"max {max(fresh_api):.3f}) | {fresh:.3f} |",
        f"| runs page `/` on a fresh server (after its `/api/runs`; median of 3 servers, "
        f"max {max(fresh_pages):.3f}) | {fresh_page:.3f} |",
        f"| runs page `/` as the first request of a fresh server (median of 3 servers, "
        f"max {max(first_pages):.3f}) | {_median(first_pages):.3f} |",
        "",
        f"`/api/runs?verdict=failed` returned {failed} runs (every tenth run has NaN).",
    ]


def section_live(work: Path, steps: int, seconds: float) -> list[str]:
    store = work / "live"
    logger = subprocess.Popen(
        [PY, "-c", LOGGER, str(store), str(steps), "3", "live", str(seconds + 60)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
        text=True,
    )
    assert logger.stdout is not None
    run_id = logger.stdout.readline().strip()
    db = sqlite3.connect(store / "losslens.db")
    srv = Server(store)
    lags, costs = [], []
    try:
        t, body = srv.get(f"/api/runs/{run_id}/poll?after={steps}")  # the page's first poll
        first = t
        last = json.loads(body)["last_step"]
        warm = time.monotonic()  # the page's findings: ready when a poll brings them
        while json.loads(srv.get(f"/api/runs/{run_id}/poll?after={last}")[1])["verdict"] is None:
            time.sleep(0.5)
        ready = time.monotonic() - warm
        last = json.loads(srv.get(f"/api/runs/{run_id}/poll?after={last}")[1])["last_step"]
        start = time.time()
        end = time.time() + seconds
        while time.time() < end:  # as the page polls: held open until a point arrives
            t, body = srv.get(f"/api/runs/{run_id}/poll?after={last}&wait={WAIT_S}")
            seen = time.time()
            costs.append(t)
            doc = json.loads(body)
            xs = doc["points"].get("train/loss", {}).get("x", [])
            for s in xs:
                row = db.execute(
                    "SELECT p.wall_time FROM points p JOIN metric_keys k ON k.id = p.key_id "
                    "WHERE k.run_id = ? AND k.key = 'train/loss' AND p.step = ?",
                    (run_id, s),
                ).fetchone()
                if row and row[0] and float(row[0]) > start:  # logged while being watched
                    lags.append(seen - float(row[0]))
            last = doc["last_step"]
        (store / "stop").touch()  # no more points; the logger lives on: the run stays running
        time.sleep(2)
        c0, w0 = srv.cpu(), time.perf_counter()
        idle = []
        while time.perf_counter() - w0 < 20:  # held polls that end with nothing new
            t, body = srv.get(f"/api/runs/{run_id}/poll?after={last}&wait=5")
            idle.append(t)
            last = json.loads(body)["last_step"]
        cpu = (srv.cpu() - c0) / (time.perf_counter() - w0)
    finally:
        srv.close()
        if logger.poll() is None:
            logger.kill()
    return [
        f"#### live run page: {steps:,} steps x 3 metrics, one new step a second, held polls "
        f"(`?after=LAST&wait={WAIT_S}`)",
        "",
        "| | value |",
        "|---|---:|",
        f"| first poll of the page (its points; findings follow in the background) "
        f"| {first:.2f} s |",
        f"| findings of the whole run ready (read once and analysed, in the background) "
        f"| {ready:.1f} s |",
        f"| new point -> in the page's hands: median / max | {_median(lags):.2f} / "
        f"{max(lags, default=math.nan):.2f} s |",
        f"| held poll until a new point: median / max | {_median(costs) * 1000:.0f} / "
        f"{max(costs, default=math.nan) * 1000:.0f} ms |",
        f"| held poll with nothing new (wait=5, median) | {_median(idle):.2f} s |",
        f"| server CPU per open tab between new points | {cpu * 100:.1f}% of a core |",
    ]


def section_compare(work: Path, steps: int) -> list[str]:
    store = work / "cmp"
    a = make_run(store, steps, 3, "cmp-a")
    b = make_run(store, steps, 3, "cmp-b")
    srv = Server(store)
    try:
        t_first, body = srv.get(f"/api/compare/data?runs={a},{b}&group=loss&width=1000")
        n_first = sum(len(s.get("x", [])) for g in json.loads(body)["groups"] for s in g["series"])
        t_all = srv.get(f"/api/compare/data?runs={a},{b}&width=1000")[0]
        t_page, html = srv.get(f"/compare?runs={a},{b}")
        pending = html.count(b'data-pending="1"')
        t_api = srv.get(f"/api/compare?runs={a},{b}")[0]  # what the page's script asks next
    finally:
        srv.close()
    srv = Server(store)  # a fresh server again: both runs' findings are in the store now
    try:
        t_kept = srv.get(f"/compare?runs={a},{b}")[0]
    finally:
        srv.close()
    return [
        f"#### compare: two runs of {steps:,} steps x 3 metrics, fresh server",
        "",
        "| request | seconds |",
        "|---|---:|",
        f"| first chart: `/api/compare/data?group=loss` ({n_first} points drawn) | {t_first:.2f} |",
        f"| every chart: `/api/compare/data` | {t_all:.2f} |",
        f"| `/compare` page (HTML, with the comparison; {pending} of 2 runs never analysed, "
        f"their verdicts left to the page's script) | {t_page:.2f} |",
        f"| `/api/compare` (the script's request: analyses those runs once, keeps the findings) "
        f"| {t_api:.2f} |",
        f"| `/compare` page on a fresh server, findings read from the store | {t_kept:.2f} |",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--runs-points", type=int, default=10_000_000)
    ap.add_argument("--live-seconds", type=float, default=30.0)
    ap.add_argument("--only", action="append", help="analyze, big, runs, live, compare")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the stores made (printed)")
    ap.add_argument("--runs-store", type=Path, help="runs: measure this store (made by --keep)")
    ap.add_argument("--trainer-state", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.trainer_state:  # a child: write a stored run as trainer_state.json
        store, run_id, out = args.trainer_state
        trainer_state(Path(store), run_id, Path(out))
        return 0
    only = set(args.only or ["analyze", "big", "runs", "live", "compare"])
    work = Path(tempfile.mkdtemp(prefix="losslens-bench-analysis-"))
    out = [f"<!-- bench/analysis.py on {os.cpu_count()} cores, Python {sys.version.split()[0]} -->"]
    sections = [
        ("analyze", lambda: section_analyze(work, args.steps, not args.no_peers)),
        ("big", lambda: section_big(work, args.big)),
        ("runs", lambda: section_runs(work, args.runs, args.runs_points, args.runs_store)),
        ("live", lambda: section_live(work, args.steps, args.live_seconds)),
        ("compare", lambda: section_compare(work, args.steps)),
    ]
    try:
        for name, fn in sections:
            if name not in only:
                continue
            lines = fn()
            print("\n".join(lines) + "\n", flush=True)
            out += ["", *lines]
    finally:
        if args.keep:
            print(f"stores kept in {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.markdown:
        args.markdown.write_text("\n".join(out) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
