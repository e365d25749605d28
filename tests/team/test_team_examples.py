"""The deployment examples in examples/team (systemd unit, compose file, Dockerfile) stay valid:
every losslens command they run parses with today's CLI, and the extras they install exist."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import yaml

from losslens.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
TEAM = ROOT / "examples" / "team"


def _parses(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)  # argparse exits (SystemExit) on a bad option
    assert getattr(args, "func", None) is not None, argv


def test_systemd_unit_runs_real_commands() -> None:
    text = (TEAM / "losslens-server.service").read_text(encoding="utf-8")
    commands = re.findall(r"^ExecStart(?:Pre)?=(.+)$", text, flags=re.M)
    assert len(commands) == 2
    for line in commands:
        argv = shlex.split(line)
        assert argv[0].endswith("/losslens")
        _parses(argv[1:])
    assert "--host 127.0.0.1" in text  # loopback: TLS is the proxy's job
    assert re.search(r"^EnvironmentFile=", text, flags=re.M)


def test_compose_services_run_real_commands_on_the_same_database() -> None:
    compose = yaml.safe_load((TEAM / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"db", "migrate", "server"} <= set(services)
    for name in ("migrate", "server"):
        svc = services[name]
        assert (TEAM / svc["build"]["context"]).resolve() == ROOT
        assert (ROOT / svc["build"]["dockerfile"]).is_file()
        _parses(svc["command"])
        assert svc["environment"]["LOSSLENS_STORE"].startswith("postgresql://")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["server"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert all(p.startswith("127.0.0.1:") for p in services["server"]["ports"])


def test_dockerfile_installs_existing_extras_and_runs_the_server() -> None:
    text = (TEAM / "Dockerfile").read_text(encoding="utf-8")
    extras = re.search(r"'\.\[([a-z,]+)\]'", text)
    assert extras is not None
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    assert set(extras.group(1).split(",")) <= set(declared)
    cmd = re.search(r"^CMD (.+)$", text, flags=re.M)
    assert cmd is not None
    _parses(json.loads(cmd.group(1)))
