"""Team server ingest: ``losslens server`` vs an MLflow tracking server, same PostgreSQL.

    .venv/bin/python bench/server.py                       # defaults below
    .venv/bin/python bench/server.py --clients 4 --steps 20000 --big-steps 200000
    .venv/bin/python bench/server.py --markdown results.md

One throwaway PostgreSQL cluster (Debian's ``postgresql``; fsync on, so "ingested" means
durable), two databases in it. In one run of this script, one after the other:

* **local**: ``--clients`` processes log ``--steps`` steps x ``--metrics`` scalars with
  ``losslens.init/log/finish`` and no server: the client's ``log()`` cost alone.
* **losslens**: the same clients with ``server=`` and a write token, against
  ``losslens server`` (its defaults: one uvicorn worker, a pool of 16 connections). The
  points go to the local SQLite store first and a sync thread ships them in batches.
* **mlflow**: the same load against ``mlflow server --backend-store-uri
  postgresql+psycopg://...`` (its defaults: 4 workers); each client buffers one
  ``Metric`` per scalar and sends ``MlflowClient.log_batch`` every 1,000 metrics (the most one
  call takes), so every call is a durable write. Its ``log()`` is the cost of a step: the
  append, and the blocking batch call on every 200th step.
* **big**: one losslens client logs ``--big-steps`` x ``--metrics`` points (1M by default):
  the time from the ``finish()`` call until every point is queryable in PostgreSQL.

Ingest rate: points / (first ``log()`` of any client -> every point queryable in PostgreSQL).
For losslens, a separate connection polls the keys' counts (written in the same transaction
as the points) every 20 ms while the clients run, so "queryable" does not wait for the
clients' ``finish()`` to return (it goes on to send the run's end and its findings); for
MLflow, whose ``log_batch`` returns once its metrics are committed, it is the last return of
that call. Every point is then counted with ``count(*)``, so a lost or duplicated point shows.
``finish() -> all visible`` is the same moment minus the ``finish()`` call; the JSON rows also
give ``finish_s``, how long ``finish()`` took.

``--skip-mlflow`` runs the losslens half only (while iterating: no ratio, no table).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

PY = sys.executable
PG_PORT = 54341
KEYS = ("train/loss", "train/learning_rate", "train/grad_norm", "train/epoch", "train/tokens")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _values(i: int, metrics: int) -> dict[str, float]:
    base = (2.0 / (1 + i * 1e-4), 2e-4 * (1 - i * 1e-7), 1.0 + (i % 7) * 0.1, i * 1e-4, i * 512.0)
    return {
        KEYS[k % len(KEYS)] + ("" if k < len(KEYS) else f"_{k}"): base[k % 5]
        for k in range(metrics)
    }


# -- clients (run as subprocesses: ``bench/server.py --client KIND ...``) ----------------------


def client(kind: str, steps: int, metrics: int, url: str, token: str, work: Path) -> dict[str, Any]:
    data = [_values(i, metrics) for i in range(steps)]
    costs = [0] * steps
    clock = time.perf_counter_ns
    if kind in ("local", "losslens"):
        import losslens

        os.environ["LOSSLENS_HOME"] = str(work)
        extra = {"server": url, "token": token} if kind == "losslens" else {}
        run = losslens.init(project="bench", name=f"c{os.getpid()}", system_metrics=False, **extra)
        t_first = time.time()
        for i in range(steps):
            d = data[i]
            t = clock()
            run.log(d, step=i)
            costs[i] = clock() - t
        t_finish = time.time()
        run.finish()
        run_id = run.id
        t_last_write = time.time()
    else:
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        ml = MlflowClient(tracking_uri=url)
        exp = ml.get_experiment_by_name("bench")
        if exp is None:
            try:
                exp_id = ml.create_experiment("bench")
            except Exception:  # another client made it first
                exp = ml.get_experiment_by_name("bench")
                assert exp is not None
        exp_id = exp.experiment_id if exp is not None else exp_id
        run_id = ml.create_run(exp_id, run_name=f"c{os.getpid()}").info.run_id
        buf: list[Any] = []
        per_call = 1000
        t_first = time.time()
        for i in range(steps):
            d = data[i]
            t = clock()
            ms = int(time.time() * 1000)
            buf.extend(Metric(k, v, ms, i) for k, v in d.items())
            if len(buf) >= per_call:
                ml.log_batch(run_id, metrics=buf[:per_call])
                del buf[:per_call]
            costs[i] = clock() - t
        t_finish = time.time()
        if buf:
            ml.log_batch(run_id, metrics=buf)
        t_last_write = time.time()
        ml.set_terminated(run_id)
    done = time.time()
    costs.sort()
    return {
        "run_id": run_id,
        "t_first": t_first,
        "t_finish_call": t_finish,
        "t_done": done,
        "t_last_write": t_last_write,
        "median_us": costs[len(costs) // 2] / 1000,
        "p99_us": costs[int(len(costs) * 0.99)] / 1000,
    }


# -- the parent ---------------------------------------------------------------------------------


def _wait_http(url: str, timeout: float = 90.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url} within {timeout:.0f} s")


def _count(pg_url: str, sql: str) -> int:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


class _Watch(threading.Thread):
    """Notes when the losslens store first holds ``expected`` points, while the clients
    run: it polls the keys' counts (kept in the same transaction as the points, so they say
    what is queryable; a few rows, cheap) every 20 ms over one connection."""

    def __init__(self, pg_url: str, expected: int) -> None:
        super().__init__(daemon=True)
        self.pg_url, self.expected = pg_url, expected
        self.at: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            while not self.stop.is_set():
                row = conn.execute("SELECT COALESCE(SUM(n_points), 0) FROM metric_keys").fetchone()
                if row is not None and int(row[0]) >= self.expected:
                    self.at = time.time()
                    return
                time.sleep(0.02)

    def wait(self, timeout: float = 600.0) -> float:
        self.join(timeout)
        self.stop.set()
        if self.at is None:
            raise SystemExit(f"the store did not reach {self.expected:,} points in {timeout:.0f} s")
        return self.at


def _clients(
    kind: str, n: int, steps: int, metrics: int, url: str, token: str, work: Path
) -> list[dict[str, Any]]:
    procs = []
    for c in range(n):
        cwork = work / f"{kind}-{c}"
        cwork.mkdir(parents=True, exist_ok=True)
        cmd = [PY, __file__, "--client", kind, "--steps", str(steps), "--metrics", str(metrics),
               "--url", url, "--token", token, "--work", str(cwork)]  # fmt: skip
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
    out = []
    for p in procs:
        stdout, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"a {kind} client failed ({p.returncode})")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _summary(
    kind: str, res: list[dict[str, Any]], points: int, visible_at: float, counted: int
) -> dict[str, Any]:
    t0 = min(r["t_first"] for r in res)
    last_finish = max(r["t_finish_call"] for r in res)
    return {
        "tool": kind,
        "points": points,
        "counted": counted,
        "ingest_s": visible_at - t0,
        "points_per_s": points / (visible_at - t0),
        "log_median_us": statistics.median(r["median_us"] for r in res),
        "log_p99_us": statistics.median(r["p99_us"] for r in res),
        "finish_to_visible_s": visible_at - last_finish,
    }


class _Rows(list[dict[str, Any]]):
    """The result rows; each is printed as it comes, so a stopped run still says something."""

    def append(self, row: dict[str, Any]) -> None:
        print(json.dumps(row), flush=True)
        super().append(row)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--metrics", type=int, default=5)
    ap.add_argument("--big-steps", type=int, default=200_000)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument(
        "--skip-mlflow", action="store_true", help="losslens only (while iterating; no ratio)"
    )
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--token", help=argparse.SUPPRESS)
    ap.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        print(
            json.dumps(
                client(args.client, args.steps, args.metrics, args.url, args.token, args.work)
            )
        )
        return 0

    from tests.pgcluster import cluster, new_database, url

    from losslens.server.tokens import create_token
    from losslens.store.open import open_pg
    from losslens.store.pg_schema import upgrade

    points = args.clients * args.steps * args.metrics
    rows = _Rows()
    with (
        tempfile.TemporaryDirectory(prefix="losslens-bench-server-") as tmp,
        cluster(PG_PORT, fsync=True) as sock,
    ):
        work = Path(tmp)
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), LOSSLENS_SYNC_TIMEOUT="600")

        # local only: the client's log() without a server
        res = _clients("local", args.clients, args.steps, args.metrics, "", "", work)
        rows.append(
            {"tool": "local (no server)", "points": points,
             "log_median_us": statistics.median(r["median_us"] for r in res),
             "log_p99_us": statistics.median(r["p99_us"] for r in res)}
        )  # fmt: skip

        # losslens server
        ll_url = url(sock, PG_PORT, new_database(sock, PG_PORT, "ll_"))
        upgrade(ll_url)
        store = open_pg(ll_url)
        _, token = create_token(store, "bench")
        store.close()
        port = _free_port()
        server = subprocess.Popen(
            [PY, "-m", "losslens", "server", "--store", ll_url, "--port", str(port)], env=env
        )
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_http(base + "/api/v1/health")
            os.environ["LOSSLENS_SYNC_TIMEOUT"] = "600"
            watch = _Watch(ll_url, points)
            watch.start()
            res = _clients("losslens", args.clients, args.steps, args.metrics, base, token, work)
            at = watch.wait()
            sql = "SELECT count(*) FROM points"
            n = _count(ll_url, sql)
            rows.append(_summary("losslens server", res, points, at, n))
            # big: one client, 1M points; finish() call -> every point queryable
            big = args.big_steps * args.metrics
            watch = _Watch(ll_url, points + big)
            watch.start()
            (r,) = _clients("losslens", 1, args.big_steps, args.metrics, base, token, work / "big")
            at = watch.wait()
            n = _count(ll_url, sql)
            rows.append(
                {"tool": "losslens server, one client", "points": big, "counted": n - points,
                 "finish_s": r["t_done"] - r["t_finish_call"],
                 "finish_to_visible_s": at - r["t_finish_call"],
                 "log_median_us": r["median_us"], "log_p99_us": r["p99_us"]}
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait(30)

        if args.skip_mlflow:
            return 0

        # mlflow server on the same cluster
        ml_db = new_database(sock, PG_PORT, "ml_")
        port = _free_port()
        mlog = (work / "mlflow.log").open("w")
        mlflow_bin = str(Path(PY).parent / "mlflow")
        ml = subprocess.Popen(
            [mlflow_bin, "server", "--backend-store-uri",
             url(sock, PG_PORT, ml_db, driver="postgresql+psycopg"),
             "--default-artifact-root", str(work / "mlartifacts"),
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=mlog, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_http(base + "/health", timeout=180)
            res = _clients("mlflow", args.clients, args.steps, args.metrics, base, "", work)
            # log_batch returns once its metrics are committed: the last return is when
            # every point is queryable (counted once the clients are gone)
            at = max(r["t_last_write"] for r in res)
            n = _count(url(sock, PG_PORT, ml_db), "SELECT count(*) FROM metrics")
            rows.append(_summary("mlflow server", res, points, at, n))
        except BaseException:
            mlog.close()
            print((work / "mlflow.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            ml.terminate()
            ml.wait(30)

    text = _table(rows, args)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


def _f(v: Any, fmt: str = "{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def _table(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    by = {r["tool"]: r for r in rows}
    ll, ml, local = by["losslens server"], by["mlflow server"], by["local (no server)"]
    lines = [
        f"{args.clients} clients x {args.steps} steps x {args.metrics} scalars "
        f"({args.clients * args.steps * args.metrics:,} points), fsync on",
        "",
        "| setup | points counted | ingest s | points/s | log() median µs | log() p99 µs | "
        "finish() -> all visible s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['tool']} | {r.get('counted', '-')} | {_f(r.get('ingest_s'))} | "
            f"{_f(r.get('points_per_s'), '{:,.0f}')} | {_f(r['log_median_us'])} | "
            f"{_f(r['log_p99_us'])} | {_f(r.get('finish_to_visible_s'))} |"
        )
    lines += [
        "",
        f"ingest: losslens server {ll['points_per_s'] / ml['points_per_s']:.1f}x MLflow's; "
        f"log() median with a server {ll['log_median_us'] / local['log_median_us']:.2f}x local; "
        f"{by['losslens server, one client']['points']:,} points visible "
        f"{by['losslens server, one client']['finish_to_visible_s']:.2f} s after finish()",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
