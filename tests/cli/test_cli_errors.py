"""Arguments that are neither a file nor a run: one line, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losslens", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", ["analyze", "report"])
def test_neither_a_path_nor_a_run(command: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-log.json")
    proc = _run(command, missing)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"losslens: error: '{missing}' is not a file or folder")
    assert "no store at" in first


@pytest.mark.parametrize("option", ["--html", "--md"])
def test_report_to_an_unwritable_place(option: str, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("step,loss\n1,2.0\n2,1.5\n")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    proc = _run("report", str(log), option, str(blocker / "report.out"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"losslens: error: cannot write {blocker}")
