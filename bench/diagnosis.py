"""Diagnosis benchmark: losslens vs trainproof, losslint, runmedic, trainspotter.

    .venv/bin/python bench/diagnosis.py                 # dev split, all tools
    .venv/bin/python bench/diagnosis.py --no-peers      # losslens only
    .venv/bin/python bench/diagnosis.py --split test    # sealed test split: run ONCE, at the end

Sets: the shared corpus (``../shared/corpus``) and ``tests/data/faults`` (both dev), and the
new corpus (``corpus/real/index-*.jsonl``, ``corpus/generated/index.jsonl``), whose lines carry
a ``split`` fixed by a hash of the source repository before any tuning. ``--split dev``
(the default) never opens a test-split file; ``--split test`` scores only the test split and
prints its file list and the sha256 of the sorted files' concatenated bytes.

Reported per set and tool: family macro-F1 counting every finding and counting only findings
at warning or above, problematic runs detected, healthy runs warned (and with an error); per
family P / R / F1 (findings >= warning); a confusion table of labelled vs reported families;
and leave-one-source-out scores (see :func:`loso`).

Scoring follows ../shared/corpus/README.md (see losslens.analysis.scoring). The peers are
installed into their own venv, ``bench/.env`` (created on first use with
``python -m venv bench/.env && bench/.env/bin/pip install trainproof losslint``), and run as
subprocesses. Every tool gets the same input: the original ``trainer_state.json`` when the
log is one, else a ``trainer_state.json`` rebuilt from losslens' parse of the console log
(neither peer reads console pastes), so the comparison measures diagnosis, not parsing.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from engine_src import use_engine_src

# --engine-src DIR measures another copy of the package: read before losslens is imported
ROOT = use_engine_src()

from losslens.analysis import analyze  # noqa: E402
from losslens.analysis.scoring import (  # noqa: E402
    FAMILIES,
    Case,
    LabelledLog,
    Pred,
    Scores,
    confusion,
    corpus_logs,
    family_of,
    fault_logs,
    index_logs,
    score,
)
from losslens.ingest import load_into_memory  # noqa: E402
from losslens.model import RunData  # noqa: E402

ENV = ROOT / "bench" / ".env"
PEERS = ("trainproof", "losslint", "runmedic", "trainspotter")
CACHE = ENV / "peer-cache.json"

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
RUNMEDIC_KINDS = {
    "non_finite": "nan_or_inf",
    "divergence": "divergence",
    "loss_spikes": "loss_spike",
    "no_learning": "loss_not_decreasing",
    "overfitting": "overfitting",
    "grad_spikes": "grad_spike",
    "constant_lr_plateau": "loss_plateau",
}
RUNMEDIC_LEVEL = {"critical": "error", "warning": "warning", "info": "info"}
TRAINSPOTTER_KINDS = {
    "divergence": "divergence",
    "spikes": "loss_spike",
    "overfitting": "overfitting",
    "plateau": "loss_plateau",
}
#: The kinds each tool can report at all ("covers").
COVERS = {
    "trainproof": sorted({k for k in TRAINPROOF_KINDS.values() if k != "other"}),
    "losslint": sorted({k for k in LOSSLINT_KINDS.values() if k != "other"}),
    "runmedic": sorted(set(RUNMEDIC_KINDS.values())),
    "trainspotter": sorted(
        {*TRAINSPOTTER_KINDS.values(), "grad_explosion", "clipping_saturated", "warmup_issue"}
    ),
}


@functools.cache
def _source_names(folder: Path) -> dict[str, str]:
    """``file`` -> the name the file had where it was found, from the ``source_path`` of
    the real corpus' index lines (generated runs name their generator there, not a file)."""
    names: dict[str, str] = {}
    if folder.name != "real":
        return names
    for index in sorted(folder.glob("index*.jsonl")):
        for line in index.read_text(encoding="utf-8").splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and d.get("file") and d.get("source_path"):
                names[str(d["file"])] = PurePosixPath(str(d["source_path"])).name
    return names


def source_name(path: Path) -> str:
    """The name ``path`` had at its source ('' when unknown). The corpus stores files as
    ``<id>.<ext>``; a user's file keeps its own name (``loss_log.txt``), which readers may use."""
    folder = path.parent.parent
    try:
        return _source_names(folder).get(path.relative_to(folder).as_posix(), "")
    except ValueError:
        return ""


