"""Shared fixtures: every test runs with its own store and no network-bound tool settings."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: A verbatim copy of ../shared/corpus (with its README), so the tests need only this repository.
CORPUS = ROOT / "corpus" / "shared"
#: bench/ holds the baselines some tests compare against (bench/baselines.py).
sys.path.append(str(ROOT / "bench"))


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path / "losslens-home"
    monkeypatch.setenv("LOSSLENS_HOME", str(home))
    monkeypatch.delenv("LOSSLENS_STORE", raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("LOSSLENS_SYSTEM_INTERVAL", "0.2")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    yield


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
def corpus() -> Path:
    assert (CORPUS / "README.md").is_file(), f"the test corpus is missing: {CORPUS}"
    return CORPUS


@pytest.fixture
def python() -> str:
    return sys.executable
