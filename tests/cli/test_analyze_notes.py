"""``losslens analyze`` says what the import said about the log: the steps of its findings
rest on it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _analyze(path: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "losslens", "analyze", str(path), *args],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_console_log_without_steps_says_so_in_every_report(tmp_path: Path) -> None:
    p = tmp_path / "train.log"
    p.write_text(
        "".join(
            f"{{'loss': {2.0 - 0.1 * i:.2f}, 'learning_rate': 0.0001, 'epoch': {0.1 * i:.1f}}}\n"
            for i in range(1, 7)
        ),
        encoding="utf-8",
    )
    note = "steps are the order of the log lines"
    text = _analyze(p, "--width", "200")
    assert "Import notes: no step numbers" in text and note in text
    assert note in _analyze(p, "--format", "markdown")
    (got,) = json.loads(_analyze(p, "--json"))["run"]["import_notes"]
    assert note in got
