"""Read training logs a user already has: the registry of importers and the path walker.

``load_path(path)`` finds every importable run under a file or directory, by content,
and returns them as :class:`~losslens.model.ImportedRun` objects whose points stream
lazily. ``scan(path)`` is the same walk, also telling what was skipped and why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from losslens.errors import ImportError_, LosslensError, UnknownFormatError
from losslens.importers.base import Importer, check_readable, display_path, special_kind
from losslens.importers.csv_table import CSVImporter
from losslens.importers.gan_log import GanLogImporter
from losslens.importers.hf_console import HFConsoleImporter
from losslens.importers.hf_notebook import HFNotebookImporter
from losslens.importers.hf_state import HFTrainerStateImporter, checkpoint_rank, run_root
from losslens.importers.json_history import JSONHistoryImporter
from losslens.importers.jupyter import JupyterImporter
from losslens.importers.loss_list import LossListImporter
from losslens.importers.markdown_table import MarkdownTableImporter
from losslens.importers.mlflow_store import MLflowFileImporter, MLflowSQLImporter
from losslens.importers.source_code import looks_like_source
from losslens.importers.text_log import TextLogImporter
from losslens.importers.tfevents import TensorBoardImporter, is_event_file_name
from losslens.importers.trackio_db import TrackioImporter
from losslens.importers.wandb_log import WandbImporter
from losslens.importers.yolo_results import YoloResultsImporter
from losslens.model import ImportedRun

#: Every importer, in the order content sniffing tries them (most specific first).
IMPORTERS: tuple[Importer, ...] = (
    WandbImporter(),
    TensorBoardImporter(),
    MLflowFileImporter(),
    MLflowSQLImporter(),
    TrackioImporter(),
    HFTrainerStateImporter(),
    JSONHistoryImporter(),
    HFNotebookImporter(),
    CSVImporter(),
    MarkdownTableImporter(),
    YoloResultsImporter(),
    LossListImporter(),
    GanLogImporter(),
    HFConsoleImporter(),
    TextLogImporter(),
    JupyterImporter(),
)
_BY_NAME = {imp.name: imp for imp in IMPORTERS}
_ALIASES = {
    "hf": "hf_trainer_state",
    "trainer_state": "hf_trainer_state",
    "console": "hf_console",
    "notebook": "hf_notebook",
    "ipynb": "jupyter",
    "tensorboard": "tensorboard",
    "tb": "tensorboard",
    "mlflow": "mlflow",
    "jsonl": "csv",
}

#: Names accepted by ``--format``.
FORMATS: tuple[str, ...] = (*(imp.name for imp in IMPORTERS), "mlflow")

_SKIP_DIRS = {"__pycache__", "node_modules", "site-packages", ".git", ".venv", "venv", ".trash"}


@dataclass
class Found:
    """One importable unit: a file, or a directory read as one run (MLflow run, TB run)."""

    importer: Importer
    path: Path


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class Scan:
    found: list[Found] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[LosslensError] = field(default_factory=list)


def get_importer(name: str) -> list[Importer]:
    """The importer(s) a ``--format`` name stands for."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key == "mlflow":
        return [_BY_NAME["mlflow_file"], _BY_NAME["mlflow_sqlite"]]
    if key not in _BY_NAME:
        raise UnknownFormatError(
            f"unknown format '{name}'", f"choose one of: {', '.join(sorted(set(FORMATS)))}"
        )
    return [_BY_NAME[key]]


#: Importers whose file names are unambiguous: a damaged file with such a name is reported
#: as damaged, not skipped as "not a training log".
_STRONG_NAMES = ("hf_trainer_state", "wandb", "tensorboard")


def detect(path: Path, fmt: str | None = None, *, explicit: bool = False) -> Importer | None:
    """The importer that recognises ``path`` by content, else by an unambiguous name
    (``trainer_state.json``, ``*.wandb``, ``events.out.tfevents.*``; for a file the user
    named, also ``.csv``/``.jsonl``/``.txt``/``.log``), or None."""
    candidates = get_importer(fmt) if fmt else list(IMPORTERS)
    if path.is_file() and path.suffix.lower() == ".ipynb":
        # a notebook is read only for its saved outputs, never for dicts in its code
        candidates = [imp for imp in candidates if imp.name == "jupyter"]
    elif path.is_file() and looks_like_source(path):
        return None  # a script can print dicts that look logged; it is never a log itself
    for imp in candidates:
        try:
            if imp.sniff(path):
                return imp
        except OSError:
            return None
        except (ValueError, RecursionError, LookupError):
            continue  # hostile content that trips a sniffer is simply not that format
    for imp in candidates:
        if (explicit or imp.name in _STRONG_NAMES) and imp.claims(path):
            return imp
    return None


def _unknown(path: Path) -> UnknownFormatError:
    return UnknownFormatError(
        "not a training log losslens can read",
        f"known formats: {', '.join(sorted(set(FORMATS)))}; force one with --format",
        path=str(path),
    )


