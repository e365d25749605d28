"""Paths of the shipped importer fixtures (see tests/data/importers/README.md)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "importers"
RUN = DATA / "hf_run"
OTHER = DATA / "other"

#: The same Trainer run, as each tool wrote it.
SOURCES = {
    "trainer_state": RUN / "output" / "trainer_state.json",
    "console": RUN / "console.txt",
    "tensorboard": RUN / "output" / "runs",
    "wandb": RUN / "wandb_dir",
    "mlflow_sqlite": RUN / "mlflow.db",
    "trackio": RUN / "trackio" / "fixtures.db",
    "jsonl": OTHER / "log_history.jsonl",
    "log_history_list": OTHER / "log_history.json",
}

CORPUS = DATA.parent.parent.parent / "corpus" / "shared"
