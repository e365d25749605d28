"""The cost of logging: losslens side by side with wandb, trackio, TensorBoard and MLflow.

Each tool runs in its own subprocess, one after the other, in the same run of this script.
Each child logs ``steps`` steps of the same 5 scalars, timing every single log call, then
finishes the run; the parent prints one table per step count with ratios to losslens.

* ``log()``: median and p99 of one call (5 scalars; TensorBoard: 5 ``add_scalar`` calls).
* ``loop``: the whole logging loop; ``finish``: from the start of ``finish()`` (or its
  equivalent) until it returns, i.e. until every point is durable on disk;
  ``total``: loop + finish; ``durable pts/s``: points / total.
* ``verified``: points read back from disk after the child's finish (``-`` where no
  reader is cheap enough: wandb's binary log).

System-metric sampling is off for every tool (it would only add noise).

Run: ``.venv/bin/python bench/logging.py`` (options: ``--steps 10000 100000``,
``--tools losslens,trackio``, ``--markdown FILE``).
"""

from __future__ import annotations

import sys

# This file is named logging.py: keep its folder off sys.path, or ``import logging`` in any
# library would import this script instead of the standard module.
if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    del sys.path[0]

import argparse
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOOLS = ("losslens", "wandb", "trackio", "tensorboard", "mlflow")
KEYS = ("train/loss", "train/learning_rate", "train/grad_norm", "train/epoch", "eval/accuracy")


def _data(i: int) -> dict[str, float]:
    return {
        "train/loss": 2.0 / (1.0 + i * 1e-3),
        "train/learning_rate": 2e-4 * (1.0 - i * 1e-6),
        "train/grad_norm": 0.5 + (i % 7) * 0.01,
        "train/epoch": i / 1000.0,
        "eval/accuracy": 0.5 + (i % 100) * 1e-3,
    }


# -- children: one per tool -----------------------------------------------------------------


def _setup(
    tool: str, work: Path
) -> tuple[Callable[[int, dict[str, float]], None], Callable[[], None], Callable[[], int | None]]:
    """(log(step, data), finish(), verify() -> points on disk or None)."""
    if tool == "losslens":
        import losslens
        from losslens.store import Store

        path = work / "losslens.db"
        run = losslens.init(project="bench", dir=path, system_metrics=False)
        log = run.log

        def verify() -> int:
            with Store(path) as store:
                return store.count_points(run.id)

        return (lambda i, d: log(d)), run.finish, verify
    if tool == "wandb":
        import wandb

        wrun = wandb.init(
            project="bench",
            mode="offline",
            dir=str(work),
            settings=wandb.Settings(x_disable_stats=True, console="off", silent=True),
        )
        wlog = wrun.log
        return (lambda i, d: wlog(d)), wrun.finish, lambda: None
    if tool == "trackio":
        import trackio

        trun = trackio.init(
            project="bench", name="bench", auto_log_cpu=False, auto_log_gpu=False, embed=False
        )
        tlog = trun.log

        def tverify() -> int:
            from trackio.utils import TRACKIO_DIR

            total = 0
            for db in Path(TRACKIO_DIR).glob("*.db"):
                with sqlite3.connect(db) as conn:
                    for (metrics,) in conn.execute("SELECT metrics FROM metrics"):
                        total += sum(1 for k in json.loads(metrics) if k in KEYS)
            return total

        return (lambda i, d: tlog(d)), trackio.finish, tverify
    if tool == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        logdir = work / "tb"
        writer = SummaryWriter(log_dir=str(logdir))
        add = writer.add_scalar

        def tblog(i: int, d: dict[str, float]) -> None:
            for k, v in d.items():
                add(k, v, i)

        def tbverify() -> int:
            from tensorboard.backend.event_processing.event_file_loader import (
                EventFileLoader,
            )

            n = 0
            for f in logdir.glob("events.out.tfevents.*"):
                for event in EventFileLoader(str(f)).Load():
                    n += len(event.summary.value)
            return n

        return tblog, writer.close, tbverify
    if tool == "mlflow":
        import mlflow

        uri = (work / "mlruns").as_uri()
        mlflow.set_tracking_uri(uri)
        mlflow.start_run()
        log_metrics = mlflow.log_metrics

        def mlfinish() -> None:
            mlflow.flush_async_logging()
            mlflow.end_run()

        def mlverify() -> int:
            n = 0
            for f in (work / "mlruns").glob("*/*/metrics/**/*"):
                if f.is_file():
                    with f.open("rb") as fh:
                        n += sum(1 for _ in fh)
            return n

        return (lambda i, d: log_metrics(d, step=i, synchronous=False)), mlfinish, mlverify
    raise SystemExit(f"unknown tool {tool}")