def scan(path: str | os.PathLike[str], fmt: str | None = None) -> Scan:
    """Every importable unit under ``path`` (a file or a directory, walked recursively)."""
    p = Path(path)
    out = Scan()
    if fmt:
        get_importer(fmt)  # fail early on a bad name
    if not p.exists():
        raise ImportError_("no such file or directory", path=str(p))
    if not p.is_dir():
        check_readable(p)
        found = detect(p, fmt, explicit=True)
        if found is None and fmt:
            found = get_importer(fmt)[0]  # forced: let the reader say what is wrong
        if found is None:
            raise _unknown(p)
        out.found.append(Found(found, p))
        return out
    _walk(p, fmt, out)
    return out


def _walk(root: Path, fmt: str | None, out: Scan) -> None:
    allowed = {i.name for i in get_importer(fmt)} if fmt else None

    def ok(name: str) -> bool:
        return allowed is None or name in allowed

    states: dict[Path, list[Path]] = {}
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        d = Path(dirpath)
        dirnames[:] = sorted(
            n for n in dirnames if n not in _SKIP_DIRS and not (n.startswith(".") and d != root)
        )
        filenames.sort()
        if ok("mlflow_file") and _BY_NAME["mlflow_file"].sniff(d):
            out.found.append(Found(_BY_NAME["mlflow_file"], d))
            dirnames[:] = []
            continue
        wandb_names = [f for f in filenames if f.endswith(".wandb")]
        wandb_files = [w for w in wandb_names if special_kind(d / w) is None]
        for w in wandb_names:
            kind = special_kind(d / w)
            if kind is not None:
                # a FIFO/device named *.wandb is never opened (reading a FIFO blocks for ever)
                out.skipped.append(Skipped(display_path(d / w), kind))
        if wandb_names:
            # a W&B run dir: its files/ and logs/ hold copies (output.log), not other runs
            if ok("wandb"):
                out.found.extend(Found(_BY_NAME["wandb"], d / f) for f in wandb_files)
            dirnames[:] = []
            continue
        events = [f for f in filenames if is_event_file_name(f)]
        if events and ok("tensorboard"):
            out.found.append(Found(_BY_NAME["tensorboard"], d))
        for fname in filenames:
            f = d / fname
            if fname in events or fname.startswith("."):
                continue
            if not f.is_file():
                kind = special_kind(f)
                if kind is not None:
                    out.skipped.append(Skipped(display_path(f), kind))
                continue
            try:
                if f.stat().st_size == 0:
                    out.skipped.append(Skipped(display_path(f), "empty file"))
                    continue
            except OSError as exc:
                out.skipped.append(Skipped(display_path(f), f"cannot read: {exc.strerror}"))
                continue
            imp = detect(f, fmt)
            if imp is None:
                out.skipped.append(Skipped(display_path(f), "not a training log"))
            elif imp.name == "hf_trainer_state" and fname == "trainer_state.json":
                states.setdefault(run_root(f), []).append(f)
            else:
                out.found.append(Found(imp, f))
    for files in states.values():
        files.sort(key=checkpoint_rank)
        out.found.append(Found(_BY_NAME["hf_trainer_state"], files[-1]))
        for older in files[:-1]:
            out.skipped.append(
                Skipped(
                    display_path(older),
                    f"older checkpoint ({display_path(files[-1])} is newer)",
                )
            )


def read_found(found: Found) -> Iterator[ImportedRun]:
    """The runs of one unit (errors from opening the file are raised here).

    Under the output folder of a run losslens recorded itself, every run read carries that
    run's source id, so the store recognises it (:mod:`losslens.marker`).
    """
    from losslens.marker import recorded_run_id, source_id_for

    recorded = recorded_run_id(found.path)
    for run in found.importer.read(found.path):
        if recorded is not None:
            run.source_id = source_id_for(recorded)
        yield run


def load_path(path: str | os.PathLike[str], fmt: str | None = None) -> list[ImportedRun]:
    """Every run under ``path``. Raises :class:`UnknownFormatError` when there is none and
    :class:`ImportError_` (file + byte/line) for a file that cannot be read.

    The points of each run stream from its ``batches`` iterator; damage found while
    streaming raises from there.
    """
    result = scan(path, fmt)
    runs: list[ImportedRun] = []
    for found in result.found:
        runs.extend(read_found(found))
    if not runs:
        raise nothing_found(Path(path), result)
    return runs


def nothing_found(path: Path, result: Scan) -> UnknownFormatError:
    n = len(result.skipped)
    return UnknownFormatError(
        f"nothing importable found (looked at {n} file{'s' if n != 1 else ''})",
        "point at a trainer_state.json, console log, wandb/, runs/ (TensorBoard), mlruns/, "
        "a trackio .db, a CSV/JSONL table of steps or epochs or a JSON training history",
        path=str(path),
    )


__all__ = [
    "FORMATS",
    "IMPORTERS",
    "Found",
    "Scan",
    "Skipped",
    "detect",
    "get_importer",
    "load_path",
    "nothing_found",
    "read_found",
    "scan",
]
