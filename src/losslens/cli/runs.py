"""``losslens runs`` and ``losslens show``."""

from __future__ import annotations

import argparse
from typing import Any

from losslens.cli.common import add_json_option, add_store_option, open_store, print_json
from losslens.model import RunInfo
from losslens.paths import default_store_path
from losslens.render.runs import print_renderable, run_to_dict, runs_table, series_stats, show_run
from losslens.store import StoreProtocol


def register(sub: Any) -> None:
    p = sub.add_parser("runs", help="list recorded and imported runs")
    p.add_argument("--project", help="only this project")
    add_store_option(p)
    add_json_option(p)
    p.set_defaults(func=cmd_runs)

    p = sub.add_parser("show", help="a run's config, summary and one sparkline per metric")
    p.add_argument("run", help="run id, id prefix or name")
    add_store_option(p)
    add_json_option(p)
    p.set_defaults(func=cmd_show)


def cmd_runs(args: argparse.Namespace) -> int:
    from losslens.store.open import store_spec

    if store_spec(args.store) is None and not default_store_path().exists():
        runs = []  # nothing recorded yet on this machine: not an error
    else:
        with open_store(args) as store:
            runs = store.list_runs(args.project)
            _add_verdicts(store, runs)
    if args.json:
        print_json([{**run_to_dict(r), "verdict": r.verdict} for r in runs])
    elif not runs:
        print("no runs yet: log one with losslens.init(), train one, or losslens import PATH")
    else:
        print_renderable(runs_table(runs))
    return 0


def _add_verdicts(store: StoreProtocol, runs: list[RunInfo]) -> None:
    """Each run's verdict from the findings kept in the store; a run without a current
    analysis (new points, or a store from before analyses were kept) is analysed once."""
    from losslens.stored_analysis import verdicts

    found = verdicts(store, runs, analyse=not store.readonly)
    for r in runs:
        got = found.get(r.id)
        r.verdict = got.verdict if got is not None else None


def cmd_show(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        run = store.load(args.run)
    if args.json:
        data = run_to_dict(run.info)
        data["metrics"] = {k: series_stats(s) for k, s in run.series.items()}
        data["system"] = {k: series_stats(s) for k, s in run.system.items()}
        print_json(data)
    else:
        print_renderable(show_run(run))
    return 0
