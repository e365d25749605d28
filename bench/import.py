"""Import speed and peak memory: losslens vs tbparse vs TensorBoard's EventAccumulator.

    .venv/bin/python bench/import.py                       # 1M scalars, 100k W&B steps
    .venv/bin/python bench/import.py --scalars 200000 --wandb-steps 10000   # quick look

Inputs are generated once with the real writers (tensorboard's EventFileWriter, one scalar
per event as ``SummaryWriter.add_scalar`` and HF's TensorBoardCallback write them; wandb
offline ``run.log``) and cached in bench/results/import-cache/. Every approach runs in its
own subprocess so that its peak RSS (``resource.getrusage`` maxrss) is its own; wall and CPU
seconds include the interpreter start and imports, the same for everyone. ``tbparse`` is a
bench-only dependency (``pip install tbparse``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "results" / "import-cache"
TAGS = ("train/loss", "train/grad_norm", "train/learning_rate", "train/epoch")


# -- inputs -----------------------------------------------------------------------------------


def make_tensorboard(n: int) -> Path:
    d = CACHE / f"tb-{n}"
    if d.exists() and any(d.glob("events.out.tfevents.*")):
        return d
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    code = f"""
import math
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter
w = EventFileWriter({str(d)!r}, max_queue_size=1000, flush_secs=600)
tags = {TAGS!r}
for i in range({n}):
    step = i // 4
    v = summary_pb2.Summary.Value(tag=tags[i % 4], simple_value=2.0 / math.sqrt(step + 1))
    w.add_event(event_pb2.Event(wall_time=1.7e9 + step * 0.1, step=step,
                                summary=summary_pb2.Summary(value=[v])))
w.close()
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    return d


def make_wandb(steps: int) -> Path:
    d = CACHE / f"wandb-{steps}"
    found = list(d.rglob("*.wandb")) if d.exists() else []
    if found:
        return found[0]
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    code = f"""
import math, wandb
run = wandb.init(project="bench", dir={str(d)!r}, mode="offline", settings=wandb.Settings(
    console="off", x_disable_stats=True))
for s in range(1, {steps} + 1):
    run.log({{"train/loss": 2.0 / math.sqrt(s), "train/grad_norm": 1.0, "train/learning_rate": 1e-4,
             "train/epoch": s / 1000, "train/global_step": s}})
run.finish()
"""
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return next(d.rglob("*.wandb"))


# -- workers (each runs in its own process) ---------------------------------------------------


def work(approach: str, path: str) -> int:
    p = Path(path)
    if approach == "losslens-read":
        from losslens.importers import load_path

        return sum(len(b) for run in load_path(p) for b in run.batches)
    if approach == "losslens-import":
        from losslens.importers import load_path
        from losslens.ingest import ingest
        from losslens.store import Store

        with tempfile.TemporaryDirectory() as tmp:
            store = Store(Path(tmp) / "bench.db")
            total = 0
            for run in load_path(p):
                info, _ = ingest(store, run)
                total += store.count_points(info.id)
            store.close()
            return total
    if approach == "event-accumulator":
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        ea = EventAccumulator(str(p), size_guidance={"scalars": 0, "tensors": 0})
        ea.Reload()
        return sum(len(ea.Scalars(t)) for t in ea.Tags()["scalars"])
    if approach == "tbparse":
        from tbparse import SummaryReader

        return len(SummaryReader(str(p), pivot=False).scalars)
    raise SystemExit(f"unknown approach {approach}")


def measure(approach: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        # -P: bench/ holds other scripts (logging.py) that must not shadow the stdlib
        [sys.executable, "-P", __file__, "--worker", approach, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def worker_main(approach: str, path: str) -> None:
    t0, c0 = time.perf_counter(), time.process_time()
    n = work(approach, path)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"points": n, "wall_s": wall, "cpu_s": cpu, "peak_mb": rss}))


# -- report -----------------------------------------------------------------------------------


def table(title: str, rows: list[tuple[str, dict[str, float]]], base: str) -> None:
    ref = dict(rows)[base]
    print(f"\n{title}")
    print(f"{'approach':<22}{'points':>11}{'wall s':>9}{'cpu s':>8}{'peak MB':>9}{'cpu x':>8}")
    for name, r in rows:
        ratio = r["cpu_s"] / ref["cpu_s"] if ref["cpu_s"] else float("nan")
        print(
            f"{name:<22}{int(r['points']):>11,}{r['wall_s']:>9.2f}{r['cpu_s']:>8.2f}"
            f"{r['peak_mb']:>9.0f}{ratio:>8.1f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scalars", type=int, default=1_000_000)
    ap.add_argument("--wandb-steps", type=int, default=100_000)
    ap.add_argument("--worker", nargs=2, metavar=("APPROACH", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker_main(*args.worker)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPUs; inputs in {CACHE}")

    tb = make_tensorboard(args.scalars)
    small = make_tensorboard(args.scalars // 4)
    size_mb = sum(f.stat().st_size for f in tb.iterdir()) / 1e6
    rows = [
        (a, measure(a, tb))
        for a in ("losslens-read", "losslens-import", "event-accumulator", "tbparse")
    ]
    table(
        f"TensorBoard event file, {args.scalars:,} scalars ({size_mb:.0f} MB); "
        "'cpu x' = CPU time relative to losslens-read",
        rows,
        "losslens-read",
    )
    r = dict(rows)
    faster = min(r["event-accumulator"]["cpu_s"], r["tbparse"]["cpu_s"])
    print(
        f"losslens import (store included) is {faster / r['losslens-import']['cpu_s']:.1f}x "
        f"faster (CPU) than the faster of EventAccumulator/tbparse; read only: "
        f"{faster / r['losslens-read']['cpu_s']:.1f}x"
    )
    q = measure("losslens-read", small)
    print(
        f"peak memory, losslens-read: {q['peak_mb']:.0f} MB at {args.scalars // 4:,} scalars, "
        f"{r['losslens-read']['peak_mb']:.0f} MB at {args.scalars:,}"
    )

    wb = make_wandb(args.wandb_steps)
    rows = [(a, measure(a, wb)) for a in ("losslens-read", "losslens-import")]
    table(
        f"W&B offline run, {args.wandb_steps:,} steps x 4 metrics "
        f"({wb.stat().st_size / 1e6:.0f} MB .wandb)",
        rows,
        "losslens-read",
    )


if __name__ == "__main__":
    main()
