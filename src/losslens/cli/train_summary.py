"""The end-of-run summary of ``losslens train``: sparklines, saved paths, where to look next.

It opens the store, runs the analysis and renders, so it lives in the command layer, above
``losslens.train`` (which only trains and records).
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from losslens.analysis import analyze
from losslens.model import RunData, Series
from losslens.render.runs import STATUS_STYLE, fmt_duration, metrics_table
from losslens.store import Store
from losslens.train.runner import TrainResult

#: The series shown in the summary, in this order, when present.
SUMMARY_KEYS = (
    "train/loss",
    "eval/loss",
    "train/learning_rate",
    "train/grad_norm",
    "train/mean_token_accuracy",
    "eval/mean_token_accuracy",
    "train/epoch",
)


def _pick(series: dict[str, Series]) -> dict[str, Series]:
    return {k: series[k] for k in SUMMARY_KEYS if k in series}


def _analysis_lines(data: RunData) -> list[Text]:
    """The diagnosis' verdict and findings, as lines for the end-of-training summary."""
    report = analyze(data)
    lines = [Text.assemble(("diagnosis: ", "bold"), str(report.verdict).replace("_", " "))]
    if report.summary.get("en"):
        lines.append(Text(f"  {report.summary['en']}"))
    for finding in report.findings[:8]:
        title = finding.text("title")
        severity = str(finding.severity)
        style = {"error": "red", "warning": "yellow"}.get(severity, "dim")
        lines.append(Text.assemble("  ", (f"[{severity}] ", style), title))
    return lines


def print_summary(console: Console, result: TrainResult) -> None:
    """Print what happened and what to do next (main process only)."""
    if not result.is_main:
        return
    data: RunData | None = None
    if result.run_id is not None:
        with Store(result.store_path) as store:
            data = store.load(result.run_id)
    console.print()
    if data is not None:
        info = data.info
        console.print(
            Text.assemble(
                ("run ", "bold"),
                (f"{info.project}/{info.name}", "bold"),
                f"  {info.id}  ",
                (str(info.status), STATUS_STYLE.get(info.status, "")),
                f"  {fmt_duration(result.seconds)}",
            )
        )
        picked = _pick(data.series)
        if picked:
            console.print(metrics_table(picked, width=24))
    if result.early_stopped_at is not None:
        console.print(
            f"[yellow]early stop[/] at step {result.early_stopped_at}: eval loss kept "
            "rising; the adapter saved is the best checkpoint",
            highlight=False,
            soft_wrap=True,
        )
    if result.saved:
        console.print(Text("saved", style="bold"))
        labels = {
            "adapter": "adapter + tokenizer",
            "config": "resolved config",
            "trainer_state": "trainer state",
            "base_model": "tiny base model",
        }
        for key, path in result.saved.items():
            console.print(f"  {labels.get(key, key):<20} {path}", highlight=False, soft_wrap=True)
    if data is not None:
        for line in _analysis_lines(data):
            console.print(line)
    if result.run_id is not None:
        store_opt = f" --store {result.store_path}"
        console.print(Text("next", style="bold"))
        console.print(
            f"  losslens show {result.run_id}{store_opt}", highlight=False, soft_wrap=True
        )
        console.print(
            f"  losslens analyze {result.run_id}{store_opt}", highlight=False, soft_wrap=True
        )
        console.print(f"  losslens ui{store_opt}", highlight=False, soft_wrap=True)
        if "adapter" in result.saved:
            console.print(
                f'  losslens generate {result.output_dir} --prompt "..."',
                highlight=False,
                soft_wrap=True,
            )
