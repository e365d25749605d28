"""A throwaway PostgreSQL cluster (Debian's ``postgresql`` package), for the tests and the
benchmarks: plain functions, no pytest here.

``cluster()`` runs ``initdb`` and ``pg_ctl`` in a temporary folder, listening on a unix
socket only (``listen_addresses = ''``), and stops and removes it at the end. PostgreSQL
refuses to run as root, so as root the cluster runs as the ``postgres`` user (through
``runuser``). Anything that keeps it from starting raises :class:`ClusterError` with the
reason. tests/conftest.py turns this into the ``pg_cluster``, ``pg_url`` and
``pg_store_url`` fixtures; bench/server.py uses it directly.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

#: The port of the tests' cluster (only the socket file's name: no TCP is opened).
PORT = 54329


class ClusterError(RuntimeError):
    """The throwaway cluster could not be started (the message says why)."""


class NotInstalled(ClusterError):
    """PostgreSQL's server binaries are not installed."""


def in_ci() -> bool:
    """Whether ``$CI`` says this is a CI run (``true``, ``1``: anything but ``0``/``false``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl`` (the newest installed version), or None."""
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
        raise ClusterError(
            f"cannot start the test PostgreSQL cluster: {what} failed ({got.returncode}):\n"
            f"{got.stdout}\n{got.stderr}"
        )


@contextlib.contextmanager
def cluster(port: int = PORT, *, fsync: bool = False) -> Iterator[Path]:
    """A running throwaway cluster; yields its unix-socket folder. ``fsync=False`` (tests)
    trades durability for speed; a benchmark of durable ingest passes ``fsync=True``."""
    bin_ = bindir()
    if bin_ is None:
        raise NotInstalled(
            "PostgreSQL is not installed: scripts/bootstrap installs Debian's 'postgresql' "
            "package (apt-get install postgresql)"
        )
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        raise ClusterError("running as root needs runuser to start PostgreSQL as postgres")
    root = Path(tempfile.mkdtemp(prefix="losslens-pg-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        root.chmod(0o755)
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sock, "postgres", "postgres")
    started = False
    try:
        init = [str(bin_ / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                "-E", "UTF8", "--locale=C.UTF-8"]  # fmt: skip
        _run(init if fsync else [*init, "--no-sync"], "initdb")
        opts = f"-c listen_addresses='' -c unix_socket_directories='{sock}' -p {port}"
        if not fsync:
            opts += " -c fsync=off"
        _run(
            [str(bin_ / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"),
             "-w", "-t", "60", "start"],
            "pg_ctl start (log: " + str(root / "log") + ")",
        )  # fmt: skip
        started = True
        yield sock
    finally:
        if started:
            subprocess.run(
                _as_owner([str(bin_ / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                capture_output=True,
                timeout=60,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def url(sock: Path, port: int, db: str, *, driver: str = "postgresql") -> str:
    """The URL of database ``db`` of the cluster (``driver``: e.g. ``postgresql+psycopg``
    for SQLAlchemy)."""
    return f"{driver}://postgres@/{db}?host={sock}&port={port}"


def new_database(
    sock: Path, port: int = PORT, prefix: str = "t_", *, template: str | None = None
) -> str:
    """Create a new database (a copy of ``template`` when given); returns its name."""
    import psycopg

    name = prefix + uuid.uuid4().hex[:12]
    # a copy of a template that has the schema: about 5x faster than running the migrations
    suffix = f" TEMPLATE {template}" if template else ""
    with psycopg.connect(url(sock, port, "postgres"), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}{suffix}")
    return name


def drop_database(sock: Path, port: int, name: str) -> None:
    """Drop a database, closing any connection still open to it (the cluster stays small)."""
    import psycopg

    with psycopg.connect(url(sock, port, "postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
