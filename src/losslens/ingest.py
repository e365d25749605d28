"""Write imported runs into a store: the one place where imports touch the database.

Importers stream points in batches; ``ingest`` writes them batch by batch, so memory stays
flat whatever the size of the log. A run is found again by its ``source_id`` (content hash
or the source's own run id), so importing the same source twice returns the run that is
already there.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from losslens.errors import ImportError_
from losslens.importers import load_path
from losslens.importers.base import PartialImportError
from losslens.model import ImportedRun, RunData, RunInfo, RunStatus
from losslens.store import Store, StoreProtocol

#: Called after each batch with the number of points written so far for this run.
ProgressFn = Callable[[int], None]


def default_project() -> str:
    return os.environ.get("LOSSLENS_PROJECT") or "default"


def ingest(
    store: StoreProtocol,
    imported: ImportedRun,
    *,
    project: str | None = None,
    name: str | None = None,
    progress: ProgressFn | None = None,
) -> tuple[RunInfo, bool]:
    """Store one imported run; returns ``(run, created)``.

    ``created`` is False when a run from the same source is already in the store (nothing
    is written then). Damage found while streaming (a corrupted chunk) keeps the points
    read before it and raises :class:`PartialImportError` naming the run that holds them;
    damage before the first point raises the reader's :class:`ImportError_`, keeping nothing.
    """
    existing = store.find_by_source(imported.source_id)
    if existing is not None:
        _drain(imported)
        return existing, False
    info = store.create_run(
        project or imported.project or default_project(),
        name or imported.name,
        status=RunStatus.RUNNING,
        start_time=imported.start_time,
        config=imported.config,
        summary=imported.summary,
        source=f"{imported.format}:{imported.source}",
    )
    written = 0
    failure: ImportError_ | None = None
    try:
        try:
            for batch in imported.batches:
                written += store.write_points(info.id, batch, originals=imported.original_keys)
                if progress is not None:
                    progress(written)
            if imported.system_batches is not None:
                for batch in imported.system_batches:
                    store.write_points(info.id, batch, kind="system")
        except ImportError_ as exc:
            if written == 0:
                raise  # nothing read before the damage: no run to keep
            failure = exc
        summary = dict(imported.summary)
        if failure is not None:
            summary["import_error"] = failure.message
        if imported.warnings:
            summary["import_warnings"] = list(imported.warnings)
        store.update_run(
            info.id,
            status=imported.status,
            end_time=imported.end_time,
            config=imported.config,
            summary=summary,
        )
        # The source id is set last: a run whose import was cut short is never mistaken for
        # a complete import of the same source.
        store.set_source_id(info.id, imported.source_id)
    except BaseException:
        store.delete_run(info.id)
        raise
    run = store.get_run(info.id)
    if failure is not None:
        raise PartialImportError(failure, run.id, written)
    return run, True


def _drain(imported: ImportedRun) -> None:
    """Close the lazy readers of a run that is not going to be read."""
    for it in (imported.batches, imported.system_batches):
        close = getattr(it, "close", None)
        if callable(close):
            close()


def load_into_memory(path: str | os.PathLike[str], fmt: str | None = None) -> list[RunData]:
    """Import ``path`` into a throw-away in-memory store and load every run from it.

    This is how ``losslens analyze PATH`` and ``losslens report PATH`` read a log without
    touching the user's store. A run damaged part-way is returned with what could be read;
    its ``info.summary["import_error"]`` says what happened.
    """
    store = Store(":memory:")
    try:
        out: list[RunData] = []
        seen: set[str] = set()
        for imported in load_path(Path(path), fmt):
            try:
                info, _ = ingest(store, imported)
            except PartialImportError as exc:
                info = store.get_run(exc.run_id)
            if info.id in seen:
                continue
            seen.add(info.id)
            out.append(_content_id(store.load(info.id)))
        return out
    finally:
        store.close()


def _content_id(run: RunData) -> RunData:
    """The run with an id derived from its source (the same file gives the same id), so
    ``losslens analyze FILE`` prints the same report every time. A run losslens recorded
    keeps its own id."""
    import dataclasses
    import hashlib

    source = run.info.source_id or ""
    if source.startswith("losslens:"):
        rid = source.removeprefix("losslens:")
    else:
        digest = hashlib.blake2b(source.encode("utf-8"), digest_size=8).digest()
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        rid = "".join(alphabet[b % len(alphabet)] for b in digest)
    return dataclasses.replace(run, info=dataclasses.replace(run.info, id=rid))
