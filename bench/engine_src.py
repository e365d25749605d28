"""Where a bench script imports losslens from: ``src/``, or the ``--engine-src DIR`` given.

Import it first, while ``bench/`` is still on ``sys.path`` (a script run as
``python bench/x.py`` has it there), and call :func:`use_engine_src` before losslens is
imported::

    from engine_src import use_engine_src

    ROOT = use_engine_src()
    from losslens.analysis import analyze  # noqa: E402

``--engine-src DIR`` measures another copy of the package (e.g. the last commit's, for a
before/after table).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def use_engine_src() -> Path:
    """Put the losslens to measure first on ``sys.path``, take ``bench/`` off it; the root."""
    # bench/ holds a logging.py benchmark that would shadow the standard library module
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    src = ROOT / "src"
    if "--engine-src" in sys.argv:
        src = Path(sys.argv[sys.argv.index("--engine-src") + 1]).resolve()
    sys.path.insert(0, str(src))
    return ROOT


def import_tool(name: str) -> ModuleType:
    """The module ``name`` (``losslens.x.y``) of the copy measured, else this tree's file of it.

    For the measuring tools (e.g. ``losslens.analysis.transforms``) that an older
    ``--engine-src`` copy does not have yet.
    """
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        path = ROOT / "src" / (name.replace(".", "/") + ".py")
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module
