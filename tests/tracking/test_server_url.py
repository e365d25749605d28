"""A server that is not an http(s) URL is a one-line error before anything is recorded:
from ``losslens.init(server=...)``, from ``LOSSLENS_SERVER`` and from ``losslens sync``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import losslens
from losslens.errors import ConfigError


@pytest.mark.parametrize("via", ["argument", "environment"])
def test_a_server_that_is_not_a_url_is_refused_before_the_run_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via: str
) -> None:
    monkeypatch.setenv("LOSSLENS_HOME", str(tmp_path / "home"))
    kwargs = {"server": "gpu-box:8766"} if via == "argument" else {}
    if via == "environment":
        monkeypatch.setenv("LOSSLENS_SERVER", "gpu-box:8766")
    with pytest.raises(ConfigError, match="must be an http:// or https:// URL"):
        losslens.init(project="p", token="ll_x", **kwargs)
    assert not (tmp_path / "home").exists()  # no store, no run


def test_losslens_sync_with_a_bad_server_is_one_line(tmp_path: Path) -> None:
    got = subprocess.run(
        [sys.executable, "-m", "losslens", "sync", "--server", "gpu-box:8766", "--token", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LOSSLENS_HOME": str(tmp_path)},
    )
    assert got.returncode == 2
    assert got.stderr.splitlines()[0] == (
        "losslens: error: the server must be an http:// or https:// URL, not 'gpu-box:8766'"
    )
    assert "Traceback" not in got.stderr
