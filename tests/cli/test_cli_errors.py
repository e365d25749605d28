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
