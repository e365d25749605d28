"""Diagnosis benchmark: losslens vs trainproof vs losslint on the labelled corpus.

    .venv/bin/python bench/diagnosis.py                 # corpus + tests/data/faults, all tools
    .venv/bin/python bench/diagnosis.py --no-peers      # losslens only

Scoring follows ../shared/corpus/README.md (see losslens.analysis.scoring). The peers are
installed into their own venv, ``bench/.env`` (created on first use with
``python -m venv bench/.env && bench/.env/bin/pip install trainproof losslint``), and run as
subprocesses. Every tool gets the same input: the original ``trainer_state.json`` when the
log is one, else a ``trainer_state.json`` rebuilt from losslens' parse of the console log
(neither peer reads console pastes), so the comparison measures diagnosis, not parsing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# bench/ holds a logging.py benchmark that would shadow the standard library module
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT / "src"))

from losslens.analysis import analyze  # noqa: E402
from losslens.analysis.scoring import (  # noqa: E402
    FAMILIES,
    Case,
    LabelledLog,
    Pred,
    Scores,
    corpus_logs,
    fault_logs,
    score,
)
from losslens.ingest import load_into_memory  # noqa: E402
from losslens.model import RunData  # noqa: E402

ENV = ROOT / "bench" / ".env"
PEERS = ("trainproof", "losslint")

TRAINPROOF_KINDS = {
    "TP-NAN": "nan_or_inf",
    "TP-NAN-GRAD": "nan_or_inf",
    "TP-ZERO-LOSS": "other",
    "TP-ZERO-LOSS-ONSET": "other",
    "TP-ZERO-GRAD": "grad_vanishing",
    "TP-FLAT": "loss_plateau",
    "TP-DIVERGE": "divergence",
    "TP-DEAD-RUN": "loss_not_decreasing",
    "TP-GRAD-SPIKE": "grad_spike",
    "TP-ZERO-LR": "lr_too_low",
    "TP-ZERO-LR-PARTIAL": "lr_too_low",
    "TP-OVERFIT": "overfitting",
}
TRAINPROOF_LEVEL = {"FAIL": "error", "WARN": "warning", "INFO": "info"}
LOSSLINT_KINDS = {
    "nan_inf": "nan_or_inf",
    "loss_spike": "loss_spike",
    "divergence": "divergence",
    "overfit_onset": "overfitting",
    "stagnation": "loss_plateau",
    "step_backtrack": "other",
    "parse": "other",
}
#: The kinds each tool can report at all ("covers").
COVERS = {
    "trainproof": sorted({k for k in TRAINPROOF_KINDS.values() if k != "other"}),
    "losslint": sorted({k for k in LOSSLINT_KINDS.values() if k != "other"}),
}


def load(log: LabelledLog) -> RunData:
    runs = load_into_memory(log.path)
    run = runs[0]
    if log.config:
        run.info.config = {**run.info.config, **log.config}
    return run


def losslens_preds(run: RunData) -> list[Pred]:
    rep = analyze(run)
    return [Pred(f.kind, str(f.severity), f.onset_step) for f in rep.findings]


def trainer_state_for(log: LabelledLog, run: RunData, folder: Path) -> Path:
    """The log as a trainer_state.json: the original, or rebuilt from our parse."""
    if log.path.suffix == ".json":
        return log.path
    rows: dict[int, dict[str, Any]] = {}
    names = {
        "train/loss": "loss",
        "train/grad_norm": "grad_norm",
        "train/learning_rate": "learning_rate",
        "train/epoch": "epoch",
        "eval/loss": "eval_loss",
    }
    for key, s in run.series.items():
        name = names.get(key)
        if name is None:
            continue
        for step, value in zip(s.steps.tolist(), s.values.tolist(), strict=True):
            row = rows.setdefault(int(step), {"step": int(step)})
            row[name] = value
    history = []
    for step in sorted(rows):
        row = rows[step]
        if "eval_loss" in row:
            history.append(
                {"eval_loss": row.pop("eval_loss"), "step": step, "epoch": row.get("epoch", 0)}
            )
        if "loss" in row:
            history.append(row)
    state = {"log_history": history, "global_step": max(rows) if rows else 0}
    out = folder / f"{log.id}" / "trainer_state.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(state), encoding="utf-8")  # NaN tokens as HF writes them
    return out


def ensure_env() -> bool:
    if (ENV / "bin" / "trainproof").exists() and (ENV / "bin" / "losslint").exists():
        return True
    print("creating bench/.env with trainproof and losslint ...", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(ENV)], check=True)
        subprocess.run(
            [str(ENV / "bin" / "pip"), "install", "-q", "trainproof", "losslint"], check=True
        )
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"cannot install the peers: {exc}", file=sys.stderr)
        return False
    return True


def _peer_json(*cmd: str) -> Any:
    """Run a peer tool and parse its JSON output (None when it printed none)."""
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return None


def trainproof_preds(path: Path) -> list[Pred]:
    doc = _peer_json(str(ENV / "bin" / "trainproof"), "doctor", "--json", str(path))
    if doc is None:
        return []
    preds = []
    for rep in doc.get("reports", []):
        for f in rep.get("findings", []):
            kind = TRAINPROOF_KINDS.get(f.get("id", ""))
            level = TRAINPROOF_LEVEL.get(f.get("level", ""))
            if kind and level:
                preds.append(Pred(kind, level, None))
    return preds


def losslint_preds(path: Path) -> list[Pred]:
    doc = _peer_json(
        str(ENV / "bin" / "losslint"), "check", "--format", "json", "--color", "never", str(path)
    )
    if doc is None:
        return []
    preds = []
    for f in doc.get("findings", []):
        kind = LOSSLINT_KINDS.get(f.get("check", ""))
        if kind:
            steps = (f.get("details") or {}).get("steps") or []
            onset = (f.get("details") or {}).get("step")
            preds.append(
                Pred(kind, str(f.get("severity", "info")), onset or (steps[0] if steps else None))
            )
    return preds


def fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:5.2f}"


def table(title: str, scores: dict[str, Scores], families: bool = False) -> list[str]:
    tools = list(scores)
    groups = sorted({g for s in scores.values() for g in (s.families if families else s.kinds)})
    head = f"| {title} | pos | " + " | ".join(f"{t} P / R / F1" for t in tools) + " |"
    lines = [head, "|---|---:|" + "---|" * len(tools)]
    for g in groups:
        cells = []
        pos = None
        for t in tools:
            c = (scores[t].families if families else scores[t].kinds).get(g, _zero())
            pos = c.tp + c.fn if pos is None else pos
            cells.append(f"{fmt(c.precision)} / {fmt(c.recall)} / {fmt(c.f1)} (fp {c.fp})")
        lines.append(f"| {g} | {pos} | " + " | ".join(cells) + " |")
    macro = [f"{(s.family_macro_f1 if families else s.macro_f1):.3f}" for s in scores.values()]
    lines.append("| **macro-F1** | | " + " | ".join(macro) + " |")
    return lines


def _zero() -> Any:
    from losslens.analysis.scoring import Counts

    return Counts()


def run_level(scores: dict[str, Scores]) -> list[str]:
    lines = ["| run level | " + " | ".join(scores) + " |", "|---|" + "---|" * len(scores)]
    rows = [
        (
            "detection (problematic runs)",
            lambda s: f"{s.detected}/{s.problematic} = {s.detection_rate:.2f}",
        ),
        (
            "false alarm, warning+ (healthy)",
            lambda s: f"{s.false_alarms}/{s.healthy} = {s.false_alarm_rate:.2f}",
        ),
        ("false alarm, error (healthy)", lambda s: f"{s.error_false_alarms}/{s.healthy}"),
        (
            "onset error, steps (median / max, n)",
            lambda s: (
                f"{statistics.median(s.onset_errors):.0f} / {max(s.onset_errors)} "
                f"(n={len(s.onset_errors)})"
                if s.onset_errors
                else "-"
            ),
        ),
    ]
    for name, fn in rows:
        lines.append(f"| {name} | " + " | ".join(fn(s) for s in scores.values()) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--faults", type=Path, default=ROOT / "tests" / "data" / "faults")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)

    sets = {"corpus": corpus_logs(args.corpus), "faults": fault_logs(args.faults)}
    peers = [] if args.no_peers or not ensure_env() else list(PEERS)
    tmp = Path(tempfile.mkdtemp(prefix="losslens-bench-"))
    for set_name, logs in sets.items():
        if not logs:
            continue
        cases: dict[str, list[Case]] = {"losslens": [], **{p: [] for p in peers}}
        t_ours = 0.0
        for log in logs:
            run = load(log)
            t0 = time.perf_counter()
            ours = losslens_preds(run)
            t_ours += time.perf_counter() - t0
            verdict = log.labels["verdict"]
            findings = log.labels["findings"]
            cases["losslens"].append(Case(log.id, verdict, findings, ours))
            path = trainer_state_for(log, run, tmp) if peers else log.path
            if "trainproof" in peers:
                cases["trainproof"].append(Case(log.id, verdict, findings, trainproof_preds(path)))
            if "losslint" in peers:
                cases["losslint"].append(Case(log.id, verdict, findings, losslint_preds(path)))
            if args.verbose:
                want = sorted({(f["kind"], f["severity"]) for f in findings})
                print(f"{log.id:28} {verdict:11} want {want}")
                for tool, cs in cases.items():
                    got = sorted({(p.kind, p.severity) for p in cs[-1].preds})
                    print(f"{'':28} {tool:11} got  {got}")
        scores = {tool: score(cs) for tool, cs in cases.items()}
        print(
            f"\n## {set_name}: {len(logs)} labelled runs "
            f"(losslens analysis {t_ours * 1000:.0f} ms total)\n"
        )
        print("\n".join(table("kind", scores)))
        print()
        print("\n".join(table("family", scores, families=True)))
        print()
        print("\n".join(run_level(scores)))
        ours = scores["losslens"]
        print(
            f"\nlosslens misses: {ours.misses or 'none'}; "
            f"false positives: {ours.false_positives or 'none'}"
        )
        for peer in peers:
            behind = []
            for kind in COVERS[peer]:
                a, b = ours.kinds.get(kind), scores[peer].kinds.get(kind)
                fa = a.f1 if a is not None and a.f1 is not None else None
                fb = b.f1 if b is not None and b.f1 is not None else None
                if fb is not None and (fa is None or fa < fb):
                    behind.append(f"{kind} ({fa} < {fb})")
            print(f"kinds {peer} covers where losslens is behind: {behind or 'none'}")
    print(f"\nfamilies: {', '.join(FAMILIES)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
