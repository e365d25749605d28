"""The diagnosis depends on the training, not on incidental properties of the log.

For every labelled corpus run, every fault run (``tests/data/faults``) and realistic healthy
synthetic runs, the set of warning/error finding kinds must stay the same when:

(a) the logging is coarser: every 2nd or every 5th train log kept, as if ``logging_steps``
    were 2x or 5x larger (runs left with fewer than 8 train logs are skipped);
(b) every step is multiplied by 3 with the epochs unchanged (a 3x smaller batch: the
    config's step counts and the summary's ``global_step`` scale with it);
(c) the run's name and output paths are neutral ("run-1"): a "lora" in a name may shape
    the wording, never whether a finding is reported, unless the config says so;
(d) the train and eval losses are scaled by 0.5 or 2, for the rules that should be
    scale-free (spikes, plateaus, trends, divergence, overfitting).

Exemptions, decided per invariance:

- (a) ``loss_spike``, ``grad_spike`` and ``nan_or_inf`` are point events: a coarser log may
  simply not contain the step where they happened (a real Trainer would also average a loss
  spike over the longer window). They may vanish, never appear.
- (a) ``loss_plateau`` and ``loss_not_decreasing`` are compared as one: when the whole
  initial drop lies inside the first logging window, a coarser log cannot show that the
  loss fell before it went flat. The benchmark scores them as one family for that reason.
- (d) kinds defined by absolute loss levels are exempt: ``memorization`` (below 0.105 nats
  the model gives the training token ~90% probability, a statement about the loss value
  itself), ``too_many_epochs`` (its 4-epoch warning keys off memorization), ``eval_gap``
  (at least 0.3 nats apart, besides the 1.5x ratio), ``grad_vanishing`` (loss still above
  0.1), and ``other`` (zero loss, loss ~0 in the first epoch, no eval set as a consequence).
- (b) and (c): nothing is exempt.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from analysis_curves import lora_sft_run, run_of

from losslens.analysis import analyze, transforms
from losslens.analysis.scoring import corpus_logs, fault_logs
from losslens.ingest import load_into_memory
from losslens.model import RunData, Severity

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus" / "shared"
FAULTS = ROOT / "tests" / "data" / "faults"

Transform = Callable[[RunData], RunData | None]

POINT_EVENTS = frozenset({"loss_spike", "grad_spike", "nan_or_inf"})
NOT_LEARNING = frozenset({"loss_plateau", "loss_not_decreasing"})
ABSOLUTE_LEVEL = frozenset(
    {"memorization", "too_many_epochs", "eval_gap", "grad_vanishing", "other"}
)


def serious(run: RunData) -> set[str]:
    return {f.kind for f in analyze(run).findings if f.severity is not Severity.INFO}


def coarser(k: int) -> Transform:
    """Every k-th train log kept, the first and last not kept; runs left with fewer than 8
    finite train losses skipped."""
    return functools.partial(transforms.coarser, k=k, keep_ends=False, min_finite=8)


def _fold(kinds: set[str]) -> set[str]:
    return {"loss_plateau|loss_not_decreasing" if k in NOT_LEARNING else k for k in kinds}


def _coarse_ok(base: set[str], var: set[str]) -> bool:
    b, v = _fold(base), _fold(var)
    return b - POINT_EVENTS == v - POINT_EVENTS and (v & POINT_EVENTS) <= (b & POINT_EVENTS)


def _exact(base: set[str], var: set[str]) -> bool:
    return base == var


def _scale_free(base: set[str], var: set[str]) -> bool:
    return base - ABSOLUTE_LEVEL == var - ABSOLUTE_LEVEL


INVARIANCES: dict[str, tuple[Transform, Callable[[set[str], set[str]], bool]]] = {
    "coarser-2": (coarser(2), _coarse_ok),
    "coarser-5": (coarser(5), _coarse_ok),
    "steps-x3": (functools.partial(transforms.steps_times, c=3), _exact),
    "neutral-names": (transforms.neutral_names, _exact),
    "loss-x0.5": (functools.partial(transforms.loss_times, c=0.5), _scale_free),
    "loss-x2": (functools.partial(transforms.loss_times, c=2.0), _scale_free),
}


@functools.cache
def labelled_runs() -> tuple[tuple[str, RunData], ...]:
    logs = (corpus_logs(CORPUS) if CORPUS.exists() else []) + fault_logs(FAULTS)
    out = []
    for log in logs:
        (run,) = load_into_memory(log.path)
        run.info.config = {**run.info.config, **log.config}
        out.append((log.id, run))
    return tuple(out)


def broken(runs: Any, name: str, base: dict[str, set[str]] | None = None) -> list[str]:
    """The runs whose serious kinds change under the invariance ``name``."""
    transform, ok = INVARIANCES[name]
    out = []
    for rid, run in runs:
        var = transform(run)
        if var is None:
            continue
        before = base[rid] if base is not None else serious(run)
        got = serious(var)
        if not ok(before, got):
            out.append(f"{rid}: {sorted(before)} -> {sorted(got)}")
    return out


@pytest.mark.parametrize("name", list(INVARIANCES))
def test_labelled_runs_are_invariant(name: str) -> None:
    runs = labelled_runs()
    assert CORPUS.exists(), CORPUS
    assert len(runs) >= 30
    assert broken(runs, name) == []


# -- synthetic healthy runs ------------------------------------------------------------------

#: (logged points, logging_steps, extra shape) of realistic healthy LoRA SFT runs.
HEALTHY_SHAPES: list[tuple[int, int, dict[str, Any]]] = [
    (100, 10, {}),
    (100, 1, {"per_step_noise": 0.25, "epochs": 1.0}),
    (100, 5, {"schedule": "linear", "eval_logs": 5, "floor": 0.6}),
    (1000, 1, {"heavy_tails": True}),
    (1000, 5, {"grad_drift": 2.0, "epochs": 3.0}),
    (1000, 2, {"schedule": "constant", "start": 1.8, "floor": 1.3}),
    (10000, 1, {}),
    (10000, 1, {"heavy_tails": True, "grad_drift": 2.0, "schedule": "linear"}),
]


@functools.cache
def healthy_run(i: int, seed: int) -> RunData:
    n, every, shape = HEALTHY_SHAPES[i]
    return lora_sft_run(n, seed, logging_steps=every, **shape)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("i", range(len(HEALTHY_SHAPES)))
def test_healthy_runs_raise_no_alarm(i: int, seed: int) -> None:
    """False alarms on healthy runs are the costliest error: none, at any length or seed,
    and none under any of the invariances either (for the 10k-point runs only the
    cheap ones)."""
    run = healthy_run(i, seed)
    report = analyze(run)
    assert [f.rule_id for f in report.findings if f.severity is not Severity.INFO] == []
    long = len(run.series["train/loss"]) > 1000
    names = ["coarser-5", "steps-x3"] if long else list(INVARIANCES)
    rid = f"{i}/{seed}"
    assert [b for name in names for b in broken([(rid, run)], name, {rid: set()})] == []


# -- the name is a hint, not evidence ---------------------------------------------------------


def _named(name: str, loss: np.ndarray, lr: float) -> RunData:
    steps = np.arange(10, 10 * loss.size + 1, 10)
    rng = np.random.default_rng(3)
    return run_of(
        {
            "train/loss": (steps, loss),
            "train/learning_rate": (steps, np.full(steps.size, lr)),
            "train/grad_norm": (steps, 0.5 * np.exp(0.2 * rng.standard_normal(steps.size))),
        },
        name=name,
    )


def test_a_lora_name_alone_does_not_turn_on_lr_findings() -> None:
    rng = np.random.default_rng(0)
    learning = 1.2 + 0.8 * np.exp(-np.arange(40) / 8) * np.exp(0.02 * rng.standard_normal(40))
    flat = 2.0 * np.exp(0.01 * rng.standard_normal(40))
    # 6e-3 is 30x the usual LoRA rate but the curve is healthy; 1e-5 is low for LoRA only
    for loss, lr in ((learning, 6e-3), (flat, 1e-5)):
        named = serious(_named("llama3-8b-qlora-sft", loss, lr))
        assert named == serious(transforms.neutral_names(_named("llama3-8b-qlora-sft", loss, lr)))
    assert "lr_too_high" not in serious(_named("llama3-8b-qlora-sft", learning, 6e-3))
    assert serious(_named("llama3-8b-qlora-sft", flat, 1e-5)) == {"loss_not_decreasing"}


def test_the_config_still_decides_the_kind_of_run() -> None:
    rng = np.random.default_rng(0)
    learning = 1.2 + 0.8 * np.exp(-np.arange(40) / 8) * np.exp(0.02 * rng.standard_normal(40))
    run = _named("run-1", learning, 6e-3)
    run.info.config = {"lora_r": 16}
    assert "lr_too_high" in serious(run)  # 30x the usual LoRA rate, known from the config
