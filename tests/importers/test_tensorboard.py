"""TensorBoard event files written by tensorboard's own writer: every scalar, both styles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from extras import needs
from losslens import keys
from losslens.importers import load_path
from losslens.importers.base import PartialImportError
from losslens.ingest import ingest, load_into_memory
from losslens.store import Store

tb = needs("tensorboard", "tensorboard")

from tensorboard.compat.proto import event_pb2, summary_pb2  # noqa: E402
from tensorboard.plugins.scalar.summary_v2 import scalar_pb  # noqa: E402
from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: E402


def write_events(logdir: Path, n: int, *, tensors: bool = False, start: int = 0) -> Path:
    w = EventFileWriter(str(logdir), max_queue_size=100, flush_secs=1000)
    for i in range(start, start + n):
        if tensors:
            summ = scalar_pb("train/loss", 1.0 / (i + 1))
        else:
            summ = summary_pb2.Summary(
                value=[
                    summary_pb2.Summary.Value(tag="train/loss", simple_value=1.0 / (i + 1)),
                    summary_pb2.Summary.Value(tag="train/epoch", simple_value=i / 10),
                ]
            )
        w.add_event(event_pb2.Event(wall_time=1_700_000_000 + i, step=i, summary=summ))
    w.close()
    return Path(w.get_logdir())


def _event_file(d: Path) -> Path:
    return next(d.glob("events.out.tfevents.*"))


def test_every_scalar_no_reservoir_sampling(tmp_path: Path) -> None:
    write_events(tmp_path / "run", 12_000)  # more than TensorBoard's 10,000 reservoir
    run = load_into_memory(tmp_path / "run")[0]
    loss = run.series[keys.LOSS]
    assert len(loss) == 12_000
    np.testing.assert_allclose(loss.values[:3], [1.0, 0.5, 1 / 3], rtol=1e-6)
    assert loss.wall_times[0] == 1_700_000_000
    assert run.info.name == "run"


def test_new_style_tensor_scalars(tmp_path: Path) -> None:
    write_events(tmp_path / "run", 50, tensors=True)
    run = load_into_memory(tmp_path / "run")[0]
    assert len(run.series[keys.LOSS]) == 50
    assert run.series[keys.LOSS].values[1] == pytest.approx(0.5)


def test_directory_of_runs_and_restart_files(tmp_path: Path) -> None:
    write_events(tmp_path / "runs" / "a", 10)
    write_events(tmp_path / "runs" / "a", 10, start=10)  # a second file after a restart
    write_events(tmp_path / "runs" / "b", 5)
    runs = {r.info.name: r for r in load_into_memory(tmp_path / "runs")}
    assert set(runs) == {"a", "b"}
    assert list(runs["a"].series[keys.LOSS].steps) == list(range(20))


def test_truncated_tail_imports_what_is_there(tmp_path: Path) -> None:
    f = _event_file(write_events(tmp_path / "run", 100))
    data = f.read_bytes()
    f.write_bytes(data[:-7])
    run = load_into_memory(tmp_path / "run")[0]
    assert len(run.series[keys.LOSS]) == 99
    assert any("partly written" in w for w in run.info.summary["import_warnings"])


def test_corrupted_record_partial_import_with_offset(tmp_path: Path) -> None:
    f = _event_file(write_events(tmp_path / "run", 200))
    data = bytearray(f.read_bytes())
    at = len(data) // 2
    data[at] ^= 0xFF
    f.write_bytes(bytes(data))
    store = Store(tmp_path / "s.db")
    (imported,) = load_path(f)
    with pytest.raises(PartialImportError) as err:
        ingest(store, imported)
    assert "byte" in str(err.value) and "CRC" in str(err.value)
    offset = int(str(err.value).split("byte ")[1].split(")")[0])
    assert offset <= at
    kept = store.series(err.value.run_id, keys.LOSS)
    assert 0 < len(kept) < 200
    assert list(kept.steps) == list(range(len(kept)))
