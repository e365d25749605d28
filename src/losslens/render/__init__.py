"""Renderers: terminal, markdown, HTML and JSON. They draw; they never diagnose."""

from __future__ import annotations

from losslens.model import RunInfo


def import_notes(info: RunInfo) -> list[str]:
    """What the import said about the log the report reads (the run cut short, steps
    reconstructed from line order ...), stored with the run: shown with the report, since
    the steps and numbers of its findings rest on it."""
    notes: list[str] = []
    error = info.summary.get("import_error")
    if isinstance(error, str) and error:
        notes.append(error)
    warnings = info.summary.get("import_warnings")
    if isinstance(warnings, list):
        notes += [w for w in warnings if isinstance(w, str) and w]
    return notes
