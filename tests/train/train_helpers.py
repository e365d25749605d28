"""Shared constants and types of the training tests (imported by module name, like conftest)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DATA = ROOT / "examples" / "mini_instruct.jsonl"

#: Small enough for 2 CPU cores: the tiny model, chats cut at 64 tokens, 2 per step.
FAST = ["--model", "tiny", "--cutoff_len", "64", "--gradient_accumulation_steps", "2"]

CliRunner = Callable[..., subprocess.CompletedProcess[str]]
