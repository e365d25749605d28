"""The binary .wandb log: damage handling on copies of the real offline run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from importer_data import SOURCES

from extras import needs
from losslens import keys
from losslens.errors import ImportError_
from losslens.importers import load_path
from losslens.importers.base import PartialImportError
from losslens.importers.wandb_log import BLOCK
from losslens.ingest import ingest, load_into_memory
from losslens.store import Store

needs("wandb", "wandb")


def wandb_file(tmp_path: Path) -> Path:
    src = next(SOURCES["wandb"].rglob("*.wandb"))
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    return dst


def test_truncated_last_block_gives_everything_before_it(tmp_path: Path) -> None:
    f = wandb_file(tmp_path)
    full = load_into_memory(f)[0]
    data = f.read_bytes()
    f.write_bytes(data[: BLOCK + 5000])  # cut inside the second block
    run = load_into_memory(f)[0]
    n, total = len(run.series[keys.LOSS]), len(full.series[keys.LOSS])
    assert 0 < n < total
    assert list(run.series[keys.LOSS].steps) == list(full.series[keys.LOSS].steps[:n])
    assert any("ends mid-record" in w for w in run.info.summary["import_warnings"])
    assert run.info.status == "crashed"  # no exit record


def test_corrupted_chunk_is_an_error_with_offset_and_a_partial_import(tmp_path: Path) -> None:
    f = wandb_file(tmp_path)
    data = bytearray(f.read_bytes())
    at = BLOCK + 1000
    data[at] ^= 0x55
    f.write_bytes(bytes(data))
    store = Store(tmp_path / "s.db")
    (imported,) = load_path(f)
    with pytest.raises(PartialImportError) as err:
        ingest(store, imported)
    msg = str(err.value)
    assert "CRC mismatch" in msg and str(f) in msg
    offset = int(msg.split("(byte ")[1].split(")")[0])
    assert BLOCK <= offset <= at
    kept = store.series(err.value.run_id, keys.LOSS)
    assert len(kept) > 0
    assert "import_error" in store.get_run(err.value.run_id).summary


def test_not_a_wandb_file(tmp_path: Path) -> None:
    f = tmp_path / "run-abc.wandb"
    f.write_bytes(b"this is not a transaction log at all")
    with pytest.raises(ImportError_, match="bad header"):
        load_path(f)
