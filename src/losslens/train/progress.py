"""The live terminal view of ``losslens train``: a progress bar and immediate warnings.

On a terminal: a rich progress bar with step, loss, learning rate, gradient norm, eval loss
and tokens/s. Elsewhere (CI logs, pipes): one plain line about every 10% of the run and at
each evaluation. It checks nothing itself: the live engine
(:class:`losslens.analysis.live.LiveEngine`, fed by the guard callback) calls :meth:`show` with
each alert as soon as it is seen.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from transformers import TrainerCallback

from losslens.analysis.live import Alert
from losslens.keys import is_run_summary
from losslens.model import as_float


def _f(x: float | None, fmt: str = ".4g") -> str:
    if x is None:
        return "-"
    if not math.isfinite(x):
        return str(x)
    return format(x, fmt)


def print_alert(console: Console, alert: Alert) -> None:
    style = "bold red" if alert.fatal else "yellow"
    label = "problem" if alert.fatal else "warning"
    console.print(f"[{style}]{label}:[/] {alert.message}", highlight=False, soft_wrap=True)
    if alert.hint:
        console.print(f"  [dim]{alert.hint}[/]", highlight=False, soft_wrap=True)


class LiveProgress(TrainerCallback):
    """Shows training as it happens (main process only); keeps the numbers for the summary."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.alerts: list[Alert] = []
        self.loss: float | None = None
        self.lr: float | None = None
        self.grad_norm: float | None = None
        self.eval_loss: float | None = None
        self.tokens_per_s: float | None = None
        self._tokens: tuple[float, float] | None = None  # (num_tokens, time) at the first log
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._main = True
        self._max_steps = 0
        self._eval_steps = 0
        self._last_line_step = -1

    # -- trainer events -------------------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._main = bool(state.is_world_process_zero)
        if not self._main:
            return
        self._max_steps = int(state.max_steps)
        if str(getattr(args, "eval_strategy", "no")) in ("steps", "IntervalStrategy.STEPS"):
            self._eval_steps = int(state.eval_steps or 0)
        if self.console.is_terminal:
            self._progress = Progress(
                TextColumn("[bold]step {task.completed}/{task.total}"),
                BarColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=False,
            )
            self._task = self._progress.add_task("train", total=self._max_steps, stats="")
            self._progress.start()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=state.global_step)

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self._main or not logs or is_run_summary(logs):
            return
        step = int(state.global_step)
        is_eval = "eval_loss" in logs
        if is_eval:
            self.eval_loss = as_float(logs.get("eval_loss"))
        elif "loss" in logs or "grad_norm" in logs:
            self.loss = as_float(logs.get("loss"))
            self.grad_norm = as_float(logs.get("grad_norm"))
            self.lr = as_float(logs.get("learning_rate"))
            self._update_throughput(as_float(logs.get("num_tokens")))
        self._refresh(step, is_eval)

    def show(self, alert: Alert) -> None:
        """Print an alert of the live engine now (main process only) and keep it."""
        self.alerts.append(alert)
        if self._main:
            print_alert(self.console, alert)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.close()

    # -- helpers -------------------------------------------------------------------------------

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _update_throughput(self, num_tokens: float | None) -> None:
        if num_tokens is None:
            return
        now = time.monotonic()
        if self._tokens is None:
            self._tokens = (num_tokens, now)
            return
        t0, w0 = self._tokens
        if now > w0 and num_tokens > t0:
            self.tokens_per_s = (num_tokens - t0) / (now - w0)

    def stats(self) -> str:
        parts = [
            f"loss {_f(self.loss)}",
            f"lr {_f(self.lr, '.2e')}",
            f"grad {_f(self.grad_norm, '.3g')}",
        ]
        if self.eval_loss is not None:
            parts.append(f"eval {_f(self.eval_loss)}")
        if self.tokens_per_s is not None:
            parts.append(f"{self.tokens_per_s:,.0f} tok/s")
        return "  ".join(parts)

    def _refresh(self, step: int, is_eval: bool) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=step, stats=self.stats())
            return
        every = max(1, self._max_steps // 10)
        due = step == 1 or step >= self._last_line_step + every or step == self._max_steps
        eval_follows = self._eval_steps > 0 and step % self._eval_steps == 0
        if is_eval or (due and not eval_follows):
            if step == self._last_line_step:
                return
            self._last_line_step = step
            self.console.print(
                f"step {step}/{self._max_steps}  {self.stats()}", highlight=False, soft_wrap=True
            )
