"""Synthetic runs for rule tests: build a RunData from a few arrays, with seeded noise."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from losslens.model import RunData, RunInfo, RunStatus, Series


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


def one(report: Any, rule_id: str) -> Any:
    hits = [f for f in report.findings if f.rule_id == rule_id]
    assert len(hits) == 1, f"{rule_id} not found once in {[f.rule_id for f in report.findings]}"
    return hits[0]
