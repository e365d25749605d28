"""Data flows one way: the import graph of the package may not point back up.

source -> importers / tracking -> store -> analysis -> render -> ui, with train and the
integrations on top. Every import in every module counts, lazy ones inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "losslens"

#: (layer, layers it must never import, why)
FORBIDDEN = [
    ("render", {"ui"}, "renderers sit below the dashboard"),
    ("present", {"render", "ui"}, "templates and page words sit below both their users"),
    ("analysis", {"store", "render", "importers"}, "rules never read files or the store"),
    ("tracking", {"analysis"}, "recording does not diagnose"),
    ("integrations", {"train"}, "the callbacks are a library; losslens train builds on them"),
]


def imported_layers(path: Path) -> dict[str, int]:
    """The ``losslens.<layer>`` packages a module imports, with the first line of each."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: dict[str, int] = {}
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "losslens":
                names = [f"losslens.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "losslens" and len(parts) > 1:
                out.setdefault(parts[1], node.lineno)
    return out


def layer_files(layer: str) -> list[Path]:
    return sorted((SRC / layer).rglob("*.py"))


@pytest.mark.parametrize(("layer", "banned", "why"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_no_upward_imports(layer: str, banned: set[str], why: str) -> None:
    files = layer_files(layer)
    assert files, f"no modules under src/losslens/{layer}"
    bad = [
        f"{path.relative_to(SRC.parent)}:{line} imports losslens.{target}"
        for path in files
        for target, line in imported_layers(path).items()
        if target in banned
    ]
    assert bad == [], f"{layer} must not import {sorted(banned)} ({why}):\n" + "\n".join(bad)


def test_the_page_assets_live_below_render_and_ui() -> None:
    assert not (SRC / "ui" / "static").exists() and not (SRC / "ui" / "templates").exists()
    assert (SRC / "present" / "static" / "losslens.js").is_file()
    assert (SRC / "present" / "templates" / "base.html").is_file()


def test_the_checker_sees_imports(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text(
        "import losslens.store\nfrom losslens import render\n"
        "def f():\n    from losslens.ui.pages import x\n",
        encoding="utf-8",
    )
    assert set(imported_layers(mod)) == {"store", "render", "ui"}


def _names_used(paths: list[Path]) -> dict[str, set[Path]]:
    used: dict[str, set[Path]] = {}
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.Attribute):
                name = node.attr
            elif isinstance(node, ast.alias):
                name = node.name.rsplit(".", 1)[-1]
            if name:
                used.setdefault(name, set()).add(path)
    return used


#: Modules known to hold bench-only code, each with why it is still in the package. An entry
#: must still be true (the test fails when the module moved, so the list stays short).
PENDING_MOVES = {
    "losslens/analysis/scoring.py": "the diagnosis benchmark's scoring; its owner is editing it",
    "losslens/analysis/transforms.py": "the logging transforms of the invariance tests and"
    " bench/invariance.py: one copy both import (tests cannot import bench/)",
}


def test_no_benchmark_only_helpers_in_the_package() -> None:
    """A function the package defines but only bench/ (and tests) call belongs in bench/."""
    src = sorted(SRC.rglob("*.py"))
    bench = sorted((SRC.parents[1] / "bench").glob("*.py"))
    in_src = _names_used(src)
    in_bench = _names_used(bench)
    only_bench = []
    for path in src:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("_"):
                continue
            users = in_src.get(node.name, set()) - {path}
            own_uses = sum(
                1
                for n in ast.walk(tree)
                if isinstance(n, ast.Name) and n.id == node.name and n is not node
            )
            if not users and not own_uses and node.name in in_bench:
                only_bench.append(f"{path.relative_to(SRC.parent)}: {node.name}")
    pending = {m for m in only_bench if m.split(":")[0] in PENDING_MOVES}
    assert {m.split(":")[0] for m in pending} == set(PENDING_MOVES), "PENDING_MOVES is stale"
    left = sorted(set(only_bench) - pending)
    assert left == [], "only bench/ uses these; move them there:\n" + "\n".join(left)
