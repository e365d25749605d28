"""One Trainer run, five-plus tools: every importer must give the same curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from importer_data import OTHER, SOURCES

from losslens import keys
from losslens.ingest import load_into_memory
from losslens.model import RunData

COMPARED = (keys.LOSS, keys.GRAD_NORM, keys.LR, keys.EPOCH, keys.EVAL_LOSS)


def _one(path: Path) -> RunData:
    runs = load_into_memory(path)
    assert len(runs) == 1, [r.info.source for r in runs]
    return runs[0]


@pytest.fixture(scope="module")
def reference() -> RunData:
    return _one(SOURCES["trainer_state"])


@pytest.mark.parametrize("source", sorted(set(SOURCES) - {"trainer_state"}))
def test_same_series_from_every_tool(source: str, reference: RunData) -> None:
    run = _one(SOURCES[source])
    for key in COMPARED:
        ref, got = reference.series[key], run.series[key]
        np.testing.assert_array_equal(got.steps, ref.steps, err_msg=f"{source} {key} steps")
        # the console prints '%.4g' strings (transformers 5.x); the others hold float32 or
        # better
        rtol = 5e-4 if source == "console" else 1e-6
        np.testing.assert_allclose(got.values, ref.values, rtol=rtol, err_msg=f"{source} {key}")
    assert len(reference.series[keys.LOSS]) == 24
    assert list(reference.series[keys.EVAL_LOSS].steps) == [8, 16, 24]


def test_originals_and_summary_kept_apart(reference: RunData) -> None:
    assert reference.original_keys[keys.LOSS] == "loss"
    assert reference.original_keys[keys.EVAL_LOSS] == "eval_loss"
    # the end-of-run record is summary, not a series
    assert "train_runtime" in reference.info.summary
    assert reference.info.summary["train_loss"] > 0
    assert not any("runtime" in k for k in reference.series if k.startswith("train/"))
    cfg = reference.info.config
    assert cfg["max_steps"] == 24
    assert cfg["logging_steps"] == 1
    assert cfg["train_batch_size"] == 4


def test_console_config_and_step_inference() -> None:
    run = _one(SOURCES["console"])
    cfg = run.info.config
    assert cfg["max_steps"] == 24
    assert cfg["logging_steps"] == 1
    assert cfg["num_examples"] == 48
    assert cfg["per_device_train_batch_size"] == 4
    assert cfg["gradient_accumulation_steps"] == 2
    assert run.info.summary["train_runtime"] > 0
    assert "train_runtime" not in {k.split("/")[-1] for k in run.series}


def test_wandb_metadata_and_system_stats() -> None:
    run = _one(SOURCES["wandb"])
    assert run.info.name == "tiny-qwen2"
    assert run.info.project == "fixtures"
    assert run.info.status == "finished"
    assert run.info.config["max_steps"] == 24
    assert run.info.config["learning_rate"] == pytest.approx(3e-3)
    assert run.info.summary["global_step"] == 24
    assert run.info.summary["train_runtime"] > 0
    assert run.system, "system stats from the .wandb log"


def test_wandb_csv_export_matches() -> None:
    ref = _one(SOURCES["trainer_state"])
    run = _one(OTHER / "wandb_export.csv")
    assert run.info.name == "tiny-qwen2"
    assert set(run.series) == {keys.LOSS, keys.LR}  # __MIN/__MAX companions dropped
    np.testing.assert_array_equal(run.series[keys.LOSS].steps, ref.series[keys.LOSS].steps)
    np.testing.assert_allclose(run.series[keys.LOSS].values, ref.series[keys.LOSS].values)
