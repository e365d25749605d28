"""`losslens analyze FILE --json` is a function of the file: two runs print the same bytes.

The run id is derived from the content and ``created_at`` from the data (the run's end time),
so nothing in the output depends on the clock.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "corpus" / "shared" / "qwen2_lora_23ex_console.txt"
HF_OUTPUT = ROOT / "tests" / "data" / "importers" / "hf_run" / "output"


def analyze_json(*targets: Path) -> bytes:
    proc = subprocess.run(
        [sys.executable, "-m", "losslens", "analyze", *map(str, targets), "--json"],
        capture_output=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def test_two_runs_on_the_same_files_are_byte_identical(tmp_path: Path) -> None:
    console = tmp_path / CONSOLE.name
    shutil.copyfile(CONSOLE, console)
    output = tmp_path / "output"
    shutil.copytree(HF_OUTPUT, output)
    for targets in ((console,), (output,), (console, output)):
        first, second = analyze_json(*targets), analyze_json(*targets)
        assert first == second
    doc = json.loads(first)
    assert len(doc["reports"]) >= 2
    for report in doc["reports"]:
        run = report["run"]
        expected = run["end_time"] if run["end_time"] is not None else run["start_time"]
        assert report["created_at"] == expected
