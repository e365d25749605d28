"""A W&B run whose display name is an escape sequence never reaches the terminal raw.

The run is written by the real ``wandb`` package (offline mode, in a subprocess, as a user's
training script would), imported with ``losslens import`` and shown by ``losslens runs`` and
``losslens show``: stdout and stderr hold visible escapes (``\\x1b``), never ESC or BEL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from extras import needs

needs("wandb")

#: Printed raw, this sets the window title to "pwned" and clears the screen.
HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J"
RAW = ("\x1b", "\x07", "\x9b")

WRITER = """
import sys
import wandb

run = wandb.init(project="hostile", name=sys.argv[1], config={"lr": 1e-4})
for step in range(1, 21):
    run.log({"train/loss": 3.0 / step}, step=step)
run.finish()
"""


def losslens(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losslens", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )


def assert_no_raw_control(proc: subprocess.CompletedProcess[str]) -> None:
    for stream in (proc.stdout, proc.stderr):
        for ch in RAW:
            assert ch not in stream, repr(stream[:2000])


@pytest.fixture(scope="module")
def wandb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wandb")
    env = dict(
        os.environ,
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_DIR=str(root),
        WANDB_CACHE_DIR=str(root / "cache"),
        WANDB_CONFIG_DIR=str(root / "config"),
        WANDB_DISABLE_GIT="true",
        WANDB_DISABLE_CODE="true",
    )
    proc = subprocess.run(
        [sys.executable, "-c", WRITER, HOSTILE],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=root,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = list(root.rglob("run-*.wandb"))
    assert len(files) == 1, files
    return files[0].parent


def test_a_hostile_wandb_display_name_is_shown_escaped(wandb_dir: Path, tmp_path: Path) -> None:
    env = dict(os.environ, LOSSLENS_STORE=str(tmp_path / "store.db"))
    imported = losslens("import", str(wandb_dir), env=env)
    assert imported.returncode == 0, imported.stderr
    assert_no_raw_control(imported)

    listed = losslens("runs", env=env)
    assert listed.returncode == 0, listed.stderr
    assert_no_raw_control(listed)
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J" in listed.stdout

    as_json = losslens("runs", "--json", env=env)
    assert_no_raw_control(as_json)
    (row,) = json.loads(as_json.stdout)
    assert row["name"] == HOSTILE  # the data keeps the name; only the terminal sees escapes

    for args in (("show", row["id"]), ("show", HOSTILE), ("analyze", row["id"])):
        shown = losslens(*args, env=env)
        assert shown.returncode in (0, 1), shown.stderr
        assert_no_raw_control(shown)
        assert "\\x1b" in shown.stdout + shown.stderr, args
