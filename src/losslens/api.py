"""Module-level logging calls, so that ``import losslens as wandb`` works."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from losslens.model import Report
from losslens.store import Store
from losslens.tracking.run import Run, use_findings_source

# The current run, its config and summary live on the ``losslens`` package itself
# (``losslens.run``, ``losslens.config``, ``losslens.summary``), as in wandb.


def init(
    project: str | None = None,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Run:
    """Start a run and make it the current one. Unknown wandb keywords are ignored."""
    import losslens

    options = {
        k: kwargs.pop(k)
        for k in (
            "system_metrics",
            "system_interval",
            "flush_interval",
            "output_dir",
            "id",
            "resume",
            "max_queue",
            "server",
            "token",
        )
        if k in kwargs
    }
    if kwargs.get("reinit", True) and losslens.run is not None:
        losslens.run.finish()
    new = Run(project=project, name=name, config=config, dir=dir, **options)
    losslens.run = new
    losslens.config = new.config
    losslens.summary = new.summary
    return new


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """Log to the current run (see :meth:`Run.log`)."""
    current: Run | None = sys.modules["losslens"].run
    if current is None:
        raise RuntimeError("no active run: call losslens.init() first")
    current.log(data, step, commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run, if any (``quiet`` is accepted for wandb compatibility)."""
    import losslens

    if losslens.run is not None:
        losslens.run.finish(exit_code)
        losslens.run = None


def watch(*args: Any, **kwargs: Any) -> None:
    """Accepted for wandb compatibility; does nothing."""
    return None


def define_metric(*args: Any, **kwargs: Any) -> None:
    """Accepted for wandb compatibility; does nothing (every metric keeps every point)."""
    return None


def sync_findings(store_path: str | Path, run_id: str) -> dict[str, Any]:
    """The findings a run synced to a team server sends once its end is there: the run is
    analysed in the local store it was recorded in (``losslens.tracking.sync`` calls this;
    recording itself does not diagnose)."""
    from losslens.server.findings import findings_body

    return findings_body(store_path, run_id)


use_findings_source(sync_findings)


def analyze(run_or_path: str | os.PathLike[str], *, store: str | None = None) -> list[Report]:
    """Diagnose a stored run (id or name) or every run in a log file or folder.

    The typed counterpart of ``losslens analyze``: returns one :class:`Report` per run.
    """
    from losslens.analysis import analyze as analyze_run

    path = Path(run_or_path)
    if path.exists():
        from losslens.ingest import load_into_memory

        return [analyze_run(run) for run in load_into_memory(path)]
    with Store(store, create=False) as st:
        return [analyze_run(st.load(str(run_or_path)))]
