"""Regenerates docs that are built from code (docs/rules.md); --check fails when they are stale."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generated() -> dict[Path, str]:
    out: dict[Path, str] = {}
    try:
        from losslens.analysis.docs import rules_markdown
    except ModuleNotFoundError:
        return out
    out[ROOT / "docs" / "rules.md"] = rules_markdown()
    return out


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, text in generated().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current != text:
            if check:
                stale.append(path)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        names = ", ".join(str(p.relative_to(ROOT)) for p in stale)
        print(f"stale generated docs: {names}; run: .venv/bin/python scripts/gen_docs.py")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