def child(tool: str, steps: int, work: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    log, finish, verify = _setup(tool, work)
    init_s = time.perf_counter() - t0
    data = [_data(i) for i in range(steps)]
    costs = [0] * steps
    clock = time.perf_counter_ns
    loop0 = time.perf_counter()
    for i in range(steps):
        d = data[i]
        t = clock()
        log(i, d)
        costs[i] = clock() - t
    loop1 = time.perf_counter()
    finish()
    done = time.perf_counter()
    costs.sort()
    return {
        "tool": tool,
        "steps": steps,
        "init_s": init_s,
        "median_us": costs[len(costs) // 2] / 1000,
        "p99_us": costs[int(len(costs) * 0.99)] / 1000,
        "mean_us": statistics.fmean(costs) / 1000,
        "loop_s": loop1 - loop0,
        "finish_s": done - loop1,
        "total_s": done - loop0,
        "verified": verify(),
    }


# -- parent ----------------------------------------------------------------------------------


def run_child(tool: str, steps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-{tool}-") as tmp:
        work = Path(tmp)
        env = {
            **os.environ,
            "WANDB_MODE": "offline",
            "WANDB_SILENT": "true",
            "WANDB_DIR": tmp,
            "TRACKIO_DIR": str(work / "trackio"),
            "LOSSLENS_HOME": str(work / "home"),
            "MLFLOW_TRACKING_URI": (work / "mlruns").as_uri(),
            "MLFLOW_ALLOW_FILE_STORE": "true",  # the local file store, as asked for
            "HF_HUB_OFFLINE": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "TRACKIO_DISABLE_TELEMETRY": "1",
        }
        cmd = [sys.executable, "-P", __file__, "--child", tool, str(steps), tmp]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
        if out.returncode != 0:
            return {"tool": tool, "steps": steps, "error": out.stderr.strip().splitlines()[-1:]}
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result


def _fmt(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table(results: list[dict[str, Any]], steps: int) -> str:
    base = next(r for r in results if r["tool"] == "losslens" and "error" not in r)
    head = (
        "| tool | median log() µs | p99 log() µs | median vs losslens | loop s | "
        "finish→durable s | total s | durable pts/s | verified points |"
    )
    lines = [f"**{steps:,} steps × 5 scalars**", "", head, "|" + "---|" * 9]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['tool']} | failed: {r['error']} |" + " |" * 7)
            continue
        pts = steps * 5
        ver = "-" if r["verified"] is None else f"{r['verified']:,}"
        lines.append(
            f"| {r['tool']} | {_fmt(r['median_us'])} | {_fmt(r['p99_us'])} | "
            f"{r['median_us'] / base['median_us']:.1f}× | {_fmt(r['loop_s'])} | "
            f"{_fmt(r['finish_s'])} | {_fmt(r['total_s'])} | "
            f"{pts / r['total_s']:,.0f} | {ver} |"
        )
    return "\n".join(lines)


def machine() -> str:
    import importlib.metadata as md

    versions = []
    for pkg in ("wandb", "trackio", "tensorboard", "mlflow", "torch"):
        try:
            versions.append(f"{pkg} {md.version(pkg)}")
        except md.PackageNotFoundError:
            versions.append(f"{pkg} missing")
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; " + ", ".join(versions)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--markdown", type=Path, help="also write the tables to this file")
    ap.add_argument("--child", nargs=3, metavar=("TOOL", "STEPS", "DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        tool, steps, work = args.child
        print(json.dumps(child(tool, int(steps), Path(work))))
        return
    tools = [t for t in args.tools.split(",") if t]
    if "losslens" not in tools:
        tools.insert(0, "losslens")
    parts = [f"machine: {machine()}", ""]
    print(parts[0], flush=True)
    for steps in args.steps:
        results = []
        for tool in tools:
            r = run_child(tool, steps)
            results.append(r)
            print(f"  {tool:12s} {steps:>7,} steps: {r}", file=sys.stderr, flush=True)
        text = table(results, steps)
        print("\n" + text, flush=True)
        parts += [text, ""]
        base = results[0]
        for other in ("trackio", "wandb"):
            o = next((r for r in results if r["tool"] == other and "error" not in r), None)
            if o and "error" not in base:
                ratio = o["median_us"] / base["median_us"]
                print(f"losslens median log() is {ratio:.0f}× cheaper than {other}'s")
    if args.markdown:
        args.markdown.write_text("\n".join(parts))


if __name__ == "__main__":
    main()
