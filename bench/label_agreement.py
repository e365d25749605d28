"""How often two readers agree, next to how often losslens agrees with each of them.

    .venv/bin/python bench/label_agreement.py corpus/real/second-reading-v5.jsonl

A second reading is a file of independent labels (one JSON line per run: ``id``, ``labels``,
``labelled_by``) written by readers who never saw the corpus labels of those runs. Each pair
of label sets is scored with the benchmark's own rules (``losslens.analysis.scoring``, findings
at warning or above), taking one side as the truth and the other as the "tool":

- second reading against the corpus labels (and the reverse, since info labels are neutral on
  the truth side only, the two directions differ a little);
- losslens against the corpus labels, and against the second reading, on the same runs.

The reader-against-reader score is the ceiling a diagnosis engine can be measured against with
labels of this reliability: a family macro-F1 above it would be agreeing with one reader's
habits, not with the runs. It reads the labels of both splits: run it only on runs of a test
split that was already scored.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import diagnosis  # the benchmark's loader and losslens runner (puts losslens on sys.path)
from losslens.analysis.scoring import Case, Pred, Scores, score

ROOT = Path(__file__).resolve().parent.parent


def _preds(labels: Mapping[str, Any]) -> list[Pred]:
    return [Pred(f["kind"], f["severity"], f.get("onset_step")) for f in labels.get("findings", [])]


def _cases(
    truth: Mapping[str, Mapping[str, Any]], tool: Mapping[str, list[Pred]], ids: Sequence[str]
) -> list[Case]:
    return [Case(i, truth[i]["verdict"], truth[i].get("findings", []), tool[i]) for i in ids]


def _row(name: str, s: Scores) -> str:
    return (
        f"| {name} | {s.family_macro_f1:.2f} | {s.detected}/{s.problematic} | "
        f"{s.false_alarms}/{s.healthy} | {s.error_false_alarms}/{s.healthy} |"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("second", type=Path, help="JSONL of independent labels (id, labels)")
    ap.add_argument("--engine-src", help="the src/ folder of the losslens to measure")
    args = ap.parse_args(argv)
    second = {}
    try:
        lines = args.second.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        print(f"cannot read {args.second}: {e.strerror}", file=sys.stderr)
        return 2
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                d = json.loads(line)
                second[d["id"]] = d["labels"]
            except (json.JSONDecodeError, KeyError, TypeError):
                print(
                    f"{args.second}:{n}: not a JSON object with an id and labels; "
                    "each line must be one",
                    file=sys.stderr,
                )
                return 2
    logs = diagnosis.real_logs(ROOT / "corpus")
    missing = sorted(set(second) - set(logs))
    if missing:
        print(f"not in corpus/real: {missing}", file=sys.stderr)
        return 2
    ids = sorted(second)
    first = {i: logs[i].labels for i in ids}
    # a file losslens cannot read counts as nothing reported, as in diagnosis.py
    engine = {i: diagnosis.read_preds(logs[i]) or [] for i in ids}
    firsts = {i: _preds(first[i]) for i in ids}
    seconds = {i: _preds(second[i]) for i in ids}
    both = [
        i for i in ids if {first[i]["verdict"], second[i]["verdict"]} <= {"healthy", "problematic"}
    ]
    same = sum(first[i]["verdict"] == second[i]["verdict"] for i in both)
    print(f"# Label agreement: {len(ids)} runs read twice ({args.second})\n")
    print(f"verdicts (healthy / problematic) agree on {same}/{len(both)} runs\n")
    print(
        "| truth \\ measured | family macro-F1 >= warning | problematic detected | "
        "healthy warned | healthy with error |"
    )
    print("|---|---:|---|---|---|")
    rows = [
        ("corpus labels \\ second reading", first, seconds),
        ("second reading \\ corpus labels", second, firsts),
        ("corpus labels \\ losslens", first, engine),
        ("second reading \\ losslens", second, engine),
    ]
    scores = {name: score(_cases(truth, tool, ids), "warning") for name, truth, tool in rows}
    for name, s in scores.items():
        print(_row(name, s))
    print("\nPer family (F1 >= warning; positives on the truth side in brackets):\n")
    print("\n".join(diagnosis.family_f1_rows("truth \\ measured", scores)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
