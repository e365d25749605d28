"""The user's path outside training: reproducible analyze, careful report, careful import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "corpus" / "shared" / "qwen2_lora_23ex_console.txt"

#: A blog-style training script: its comments and a constant hold dicts that look logged.
TRAIN_PEFT = '''"""Fine-tune Qwen2 with LoRA (blog-style script)."""
import argparse
from transformers import TrainingArguments

# Expected log lines:
# {'loss': 2.8012, 'grad_norm': 1.838, 'learning_rate': 0.000198, 'epoch': 3.48}
EXAMPLE = {'loss': 1.5447, 'grad_norm': 1.88, 'learning_rate': 0.000186, 'epoch': 6.96}

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model_name_or_path", default="Qwen/Qwen2-0.5B-Instruct")
    print({'loss': 0.7899, 'grad_norm': 2.36, 'learning_rate': 0.000166, 'epoch': 10.43})

if __name__ == "__main__":
    main()
'''

MAKE_FIXTURES = """import json
rows = [{'loss': 2.0 - i * 0.1, 'learning_rate': 1e-4, 'epoch': i / 10} for i in range(10)]
for r in rows:
    print(r)
"""


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losslens", *args],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "json"])
def test_analyze_a_file_twice_prints_the_same(fmt: str) -> None:
    first, second = (run("analyze", str(CONSOLE), "--format", fmt) for _ in range(2))
    assert first.returncode == 0, first.stderr
    if fmt == "json":
        a, b = json.loads(first.stdout), json.loads(second.stdout)
        assert a["run"]["id"] == b["run"]["id"]
        a.pop("created_at", None), b.pop("created_at", None)
        assert a == b
    else:
        assert first.stdout == second.stdout


def test_the_run_id_follows_the_content(tmp_path: Path) -> None:
    copy = tmp_path / CONSOLE.name  # same name and bytes, another folder
    copy.write_bytes(CONSOLE.read_bytes())
    edited = tmp_path / "edited" / CONSOLE.name
    edited.parent.mkdir()
    edited.write_bytes(CONSOLE.read_bytes().replace(b"'loss': 0.0599", b"'loss': 0.0598"))
    ids = [
        json.loads(run("analyze", str(p), "--json").stdout)["run"]["id"]
        for p in (CONSOLE, copy, edited)
    ]
    assert ids[0] == ids[1] != ids[2]


@pytest.mark.parametrize("option", ["--html", "--md"])
def test_report_never_creates_folders(option: str, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "deeper" / "r.out"
    proc = run("report", str(CONSOLE), option, str(target))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first.startswith(f"losslens: error: cannot write {target}")
    assert "does not exist" in first
    assert not (tmp_path / "missing").exists()


def test_report_into_an_existing_folder_still_works(tmp_path: Path) -> None:
    proc = run("report", str(CONSOLE), "--html", str(tmp_path / "r.html"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r.html").stat().st_size > 1000


def test_import_skips_source_code(tmp_path: Path) -> None:
    logs = tmp_path / "project"
    logs.mkdir()
    (logs / "train_peft.py").write_text(TRAIN_PEFT, encoding="utf-8")
    (logs / "make_fixtures.py").write_text(MAKE_FIXTURES, encoding="utf-8")
    (logs / "train_peft").write_text("#!/usr/bin/env python\n" + TRAIN_PEFT, encoding="utf-8")
    (logs / "console.txt").write_bytes(CONSOLE.read_bytes())
    store = str(tmp_path / "s.db")
    proc = run("import", str(logs), "--store", store, "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [Path(r["source"]).name for r in data["imported"]] == ["console.txt"]
    skipped = {Path(s["path"]).name: s["reason"] for s in data["skipped"]}
    for name in ("train_peft.py", "make_fixtures.py", "train_peft"):
        assert skipped[name] == "not a training log", skipped


def test_a_script_named_explicitly_is_not_a_log(tmp_path: Path) -> None:
    script = tmp_path / "train_peft.py"
    script.write_text(TRAIN_PEFT, encoding="utf-8")
    for command in (["import", str(script), "--store", str(tmp_path / "s.db")], ["analyze"]):
        args = [*command, str(script)] if command == ["analyze"] else command
        proc = run(*args)
        assert proc.returncode == 2, proc.stdout
        assert "Traceback" not in proc.stderr
        assert "not a training log" in proc.stderr.splitlines()[0]


def test_the_epochs_fix_of_the_motivating_run_is_numbers_to_paste() -> None:
    proc = run("analyze", str(CONSOLE), "--json")
    assert proc.returncode == 0, proc.stderr
    (fix,) = [f for f in json.loads(proc.stdout)["findings"] if f["kind"] == "too_many_epochs"]
    text = json.dumps(fix, ensure_ascii=False)
    assert "--max_steps 9" in text and "--num_train_epochs 3" in text
    assert "logging_steps 10" in text and "--logging_steps 1" in text
