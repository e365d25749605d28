"""The recorder under faults: bad calls rejected in log(), a full disk, a deleted store,
a bounded queue, wandb-style resume, a config that holds itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import losslens
from losslens.errors import StoreError
from losslens.model import RunStatus
from losslens.store import Store


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (root only: skipped with the reason when it cannot be mounted)."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_bad_key_is_rejected_in_log_and_recording_goes_on(store_path: Path) -> None:
    run = losslens.init(project="p", dir=store_path, system_metrics=False)
    run.log({"loss": 1.0})
    with pytest.raises(TypeError, match="must be strings"):
        run.log({("a", "b"): 1.0})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="must be strings"):
        run.log({"nested": {3: 1.0}})
    assert run.step == 1  # a refused call does not move the step counter
    for i in range(1, 100):
        run.log({"loss": 1.0 / (i + 1)})
    run.finish()
    with Store(store_path) as store:
        info = store.get_run(run.id)
        assert info.status is RunStatus.FINISHED
        assert store.count_points(run.id) == 100
        assert list(store.series(run.id, "loss").steps) == list(range(100))


def test_bad_steps_raise_like_wandb(store_path: Path) -> None:
    run = losslens.init(project="p", dir=store_path, system_metrics=False)
    with pytest.raises(TypeError, match="step must be an integer"):
        run.log({"loss": 1.0}, step=2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="step must be an integer"):
        run.log({"loss": 1.0}, step=True)
    with pytest.raises(ValueError, match="64-bit"):
        run.log({"loss": 1.0}, step=2**70)
    looped: dict[str, object] = {}
    looped["me"] = looped
    with pytest.raises(ValueError, match="nested"):
        run.log(looped)
    run.log({"loss": 1.0}, step=2**63 - 1)  # the largest step is fine
    run.log({"loss": 2.0}, step=-5)
    run.finish()
    with Store(store_path) as store:
        assert list(store.series(run.id, "loss").steps) == [-5, 2**63 - 1]
        assert store.get_run(run.id).status is RunStatus.FINISHED


def test_deleting_the_store_while_logging_is_reported_by_finish(
    store_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run = losslens.init(project="p", dir=store_path, system_metrics=False, flush_interval=0.05)
    run.log({"loss": 1.0})
    run.flush()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    for i in range(50):
        run.log({"loss": float(i)})
    with pytest.raises(StoreError, match="deleted while this run was logging"):
        run.finish()
    assert not store_path.exists()  # no new, empty store made in its place
    err = capfd.readouterr().err
    assert "was deleted while this run was logging" in err


def test_the_queue_is_bounded_with_back_pressure(store_path: Path) -> None:
    run = losslens.init(
        project="p", dir=store_path, system_metrics=False, max_queue=64, flush_interval=5
    )
    longest = 0
    for _i in range(20_000):
        run.log({"loss": 1.0, "lr": 0.1})
        longest = max(longest, len(run._writer.queue))
    run.finish()
    assert longest <= 64
    with Store(store_path) as store:
        assert store.count_points(run.id) == 40_000  # back-pressure: nothing dropped
        assert store.get_run(run.id).status is RunStatus.FINISHED


def test_resume_continues_the_same_run_like_wandb(store_path: Path) -> None:
    run = losslens.init(project="p", id="abc123", dir=store_path, system_metrics=False)
    for _i in range(10):
        run.log({"loss": 1.0})
    run.finish()
    with pytest.raises(ValueError, match="resume='allow'"):
        losslens.init(project="p", id="abc123", dir=store_path, system_metrics=False)
    with pytest.raises(ValueError, match="no run with id 'nope'"):
        losslens.init(id="nope", resume="must", dir=store_path, system_metrics=False)
    with pytest.raises(ValueError, match="by its id"):
        losslens.init(resume=True, dir=store_path, system_metrics=False)
    again = losslens.init(id="abc123", resume="allow", dir=store_path, system_metrics=False)
    assert again.id == "abc123" and again.step == 10
    again.log({"loss": 0.5})
    again.finish()
    with Store(store_path) as store:
        assert len(store.list_runs()) == 1
        assert list(store.series("abc123", "loss").steps) == list(range(11))
        assert store.get_run("abc123").status is RunStatus.FINISHED


def test_a_config_that_holds_itself_does_not_stop_the_run(store_path: Path) -> None:
    cfg: dict[str, object] = {"lr": 1e-4}
    cfg["self"] = cfg
    run = losslens.init(project="p", config=cfg, dir=store_path, system_metrics=False)
    run.config.update({"again": cfg})
    run.log({"loss": 1.0})
    run.finish()
    with Store(store_path) as store:
        info = store.get_run(run.id)
        assert info.status is RunStatus.FINISHED
        assert info.config["lr"] == 1e-4
        assert "<cycle>" in json.dumps(info.config)


DISK_FULL = """
import sys
import losslens
run = losslens.init(project="full", dir=sys.argv[1], system_metrics=False)
for step in range(300_000):
    run.log({"loss": 1.0 / (step + 1), "lr": 1e-4})
