"""Helpers for the training tests: the CLI as a subprocess and the example data."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from train_helpers import EXAMPLE_DATA, CliRunner


@pytest.fixture
def example_data() -> Path:
    return EXAMPLE_DATA


@pytest.fixture
def cli(tmp_path: Path) -> CliRunner:
    """Run ``python -m losslens ARGS`` in tmp_path with the test's environment."""

    def run(
        args: Sequence[str], *, timeout: float = 240, launcher: Sequence[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [*(launcher or [sys.executable]), "-m", "losslens", *args]
        env = dict(os.environ, COLUMNS="120", PYTHONWARNINGS="ignore::DeprecationWarning")
        return subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout
        )

    return run
