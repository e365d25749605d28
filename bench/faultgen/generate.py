"""Train every grid cell, label it, and write ``corpus/generated`` with its ``index.jsonl``.

.venv/bin/python bench/make_fault_runs.py generate                 # all cells
.venv/bin/python bench/make_fault_runs.py generate lr_low_00 ...   # some cells
.venv/bin/python bench/make_fault_runs.py generate --labels-only   # relabel, no training
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from bench.faultgen.grid import SEALED_BLOCKS, grid
from bench.faultgen.labels import derive
from bench.faultgen.spec import RunSpec

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "corpus" / "generated"
TASK_NAMES = {"lm": "causal-lm", "chat_sft": "llm-sft-chat", "cls": "seq-classification"}
FORMATS = {"csv": "csv", "jsonl": "jsonl", "hf_console": "hf_console"}


def source_key(spec: RunSpec) -> str:
    return f"gen/{TASK_NAMES[spec.task]}/{spec.family}/{spec.size}"


def split_of(key: str) -> str:
    """The sealed split, fixed before any tuning: 30% of sources go to test."""
    return "test" if int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10 < 3 else "dev"


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and math.isfinite(x) else None


def _schedule(spec: RunSpec) -> str:
    w = spec.warmup
    warm = (
        "no warmup" if not w else (f"warmup {w:g} of the steps" if w < 1 else f"warmup {w:g} steps")
    )
    return f"{spec.scheduler}, {warm}, peak LR {spec.lr:g} ({spec.optim})"


def index_line(n: int, spec: RunSpec, files: dict[str, str], doc: dict[str, Any]) -> dict[str, Any]:
    hist = json.loads((OUT / spec.name / "trainer_state.json").read_text(encoding="utf-8"))[
        "log_history"
    ]
    losses = [h["loss"] for h in hist if "loss" in h]
    key = source_key(spec)
    return {
        "id": f"g{n:03d}",
        "file": f"{spec.name}/trainer_state.json",
        "source_repo": "losslens/generated",
        "source_path": "bench/make_fault_runs.py",
        "format": "hf_trainer_state",
        "other_files": [
            {"file": f"{spec.name}/{name}", "format": FORMATS[fmt]}
            for fmt, name in files.items()
            if fmt != "hf_trainer_state"
        ],
        "task": TASK_NAMES[spec.task],
        "n_log_entries": len(hist),
        "n_train_entries": len(losses),
        "has_eval": any("eval_loss" in h for h in hist),
        "lr_schedule": _schedule(spec),
        "loss_start": _num(losses[0]) if losses else None,
        "loss_end": _num(losses[-1]) if losses else None,
        "labels": doc["labels"],
        "config": doc["config"],
        "generator": doc["generator"],
        "labelled_by": "generator",
        "source": key,
        # a sealed block's sizes are sources no other run has: its test split, fixed before
        # scoring (and retired into dev once scored, see ``_retired``)
        **next(
            (
                {"split": "test", "test_version": name}
                for name, sizes in SEALED_BLOCKS.items()
                if spec.size in sizes
            ),
            {"split": split_of(key)},
        ),
    }


def _retired(index: Path) -> dict[str, str]:
    """The ids of the kept index retired from a test split into dev, with that split's name."""
    if not index.exists():
        return {}
    out = {}
    for raw in index.read_text(encoding="utf-8").splitlines():
        line = json.loads(raw)
        if line.get("retired_test"):
            out[line["id"]] = line["retired_test"]
    return out


def _files(spec: RunSpec) -> dict[str, str]:
    folder = OUT / spec.name
    files = {"hf_trainer_state": "trainer_state.json"}
    if (folder / "console.txt").exists():
        files["hf_console"] = "console.txt"
    for ext in ("csv", "jsonl"):
        if (folder / f"metrics.{ext}").exists():
            files[ext] = f"metrics.{ext}"
    return files


def label(spec: RunSpec, seconds: float | None) -> dict[str, Any]:
    folder = OUT / spec.name
    hist = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))["log_history"]
    labels = derive(spec, hist)
    old = folder / "labels.json"
    if seconds is None and old.exists():
        seconds = json.loads(old.read_text(encoding="utf-8"))["generator"].get("train_seconds")
    doc = {
        "labels": labels,
        "config": spec.config(),
        "generator": {
            "family": spec.family,
            "cell": spec.cell(),
            "source": source_key(spec),
            "train_seconds": seconds,
        },
    }
    old.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return doc


def main(argv: list[str]) -> int:
    global OUT
    labels_only = "--labels-only" in argv
    missing_only = "--missing" in argv  # train only cells without a matching kept run
    if "--out" in argv:  # another folder (tests)
        k = argv.index("--out")
        OUT = Path(argv[k + 1]).resolve()
        argv = argv[:k] + argv[k + 2 :]
    names = [a for a in argv if not a.startswith("--")]
    specs = grid()
    chosen = [s for s in specs if not names or s.name in names or s.family in names]
    if not labels_only:
        import torch

        torch.set_num_threads(1)  # the machine is shared
    OUT.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    for k, spec in enumerate(chosen):
        seconds = None
        kept = OUT / spec.name / "labels.json"
        same = kept.exists() and json.loads(kept.read_text(encoding="utf-8"))["generator"][
            "cell"
        ] == json.loads(json.dumps(spec.cell()))
        if kept.exists() and not same:
            print(f"{spec.name}: the kept run is not this grid cell: retrain it", flush=True)
            if labels_only:
                continue
        if not labels_only and not (missing_only and same):
            from bench.faultgen.train import train

            t = time.time()
            try:
                train(spec, OUT / spec.name)
            except Exception as exc:  # one broken cell must not stop the grid
                print(f"{spec.name}: FAILED {type(exc).__name__}: {exc}", flush=True)
                continue
            seconds = round(time.time() - t, 1)
        if not (OUT / spec.name / "trainer_state.json").exists():
            continue
        doc = label(spec, seconds)
        kinds = ",".join(f"{f['kind']}:{f['severity'][0]}" for f in doc["labels"]["findings"])
        print(
            f"[{k + 1}/{len(chosen)} {time.time() - t0:6.0f}s] {spec.name:22} "
            f"{doc['labels']['verdict']:11} {kinds}",
            flush=True,
        )
    lines = []
    retired = _retired(OUT / "index.jsonl")
    for n, spec in enumerate(specs, 1):  # ids follow the grid, so they are stable
        path = OUT / spec.name / "labels.json"
        if path.exists():
            doc = json.loads(path.read_text(encoding="utf-8"))
            line = index_line(n, spec, _files(spec), doc)
            if line["id"] in retired:  # a test split once scored stays retired into dev
                line.pop("test_version", None)
                line.update(split="dev", retired_test=retired[line["id"]])
            lines.append(line)
    with (OUT / "index.jsonl").open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"{len(lines)} runs in {OUT / 'index.jsonl'}; {time.time() - t0:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
