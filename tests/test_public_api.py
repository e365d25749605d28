"""The public surface: ``__all__`` sorted and complete, and the typed analysis entry point."""

from __future__ import annotations
import __future__

import types
from pathlib import Path

import losslens
from losslens.model import Report, Verdict


def test_all_is_sorted_and_importable() -> None:
    assert losslens.__all__ == sorted(losslens.__all__)
    for name in losslens.__all__:
        assert hasattr(losslens, name), name


def test_all_is_complete() -> None:
    """Every public name of the package is in ``__all__`` (submodules and dunders aside)."""
    public = {
        name
        for name, value in vars(losslens).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    }
    assert public - set(losslens.__all__) == set()
    assert "__version__" in losslens.__all__


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from losslens import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(losslens.__all__)


def test_api_module_holds_no_state_of_its_own() -> None:
    """The current run lives on the package (``losslens.run``), not in ``losslens.api``."""
    import losslens.api

    for name in ("run", "config", "summary"):
        assert not hasattr(losslens.api, name), name


def test_analyze_a_log_file_returns_typed_reports(corpus: Path) -> None:
    reports = losslens.analyze(corpus / "qwen2_lora_23ex_console.txt")
    assert len(reports) == 1
    report = reports[0]
    assert isinstance(report, Report)
    assert report.verdict is Verdict.NEEDS_ATTENTION
    assert {f.kind for f in report.findings} >= {"memorization", "too_many_epochs"}


def test_analyze_a_stored_run(tmp_path: Path) -> None:
    run = losslens.init(project="p", name="flat", dir=tmp_path, system_metrics=False)
    for step in range(200):
        run.log({"train/loss": 2.0 - step * 0.005}, step=step)
    run.finish()
    (report,) = losslens.analyze(run.id, store=str(tmp_path))
    assert report.run.id == run.id
    assert all(f.severity != "error" for f in report.findings)
