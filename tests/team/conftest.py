"""A throwaway PostgreSQL cluster for the team-store tests (Debian's ``postgresql`` package).

One cluster per test session: ``initdb`` and ``pg_ctl`` in a temporary folder, listening on
a unix socket only (``listen_addresses = ''``), stopped and removed at the end. PostgreSQL
refuses to run as root, so as root the cluster runs as the ``postgres`` user. When it cannot
start, the tests that need it fail with the reason; only where the binaries are missing
altogether and this is not CI do they skip, naming the package to install.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PORT = 54329


def _bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        cand = Path(out.stdout.strip())
        if (cand / "initdb").exists():
            return cand
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    return Path(found[-1]).parent if found else None


def _version_key(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], what: str) -> None:
    got = subprocess.run(_as_owner(cmd), capture_output=True, text=True, timeout=120, check=False)
    if got.returncode != 0:
        pytest.fail(
            f"cannot start the test PostgreSQL cluster: {what} failed ({got.returncode}):\n"
            f"{got.stdout}\n{got.stderr}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Path]:
    """The unix-socket folder of a running throwaway cluster."""
    bindir = _bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(
                "PostgreSQL is not installed: scripts/bootstrap installs Debian's 'postgresql' "
                "package (apt-get install postgresql)",
                pytrace=False,
            )
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.fail("running as root needs runuser to start PostgreSQL as postgres", pytrace=False)
    root = Path(tempfile.mkdtemp(prefix="losslens-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        root.chmod(0o755)
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    started = False
    try:
        _run(
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
            "initdb",
        )  # fmt: skip
        opts = f"-c listen_addresses='' -c unix_socket_directories='{sock}' -p {PORT} -c fsync=off"
        _run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
             "-w", "-t", "60", "start"],
            "pg_ctl start (log: " + str(root / "log") + ")",
        )  # fmt: skip
        started = True
        yield sock
    finally:
        if started:
            subprocess.run(
                _as_owner([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def _url(sock: Path, db: str) -> str:
    return f"postgresql://postgres@/{db}?host={sock}&port={PORT}"


@pytest.fixture
def pg_url(pg_cluster: Path) -> str:
    """A new, empty database in the cluster (no losslens schema yet)."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(_url(pg_cluster, "postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return _url(pg_cluster, name)


@pytest.fixture
def pg_store_url(pg_url: str) -> str:
    """A database with the losslens schema applied."""
    from losslens.store.pg_schema import upgrade

    upgrade(pg_url)
    return pg_url
