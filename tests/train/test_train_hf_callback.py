"""``LosslensCallback`` and ``GuardCallback`` in a plain transformers ``Trainer`` (in process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from losslens.errors import GuardStop
from losslens.model import RunStatus
from losslens.paths import default_store_path
from losslens.store import Store

pytestmark = pytest.mark.slow

TRAIN_TEXT = "the cat sat on the mat and the dog sat on the log " * 4
EVAL_TEXT = "zq xv wj kp " * 8  # words never trained on: eval loss can only rise


def _setup(tmp_path: Path, **overrides: Any) -> tuple[Any, Any, Any, Any]:
    from datasets import Dataset
    from transformers import TrainingArguments

    from losslens.train.tiny import build_model, build_tokenizer

    tok = build_tokenizer([TRAIN_TEXT, EVAL_TEXT], vocab_size=300)

    def rows(text: str, n: int) -> Dataset:
        ids = tok(text)["input_ids"][:24]
        assert len(ids) == 24
        return Dataset.from_list([{"input_ids": ids, "labels": ids} for _ in range(n)])

    settings: dict[str, Any] = {
        "output_dir": str(tmp_path / "out"),
        "max_steps": 10,
        "per_device_train_batch_size": 2,
        "gradient_accumulation_steps": 2,
        "learning_rate": 5e-3,
        "logging_steps": 2,
        "eval_strategy": "steps",
        "eval_steps": 4,
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "disable_tqdm": True,
        "seed": 0,
        "run_name": "plain-trainer",
    }
    settings.update(overrides)
    return (
        build_model(tok, 0),
        TrainingArguments(**settings),
        rows(TRAIN_TEXT, 16),
        rows(EVAL_TEXT, 4),
    )


def test_callback_records_every_logged_step(tmp_path: Path) -> None:
    from transformers import Trainer

    from losslens.integrations import LosslensCallback as Lazy
    from losslens.integrations.hf import LosslensCallback

    assert Lazy is LosslensCallback
    model, args, train_ds, eval_ds = _setup(tmp_path)
    callback = LosslensCallback(project="hf", config={"note": "mine"})
    trainer = Trainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, callbacks=[callback]
    )
    trainer.train()
    assert callback.run is not None
    with Store(default_store_path(), create=False) as store:
        data = store.load(callback.run.id)
    history = trainer.state.log_history
    for raw, key in (
        ("loss", "train/loss"),
        ("grad_norm", "train/grad_norm"),
        ("learning_rate", "train/learning_rate"),
    ):
        rows = [e for e in history if raw in e]
        assert data.series[key].steps.tolist() == [e["step"] for e in rows], key
        assert data.series[key].values.tolist() == pytest.approx([e[raw] for e in rows])
    train_rows = [e for e in history if "loss" in e]
    assert data.series["train/epoch"].steps.tolist() == [e["step"] for e in train_rows]
    eval_rows = [e for e in history if "eval_loss" in e]
    assert data.series["eval/loss"].steps.tolist() == [e["step"] for e in eval_rows]
    assert data.series["eval/loss"].steps.tolist()[:2] == [4, 8]
    assert data.series["train/loss"].steps.tolist() == [2, 4, 6, 8, 10]  # no final train_loss
    info = data.info
    assert info.status == RunStatus.FINISHED and info.project == "hf"
    assert info.name == "plain-trainer" and info.output_dir == str(tmp_path / "out")
    assert info.summary["train_loss"] == pytest.approx(history[-1]["train_loss"])
    assert "train_runtime" in info.summary and "total_flos" in info.summary
    cfg = info.config
    assert cfg["note"] == "mine"
    assert cfg["effective_batch_size"] == 4 and cfg["world_size"] == 1
    assert cfg["train_dataset_size"] == 16 and cfg["eval_dataset_size"] == 4
    assert cfg["training_args"]["learning_rate"] == 5e-3
    assert cfg["architecture"] == "Qwen2ForCausalLM" and "num_labels" not in cfg
    json.dumps(cfg)  # JSON-safe


def test_callback_records_a_classification_head(tmp_path: Path) -> None:
    """The model class and its number of labels: the analysis reads the task and the chance
    level ln k from them."""
    import torch
    from datasets import Dataset
    from transformers import Qwen2Config, Qwen2ForSequenceClassification, Trainer

    from losslens.analysis.context import build_context
    from losslens.integrations.hf import LosslensCallback
    from losslens.train.tiny import TINY_SHAPE

    _, args, _, _ = _setup(tmp_path, eval_strategy="no", run_name="classifier")
    torch.manual_seed(0)
    model = Qwen2ForSequenceClassification(
        Qwen2Config(vocab_size=64, num_labels=3, pad_token_id=0, **TINY_SHAPE)
    )
    rows = [{"input_ids": [1 + i % 7, 2, 3, 4], "labels": i % 3} for i in range(16)]
    callback = LosslensCallback(project="hf")
    Trainer(
        model=model, args=args, train_dataset=Dataset.from_list(rows), callbacks=[callback]
    ).train()
    assert callback.run is not None
    with Store(default_store_path(), create=False) as store:
        data = store.load(callback.run.id)
    cfg = data.info.config
    assert cfg["architecture"] == "Qwen2ForSequenceClassification" and cfg["num_labels"] == 3
    ctx = build_context(data)
    assert ctx.task == "classification" and not ctx.text_task


def test_train_logs_with_a_running_runtime_are_recorded(tmp_path: Path) -> None:
    """A Trainer that logs throughput on every log (a running ``train_runtime``): its logs are
    still series for the store and the guard; only the record without a loss is the summary."""
    import time

    from transformers import Trainer

    from losslens.integrations.hf import GuardCallback, LosslensCallback

    class ThroughputTrainer(Trainer):  # type: ignore[misc]
        def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
            if "loss" in logs:
                logs = {**logs, "train_runtime": round(time.time() - self.started, 4)}
            super().log(logs, start_time)

    model, args, train_ds, eval_ds = _setup(tmp_path)
    recorder, guard = LosslensCallback(), GuardCallback()
    trainer = ThroughputTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        callbacks=[recorder, guard],
    )
    trainer.started = time.time()
    trainer.train()
    assert recorder.run is not None
    with Store(default_store_path(), create=False) as store:
        data = store.load(recorder.run.id)
    assert data.series["train/loss"].steps.tolist() == [2, 4, 6, 8, 10]
    assert not any("runtime" in key for key in data.series if not key.startswith("eval/"))
    assert data.info.summary["train_loss"] == pytest.approx(
        trainer.state.log_history[-1]["train_loss"]
    )
    guard_data = guard.engine.analyzer.run_data()
    assert guard_data.series["train/loss"].steps.tolist() == [2, 4, 6, 8, 10]


def test_guard_early_stops_and_keeps_best(tmp_path: Path) -> None:
    from transformers import Trainer

    from losslens.integrations.hf import GuardCallback, LosslensCallback

    model, args, train_ds, eval_ds = _setup(
        tmp_path,
        max_steps=30,
        eval_steps=2,
        logging_steps=1,
        save_strategy="steps",
        learning_rate=2e-2,
        save_steps=2,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        save_total_limit=2,
    )
    recorder, guard = LosslensCallback(), GuardCallback(early_stopping_patience=2)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        callbacks=[recorder, guard],
    )
    trainer.train()
    evals = [(e["step"], e["eval_loss"]) for e in trainer.state.log_history if "eval_loss" in e]
    best_step = min(evals, key=lambda se: se[1])[0]
    assert guard.early_stopped_at is not None and guard.early_stopped_at < 30
    assert guard.early_stopped_at == best_step + 2 * 2  # two evaluations above the best
    assert trainer.state.best_model_checkpoint.endswith(f"checkpoint-{best_step}")
    assert recorder.run is not None
    with Store(default_store_path(), create=False) as store:
        info = store.get_run(recorder.run.id)
    assert info.status == RunStatus.FINISHED
    assert info.summary["early_stopped_at_step"] == guard.early_stopped_at


def test_guard_raises_and_marks_the_run_failed(tmp_path: Path) -> None:
    from transformers import Trainer

    from losslens.integrations.hf import GuardCallback, LosslensCallback

    model, args, train_ds, eval_ds = _setup(tmp_path, learning_rate=1e20, logging_steps=1)
    recorder = LosslensCallback()
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        callbacks=[recorder, GuardCallback()],
    )
    with pytest.raises(GuardStop, match=r"guard stopped the run: .* is nan"):
        trainer.train()
    assert trainer.state.global_step < 10
    assert recorder.run is not None
    with Store(default_store_path(), create=False) as store:
        info = store.get_run(recorder.run.id)
        loss = store.load(recorder.run.id).series["train/loss"]
    assert info.status == RunStatus.FAILED and info.exit_code == GuardStop.exit_code
    assert info.summary["guard_stop_kind"] == "nan_or_inf"
    assert len(loss) == trainer.state.global_step  # the NaN record itself is kept


def test_a_crash_inside_train_marks_the_run_failed(tmp_path: Path) -> None:
    """A user script whose training raises (and is caught) exits 0: the run is still failed."""
    script = tmp_path / "crash.py"
    script.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        from transformers import Trainer, TrainerCallback
        from test_train_hf_callback import _setup
        from losslens.integrations.hf import LosslensCallback

        class Boom(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):
                if state.global_step == 3:
                    raise RuntimeError("disk full")

        model, args, tr, ev = _setup(Path({str(tmp_path)!r}), logging_steps=1)
        rec = LosslensCallback(project="crash")
        trainer = Trainer(model=model, args=args, train_dataset=tr, eval_dataset=ev,
                          callbacks=[rec, Boom()])
        try:
            trainer.train()
        except RuntimeError:
            print("caught", rec.run.id)
    """),
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    run_id = proc.stdout.split("caught", 1)[1].split()[0]
    with Store(default_store_path(), create=False) as store:
        info = store.get_run(run_id)
        steps = store.load(run_id).series["train/loss"].steps.tolist()
    assert info.status == RunStatus.FAILED
    assert steps == [1, 2]  # step 3 raised before its record was logged
    assert info.summary["error"] == "training did not reach its end"
