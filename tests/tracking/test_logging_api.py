"""The wandb-style logging API against a real store file."""

from __future__ import annotations

import argparse
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import losslens
import losslens as wandb
from extras import needs
from losslens.errors import ConfigError, StoreError
from losslens.model import RunStatus
from losslens.store import Store


@pytest.fixture(autouse=True)
def _no_active_run() -> None:
    yield
    losslens.finish()


def _points(path: Path, run_id: str) -> list[tuple[str, int, object]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT key, step, value FROM metrics WHERE run_id = ? ORDER BY key, step, wall_time",
            (run_id,),
        ).fetchall()


def test_import_losslens_as_wandb(store_path: Path) -> None:
    run = wandb.init(project="compat", name="first", config={"lr": 2e-4}, dir=store_path)
    assert wandb.run is run
    wandb.config.update({"batch_size": 8})
    wandb.config.epochs = 3
    for i in range(5):
        wandb.log({"train/loss": 2.0 - i * 0.1, "train/lr": 2e-4})
    wandb.summary["best_loss"] = 1.6
    assert wandb.summary["train/loss"] == pytest.approx(1.6)  # the last logged value
    assert run.step == 5
    wandb.finish()
    assert wandb.run is None
    with Store(store_path) as store:
        info = store.get_run("first")
        assert info.project == "compat"
        assert info.status is RunStatus.FINISHED
        assert info.config == {"lr": 2e-4, "batch_size": 8, "epochs": 3}
        assert info.summary["best_loss"] == 1.6
        assert info.summary["train/loss"] == pytest.approx(1.6)
        s = store.series(info.id, "train/loss")
        assert s.steps.tolist() == [0, 1, 2, 3, 4]
        assert info.pid is not None and info.host and info.command


def test_step_and_commit_semantics_match_wandb(store_path: Path) -> None:
    run = losslens.init(project="steps", dir=store_path, system_metrics=False)
    run.log({"a": 1})  # step 0, counter -> 1
    run.log({"b": 1}, commit=False)  # step 1, counter stays 1
    run.log({"c": 1})  # step 1, counter -> 2
    assert run.step == 2
    run.log({"d": 1}, step=10)  # step 10; counter -> 10, not committed yet
    assert run.step == 10
    run.log({"e": 1})  # still step 10, then counter -> 11
    assert run.step == 11
    run.log({"f": 1}, step=20, commit=True)  # step 20, counter -> 21
    assert run.step == 21
    run.log({"g": 1}, step=5)  # an older step: kept, counter does not go back
    assert run.step == 21
    run.log({"h": 1}, step=np.int64(30))
    run.log({}, commit=True)  # an empty commit only moves the counter
    assert run.step == 31
    run.finish()
    assert _points(store_path, run.id) == [
        ("a", 0, 1),
        ("b", 1, 1),
        ("c", 1, 1),
        ("d", 10, 1),
        ("e", 10, 1),
        ("f", 20, 1),
        ("g", 5, 1),
        ("h", 30, 1),
    ]


def test_value_kinds_through_log(store_path: Path) -> None:
    values = {
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "huge": 1e308,
        "tiny": 5e-324,
        "negzero": -0.0,
        "bigint": 2**53 + 1,
        "overflow": 2**70,
        "np32": np.float32(0.5),
        "npint": np.int64(2**60 + 1),
        "bool": True,
        "tensor": needs("torch", "train").tensor(0.25),
        "손실": 1.0,
    }
    run = losslens.init(project="값", name="런 ✓", dir=store_path, system_metrics=False)
    run.log(values)
    run.finish()
    got = {k: v for k, _, v in _points(store_path, run.id)}
    assert got["nan"] is None  # NaN is stored as NULL
    assert got["inf"] == math.inf and got["ninf"] == -math.inf
    assert got["huge"] == 1e308 and got["tiny"] == 5e-324
    assert math.copysign(1.0, got["negzero"]) == -1.0  # type: ignore[arg-type]
    assert got["bigint"] == 2**53 + 1
    assert got["overflow"] == float(2**70)
    assert got["np32"] == 0.5 and got["npint"] == 2**60 + 1
    assert got["bool"] == 1 and got["tensor"] == 0.25 and got["손실"] == 1.0
    with Store(store_path) as store:
        info = store.get_run("런 ✓")
        assert info.project == "값"
        assert math.isnan(info.summary["nan"])
        assert info.summary["bigint"] == 2**53 + 1


def test_nested_dicts_and_non_scalars(store_path: Path) -> None:
    run = losslens.init(project="p", dir=store_path, system_metrics=False)
    with pytest.warns(UserWarning) as caught:
        run.log({"eval": {"loss": 1.0, "acc": {"top1": 0.5}}, "text": "hello", "list": [1]})
        run.log({"text": "again"})  # one warning per key
    assert sorted(str(w.message).split("'")[1] for w in caught) == ["list", "text"]
    assert caught[0].filename == __file__  # points at the caller's line
    with pytest.warns(UserWarning, match="'vector'"):
        run.log({"vector": needs("torch", "train").ones(3), "ok": 2.0})
    run.finish()
    keys = {k for k, _, _ in _points(store_path, run.id)}
    assert keys == {"eval/loss", "eval/acc/top1", "ok"}


