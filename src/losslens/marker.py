"""The marker a recorded run leaves in its output folder, so that importing it finds the run.

``losslens train`` (through :class:`losslens.integrations.hf.LosslensCallback`) writes
``OUTPUT_DIR/losslens_run.json`` with the run's id and marks the run in the store with the
source id ``losslens:RUN_ID``. Every run an importer reads under such a folder (the
``trainer_state.json``, a ``wandb/`` offline run, checkpoints) gets that source id, so
``losslens import OUTPUT_DIR`` recognises the run the store already holds instead of
adding a copy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MARKER = "losslens_run.json"
#: How far above an imported file a marker still counts (``OUT/wandb/offline-run-x/f``).
MAX_DEPTH = 4


def source_id_for(run_id: str) -> str:
    return f"losslens:{run_id}"


def write_marker(output_dir: str | os.PathLike[str], run_id: str, store: str | None) -> Path:
    path = Path(output_dir) / MARKER
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"run_id": run_id, "store": store, "source_id": source_id_for(run_id)}
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


def recorded_run_id(path: str | os.PathLike[str]) -> str | None:
    """The run id of the nearest marker at or above ``path`` (``MAX_DEPTH`` folders up)."""
    p = Path(path).absolute()
    start = p if p.is_dir() else p.parent
    for folder in [start, *start.parents][:MAX_DEPTH]:
        marker = folder / MARKER
        if not marker.is_file():
            continue
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        run_id = data.get("run_id") if isinstance(data, dict) else None
        return run_id if isinstance(run_id, str) and run_id else None
    return None


__all__ = ["MARKER", "recorded_run_id", "source_id_for", "write_marker"]
