"""Synthetic runs for rule tests: build a RunData from a few arrays, with seeded noise."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losslens.analysis import analyze
from losslens.model import Finding, RunData, RunInfo, RunStatus, Series


def run_of(
    series: dict[str, tuple[Any, Any]],
    *,
    config: dict[str, Any] | None = None,
    summary: dict[str, Any] | None = None,
    name: str = "synthetic",
    system: dict[str, tuple[Any, Any]] | None = None,
    wall_times: dict[str, Any] | None = None,
) -> RunData:
    def mk(key: str, steps: Any, values: Any) -> Series:
        walls = (wall_times or {}).get(key)
        return Series.from_lists(key, list(steps), list(values), walls)

    info = RunInfo(
        id="synth001",
        project="tests",
        name=name,
        status=RunStatus.FINISHED,
        start_time=0.0,
        config=dict(config or {}),
        summary=dict(summary or {}),
    )
    return RunData(
        info=info,
        series={k: mk(k, s, v) for k, (s, v) in series.items()},
        system={k: mk(k, s, v) for k, (s, v) in (system or {}).items()},
    )


def train_eval_run(
    train: np.ndarray,
    evals: list[float],
    *,
    eval_every: int,
    spe: int = 100,
    every: int = 10,
    accuracy: list[float] | None = None,
) -> RunData:
    """Train logged every ``every`` steps, ``spe`` steps per epoch, an eval every
    ``eval_every`` steps (with an accuracy logged beside it when given)."""
    steps = np.arange(every, every * train.size + 1, every)
    est = np.arange(eval_every, eval_every * len(evals) + 1, eval_every)
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, train),
        "train/epoch": (steps, steps / spe),
        "eval/loss": (est, np.asarray(evals)),
    }
    if accuracy is not None:
        series["eval/accuracy"] = (est, np.asarray(accuracy))
    return run_of(series)


def noisy(values: Any, rel: float = 0.02, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = np.asarray(values, dtype=float)
    return v * (1 + rel * rng.standard_normal(v.size))


def cosine_lr(steps: np.ndarray, peak: float, total: int, warmup: int = 0) -> np.ndarray:
    out = []
    for s in steps.tolist():
        if s < warmup:
            out.append(peak * s / warmup)
        else:
            t = (s - warmup) / max(1, total - warmup)
            out.append(peak * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))
    return np.asarray(out)


def healthy_run(
    n_steps: int = 300,
    logging_steps: int = 10,
    *,
    eval_every: int | None = 50,
    seed: int = 0,
    config: dict[str, Any] | None = None,
) -> RunData:
    """A LoRA SFT run that learns normally: loss 2.0 -> ~1.2, cosine LR, eval falling."""
    steps = np.arange(logging_steps, n_steps + 1, logging_steps)
    loss = noisy(1.15 + 0.9 * np.exp(-steps / (n_steps / 4)), 0.015, seed)
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, loss),
        "train/learning_rate": (steps, cosine_lr(steps, 2e-4, n_steps, warmup=n_steps // 20)),
        "train/grad_norm": (steps, noisy(np.full(steps.size, 0.6), 0.15, seed + 1)),
        "train/epoch": (steps, steps / (n_steps / 2.0)),
    }
    if eval_every:
        es = np.arange(eval_every, n_steps + 1, eval_every)
        series["eval/loss"] = (es, 1.25 + 0.8 * np.exp(-es / (n_steps / 4)))
    cfg = {"learning_rate": 2e-4, "lora_r": 16, "lr_scheduler_type": "cosine", "max_steps": n_steps}
    return run_of(series, config={**cfg, **(config or {})})


def kinds(report: Any) -> set[str]:
    return {f.kind for f in report.findings}


def ids(report: Any) -> set[str]:
    return {f.rule_id for f in report.findings}


def rule(run: RunData, rule_id: str) -> Finding | None:
    """The first finding of ``rule_id`` on ``run``, None when it does not fire."""
    return next((f for f in analyze(run).findings if f.rule_id == rule_id), None)


def one(report: Any, rule_id: str) -> Any:
    hits = [f for f in report.findings if f.rule_id == rule_id]
    assert len(hits) == 1, f"{rule_id} not found once in {[f.rule_id for f in report.findings]}"
    return hits[0]


def lora_sft_run(
    n_logs: int,
    seed: int,
    *,
    logging_steps: int = 1,
    epochs: float = 2.0,
    start: float = 2.2,
    floor: float = 1.05,
    eval_logs: int = 10,
    grad_level: float = 0.45,
    grad_drift: float = 1.0,
    per_step_noise: float = 0.15,
    heavy_tails: bool = False,
    schedule: str = "cosine",
    name: str = "qwen2.5-0.5b-lora-sft",
) -> RunData:
    """A healthy LoRA SFT run as a real one looks when logged every ``logging_steps`` steps.

    Loss: a fast initial drop (first ~4% of the run) then a slow decline toward ``floor``;
    the logged value is the mean over the logging window, so its relative noise is the
    per-step noise divided by sqrt(logging_steps). Cosine LR 2e-4 with 3% warmup. grad_norm
    log-normal around ``grad_level`` (one step's value: not averaged), optionally drifting by
    ``grad_drift`` over the run as it often does late in a decaying schedule. Eval
    ``eval_logs`` times, slightly above the smooth train curve. Wall times with jitter.
    """
    rng = np.random.default_rng(seed)
    total = n_logs * logging_steps
    steps = np.arange(logging_steps, total + 1, logging_steps)
    t = steps / total
    smooth = floor + (start - floor) * (0.7 * np.exp(-t / 0.04) + 0.3 * (1 - t) ** 1.5)
    sigma = per_step_noise / math.sqrt(logging_steps)
    if heavy_tails:  # Student t with 4 degrees of freedom, unit variance, no absurd draws
        shocks = np.clip(rng.standard_t(4, steps.size) / math.sqrt(2), -6, 6)
    else:
        shocks = rng.standard_normal(steps.size)
    loss = smooth * np.exp(sigma * shocks)
    warmup = max(1, round(0.03 * total))
    lr = cosine_lr(steps, 2e-4, total, warmup=warmup)
    if schedule == "linear":
        lr = np.where(
            steps < warmup, 2e-4 * steps / warmup, 2e-4 * (total - steps) / (total - warmup)
        )
    elif schedule == "constant":
        lr = np.where(steps < warmup, 2e-4 * steps / warmup, 2e-4)
    grad = (
        grad_level
        * (1 + (grad_drift - 1) * t)
        * (1 + 1.5 * np.exp(-t / 0.02))
        * np.exp(0.3 * rng.standard_normal(steps.size))
    )
    per_epoch = total / epochs
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, loss),
        "train/learning_rate": (steps, lr),
        "train/grad_norm": (steps, grad),
        "train/epoch": (steps, np.round(steps / per_epoch, 4)),
    }
    every = max(logging_steps, (total // eval_logs) // logging_steps * logging_steps)
    es = np.arange(every, total + 1, every)
    te = es / total
    eval_smooth = floor + (start - floor) * (0.7 * np.exp(-te / 0.04) + 0.3 * (1 - te) ** 1.5)
    series["eval/loss"] = (
        es,
        (eval_smooth * 1.04 + 0.03) * np.exp(0.004 * rng.standard_normal(es.size)),
    )
    walls = np.cumsum(0.5 * logging_steps * np.exp(0.1 * rng.standard_normal(steps.size)))
    cfg = {
        "learning_rate": 2e-4,
        "lr_scheduler_type": schedule,
        "warmup_ratio": 0.03,
        "max_steps": total,
        "logging_steps": logging_steps,
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 4,
        "max_grad_norm": 1.0,
        "lora_r": 16,
        "lora_alpha": 32,
    }
    return run_of(
        series,
        config=cfg,
        name=name,
        wall_times={"train/loss": walls.tolist()},
    )


def epoch_run(
    train: np.ndarray,
    *,
    spe: float,
    every: int,
    evals: tuple[Any, Any] | None = None,
    extra: dict[str, tuple[Any, Any]] | None = None,
) -> RunData:
    """A train loss logged every ``every`` steps with its epoch (``spe`` steps per epoch),
    optionally an eval loss ``(steps, values)`` and more series."""
    steps = np.arange(every, every * train.size + 1, every)
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, train),
        "train/epoch": (steps, steps / spe),
    }
    if evals is not None:
        series["eval/loss"] = evals
    series.update(extra or {})
    return run_of(series)


PLATEAU_FAMILY = frozenset({"loss_plateau", "loss_not_decreasing", "lr_too_low"})


def lm_run(
    loss: Any,
    *,
    steps_per_epoch: float,
    logging_steps: int = 10,
    max_steps: int,
    peak_lr: float = 5e-5,
    grad_norm: float = 2.0,
    eval_loss: Any = None,
    eval_every: int = 0,
    extra: dict[str, tuple[Any, Any]] | None = None,
    finished: bool = False,
) -> RunData:
    """A language-model run logged every ``logging_steps`` steps with a linear LR decay from
    ``peak_lr`` to 0 at ``max_steps``; ``loss`` holds one value per log, ``eval_loss`` one
    value per ``eval_every`` steps."""
    loss = np.asarray(loss, dtype=float)
    steps = np.arange(1, loss.size + 1) * logging_steps
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, loss),
        "train/learning_rate": (steps, peak_lr * (1 - steps / max_steps)),
        "train/grad_norm": (steps, noisy(np.full(steps.size, grad_norm), 0.1, 3)),
        "train/epoch": (steps, steps / steps_per_epoch),
    }
    if eval_loss is not None:
        ev = np.asarray(eval_loss, dtype=float)
        series["eval/loss"] = (np.arange(1, ev.size + 1) * eval_every, ev)
    series.update(extra or {})
    return run_of(
        series,
        config={"learning_rate": peak_lr, "max_steps": max_steps, "logging_steps": logging_steps},
        summary={"train_runtime": 100.0} if finished else {},
    )
