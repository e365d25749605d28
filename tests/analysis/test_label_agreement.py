"""bench/label_agreement.py scores a second, independent reading against the corpus labels
with the benchmark's own rules, next to losslens on the same runs (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SCRIPT = ROOT / "bench" / "label_agreement.py"


def _dev_lines(n: int) -> list[dict[str, object]]:
    out = []
    for line in (ROOT / "corpus" / "real" / "index-a.jsonl").read_text("utf-8").splitlines():
        d = json.loads(line)
        if d["split"] == "dev" and d["labels"]["verdict"] in ("healthy", "problematic"):
            out.append(d)
        if len(out) == n:
            break
    return out


def _run(second: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(second)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_a_second_reading_that_calls_one_problematic_run_healthy_lowers_agreement(
    tmp_path: Path,
) -> None:
    lines = _dev_lines(8)
    flipped = next(d for d in lines if d["labels"]["verdict"] == "problematic")  # type: ignore[index]
    second = tmp_path / "second.jsonl"
    with second.open("w", encoding="utf-8") as f:
        for d in lines:
            labels = d["labels"]
            if d is flipped:
                labels = {"verdict": "healthy", "findings": [], "notes": "read as healthy"}
            f.write(json.dumps({"id": d["id"], "labels": labels}) + "\n")
    res = _run(second)
    assert res.returncode == 0, res.stderr
    assert f"agree on {len(lines) - 1}/{len(lines)} runs" in res.stdout
    problematic = sum(d["labels"]["verdict"] == "problematic" for d in lines)  # type: ignore[index]
    row = next(r for r in res.stdout.splitlines() if r.startswith("| corpus labels \\ second"))
    assert f"| {problematic - 1}/{problematic} |" in row
    assert "| corpus labels \\ losslens |" in res.stdout


def test_an_id_outside_the_corpus_is_refused(tmp_path: Path) -> None:
    second = tmp_path / "second.jsonl"
    second.write_text(json.dumps({"id": "zz999", "labels": {"verdict": "healthy"}}) + "\n")
    res = _run(second)
    assert res.returncode == 2 and "zz999" in res.stderr


def test_a_missing_file_or_a_bad_line_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    res = _run(tmp_path / "nowhere.jsonl")
    assert res.returncode == 2 and "cannot read" in res.stderr
    assert "Traceback" not in res.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a001", "labels": {}}\nnot json\n')
    res = _run(bad)
    assert res.returncode == 2 and res.stderr.strip().endswith("each line must be one")
    assert ":2:" in res.stderr and len(res.stderr.strip().splitlines()) == 1
