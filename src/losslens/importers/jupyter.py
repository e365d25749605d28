"""A Jupyter or Colab notebook (``.ipynb``) saved with the outputs of its training cell.

In a notebook the Hugging Face Trainer draws its progress as an HTML table (``Step`` or
``Epoch``, ``Training Loss``, ``Validation Loss``, the metrics) under a ``[N/N mm:ss, Epoch
E/E]`` progress line, and the notebook file keeps the last state of that table as a
``text/html`` output. With ``disable_tqdm=True``, or when the cell runs a script
(``!python train.py``), the Trainer prints its ``{'loss': ...}`` lines into a ``stream``
output instead. A cell that shows ``trainer.state.log_history`` (its value displayed, or
printed as Python or JSON) holds the whole log history. Each code cell whose outputs hold
any of these is one run; when a cell holds several, the one with more train losses is read
(a table gives the exact steps, the printed lines and the log history the learning rate and
gradient norm).

The notebook's JSON is read with the standard library; when it is broken elsewhere (a quote
left unescaped in a cell's source, a file cut short), each cell's ``"outputs"`` array that
parses on its own is read, with an import note. The table is read with the HTML parser; the
rows then go through the same readers as a copied table (``hf_notebook``) and a console
log (``hf_console``). A cell with none of these whose printed output holds the progress lines
of a custom loop (``Epoch 1/10`` and Keras' ``loss: 0.69 - val_loss: 0.71``, ``step 100 |
loss 2.3``) is read as a ``text_log``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers.base import check_readable, chunked, display_path, file_hash, read_text
from losslens.importers.hf_console import console_run
from losslens.importers.hf_notebook import HTML_TABLE_MARK, html_table_text, table_run
from losslens.importers.hf_state import pasted_history, state_run
from losslens.importers.text_log import has_progress, text_run
from losslens.model import ImportedRun

_PRINTED_MARK = "'loss': "
_OUTPUTS = re.compile(r'"outputs"\s*:\s*\[')


def _joined(value: Any) -> str:
    """A notebook text field: one string, or a list of lines."""
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _cells(nb: Any) -> list[dict[str, Any]]:
    """The code cells of a notebook (nbformat 4, what Jupyter and Colab have written since
    2015, years before the Trainer existed)."""
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return []
    return [c for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]


def _outputs(cell: dict[str, Any]) -> tuple[list[str], str, str]:
    """The HTML outputs of a cell that hold a Trainer table, its printed text, and its
    printed text with the values it displayed (``text/plain``)."""
    tables: list[str] = []
    printed: list[str] = []
    shown: list[str] = []
    outputs = cell.get("outputs")
    for out in outputs if isinstance(outputs, list) else []:
        if not isinstance(out, dict):
            continue
        if out.get("output_type") == "stream":
            printed.append(_joined(out.get("text")))
            shown.append(printed[-1])
        data = out.get("data")
        html = _joined(data.get("text/html")) if isinstance(data, dict) else ""
        if HTML_TABLE_MARK in html:
            tables.append(html)
        if isinstance(data, dict):
            shown.append(_joined(data.get("text/plain")))
    return tables, "".join(printed), "\n".join(shown)


def _shown_history(text: str) -> Any:
    """The log history a cell shows (``trainer.state.log_history`` displayed or printed as
    Python, or printed as JSON), or None."""
    found = pasted_history(text) if "loss" in text else None
    if isinstance(found, dict) and isinstance(found.get("log_history"), list):
        return found
    return found if isinstance(found, list) and found and isinstance(found[0], dict) else None


def _train_losses(run: ImportedRun | None) -> int:
    """How many train losses ``run`` holds (its points are read into memory, a notebook's
    log being small, and handed back as fresh batches)."""
    if run is None:
        return 0
    points = list(run.points())
    run.batches = chunked(points)
    return sum(p.key == keys.LOSS for p in points)


def _salvaged(text: str) -> list[dict[str, Any]]:
    """The cell outputs that still parse in a notebook whose JSON is broken elsewhere (a
    cell's source saved with a quote left unescaped): each ``"outputs": [...]`` array decoded
    on its own, as the code cell it belongs to."""
    decoder = json.JSONDecoder()
    cells: list[dict[str, Any]] = []
    for found in _OUTPUTS.finditer(text):
        try:
            outputs, _ = decoder.raw_decode(text, found.end() - 1)
        except (ValueError, RecursionError):
            continue
        if isinstance(outputs, list) and outputs:
            cells.append({"cell_type": "code", "outputs": outputs})
    return cells


def _load(path: Path) -> tuple[Any, str | None]:
    """The notebook's JSON, and a note when only the cell outputs that parse on their own
    could be read from it."""
    check_readable(path)
    text = read_text(path)
    try:
        return json.loads(text), None
    except (ValueError, RecursionError) as exc:
        cells = _salvaged(text)
        if any(_has_log(c) for c in cells):
            note = (
                f"the notebook's JSON is broken ({exc}): read from the {len(cells)} cell "
                "outputs that parse on their own; save it again from Jupyter to read it whole"
            )
            return {"cells": cells}, note
        raise ImportError_(
            f"not a readable notebook: {exc}",
            "is the .ipynb file complete? Save it again from Jupyter or Colab",
            path=str(path),
        ) from None


def _has_log(cell: dict[str, Any]) -> bool:
    """Whether a code cell's outputs hold a Trainer table, printed log lines or a shown log
    history."""
    tables, printed, shown = _outputs(cell)
    if tables or _PRINTED_MARK in printed or _shown_history(shown) is not None:
        return True
    return has_progress(printed)


def notebook_runs(path: Path) -> Iterator[ImportedRun]:
    """Every training run in the saved outputs of the notebook at ``path``."""
    nb, note = _load(path)
    cells = _cells(nb)
    found: list[tuple[int, ImportedRun]] = []
    source = display_path(path)
    digest = file_hash(path)
    mtime = path.stat().st_mtime
    for number, cell in enumerate(cells, 1):
        tables, printed, shown = _outputs(cell)
        where = {"name": path.stem, "source": source, "source_id": f"jupyter:{digest}:{number}"}
        # a redrawn display keeps its last state
        table = table_run(html_table_text(tables[-1]), **where, fmt="jupyter") if tables else None
        lines = None
        if _PRINTED_MARK in printed:
            lines = console_run(printed, **where, mtime=mtime, warnings=[], fmt="jupyter")
        history = _shown_history(shown)
        logged = None
        if history is not None:
            logged = state_run(history, where=str(path), mtime=mtime, fmt="jupyter", **where)
        counted = [(_train_losses(r), i, r) for i, r in enumerate((table, lines, logged))]
        n, _, best = max(counted, key=lambda c: (c[0], -c[1]))
        if not n:  # no Trainer log: the progress lines of a custom loop (Keras, PyTorch)
            best = text_run(printed, **where, mtime=mtime, fmt="jupyter")
            n = _train_losses(best)
        if best is not None and n:
            found.append((number, best))
    if not found:
        raise ImportError_(
            "no training log in this notebook's saved outputs",
            "run the training cell and save the notebook with its outputs "
            "(in Colab: File > Download > .ipynb), or save trainer.state.log_history as JSON",
            path=str(path),
        )
    for number, run in found:
        if len(found) > 1:
            run.name = f"{path.stem} (cell {number})"
        if note:
            run.warnings.append(note)
        yield run


class JupyterImporter:
    name = "jupyter"
    description = "Jupyter/Colab notebook (.ipynb) whose outputs hold the Trainer's log"

    def sniff(self, path: Path) -> bool:
        if path.suffix.lower() != ".ipynb":
            return False
        try:
            nb, _ = _load(path)
        except ImportError_:
            return False
        return any(_has_log(cell) for cell in _cells(nb))

    def claims(self, path: Path) -> bool:
        return path.suffix.lower() == ".ipynb"

    def read(self, path: Path) -> Iterator[ImportedRun]:
        yield from notebook_runs(path)
