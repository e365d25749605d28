"""``losslens import`` end to end, in a subprocess: dedup, JSON report, errors as one line."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from importer_data import RUN, SOURCES

from losslens.importers.wandb_log import BLOCK

CLI = Callable[..., Any]


def test_import_directory_twice_no_duplicates(cli: CLI, tmp_path: Path) -> None:
    first = cli("import", RUN, "--json")
    assert first.code == 0, first.err
    data = first.json()
    formats = sorted(r["format"] for r in data["imported"])
    # trainer_state (latest only), console, TensorBoard, W&B, MLflow, trackio
    assert formats == sorted(
        ["hf_trainer_state", "hf_console", "tensorboard", "wandb", "mlflow", "trackio"]
    )
    reasons = {s["path"].split("/")[-2]: s["reason"] for s in data["skipped"]}
    assert "older checkpoint" in reasons["checkpoint-12"]
    # the copy of the console inside the W&B run folder is not a second run
    assert not any("output.log" in r["source"] for r in data["imported"])
    again = cli("import", RUN, "--json")
    assert again.code == 0
    d2 = again.json()
    assert d2["imported"] == []
    dup = [s for s in d2["skipped"] if s["reason"].startswith("already imported")]
    assert len(dup) == 6
    runs = cli("runs", "--json").json()
    assert len(runs) == 6


def test_project_name_and_text_output(cli: CLI) -> None:
    res = cli("import", SOURCES["trainer_state"], "--project", "p1", "--name", "mine")
    assert res.code == 0, res.err
    assert "imported" in res.out and "p1/mine" in res.out
    (run,) = cli("runs", "--json", "--project", "p1").json()
    assert run["name"] == "mine"


def test_bad_inputs_one_line_each(cli: CLI, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.json").write_bytes(b"")
    trunc = bad / "cut" / "trainer_state.json"
    trunc.parent.mkdir()
    # cut before its first log entry is whole (cut later, the entries before the break are
    # read: test_damaged_text)
    raw = SOURCES["trainer_state"].read_bytes()
    trunc.write_bytes(raw[: raw.index(b'"log_history"') + 40])
    binary = bad / "bin" / "trainer_state.json"
    binary.parent.mkdir()
    binary.write_bytes(b"\x00\x01\x02\xff" * 64)
    (bad / "noutf8.csv").write_bytes(b"step,loss\n1,\xff\n")
    (bad / "nostep.csv").write_text("run,score\nA,2\n")
    nothing = bad / "nothing"
    nothing.mkdir()
    (nothing / "README").write_text("hello\n")
    paths = [bad / "empty.json", trunc, binary, bad / "noutf8.csv", bad / "nostep.csv", nothing]
    res = cli("import", *paths)
    assert res.code == 2
    assert "Traceback" not in res.err
    lines = res.err.strip().splitlines()
    assert len(lines) == len(paths), res.err
    for line, path in zip(lines, paths, strict=True):
        assert line.startswith("losslens: error: ")
        assert path.name in line
    assert "empty" in lines[0]
    assert "line" in lines[1] and "JSON" in lines[1]
    assert "byte 0" in lines[2] and "binary" in lines[2]
    assert "line 2, byte 12" in lines[3]
    assert "no step column" in lines[4]
    assert "nothing importable" in lines[5]


def test_corrupted_wandb_partial_import_through_cli(cli: CLI, tmp_path: Path) -> None:
    src = next(SOURCES["wandb"].rglob("*.wandb"))
    f = tmp_path / src.name
    data = bytearray(src.read_bytes())
    data[BLOCK + 1000] ^= 0x55
    f.write_bytes(bytes(data))
    res = cli("import", f)
    assert res.code == 2
    assert "Traceback" not in res.err
    (line,) = res.err.strip().splitlines()
    assert "CRC mismatch" in line and "byte" in line and f.name in line and "kept" in line
    (run,) = cli("runs", "--json").json()
    assert run["id"] in line


def test_missing_path_and_json_errors(cli: CLI, tmp_path: Path) -> None:
    res = cli("import", tmp_path / "nope", "--json")
    assert res.code == 2
    assert res.json()["errors"][0]["message"].endswith("no such file or directory")
    assert len(res.err.strip().splitlines()) == 1


def test_forced_format_on_a_directory_copy(cli: CLI, tmp_path: Path) -> None:
    d = tmp_path / "copy"
    shutil.copytree(RUN / "output", d)
    res = cli("import", d, "--format", "tensorboard", "--json")
    assert res.code == 0, res.err
    assert [r["format"] for r in res.json()["imported"]] == ["tensorboard"]


def _run_in_pty(args: list[str], env: dict[str, str]) -> str:
    """Run a command with its stdout on a pseudo-terminal; return what it printed."""
    import os
    import pty
    import subprocess
    import sys

    main, sub = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "losslens", *args], stdout=sub, stderr=sub, env=env
    )
    os.close(sub)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(main)
    return b"".join(chunks).decode("utf-8", "replace")


def test_progress_bar_only_on_a_terminal(cli: CLI, tmp_path: Path, store_path: Path) -> None:
    import os

    big = tmp_path / "big.csv"
    big.write_text("step,loss\n" + "".join(f"{i},1.0\n" for i in range(50_000)))
    env = dict(os.environ, LOSSLENS_PROGRESS_DELAY="0", COLUMNS="100")
    out = _run_in_pty(["import", str(big), "--store", str(store_path)], env)
    assert "points" in out and "50,000 points" in out
    assert "\x1b[" in out  # rich drew (and cleared) a live display
    piped = cli("import", big, "--store", tmp_path / "other.db")
    assert "\x1b[" not in piped.out and "\r" not in piped.out
