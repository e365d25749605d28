"""losslens: local training-run tracking and diagnosis.

``import losslens as wandb`` works for the common calls::

    run = losslens.init(project="demo", config={"lr": 2e-4})
    run.log({"train/loss": 1.2})
    run.finish()
"""

from __future__ import annotations

from typing import Any as _Any

from losslens.api import analyze, define_metric, finish, init, log, watch
from losslens.errors import LosslensError
from losslens.model import Finding, Report, RunStatus, Severity, Verdict
from losslens.store import Store
from losslens.tracking.run import Run

__version__ = "0.1.0"

run: Run | None = None
config: _Any = {}
summary: _Any = {}

__all__ = [
    "Finding",
    "LosslensError",
    "Report",
    "Run",
    "RunStatus",
    "Severity",
    "Store",
    "Verdict",
    "__version__",
    "analyze",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "run",
    "summary",
    "watch",
]
