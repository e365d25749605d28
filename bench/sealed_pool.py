"""Sealed real splits taken together, each with the findings of the engine it was scored on.

    .venv/bin/python bench/sealed_pool.py                    # the pooled table, from the record
    .venv/bin/python bench/sealed_pool.py --versions v21,v22 # some splits only
    .venv/bin/python bench/sealed_pool.py --consensus        # runs the two readers agree on
    .venv/bin/python bench/sealed_pool.py --record v23 --engine "round 28 (abc1234)"
    .venv/bin/python bench/sealed_pool.py --record v23 --role "issue start" \\
        --engine "issue start (fe466fd)" --engine-src /tmp/fe466fd/src

The blind second reading of each split (``corpus/real/second-reading-vN.jsonl``), scored against
the labels as if it were a tool, is printed beside them: the ceiling two readers reach on the
same runs. ``--consensus`` keeps only the runs whose blind reading gives the labels' verdict
(both healthy or both problematic): how the engine does where two readers agree.

A sealed real split is scored once, on the engine of its day, and then retired into dev, where
later rounds may read its runs. Re-scoring it on a later engine is no longer a sealed
measurement, so pooling several splits needs what each engine reported when its split was
scored. ``bench/sealed_predictions.jsonl`` keeps that: one line per run and role (``id``,
``test_version``, ``role``: ``scored`` or ``issue start``, ``engine``, ``findings`` as
``[kind, severity]`` pairs). The labels come from ``corpus/real`` as they are now.

``--record`` analyses the runs of one split (its ``test_version``, or ``retired_test`` once
retired) with the engine measured (this tree's ``src/``, or ``--engine-src``) and appends their
lines: run it right after the split's one scoring, on the engine that scored it (the analysis
is deterministic, so the lines are the findings the benchmark scored).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import diagnosis  # the benchmark's loader and runner (puts the measured losslens on sys.path)
from losslens.analysis.scoring import Case, Pred, Scores, score

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "bench" / "sealed_predictions.jsonl"
ROLES = ("scored", "issue start")


def real_index(root: Path) -> dict[str, dict[str, Any]]:
    """Every line of ``corpus/real/index-*.jsonl`` by run id."""
    out: dict[str, dict[str, Any]] = {}
    for index in sorted((root / "corpus" / "real").glob("index*.jsonl")):
        for line in index.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                out[d["id"]] = d
    return out


def version_of(line: dict[str, Any]) -> str | None:
    """The sealed split a run belonged to, open or retired."""
    v = line.get("retired_test") or line.get("test_version")
    return str(v) if v else None


def read_record(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def record(version: str, role: str, engine: str, path: Path) -> int:
    """Analyse the runs of ``version`` and append their findings under ``role``."""
    index = real_index(ROOT)
    ids = sorted(i for i, d in index.items() if version_of(d) == version)
    if not ids:
        print(f"no run of corpus/real belongs to {version}", file=sys.stderr)
        return 2
    have = {(r["id"], r["role"]) for r in read_record(path)}
    if any((i, role) in have for i in ids):
        print(f"{version} already has {role!r} lines in {path.name}", file=sys.stderr)
        return 2
    logs = diagnosis.real_logs(ROOT / "corpus")
    with path.open("a", encoding="utf-8") as out:
        for i in ids:
            # a file the engine cannot read counts as nothing reported, as in diagnosis.py
            read = diagnosis.read_preds(logs[i])
            preds, unreadable = read or [], read is None
            line = {
                "id": i,
                "test_version": version,
                "role": role,
                "engine": engine,
                "findings": [[p.kind, p.severity] for p in preds],
            } | ({"unreadable": True} if unreadable else {})
            out.write(json.dumps(line) + "\n")
    print(f"{len(ids)} runs of {version} recorded as {role!r} ({engine})")
    return 0


def _row(name: str, runs: int, engines: str, s: Scores) -> str:
    return (
        f"| {name} | {runs} | {engines} | {s.family_macro_f1:.2f} | "
        f"{s.detected}/{s.problematic} | {s.false_alarms}/{s.healthy} | "
        f"{s.error_false_alarms}/{s.healthy} |"
    )


def _case(rid: str, preds: list[Pred], index: dict[str, dict[str, Any]]) -> Case:
    """Findings reported for run ``rid`` against its labels as they are in corpus/real."""
    labels = index[rid]["labels"]
    return Case(rid, labels["verdict"], labels.get("findings", []), preds)


def second_reading(
    version: str, ids: set[str], index: dict[str, dict[str, Any]]
) -> list[tuple[str, str, Case]]:
    """The blind second reading of ``version`` (``corpus/real/second-reading-vN.jsonl``) as
    if it were a tool, against the corpus labels: the ceiling two readers reach on the same
    runs. Only the runs in ``ids``; none when the split has no second reading."""
    path = ROOT / "corpus" / "real" / f"second-reading-{version}.jsonl"
    out = []
    for r in read_record(path):
        if r["id"] in ids:
            found = [Pred(f["kind"], f["severity"]) for f in r["labels"].get("findings", [])]
            out.append((version, "read blind", _case(r["id"], found, index)))
    return out


def consensus(index: dict[str, dict[str, Any]]) -> set[str]:
    """Runs whose blind second reading gives the same verdict as the labels, healthy or
    problematic (an unclear verdict on either side agrees with nothing)."""
    out = set()
    for path in (ROOT / "corpus" / "real").glob("second-reading-v*.jsonl"):
        for r in read_record(path):
            label = index.get(r["id"], {}).get("labels", {}).get("verdict")
            if label in ("healthy", "problematic") and r["labels"]["verdict"] == label:
                out.add(r["id"])
    return out


def pool(lines: Iterable[dict[str, Any]], versions: set[str] | None, agreed: bool = False) -> int:
    """Print the per-split and pooled scores of each role and of the blind second reading,
    and the pooled families; with ``agreed``, on the runs the two readers agree on only."""
    index = real_index(ROOT)
    keep = consensus(index) if agreed else None
    chosen = [
        r
        for r in lines
        if (versions is None or r["test_version"] in versions) and (keep is None or r["id"] in keep)
    ]
    if not chosen:
        print("nothing recorded for those splits", file=sys.stderr)
        return 2
    missing = sorted({r["id"] for r in chosen} - set(index))
    if missing:
        print(f"recorded runs no longer in corpus/real: {missing}", file=sys.stderr)
        return 2
    order = sorted({r["test_version"] for r in chosen}, key=lambda v: int(v.lstrip("v")))
    title = "# Sealed real splits, each scored once on the engine of its day"
    print(title + (" (runs whose two readers agree on the verdict)" if agreed else "") + "\n")
    print(
        "| split | runs | engine | family macro-F1 >= warning | problematic detected | "
        "healthy warned | healthy with error |"
    )
    print("|---|---:|---|---:|---|---|---|")
    pooled: dict[str, Scores] = {}
    scored = {r["id"] for r in chosen if r["role"] == "scored"}
    for role in (*ROLES, "second reading"):
        if role == "second reading":
            cases = [c for v in order for c in second_reading(v, scored, index)]
        else:
            cases = [
                (
                    r["test_version"],
                    r["engine"],
                    _case(r["id"], [Pred(k, sev) for k, sev in r["findings"]], index),
                )
                for r in chosen
                if r["role"] == role
            ]
        if not cases:
            continue
        for v in order:
            part = [(engine, c) for tv, engine, c in cases if tv == v]
            if part:
                engines = ", ".join(sorted({engine for engine, _ in part}))
                s = score([c for _, c in part], "warning")
                print(_row(f"{v}, {role}", len(part), engines, s))
        pooled[role] = score([c for _, _, c in cases], "warning")
        together = f"**{order[0]}–{order[-1]} together, {role}**"
        print(_row(together, len(cases), "as above", pooled[role]))
    print("\nPooled, per family (F1 >= warning; positives in brackets):\n")
    print("\n".join(diagnosis.family_f1_rows("role", pooled)))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--versions", help="comma-separated splits to pool (default: all recorded)")
    ap.add_argument("--record", metavar="VERSION", help="analyse this split and append its lines")
    ap.add_argument("--role", choices=ROLES, default="scored")
    ap.add_argument("--engine", help="how the engine is named in the record (with --record)")
    ap.add_argument("--engine-src", type=Path, help="the src/ folder of the losslens to measure")
    ap.add_argument("--file", type=Path, default=RECORD, help="the record (JSONL)")
    ap.add_argument(
        "--consensus", action="store_true", help="only runs whose blind reading gives their verdict"
    )
    args = ap.parse_args(argv)
    if args.record:
        if not args.engine:
            print("--record needs --engine (e.g. 'round 28 (abc1234)')", file=sys.stderr)
            return 2
        return record(args.record, args.role, args.engine, args.file)
    versions = set(args.versions.split(",")) if args.versions else None
    return pool(read_record(args.file), versions, args.consensus)


if __name__ == "__main__":
    raise SystemExit(main())
