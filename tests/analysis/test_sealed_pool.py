"""bench/sealed_pool.py pools the sealed real splits from the recorded findings of the engine
each was scored on, and prints the blind second reading of the same runs beside them, scored
against the labels as if it were a tool (a real subprocess on the repository's record)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "bench" / "sealed_pool.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_a_split_is_scored_on_its_record_and_beside_its_blind_reading(tmp_path: Path) -> None:
    # a record of one v23 run, reported with no finding: a healthy run stays unwarned, a
    # problematic one is missed; its blind reading is scored on the same single run
    index = (ROOT / "corpus" / "real" / "index-wo.jsonl").read_text("utf-8").splitlines()
    run = json.loads(index[0])
    line = {"id": run["id"], "test_version": "v23", "role": "scored", "engine": "none"}
    record = tmp_path / "record.jsonl"
    record.write_text(json.dumps({**line, "findings": []}) + "\n", encoding="utf-8")
    res = _run("--file", str(record))
    assert res.returncode == 0, res.stderr
    rows = {r.split(" | ")[0]: r for r in res.stdout.splitlines() if r.startswith("| v23")}
    assert "| v23, scored" in rows and "| v23, second reading" in rows
    assert " | 1 | none | " in rows["| v23, scored"]
    assert " | 1 | read blind | " in rows["| v23, second reading"]
    # detected, healthy warned, healthy with an error: nothing reported, nothing found
    want = "| 0/1 | 0/0 | 0/0 |" if run["labels"]["verdict"] == "problematic" else "| 0/1 | 0/1 |"
    assert rows["| v23, scored"].endswith(want)


def test_splits_with_nothing_recorded_are_refused() -> None:
    res = _run("--versions", "v999")
    assert res.returncode == 2
    assert "nothing recorded" in res.stderr