def load(log: LabelledLog) -> RunData:
    """The first run of ``log``, read under the file's name at its source, as a user has it."""
    name = source_name(log.path) if log.path.is_file() else ""
    with tempfile.TemporaryDirectory() as tmp:
        path = log.path
        # a file stored under another suffix is an extract (a log pasted in a README or a .py)
        if name and name != path.name and PurePosixPath(name).suffix == path.suffix:
            path = Path(tmp) / name
            shutil.copyfile(log.path, path)
        runs = load_into_memory(path)
    run = runs[0]
    if log.config:
        run.info.config = {**run.info.config, **log.config}
    return run


def real_logs(corpus: Path) -> dict[str, LabelledLog]:
    """Every labelled run of ``corpus/real``, in the dev split or a sealed one, by its id."""
    return {
        log.id.removeprefix("real:"): log
        for log in index_logs(corpus, splits=("dev", "test"))
        if log.group == "real"
    }


def losslens_preds(run: RunData) -> list[Pred]:
    rep = analyze(run)
    return [Pred(f.kind, str(f.severity), f.onset_step) for f in rep.findings]


def read_preds(log: LabelledLog) -> list[Pred] | None:
    """What losslens reports on ``log``, or None when it cannot read the file (the scripts
    count that as nothing reported)."""
    try:
        return losslens_preds(load(log))
    except Exception:
        return None


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


def ensure_env() -> list[str]:
    """The peers installed in bench/.env (installing them on first use)."""
    have = [p for p in PEERS if (ENV / "bin" / p).exists()]
    if have:
        return have
    print(f"creating bench/.env with {', '.join(PEERS)} ...", file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(ENV)], check=True)
        subprocess.run([str(ENV / "bin" / "pip"), "install", "-q", *PEERS], check=True)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"cannot install the peers: {exc}", file=sys.stderr)
    return [p for p in PEERS if (ENV / "bin" / p).exists()]


def _peer_json(*cmd: str) -> Any:
    """Run a peer tool and parse its JSON output (None when it printed none)."""
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        return None


def runmedic_preds(path: Path) -> list[Pred]:
    doc = _peer_json(str(ENV / "bin" / "runmedic"), "diagnose", "--json", str(path))
    preds = []
    for rep in doc if isinstance(doc, list) else []:
        for f in rep.get("findings", []):
            kind = RUNMEDIC_KINDS.get(str(f.get("id") or f.get("check") or f.get("code") or ""))
            level = RUNMEDIC_LEVEL.get(str(f.get("severity", "")))
            if kind and level:
                preds.append(Pred(kind, level, f.get("step")))
    return preds


def trainspotter_preds(path: Path) -> list[Pred]:
    doc = _peer_json(str(ENV / "bin" / "trainspotter"), "analyze", "--output", "json", str(path))
    preds = []
    for f in (doc or {}).get("findings", []):
        det, title = str(f.get("detector", "")), str(f.get("title", "")).lower()
        kind = TRAINSPOTTER_KINDS.get(det)
        if det == "grad_norm":
            kind = "grad_explosion" if "explosion" in title else "clipping_saturated"
        elif det == "lr_schedule" and "warmup" in title:
            kind = "warmup_issue"
        if kind:
            preds.append(Pred(kind, str(f.get("severity", "info")), f.get("step_start")))
    return preds


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
    """Per kind (or family) P / R / F1 of every tool."""
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


