"""Templates, static files and the words of the pages sit below both their users."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "losslens"


def layers_imported(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "losslens":
                names = [f"losslens.{a.name}" for a in node.names]
        out |= {n.split(".")[1] for n in names if n.startswith("losslens.") and "." in n}
    return out


def test_present_imports_neither_render_nor_ui() -> None:
    files = sorted((SRC / "present").rglob("*.py"))
    assert files
    bad = {f.name: layers_imported(f) & {"render", "ui"} for f in files}
    assert all(not v for v in bad.values()), bad


def test_render_never_imports_ui_and_the_assets_live_in_present() -> None:
    bad = {f.name for f in (SRC / "render").rglob("*.py") if "ui" in layers_imported(f)}
    assert bad == set()
    assert not (SRC / "ui" / "static").exists() and not (SRC / "ui" / "templates").exists()
    assert (SRC / "present" / "static" / "losslens.js").is_file()
    assert (SRC / "present" / "templates" / "base.html").is_file()


def test_the_checker_sees_lazy_imports(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text("def f():\n    from losslens.ui.pages import x\n", encoding="utf-8")
    assert layers_imported(mod) == {"ui"}
