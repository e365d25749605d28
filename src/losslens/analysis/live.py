"""The live engine: one checker for a run while it trains, shared by every live view.

:class:`LiveEngine` is fed each log record once. It runs two things:

- :class:`LiveChecks`, fast checks on each record (NaN/Inf, divergence, dead gradients,
  gradient spikes, rising eval loss) that return :class:`Alert` at once. Thresholds are
  deliberately loose: with ``--guard`` the fatal ones stop the run.
- an :class:`losslens.analysis.engine.Analyzer` holding every point, so the full rule set
  can be asked at any time (:meth:`LiveEngine.findings`) without reading the store.

``losslens train`` builds one engine: the guard callback feeds it and the terminal view only
shows what it found, so a record is checked once even with ``--guard``. The Hugging Face
``GuardCallback`` (``losslens.integrations.hf``) is built on the same engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from losslens.analysis.engine import Analyzer
from losslens.keys import SUMMARY_ONLY, is_run_summary, normalize_key
from losslens.model import Finding, as_float

#: Consecutive log records above the divergence line before it counts as divergence.
DIVERGENCE_PATIENCE = 3
#: "Above the line": more than this many times the best loss so far (and above the start).
DIVERGENCE_FACTOR = 2.0
#: A single record this many times the first loss is divergence at once.
EXPLOSION_FACTOR = 10.0
#: Consecutive records with a gradient norm of exactly 0 before the run counts as dead.
DEAD_PATIENCE = 3
#: A gradient norm this many times the running median is reported as a spike.
GRAD_SPIKE_FACTOR = 10.0
#: An eval loss counts as risen when it is this much (relative) above the best one.
EVAL_RISE_TOLERANCE = 0.002


@dataclass(frozen=True)
class Alert:
    """Something the live checks saw. ``fatal`` alerts stop the run when the guard is on."""

    kind: str  # nan_or_inf | divergence | grad_vanishing | grad_spike | overfitting
    step: int
    message: str
    fatal: bool
    hint: str = ""


def _fmt(x: float) -> str:
    return f"{x:.4g}"


@dataclass
class LiveChecks:
    """Feed every train and eval record; each kind of alert is raised once."""

    early_stopping_patience: int = 0
    first_loss: float | None = None
    best_loss: float = math.inf
    high_count: int = 0
    dead_count: int = 0
    grad_norms: list[float] = field(default_factory=list)
    best_eval: float = math.inf
    best_eval_step: int | None = None
    evals_risen: int = 0
    raised: set[str] = field(default_factory=set)

    def _once(self, alert: Alert) -> list[Alert]:
        if alert.kind in self.raised:
            return []
        self.raised.add(alert.kind)
        return [alert]

    def on_train(
        self,
        step: int,
        loss: float | None,
        grad_norm: float | None = None,
        learning_rate: float | None = None,
    ) -> list[Alert]:
        out: list[Alert] = []
        lr_note = f" (learning rate {_fmt(learning_rate)})" if learning_rate is not None else ""
        for name, value in (("loss", loss), ("gradient norm", grad_norm)):
            if value is not None and not math.isfinite(value):
                out += self._once(
                    Alert(
                        "nan_or_inf",
                        step,
                        f"{name} is {value} at step {step}{lr_note}",
                        True,
                        "lower --lr (try 10x smaller); with --precision fp16 try fp32 or bf16",
                    )
                )
        if loss is not None and math.isfinite(loss):
            if self.first_loss is None:
                self.first_loss = loss
            line = max(DIVERGENCE_FACTOR * self.best_loss, self.first_loss)
            high = loss > line
            self.high_count = self.high_count + 1 if high else 0
            exploded = self.first_loss > 0 and loss > EXPLOSION_FACTOR * self.first_loss
            if self.high_count >= DIVERGENCE_PATIENCE or exploded:
                out += self._once(
                    Alert(
                        "divergence",
                        step,
                        f"loss is diverging: {_fmt(loss)} at step {step}, up from a best of "
                        f"{_fmt(self.best_loss)} (start {_fmt(self.first_loss)}){lr_note}",
                        True,
                        "lower --lr or raise --warmup_ratio",
                    )
                )
            self.best_loss = min(self.best_loss, loss)
        if grad_norm is not None and math.isfinite(grad_norm):
            if grad_norm == 0.0 and any(g > 0 for g in self.grad_norms):
                self.dead_count += 1
            else:
                self.dead_count = 0
            if self.dead_count >= DEAD_PATIENCE and (learning_rate is None or learning_rate > 0):
                out += self._once(
                    Alert(
                        "grad_vanishing",
                        step,
                        f"gradients are exactly 0 for {self.dead_count} records up to step {step}: "
                        f"the model has stopped learning{lr_note}",
                        True,
                        "the weights saturated; lower --lr by orders of magnitude",
                    )
                )
            if len(self.grad_norms) >= 5:
                recent = sorted(self.grad_norms[-50:])
                median = recent[len(recent) // 2]
                if median > 0 and grad_norm > GRAD_SPIKE_FACTOR * median:
                    out += self._once(
                        Alert(
                            "grad_spike",
                            step,
                            f"gradient norm spiked to {_fmt(grad_norm)} at step {step} "
                            f"({grad_norm / median:.0f}x the median {_fmt(median)})",
                            False,
                            "one spike is often harmless; many mean the learning rate is too high",
                        )
                    )
            self.grad_norms.append(grad_norm)
        return out

    def on_eval(self, step: int, eval_loss: float | None) -> list[Alert]:
        if eval_loss is None:
            return []
        if not math.isfinite(eval_loss):
            return self._once(
                Alert(
                    "nan_or_inf",
                    step,
                    f"eval loss is {eval_loss} at step {step}",
                    True,
                    "lower --lr; with --precision fp16 try fp32 or bf16",
                )
            )
        if eval_loss < self.best_eval:
            self.best_eval = eval_loss
            self.best_eval_step = step
            self.evals_risen = 0
            return []
        if eval_loss <= self.best_eval + EVAL_RISE_TOLERANCE * abs(self.best_eval):
            return []  # flat: neither better nor clearly worse
        self.evals_risen += 1
        if self.evals_risen >= 2:
            return self._once(
                Alert(
                    "overfitting",
                    step,
                    f"eval loss has risen for {self.evals_risen} evaluations "
                    f"(best {_fmt(self.best_eval)} at step {self.best_eval_step}, "
                    f"now {_fmt(eval_loss)})",
                    False,
                    "the model may be memorising the training set; "
                    "--early_stopping_patience N stops and keeps the best adapter",
                )
            )
        return []

    @property
    def should_early_stop(self) -> bool:
        p = self.early_stopping_patience
        return p > 0 and self.evals_risen >= p


class LiveEngine:
    """Checks a run record by record; every alert is kept and passed to ``on_alert``.

    ``feed(step, logs)`` takes one Trainer-style log record (``loss``, ``grad_norm``,
    ``learning_rate``, ``eval_loss``, ... or canonical ``train/loss`` keys) and returns the
    new alerts. ``trip`` is the first fatal alert; ``should_early_stop`` follows
    ``early_stopping_patience``. ``findings()`` runs the whole rule set on what was fed.
    """

    def __init__(
        self,
        *,
        early_stopping_patience: int = 0,
        config: dict[str, object] | None = None,
        on_alert: Callable[[Alert], None] | None = None,
    ) -> None:
        self.checks = LiveChecks(early_stopping_patience=early_stopping_patience)
        self.analyzer = Analyzer(config=config)
        self.alerts: list[Alert] = []
        self.trip: Alert | None = None
        self.listeners: list[Callable[[Alert], None]] = [on_alert] if on_alert else []

    def feed(self, step: int, logs: Mapping[str, Any]) -> list[Alert]:
        if not logs or is_run_summary(logs):
            return []
        values = {normalize_key(k): as_float(v) for k, v in logs.items() if k not in SUMMARY_ONLY}
        numbers = {k: v for k, v in values.items() if v is not None}
        if any(k.startswith("eval/") for k in numbers):  # epoch & co. repeat the train record
            numbers = {k: v for k, v in numbers.items() if k.startswith("eval/")}
        if numbers:
            self.analyzer.log(numbers, step)
        alerts: list[Alert] = []
        loss, grad = values.get("train/loss"), values.get("train/grad_norm")
        if "train/loss" in values or "train/grad_norm" in values:
            alerts += self.checks.on_train(step, loss, grad, values.get("train/learning_rate"))
        if "eval/loss" in values:
            alerts += self.checks.on_eval(step, values["eval/loss"])
        for alert in alerts:
            self.alerts.append(alert)
            if alert.fatal and self.trip is None:
                self.trip = alert
            for listener in self.listeners:
                listener(alert)
        return alerts

    @property
    def should_early_stop(self) -> bool:
        return self.checks.should_early_stop

    def findings(self) -> list[Finding]:
        """Findings of the full rule set that are new since the last call."""
        return self.analyzer.check()


__all__ = ["Alert", "LiveChecks", "LiveEngine"]
