"""One live engine per run: the guard feeds it, the terminal view and the callback share it."""

from __future__ import annotations

import io
import math
from types import SimpleNamespace

import pytest
from rich.console import Console

from extras import needs
from losslens.analysis.live import LiveChecks, LiveEngine
from losslens.train.options import TrainOptions


def _state(step: int) -> SimpleNamespace:
    return SimpleNamespace(global_step=step, is_world_process_zero=True, max_steps=10)


@pytest.mark.parametrize("guard", [True, False])
def test_each_record_is_checked_once(guard: bool) -> None:
    needs("transformers", "train")
    from losslens.train.runner import live_callbacks

    out = io.StringIO()
    opts = TrainOptions(data_path="x.jsonl", guard=guard, early_stopping_patience=0)
    guard_cb, live = live_callbacks(opts, Console(file=out), has_eval=True)
    # the terminal view holds no checker of its own
    assert not any(isinstance(v, LiveEngine | LiveChecks) for v in vars(live).values())
    args = SimpleNamespace(eval_strategy="no")
    control = SimpleNamespace(should_training_stop=False)
    live.on_train_begin(args, _state(0), control)
    records = [(1, {"loss": 2.0, "grad_norm": 1.0}), (2, {"loss": math.nan, "grad_norm": 1.0})]
    for step, logs in records:
        for cb in (guard_cb, live):
            cb.on_log(args, _state(step), control, logs=logs)
    engine = guard_cb.engine
    assert engine.analyzer.run_data().series["train/grad_norm"].steps.tolist() == [1, 2]
    assert [a.kind for a in engine.alerts] == ["nan_or_inf"]
    assert [a.kind for a in live.alerts] == ["nan_or_inf"]  # shown, not found again
    assert out.getvalue().count("loss is nan at step 2") == 1
    assert control.should_training_stop is guard
    assert (guard_cb.trip is not None) is guard


def test_the_engine_keeps_every_point_for_the_full_rules() -> None:
    engine = LiveEngine()
    for step in range(1, 41):
        engine.feed(step, {"loss": 2.5 / step, "learning_rate": 1e-4, "epoch": step / 4})
    engine.feed(40, {"eval_loss": 1.0, "epoch": 10.0})
    data = engine.analyzer.run_data()
    assert len(data.series["train/loss"]) == 40
    assert data.series["eval/loss"].values.tolist() == [1.0]
    assert len(data.series["train/epoch"]) == 40  # the eval record's epoch is not repeated
    assert isinstance(engine.findings(), list)
    assert engine.feed(41, {"train_runtime": 3.0, "train_loss": 0.5}) == []  # end record


def test_a_train_log_with_a_running_runtime_is_still_a_log() -> None:
    # some Trainers log throughput (train_runtime & co.) on every log: the end record has no loss
    engine = LiveEngine()
    for step in range(1, 6):
        engine.feed(step, {"loss": 2.0 / step, "train_runtime": 1.5 * step, "epoch": step / 5})
    series = engine.analyzer.run_data().series
    assert series["train/loss"].steps.tolist() == [1, 2, 3, 4, 5]
    assert not any("runtime" in key for key in series)


def test_the_terminal_view_shows_a_train_log_with_a_running_runtime() -> None:
    needs("transformers", "train")
    from losslens.train.progress import LiveProgress

    live = LiveProgress(Console(file=io.StringIO()))
    args = SimpleNamespace(eval_strategy="no")
    control = SimpleNamespace(should_training_stop=False)
    live.on_train_begin(args, _state(0), control)
    live.on_log(args, _state(1), control, logs={"loss": 1.25, "train_runtime": 0.5})
    assert live.loss == 1.25
    live.on_log(args, _state(1), control, logs={"train_loss": 1.0, "train_runtime": 0.6})
    assert live.loss == 1.25  # the end record is not a log