def test_bad_calls_raise_clear_errors(store_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"losslens.init\(\)"):
        losslens.log({"a": 1.0})
    run = losslens.init(project="p", dir=store_path, system_metrics=False)
    with pytest.raises(TypeError, match="dict of metric name"):
        run.log([1.0, 2.0])  # type: ignore[arg-type]
    run.finish()
    with pytest.raises(RuntimeError, match="finished"):
        run.log({"a": 1.0})
    run.finish()  # a second finish is harmless


def test_flush_makes_points_visible_to_other_readers(store_path: Path) -> None:
    run = losslens.init(project="p", dir=store_path, system_metrics=False, flush_interval=60)
    for i in range(100):
        run.log({"x": float(i)})
    run.config.update(argparse.Namespace(seed=7))
    run.flush()
    with Store(store_path) as store:  # another connection, while the run goes on
        assert len(store.series(run.id, "x")) == 100
        info = store.get_run(run.id)
        assert info.status is RunStatus.RUNNING
        assert info.config == {"seed": 7}
        assert info.summary["x"] == 99.0
    run.finish()


def test_context_manager_sets_status(store_path: Path) -> None:
    with losslens.init(project="p", name="ok", dir=store_path, system_metrics=False) as run:
        run.log({"x": 1.0})
    with (
        pytest.raises(ZeroDivisionError),
        losslens.init(project="p", name="boom", dir=store_path, system_metrics=False) as run,
    ):
        run.log({"x": 1.0})
        _ = 1 / 0
    with (
        pytest.raises(KeyboardInterrupt),
        losslens.init(project="p", name="ctrl-c", dir=store_path, system_metrics=False),
    ):
        raise KeyboardInterrupt
    with Store(store_path) as store:
        assert store.get_run("ok").status is RunStatus.FINISHED
        boom = store.get_run("boom")
        assert boom.status is RunStatus.FAILED and boom.exit_code == 1
        assert store.count_points(boom.id) == 1
        assert store.get_run("ctrl-c").status is RunStatus.KILLED


def test_init_again_finishes_the_previous_run(store_path: Path) -> None:
    first = losslens.init(project="p", dir=store_path, system_metrics=False)
    first.log({"x": 1.0})
    second = losslens.init(project="p", dir=store_path, system_metrics=False)
    assert losslens.run is second
    losslens.finish(exit_code=3)
    with Store(store_path) as store:
        assert store.get_run(first.id).status is RunStatus.FINISHED
        failed = store.get_run(second.id)
        assert failed.status is RunStatus.FAILED and failed.exit_code == 3
        assert [r.name for r in store.list_runs("p")] == ["run-2", "run-1"]


def test_store_from_environment_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = losslens.init(project="home", system_metrics=False)
    run.finish()
    assert run.store_path == tmp_path / "losslens-home" / "losslens.db"
    monkeypatch.setenv("LOSSLENS_STORE", str(tmp_path / "env.db"))
    monkeypatch.setenv("LOSSLENS_PROJECT", "from-env")
    run = losslens.init(system_metrics=False)
    run.finish()
    with Store(tmp_path / "env.db") as store:
        assert store.get_run(run.id).project == "from-env"


def test_a_store_failure_surfaces_at_finish(
    store_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    run = losslens.init(project="p", dir=store_path, system_metrics=False)
    run.log({"x": 1.0})
    run.flush()
    with Store(store_path) as store:
        store.delete_run(run.id)  # someone deletes the run while it is being recorded
    for i in range(1000):
        run.log({"x": float(i)})
    with pytest.raises(StoreError, match=f"could not record run {run.id}.*deleted"):
        run.flush()
    # reported at once, on stderr, in one line
    err = capfd.readouterr().err
    assert f"cannot write to {store_path}: run {run.id} was deleted" in err
    assert len(err.strip().splitlines()) == 1
    for _ in range(1000):  # logging goes on without error and without piling up
        run.log({"x": 0.0})
    with pytest.raises(StoreError, match="2,000 points were not recorded"):
        run.finish()
    assert len(run._writer.queue) == 0


def test_a_postgres_url_in_losslens_store_still_records_locally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LOSSLENS_STORE=postgresql://… is for the read commands; recording stays local-first."""
    monkeypatch.setenv("LOSSLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LOSSLENS_STORE", "postgresql://someone@/team")
    monkeypatch.chdir(tmp_path)
    run = losslens.init(project="p", system_metrics=False)
    run.log({"loss": 1.0})
    run.finish()
    assert run.store_path == tmp_path / "home" / "losslens.db"
    assert _points(run.store_path, run.id) == [("loss", 0, 1.0)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no "postgresql:" folder
    with pytest.raises(ConfigError, match="local folder"):
        losslens.init(project="p", dir="postgresql://someone@/team")
