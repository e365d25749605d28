"""Terminal and JSON views of runs: the runs table and ``losslens show``."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from losslens.model import RunData, RunInfo, RunStatus, Series
from losslens.present.config import config_view
from losslens.present.format import fmt_duration as fmt_duration
from losslens.present.format import fmt_time as fmt_time
from losslens.present.format import fmt_value as fmt_value
from losslens.render.sparkline import sparkline
from losslens.textsafe import safe

STATUS_STYLE = {
    RunStatus.RUNNING: "bold cyan",
    RunStatus.FINISHED: "green",
    RunStatus.CRASHED: "bold red",
    RunStatus.FAILED: "red",
    RunStatus.KILLED: "yellow",
}


def runs_table(runs: list[RunInfo]) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    verdicts = any(r.verdict for r in runs)  # kept in the store (losslens.stored_analysis)
    cols = ("id", "project", "name", "status", "started", "duration", "source")
    for col in (*cols, "verdict") if verdicts else cols:
        table.add_column(col)
    for r in runs:
        cells: list[Any] = [
            safe(r.id),
            Text(safe(r.project)),
            Text(safe(r.name)),
            Text(str(r.status), style=STATUS_STYLE.get(r.status, "")),
            fmt_time(r.start_time),
            fmt_duration(r.duration),
            Text(safe(r.source or "logged")),
        ]
        if verdicts:
            cells.append(Text((r.verdict or "-").replace("_", " ")))
        table.add_row(*cells)
    return table


def run_to_dict(info: RunInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "project": info.project,
        "name": info.name,
        "status": str(info.status),
        "start_time": info.start_time,
        "end_time": info.end_time,
        "duration": info.duration,
        "heartbeat": info.heartbeat,
        "host": info.host,
        "command": info.command,
        "git_commit": info.git_commit,
        "source": info.source,
        "output_dir": info.output_dir,
        "exit_code": info.exit_code,
        "config": info.config,
        "summary": info.summary,
    }


def series_stats(s: Series) -> dict[str, Any]:
    fin = s.finite
    return {
        "points": len(s),
        "first_step": int(s.steps[0]) if len(s) else None,
        "last_step": int(s.steps[-1]) if len(s) else None,
        "first": float(fin.values[0]) if len(fin) else None,
        "last": float(fin.values[-1]) if len(fin) else None,
        "min": float(fin.values.min()) if len(fin) else None,
        "max": float(fin.values.max()) if len(fin) else None,
        "non_finite": len(s) - len(fin),
    }


def metrics_table(series: dict[str, Series], width: int = 20) -> Table:
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col, justify in (
        ("metric", "left"),
        ("", "left"),
        ("last", "right"),
        ("min", "right"),
        ("max", "right"),
        ("points", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for key in sorted(series):
        s = series[key]
        st = series_stats(s)
        table.add_row(
            Text(safe(key)),
            Text(sparkline(s.values, width), style="cyan"),
            fmt_value(st["last"]) if st["last"] is not None else "-",
            fmt_value(st["min"]) if st["min"] is not None else "-",
            fmt_value(st["max"]) if st["max"] is not None else "-",
            str(st["points"]),
        )
    return table


def kv_table(data: dict[str, Any]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    for k in sorted(data):
        v = data[k]
        table.add_row(
            Text(safe(k)), Text(safe(fmt_value(v) if not isinstance(v, dict | list) else str(v)))
        )
    return table


def config_table(config: dict[str, Any]) -> Table:
    """The choices that matter first (model, data, LR, schedule, batch × accumulation,
    epochs/steps, LoRA), then the other flat values; nested blocks (the Trainer's whole
    ``training_args``) as one line each: ``losslens show RUN --json`` has them in full."""
    view = config_view(config)
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="dim")
    table.add_column()
    for k, v in view.lead:
        table.add_row(Text(safe(k)), Text(safe(v), style="bold"))
    for k, v in view.rest:
        table.add_row(Text(safe(k)), Text(safe(v)))
    for k, _ in view.folded:
        n = len(config[k]) if isinstance(config.get(k), dict) else 0
        table.add_row(Text(safe(k)), Text(f"{{{n} settings}} (--json shows them)", style="dim"))
    return table


def show_run(run: RunData) -> RenderableType:
    i = run.info
    head = Text.assemble(
        (f"{safe(i.project)}/{safe(i.name)}", "bold"),
        f"  {safe(i.id)}  ",
        (str(i.status), STATUS_STYLE.get(i.status, "")),
        f"  started {fmt_time(i.start_time)}  duration {fmt_duration(i.duration)}",
    )
    parts: list[RenderableType] = [head]
    if i.status is RunStatus.CRASHED:
        parts.append(
            Text(
                "the logging process stopped without finishing the run; "
                f"last sign of life {fmt_time(i.heartbeat)}",
                style="red",
            )
        )
    if i.source:
        parts.append(Text(f"imported from {safe(i.source)}", style="dim"))
    if i.output_dir:
        parts.append(Text(f"output: {safe(i.output_dir)}", style="dim"))
    if run.series:
        parts += [Text("\nRun history", style="bold"), metrics_table(run.series)]
    if i.summary:
        parts += [Text("\nRun summary", style="bold"), kv_table(i.summary)]
    if i.config:
        parts += [Text("\nConfig", style="bold"), config_table(i.config)]
    if run.system:
        parts += [Text("\nSystem", style="bold"), metrics_table(run.system)]
    return Group(*parts)


def print_renderable(obj: RenderableType, width: int | None = None) -> None:
    from losslens.render.terminal import emit

    emit(obj, width)
