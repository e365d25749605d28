"""`losslens analyze FILE --json` is a function of the file: two runs print the same bytes.

The run id is derived from the content and ``created_at`` from the data (the run's end time),
so nothing in the output depends on the clock; non-finite numbers use the one spelling of
:mod:`losslens.numeric` (``"NaN"``, ``"Infinity"``, ``"-Infinity"``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from losslens.numeric import NONFINITE_TOKENS

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "corpus" / "shared" / "qwen2_lora_23ex_console.txt"
HF_OUTPUT = ROOT / "tests" / "data" / "importers" / "hf_run" / "output"

#: A console log whose loss becomes NaN and whose gradient norm becomes inf.
NAN_CONSOLE = "".join(
    f"{{'loss': {2.0 - 0.05 * i}, 'grad_norm': 1.5, 'learning_rate': 0.0001, 'epoch': {i / 10}}}\n"
    for i in range(1, 21)
) + "{'loss': nan, 'grad_norm': inf, 'learning_rate': 0.0001, 'epoch': 2.1}\n" * 5


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


def test_nonfinite_values_use_the_one_spelling(tmp_path: Path) -> None:
    log = tmp_path / "nan_console.txt"
    log.write_text(NAN_CONSOLE, encoding="utf-8")
    out = analyze_json(log)
    assert out == analyze_json(log)
    text = out.decode()
    tokens: set[str] = set()

    def collect(obj: object) -> None:
        if isinstance(obj, dict):
            for v in obj.values():
                collect(v)
        elif isinstance(obj, list):
            for v in obj:
                collect(v)
        elif isinstance(obj, str) and obj.strip().lower().lstrip("+-") in {"nan", "inf", "infinity"}:
            tokens.add(obj)

    def refuse(name: str) -> None:
        raise AssertionError(f"bare {name} in strict JSON")

    collect(json.loads(text, parse_constant=refuse))
    assert tokens, "the report shows no non-finite value: the test lost its subject"
    assert tokens <= set(NONFINITE_TOKENS)