run.finish()
"""


def test_disk_full_is_reported_at_once_and_the_run_is_not_finished(
    tmpfs: Path, tmp_path: Path
) -> None:
    store = tmpfs / "losslens.db"
    script = tmp_path / "full.py"
    script.write_text(textwrap.dedent(DISK_FULL))
    proc = subprocess.run(
        [sys.executable, str(script), str(store)],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ,
    )
    assert proc.returncode != 0  # finish() raised StoreError: the script did not end well
    assert "database or disk is full" in proc.stderr
    assert "SQLITE_FULL" in proc.stderr
    assert "cannot rollback" not in proc.stderr
    assert "points were not recorded" in proc.stderr
    with Store(store, readonly=True) as s:
        (info,) = s.list_runs()
        assert info.status is not RunStatus.FINISHED
        assert s.count_points(info.id) < 600_000


def test_recording_resumes_when_space_returns(tmpfs: Path) -> None:
    store = tmpfs / "losslens.db"
    run = losslens.init(project="p", dir=store, system_metrics=False, flush_interval=0.05)
    run.log({"loss": 1.0})
    run.flush()
    filler = tmpfs / "filler"
    with open(filler, "wb") as f:  # take all the space that is left
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    for i in range(1, 20_000):
        run.log({"loss": 1.0 / (i + 1), "lr": 1e-4})
    with pytest.raises(StoreError, match="full"):
        run.flush()
    filler.unlink()  # space returns
    deadline = time.monotonic() + 60
    while run._writer.error is not None:
        assert time.monotonic() < deadline, "recording did not resume"
        time.sleep(0.05)
    run.finish()
    with Store(store) as s:
        assert s.count_points(run.id) == 1 + 2 * 19_999  # nothing lost
        assert s.get_run(run.id).status is RunStatus.FINISHED


def test_escape_sequences_in_names_from_the_api_never_reach_the_terminal(
    store_path: Path,
) -> None:
    evil = "evil\x1b]0;pwned\x07\x1b[2J\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\u202e"
    run = losslens.init(
        project=evil, name=evil, config={evil: evil}, dir=store_path, system_metrics=False
    )
    for i in range(30):
        run.log({f"train/loss{evil}": 1.0 / (i + 1), "train/loss": 2.0 / (i + 1)})
    run.summary[evil] = evil
    run.finish()
    for args in (
        ("runs",),
        ("show", run.id),
        ("analyze", run.id),
        ("analyze", run.id, "--format", "markdown"),
        ("show", evil[:3] + "\x1b[2J"),  # an error message naming what was typed
    ):
        res = subprocess.run(
            [sys.executable, "-m", "losslens", *args, "--store", str(store_path)],
            capture_output=True,
            text=True,
            timeout=120,
            env=os.environ,
        )
        out = res.stdout + res.stderr
        assert "Traceback" not in out
        for ch in ("\x1b", "\x07", "\u202e"):
            assert ch not in out, (args, out[:1000])
        if args[0] != "show" or len(args[1]) == 8:
            assert "\\x1b" in out, (args, out[:1000])
