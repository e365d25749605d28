"""ingest(): the one place imports are stored; dedup by source, streaming in batches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from importer_data import RUN, SOURCES

from losslens import keys
from losslens.errors import UnknownFormatError
from losslens.importers import load_path, scan
from losslens.importers.base import BATCH_SIZE
from losslens.ingest import ingest, load_into_memory
from losslens.paths import default_store_path
from losslens.store import Store


def test_same_source_twice_returns_the_existing_run(store_path: Path) -> None:
    store = Store(store_path)
    (a,) = load_path(SOURCES["trainer_state"])
    info, created = ingest(store, a)
    assert created and info.status == "finished"
    (b,) = load_path(SOURCES["trainer_state"])
    again, created2 = ingest(store, b, name="other name")
    assert not created2 and again.id == info.id
    assert len(store.list_runs()) == 1
    assert store.get_run(info.id).source_id == a.source_id


def test_points_stream_in_bounded_batches(tmp_path: Path) -> None:
    p = tmp_path / "big.csv"
    n = 3 * BATCH_SIZE + 7
    with open(p, "w") as f:
        f.write("step,loss\n")
        f.writelines(f"{i},{1.0 / (i + 1)}\n" for i in range(n))
    (imported,) = load_path(p)
    sizes = [len(b) for b in imported.batches]
    assert sum(sizes) == n and max(sizes) <= BATCH_SIZE and len(sizes) == 4


def test_progress_callback_and_counts(store_path: Path, tmp_path: Path) -> None:
    p = tmp_path / "big.csv"
    n = 2 * BATCH_SIZE
    p.write_text("step,loss\n" + "".join(f"{i},1.0\n" for i in range(n)))
    seen: list[int] = []
    info, _ = ingest(Store(store_path), load_path(p)[0], progress=seen.append)
    assert seen == [BATCH_SIZE, n]
    assert Store(store_path).count_points(info.id) == n


def test_load_into_memory_leaves_the_user_store_alone() -> None:
    runs = load_into_memory(SOURCES["console"])
    assert runs[0].series[keys.LOSS].steps[-1] == 24
    assert not default_store_path().exists()
    assert os.environ["LOSSLENS_HOME"] in str(default_store_path())


def test_walk_picks_latest_checkpoint_and_skips_wandb_copies() -> None:
    result = scan(RUN)
    found = {(f.importer.name, f.path.name) for f in result.found}
    assert ("hf_trainer_state", "trainer_state.json") in found
    states = [f.path for f in result.found if f.importer.name == "hf_trainer_state"]
    assert states == [RUN / "output" / "trainer_state.json"]
    assert not any(f.path.name == "output.log" for f in result.found)
    skipped = {Path(s.path).name: s.reason for s in result.skipped}
    assert "config.json" in skipped


def test_nothing_importable(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# hi\n")
    with pytest.raises(UnknownFormatError, match="nothing importable"):
        load_path(tmp_path)


def test_an_eval_set_named_after_a_hub_dataset_is_an_eval_series(tmp_path: Path) -> None:
    """``eval_dataset={"yahma/alpaca-cleaned": ...}`` logs ``eval_yahma/alpaca-cleaned_loss``."""
    import json

    history = [{"loss": 2.0 - i / 10, "epoch": i / 10, "step": i * 10} for i in range(1, 6)]
    history.append({"eval_yahma/alpaca-cleaned_loss": 1.7, "epoch": 0.5, "step": 50})
    state = tmp_path / "trainer_state.json"
    state.write_text(json.dumps({"log_history": history, "global_step": 50}))
    (run,) = load_into_memory(state)
    assert "eval/yahma/alpaca-cleaned_loss" in run.series
    assert keys.normalize_key("charts/yahma_loss") == "charts/yahma_loss"
    assert keys.normalize_key("train_a/b") == "train_a/b"
