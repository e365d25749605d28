"""The team-store tests use the PostgreSQL fixtures of tests/conftest.py (``pg_cluster``,
``pg_url``, ``pg_store_url``): one throwaway cluster per session, shared with tests/store,
which runs its engine-neutral tests on both engines (tests/pgcluster.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def server(pg_store_url: str) -> Iterator[Any]:
    """A real ``losslens server`` process on a fresh migrated database, killed at the end."""
    from test_team_server_process import Server, free_port

    srv = Server(pg_store_url, free_port())
    srv.start()
    try:
        yield srv
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.kill()
