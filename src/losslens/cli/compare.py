"""``losslens compare RUN RUN...``: which run is better, by how much, and why.

The verdict comes from :func:`losslens.analysis.compare.compare`; this command loads the
runs (from the store, or log files read directly), diagnoses each and prints the result
for the terminal, as Markdown or as JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from losslens.analysis import analyze
from losslens.analysis.compare import compare, comparison_to_dict
from losslens.cli.analyze import default_lang
from losslens.cli.common import add_report_options, add_store_option, load_stored_run, print_json
from losslens.errors import ConfigError
from losslens.ingest import load_into_memory
from losslens.model import RunData, jsonable

MAX_RUNS = 12


def register(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="compare runs: which is better, by how much, and which config change explains it",
        description="Compare two or more runs on the metric that matters (best eval loss, else "
        "final train loss) at equal steps or epochs, rank their config differences by how "
        "plausibly they explain the gap, and list the findings one run has and the other not.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_OR_PATH", help="run id/name or log path")
    add_report_options(p)
    add_store_option(p)
    p.set_defaults(func=cmd_compare)


def _load(args: argparse.Namespace, target: str) -> list[RunData]:
    path = Path(target).expanduser()
    if path.exists():
        runs = load_into_memory(path, None)
        if not runs:
            raise ConfigError(f"{path} holds no run with metrics")
        return runs
    return [load_stored_run(args, target)]


def cmd_compare(args: argparse.Namespace) -> int:
    runs: list[RunData] = []
    for target in args.runs:
        runs += _load(args, target)
    if len(runs) < 2:
        raise ConfigError(
            "compare needs at least two runs",
            "give two run ids or names (losslens runs lists them), or two log files",
        )
    if len(runs) > MAX_RUNS:
        raise ConfigError(f"compare takes at most {MAX_RUNS} runs, not {len(runs)}")
    lang = args.lang or default_lang()
    result = compare(runs, [analyze(r) for r in runs])
    fmt = "json" if args.json else args.out_format
    if fmt == "json":
        print_json(jsonable(comparison_to_dict(result)))
    elif fmt == "markdown":
        from losslens.render.compare import render_compare_markdown

        print(render_compare_markdown(result, lang), end="")
    else:
        from losslens.render.compare import render_compare_terminal
        from losslens.render.runs import print_renderable

        print_renderable(render_compare_terminal(result, lang))
    return 0
