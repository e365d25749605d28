"""The long fuzz run: >= 200 mutations per format, figures written to docs/benchmarks.md.

    .venv/bin/python bench/fuzz.py                    # 220 per format, this tree
    .venv/bin/python bench/fuzz.py --per-format 50    # quick look
    .venv/bin/python bench/fuzz.py --compare-ref HEAD # also run the same inputs against a
                                                      # git ref (git archive into a temp dir)

The inputs are generated from the repository's own fixtures (tests/data/importers) by
tests/fuzz/fuzzlib.py, the same generator the CI suite (tests/fuzz) runs 24 times per
format. Each input is read as ``losslens analyze PATH`` reads it (import into memory,
read back, diagnose, render) in a worker process with a per-input time limit and a 3 GiB
address-space limit. The table counts inputs, tracebacks, hangs, silent damage, refusals
of more than one line, and how many were imported whole, imported in part (with a
message saying what was kept) or refused in one line.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fuzz"))

import fuzzlib  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- fuzz:begin -->"
END = "<!-- fuzz:end -->"
COLUMNS = ("ok", "partial", "refused", "traceback", "hang", "silent", "multiline", "memory")


def _table(results: list[dict[str, object]]) -> list[str]:
    tally = fuzzlib.tally(results)  # type: ignore[arg-type]
    head = "| format | inputs | " + " | ".join(COLUMNS) + " |"
    rows = [head, "|---" * (len(COLUMNS) + 2) + "|"]
    for fmt in [*fuzzlib.SEEDS, "all"]:
        c = tally.get(fmt)
        if c is None:
            continue
        cells = [str(c.get(k, 0)) for k in COLUMNS]
        rows.append(f"| {fmt} | {sum(c.values())} | " + " | ".join(cells) + " |")
    return rows


def _ref_tree(ref: str) -> Path:
    out = Path(tempfile.mkdtemp(prefix="losslens-ref-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out / "src"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-format", type=int, default=220)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--limit", type=float, default=10.0, help="seconds per input")
    ap.add_argument("--compare-ref", help="also run against this git ref (e.g. HEAD)")
    ap.add_argument("--no-write", action="store_true", help="print, do not edit the docs")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="losslens-fuzz-") as tmp:
        t0 = time.monotonic()
        inputs = fuzzlib.make_corpus(Path(tmp), args.per_format, seed=args.seed)
        results = fuzzlib.run_corpus(inputs, limit_s=args.limit)
        took = time.monotonic() - t0
        ref_results = None
        if args.compare_ref:
            ref_results = fuzzlib.run_corpus(
                inputs, limit_s=args.limit, src=_ref_tree(args.compare_ref)
            )
    failures = [r for r in results if r["outcome"] in fuzzlib.FAILURES]
    peak = max(int(str(r.get("maxrss_mb", 0))) for r in results)
    slowest = max(float(str(r.get("seconds", 0))) for r in results)
    lines = [
        BEGIN,
        "## Hostile input (fuzzing)",
        "",
        f"`bench/fuzz.py --per-format {args.per_format} --seed {args.seed}` "
        f"({len(inputs):,} inputs: {args.per_format} mutations of each format's fixture "
        "plus a FIFO named like it; generator and oracle in `tests/fuzz/fuzzlib.py`). Each "
        f"input is read as `losslens analyze PATH` reads it, with a {args.limit:g} s limit "
        f"and a 3 GiB memory limit. This tree, {took:.0f} s on 2 cores; slowest input "
        f"{slowest:.2f} s, peak worker memory {peak} MiB.",
        "",
        *_table(results),
        "",
        "*ok*: imported whole; *partial*: imported up to the damage, with one line naming the "
        "place and what was kept; *refused*: one line, nothing imported; *silent*: stored "
        "points differ from what was read, data that cannot be read back, an escape "
        "sequence reaching the output, or a damaged SQLite source imported without a word.",
    ]
    if ref_results is not None:
        lines += [
            "",
            f"The same inputs against `{args.compare_ref}` (before the hardening):",
            "",
            *_table(ref_results),
        ]
    lines.append(END)
    block = "\n".join(lines)
    print(block)
    for r in failures:
        print(json.dumps(r)[:400], file=sys.stderr)
    if not args.no_write:
        text = DOC.read_text(encoding="utf-8")
        if BEGIN in text:
            text = re.sub(
                re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S
            )
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
        DOC.write_text(text, encoding="utf-8")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
