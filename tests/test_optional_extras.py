"""Tests that need an optional extra skip with the extra named; they never fail for lack of it.

Read from the test sources (ast): a module-level import of a package that only an extra
installs must follow ``needs(...)`` for it, and every ``importorskip`` of such a package
says which extra (``reason=``), which ``extras.needs`` does.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from extras import EXTRA_OF, needs, reason

ROOT = Path(__file__).resolve().parents[1]
TESTS = sorted(p for p in (ROOT / "tests").rglob("*.py") if "data" not in p.parts)


def _root(name: str) -> str:
    return name.split(".")[0]


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr
    return f.id if isinstance(f, ast.Name) else ""


def _guarded(node: ast.AST) -> set[str]:
    """Optional packages a statement guards (``needs("x")`` / ``importorskip("x", reason=)``)."""
    out: set[str] = set()
    for call in ast.walk(node):
        if not isinstance(call, ast.Call) or not call.args:
            continue
        arg = call.args[0]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            continue
        name = _call_name(call)
        has_reason = any(k.arg == "reason" for k in call.keywords)
        if name == "needs" or (name == "importorskip" and has_reason):
            out.add(_root(arg.value))
    return out


def problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    out: list[str] = []
    guarded: set[str] = set()
    for stmt in tree.body:  # module level, in order
        guarded |= _guarded(stmt)
        names: list[str] = []
        if isinstance(stmt, ast.Import):
            names = [a.name for a in stmt.names]
        elif isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
            names = [stmt.module]
        for name in names:
            if _root(name) in EXTRA_OF and _root(name) not in guarded:
                extra = EXTRA_OF[_root(name)]
                out.append(f"{where}:{stmt.lineno}: imports {name} without needs(.., '{extra}')")
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and _call_name(call) == "importorskip" and call.args:
            arg = call.args[0]
            named = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            optional = named and _root(str(getattr(arg, "value", ""))) in EXTRA_OF
            if optional and not any(k.arg == "reason" for k in call.keywords):
                out.append(f"{where}:{call.lineno}: importorskip without the extra named")
    return out


def test_every_optional_import_skips_with_its_extra() -> None:
    found = [p for path in TESTS for p in problems(path)]
    assert found == [], "\n".join(found)


def test_the_extras_table_matches_pyproject() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    assert set(EXTRA_OF.values()) <= set(extras)
    assert set(extras) - {"all", "dev", "demo"} <= set(EXTRA_OF.values())


def test_the_checker_catches_an_unguarded_import(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text("import pytest\nimport wandb\npytest.importorskip('mlflow')\n")
    assert len(problems(probe)) == 2
    probe.write_text("from extras import needs\nneeds('wandb', 'wandb')\nimport wandb\n")
    assert problems(probe) == []


def test_a_missing_extra_skips_naming_it() -> None:
    with pytest.raises(pytest.skip.Exception, match=r"needs the 'ui' extra"):
        needs("losslens_no_such_module_", "ui")
    assert "pip install -e '.[train]'" in reason("train")