def family_f1_rows(head: str, scores: dict[str, Scores]) -> list[str]:
    """One row per score set, one column per family with a positive: F1 (positives)."""
    families = sorted(
        {f for s in scores.values() for f, c in s.families.items() if c.f1 is not None}
    )
    lines = [f"| {head} | " + " | ".join(families) + " |", "|---|" + "---:|" * len(families)]
    for name, s in scores.items():
        cells = []
        for fam in families:
            c = s.families.get(fam)
            f1 = None if c is None else c.f1
            cells.append("-" if c is None or f1 is None else f"{f1:.2f} ({c.tp + c.fn})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
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


PEER_FNS = {
    "trainproof": trainproof_preds,
    "losslint": losslint_preds,
    "runmedic": runmedic_preds,
    "trainspotter": trainspotter_preds,
}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class PeerCache:
    """Peer results by tool and input-file hash (peers are slow subprocesses)."""

    def __init__(self) -> None:
        self.data: dict[str, list[list[Any]]] = {}
        if CACHE.exists():
            try:
                self.data = json.loads(CACHE.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                self.data = {}

    def preds(self, tool: str, path: Path) -> list[Pred]:
        key = f"{tool}:{_sha(path)}"
        if key not in self.data:
            self.data[key] = [[p.kind, p.severity, p.onset_step] for p in PEER_FNS[tool](path)]
        return [Pred(k, s, o) for k, s, o in self.data[key]]

    def save(self) -> None:
        if CACHE.parent.exists():
            CACHE.write_text(json.dumps(self.data), encoding="utf-8")


@dataclass
class Result:
    """Every tool's cases on a set of runs."""

    logs: list[LabelledLog]
    cases: dict[str, list[Case]]
    failed: list[str]  # runs losslens could not read
    ms: float

    def subset(self, keep: Any) -> Result:
        idx = [i for i, log in enumerate(self.logs) if keep(log)]
        return Result(
            [self.logs[i] for i in idx],
            {t: [cs[i] for i in idx] for t, cs in self.cases.items()},
            self.failed,
            self.ms,
        )


def evaluate(logs: list[LabelledLog], peers: list[str], verbose: bool) -> Result:
    cache = PeerCache()
    tmp = Path(tempfile.mkdtemp(prefix="losslens-bench-"))
    cases: dict[str, list[Case]] = {"losslens": [], **{p: [] for p in peers}}
    kept: list[LabelledLog] = []
    failed: list[str] = []
    t_ours = 0.0
    for log in logs:
        verdict = log.labels["verdict"]
        findings = log.labels.get("findings", [])
        try:
            run = load(log)
        except Exception as exc:  # a file we cannot read counts as "nothing reported"
            failed.append(f"{log.id} ({type(exc).__name__}: {exc})")
            run = None
        t0 = time.perf_counter()
        ours = losslens_preds(run) if run is not None else []
        t_ours += time.perf_counter() - t0
        kept.append(log)
        cases["losslens"].append(Case(log.id, verdict, findings, ours))
        if peers:
            path = trainer_state_for(log, run, tmp) if run is not None else log.path
            for p in peers:
                try:
                    preds = cache.preds(p, path)
                except (OSError, subprocess.TimeoutExpired):
                    preds = []
                cases[p].append(Case(log.id, verdict, findings, preds))
        if verbose:
            want = sorted({(f["kind"], f["severity"]) for f in findings})
            print(f"{log.id:40} {verdict:11} want {want}")
            for tool, cs in cases.items():
                got = sorted({(p.kind, p.severity) for p in cs[-1].preds})
                print(f"{'':40} {tool:12} got  {got}")
    cache.save()
    return Result(kept, cases, failed, t_ours * 1000)


def format_agreement(logs: list[LabelledLog]) -> list[str]:
    """The same run read from its other formats (console output): same verdict and same
    families at warning or above as from ``trainer_state.json``?"""
    same = total = 0
    differ = []
    for log in logs:
        if not log.alternates:
            continue
        try:
            base = load(log)
        except Exception:
            continue
        a = analyze(base)
        for alt in log.alternates:
            try:
                run = load(LabelledLog(log.id, alt, log.labels, log.config))
            except Exception as exc:
                differ.append(f"{log.id} ({alt.name}: unreadable, {type(exc).__name__})")
                total += 1
                continue
            b = analyze(run)
            fa = {family_of(f.kind) for f in a.findings if f.severity.rank >= 1}
            fb = {family_of(f.kind) for f in b.findings if f.severity.rank >= 1}
            total += 1
            if a.verdict == b.verdict and fa == fb:
                same += 1
            else:
                differ.append(f"{log.id} ({alt.name})")
    if not total:
        return []
    return [f"same verdict and families from {same}/{total} alternate formats; differ: {differ}"]


def summary_table(results: dict[str, Result]) -> list[str]:
    """One line per set and tool: the headline numbers."""
    lines = [
        "| set | runs | tool | family macro-F1, all | family macro-F1, >= warning "
        "| problematic detected | healthy warned | healthy with error |",
        "|---|---:|---|---:|---:|---|---|---|",
    ]
    for name, res in results.items():
        for tool, cs in res.cases.items():
            a, w = score(cs), score(cs, "warning")
            lines.append(
                f"| {name} | {len(cs)} | {tool} | {a.family_macro_f1:.2f} | "
                f"{w.family_macro_f1:.2f} | {w.detected}/{w.problematic} | "
                f"{w.false_alarms}/{w.healthy} | {w.error_false_alarms}/{w.healthy} |"
            )
    return lines


def confusion_table(cases: list[Case]) -> list[str]:
    conf = confusion(cases, "warning")
    rows = sorted(r for r in conf if r != "(none)") + (["(none)"] if "(none)" in conf else [])
    cols = sorted({c for r in conf.values() for c in r} - {"(none)"})
    cols += ["(none)"]
    short = {c: c.replace("+", "+<br>") for c in cols}
    lines = [
        "| labelled \\ reported | " + " | ".join(short[c] for c in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for r in rows:
        cells = [str(conf[r].get(c, "")) for c in cols]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    return lines


def loso(cases: list[Case], logs: list[LabelledLog]) -> list[str]:
    """Leave-one-source-out: the family macro-F1 (>= warning) with each source left out.

    The rules have no fitted parameters, so leaving a source out cannot change what they
    report; what it shows is how much the score rests on any one source (a rule tuned to one
    repository's runs shows up as a large drop or rise when that source is removed), plus
    each source's own score.
    """
    sources = sorted({log.source for log in logs})
    if len(sources) < 2:
        return ["(one source only)"]
    full = score(cases, "warning").family_macro_f1
    rows = []
    for src in sources:
        rest = [c for c, log in zip(cases, logs, strict=True) if log.source != src]
        own = [c for c, log in zip(cases, logs, strict=True) if log.source == src]
        s_own = score(own, "warning")
        rows.append(
            (
                score(rest, "warning").family_macro_f1,
                src,
                len(own),
                s_own.detected,
                s_own.problematic,
                s_own.false_alarms,
                s_own.healthy,
            )
        )
    vals = [r[0] for r in rows]
    lines = [
        f"sources: {len(sources)}; family macro-F1 (>= warning) on all: {full:.3f}; "
        f"with one source left out: min {min(vals):.3f} / median "
        f"{statistics.median(vals):.3f} / max {max(vals):.3f}",
        "",
        "| source left out | runs | F1 without it | its problematic detected "
        "| its healthy warned |",
        "|---|---:|---:|---|---|",
    ]
    rows.sort(key=lambda r: abs(r[0] - full), reverse=True)
    for f1, src, n, det, prob, fa, h in rows[:8]:
        lines.append(f"| {src} | {n} | {f1:.3f} | {det}/{prob} | {fa}/{h} |")
    return lines


def report(name: str, res: Result, peers: list[str]) -> None:
    cases = res.cases
    scores = {tool: score(cs, "warning") for tool, cs in cases.items()}
    print(f"\n## {name}: {len(res.logs)} labelled runs (losslens analysis {res.ms:.0f} ms)\n")
    print("Findings at warning or above.\n")
    print("\n".join(table("family", scores, families=True)))
    print()
    print("\n".join(run_level(scores)))
    print("\nlosslens confusion (labelled family vs reported family, >= warning):\n")
    print("\n".join(confusion_table(cases["losslens"])))
    ours = scores["losslens"]
    print(
        f"\nlosslens misses: {ours.misses or 'none'}\n"
        f"losslens false positives: {ours.false_positives or 'none'}"
    )
    print(f"losslens false positives, any severity: {score(cases['losslens']).false_positives}")
    healthy_warned = [
        c.id
        for c in cases["losslens"]
        if c.verdict == "healthy" and any(p.severity in ("warning", "error") for p in c.preds)
    ]
    undetected = [
        c.id
        for c in cases["losslens"]
        if c.verdict == "problematic"
        and not any(p.severity in ("warning", "error") for p in c.preds)
    ]
    print(f"healthy runs warned: {healthy_warned or 'none'}")
    print(f"problematic runs not detected: {undetected or 'none'}")
    for peer in peers:
        behind = []
        for kind in COVERS[peer]:
            a, b = ours.kinds.get(kind), scores[peer].kinds.get(kind)
            fa = a.f1 if a is not None and a.f1 is not None else None
            fb = b.f1 if b is not None and b.f1 is not None else None
            if fb is not None and (fa is None or fa < fb):
                behind.append(f"{kind} ({fa} < {fb})")
        print(f"kinds {peer} covers where losslens is behind: {behind or 'none'}")


def test_manifest(logs: list[LabelledLog]) -> tuple[list[str], str]:
    """The test files (relative to the repository) and the sha256 of their sorted bytes."""
    paths = sorted({log.path for log in logs})
    h = hashlib.sha256()
    names = []
    for p in paths:
        names.append(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p))
        if p.is_file():
            h.update(p.read_bytes())
    return names, h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    shared = ROOT / "corpus" / "shared"
    if not (shared / "real" / "index.jsonl").exists():
        shared = ROOT.parent / "shared" / "corpus"
    ap.add_argument("--corpus", type=Path, default=shared)
    ap.add_argument("--faults", type=Path, default=ROOT / "tests" / "data" / "faults")
    ap.add_argument("--new-corpus", type=Path, default=ROOT / "corpus")
    ap.add_argument(
        "--split",
        choices=("dev", "test"),
        default="dev",
        help="dev (default) or the sealed test split: score it once, at the end",
    )
    ap.add_argument(
        "--group",
        choices=("real", "generated"),
        help="only this part of corpus/ (e.g. to score one sealed split and keep the other sealed)",
    )
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--json-out", type=Path, help="write the headline numbers as JSON")
    ap.add_argument("--engine-src", type=Path, help="the src/ folder of the losslens to measure")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)

    peers = [] if args.no_peers else ensure_env()
    new = index_logs(args.new_corpus, splits=(args.split,))
    if args.group:
        new = [log for log in new if log.group == args.group]
    sets: dict[str, list[LabelledLog]] = {}
    if args.split == "dev":
        sets["shared corpus"] = corpus_logs(args.corpus)
        sets["faults"] = fault_logs(args.faults)
    sets[f"real ({args.split})"] = [log for log in new if log.group == "real"]
    sets[f"generated ({args.split})"] = [log for log in new if log.group == "generated"]
    everything = [log for logs in sets.values() for log in logs]
    res = evaluate(everything, peers, args.verbose)
    results = {
        name: res.subset(lambda log, group=logs: any(log is x for x in group))
        for name, logs in sets.items()
        if logs
    }
    if len(results) > 1:
        results[f"all ({args.split})"] = res
    print(f"# Diagnosis benchmark, split {args.split}\n")
    print("\n".join(summary_table(results)))
    if res.failed:
        print(f"\nlosslens could not read: {res.failed}")
    for name, r in results.items():
        report(name, r, peers)
    agreement = format_agreement(new)
    if agreement:
        print(f"\n## trainer_state.json vs console output ({args.split})\n")
        print("\n".join(agreement))
    print(f"\n## Leave one source out ({args.split}, all sets)\n")
    print("\n".join(loso(res.cases["losslens"], res.logs)))
    if args.split == "test":
        names, digest = test_manifest(new)
        print(f"\n## Sealed test split: {len(names)} files, sha256 of sorted contents {digest}\n")
        print("\n".join(names))
    if args.json_out:
        out = {
            name: {
                tool: {
                    "runs": len(cs),
                    "family_macro_f1_all": score(cs).family_macro_f1,
                    "family_macro_f1_warning": score(cs, "warning").family_macro_f1,
                    "detected": score(cs, "warning").detected,
                    "problematic": score(cs, "warning").problematic,
                    "healthy_warned": score(cs, "warning").false_alarms,
                    "healthy_error": score(cs, "warning").error_false_alarms,
                    "healthy": score(cs, "warning").healthy,
                }
                for tool, cs in r.cases.items()
            }
            for name, r in results.items()
        }
        args.json_out.write_text(json.dumps(out, indent=1), encoding="utf-8")
    print(f"\nfamilies: {', '.join(FAMILIES)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
