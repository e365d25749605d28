"""Tests of optional extras skip, naming the extra, when it is not installed.

``mod = needs("wandb", "wandb")`` imports the module or skips the test (or, at module level,
the file) with ``needs the 'wandb' extra: pip install -e '.[wandb]'``.
tests/test_optional_extras.py checks that every test goes through it.
"""

from __future__ import annotations

from types import ModuleType

import pytest

#: Import name -> the extra of pyproject.toml that installs it.
EXTRA_OF = {
    "torch": "train",
    "transformers": "train",
    "trl": "train",
    "peft": "train",
    "accelerate": "train",
    "datasets": "train",
    "tokenizers": "train",
    "bitsandbytes": "train",
    "pynvml": "gpu",
    "wandb": "wandb",
    "tensorboard": "tensorboard",
    "mlflow": "mlflow",
    "starlette": "ui",
    "uvicorn": "ui",
    "jinja2": "ui",
    "tsdownsample": "ui",
    "matplotlib": "ui",
    "psycopg": "team",
    "psycopg_pool": "team",
}


def reason(extra: str) -> str:
    return f"needs the '{extra}' extra: pip install -e '.[{extra}]'"


def needs(module: str, extra: str | None = None) -> ModuleType:
    """``module`` imported, or the test skipped with the extra that installs it named."""
    extra = extra or EXTRA_OF[module.split(".")[0]]
    return pytest.importorskip(module, reason=reason(extra))
