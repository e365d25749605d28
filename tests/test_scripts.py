"""scripts/bootstrap and scripts/demo: what gets installed, in which order, from where.

The scripts run for real (bash) in a copy of the repository whose ``.venv`` holds a
stand-in Python that records each pip call instead of downloading gigabytes; ``import
torch`` fails until a torch install was recorded, and ``torch.version.cuda`` answers
what the test says the index served.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FAKE_PYTHON = r"""#!/usr/bin/env bash
log="$(dirname "$0")/../calls.log"
if [ "$1" = "-W" ]; then shift 2; fi
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  shift 2; echo "pip $*" >> "$log"
  case "$*" in *torch*) touch "$(dirname "$0")/../torch-installed" ;; esac
  exit 0
fi
if [ "$1" = "-c" ]; then
  case "$2" in
    *urlopen*) [ "${FAKE_CPU_INDEX:-up}" = up ]; exit $? ;;
    *torch.version.cuda*) echo "${FAKE_CUDA:-}"; exit 0 ;;
    *torch.__version__*) echo "2.13.0+cpu"; exit 0 ;;
    *"import torch"*) [ -f "$(dirname "$0")/../torch-installed" ]; exit $? ;;
  esac
fi
exit 0
"""


def fake_checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    for name in ("bootstrap", "demo"):
        shutil.copy2(ROOT / "scripts" / name, repo / "scripts" / name)
    shutil.copy2(ROOT / "pyproject.toml", repo / "pyproject.toml")
    bin_ = repo / ".venv" / "bin"
    bin_.mkdir(parents=True)
    python = bin_ / "python"
    python.write_text(FAKE_PYTHON)
    pip = bin_ / "pip"
    pip.write_text('#!/usr/bin/env bash\nexec "$(dirname "$0")/python" -m pip "$@"\n')
    for exe in (python, pip):
        exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return repo


def run(repo: Path, script: str, *args: str, **env: str) -> tuple[str, list[str]]:
    # PATH without nvidia-smi: a machine with no GPU
    path = ":".join(p for p in ("/usr/bin", "/bin") if Path(p).is_dir())
    proc = subprocess.run(
        ["bash", str(repo / "scripts" / script), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": path, "HOME": str(repo), **env},
    )
    log = repo / ".venv" / "calls.log"
    calls = log.read_text().splitlines() if log.exists() else []
    return proc.stdout + proc.stderr, calls


def torch_calls(calls: list[str]) -> list[str]:
    return [c for c in calls if "torch" in c]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    return fake_checkout(tmp_path)


def test_cpu_torch_comes_first_from_the_cpu_index(repo: Path) -> None:
    out, calls = run(repo, "bootstrap")
    torch = torch_calls(calls)
    assert len(torch) == 1 and "--index-url https://download.pytorch.org/whl/cpu" in torch[0]
    assert calls.index(torch[0]) < calls.index("pip install -q -e .[all,dev]")
    assert "CPU build" in out
    assert (repo / ".venv" / ".losslens-installed").exists()


def test_unreachable_cpu_index_falls_back_and_says_which_build(repo: Path) -> None:
    out, calls = run(repo, "bootstrap", FAKE_CPU_INDEX="down", FAKE_CUDA="12.8")
    (torch,) = torch_calls(calls)
    assert "--index-url" not in torch
    assert "cannot be reached" in out
    assert "CUDA 12.8 build of torch" in out  # checked with torch.version.cuda


def test_demo_installs_the_demo_extra_only(repo: Path) -> None:
    _, calls = run(repo, "bootstrap", "demo")
    installs = [c for c in calls if " -e " in c]
    assert installs == ["pip install -q -e .[demo]"]
    _, again = run(repo, "bootstrap", "demo")
    assert again == calls  # stamped: nothing installed twice


def test_the_demo_extra_is_enough_for_the_demo() -> None:
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    names = {d.split(">")[0].split("=")[0].split(";")[0].strip() for d in extras["demo"]}
    assert {"torch", "transformers", "trl", "peft", "datasets", "jinja2"} <= names
    assert not names & {"pytest", "mypy", "ruff", "playwright", "wandb", "mlflow"}
    assert "scripts/bootstrap demo" in (ROOT / "scripts" / "demo").read_text()
    assert os.access(ROOT / "scripts" / "bootstrap", os.X_OK)
