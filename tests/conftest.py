"""Shared fixtures: every test runs with its own store and no network-bound tool settings;
the PostgreSQL ones (``pg_cluster``, ``pg_url``, ``pg_store_url``) share one throwaway
cluster per session (tests/pgcluster.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pgcluster

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


# -- PostgreSQL: one throwaway cluster per session (tests/pgcluster.py) ---------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Path]:
    """The unix-socket folder of a running throwaway cluster. A test that needs it fails
    when it cannot start; it skips only where PostgreSQL is not installed and this is not
    CI (in CI, ``$CI=true``, that fails too)."""
    try:
        started = pgcluster.cluster(pgcluster.PORT)
        sock = started.__enter__()
    except pgcluster.ClusterError as exc:
        failure = exc
    else:
        try:
            yield sock
        finally:
            started.__exit__(None, None, None)
        return
    if isinstance(failure, pgcluster.NotInstalled) and not pgcluster.in_ci():
        pytest.skip(str(failure))
    ci = " (CI=true: a test that needs PostgreSQL fails without it)" if pgcluster.in_ci() else ""
    pytest.fail(f"{failure}{ci}", pytrace=False)


@pytest.fixture(scope="session")
def _pg_template(pg_cluster: Path) -> str:
    """A database with the losslens schema, upgraded once: the template of ``pg_store_url``."""
    from losslens.store.pg_schema import upgrade

    name = pgcluster.new_database(pg_cluster, pgcluster.PORT, "template_")
    upgrade(pgcluster.url(pg_cluster, pgcluster.PORT, name))
    return name


@pytest.fixture
def pg_url(pg_cluster: Path) -> Iterator[str]:
    """A new, empty database in the cluster (no losslens schema yet), dropped afterwards."""
    name = pgcluster.new_database(pg_cluster)
    yield pgcluster.url(pg_cluster, pgcluster.PORT, name)
    pgcluster.drop_database(pg_cluster, pgcluster.PORT, name)


@pytest.fixture
def pg_store_url(pg_cluster: Path, _pg_template: str) -> Iterator[str]:
    """A new database with the losslens schema applied (a copy of the template), dropped
    afterwards."""
    name = pgcluster.new_database(pg_cluster, template=_pg_template)
    yield pgcluster.url(pg_cluster, pgcluster.PORT, name)
    pgcluster.drop_database(pg_cluster, pgcluster.PORT, name)
