"""Fixtures for the importer tests: the shipped logs of one tiny Trainer run, and a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class CLIResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli(store_path: Path) -> Callable[..., CLIResult]:
    """Run ``losslens`` in a subprocess against the test's store."""

    def run(*args: str | os.PathLike[str], store: Path | None = None) -> CLIResult:
        cmd = [sys.executable, "-m", "losslens", *map(str, args)]
        if args and args[0] in ("import", "runs", "show"):
            cmd += ["--store", str(store or store_path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=os.environ)
        return CLIResult(proc)

    return run
