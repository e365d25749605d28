"""Arithmetic behind the fixes: numbers and flags to paste, computed from the run itself.

Pure functions, no I/O. The Trainer counts optimizer steps per epoch as
``ceil(ceil(examples / (per_device_batch x processes)) / gradient_accumulation)`` (at least
one), and logs at every step that is a multiple of ``logging_steps``. A rule that knows the
dataset size and the batch shape can therefore say "``--max_steps 9``" instead of
"max_steps ≈ epochs × examples / effective batch", and warn that ``--logging_steps 10`` would
then log nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from losslens.analysis.messages import Text, tr

#: How many train records a run should leave for the diagnosis to read a curve.
MIN_USEFUL_LOGS = 10


def steps_per_epoch(
    examples: int, per_device_batch: int = 1, grad_accum: int = 1, world_size: int = 1
) -> int:
    """Optimizer steps in one pass over ``examples`` (the Trainer's own count, at least 1)."""
    if examples < 1:
        return 1
    batches = math.ceil(examples / max(1, per_device_batch * max(1, world_size)))
    return max(1, math.ceil(batches / max(1, grad_accum)))


def steps_for_epochs(
    epochs: float,
    examples: int,
    per_device_batch: int = 1,
    grad_accum: int = 1,
    world_size: int = 1,
) -> int:
    """``max_steps`` that trains for ``epochs`` passes (rounded up, at least 1)."""
    per = steps_per_epoch(examples, per_device_batch, grad_accum, world_size)
    return max(1, math.ceil(epochs * per - 1e-9))


def epochs_for_steps(
    max_steps: int,
    examples: int,
    per_device_batch: int = 1,
    grad_accum: int = 1,
    world_size: int = 1,
) -> float:
    """How many passes over the data ``max_steps`` optimizer steps make."""
    return max_steps / steps_per_epoch(examples, per_device_batch, grad_accum, world_size)


def logged_records(max_steps: int, logging_steps: int) -> int:
    """Train records of a ``max_steps`` run at ``logging_steps`` (the first step not counted)."""
    if logging_steps < 1:
        return max_steps
    return max_steps // logging_steps


def logging_steps_for(max_steps: int, records: int = MIN_USEFUL_LOGS) -> int:
    """The largest ``logging_steps`` that still leaves about ``records`` train records."""
    return max(1, max_steps // max(1, records))


@dataclass(frozen=True)
class EpochsFix:
    """A shorter run: the step count, the logging interval, and the flags that say it."""

    epochs: float
    max_steps: int
    steps_per_epoch: int
    logging_steps: int
    #: ``True`` when the run's own ``logging_steps`` would log nothing at ``max_steps``.
    logging_would_be_empty: bool
    old_logging_steps: int | None

    @property
    def flags(self) -> str:
        return f"--max_steps {self.max_steps} --logging_steps {self.logging_steps}"


def fewer_epochs(
    target_epochs: float,
    examples: int,
    per_device_batch: int = 1,
    grad_accum: int = 1,
    world_size: int = 1,
    logging_steps: int | None = None,
) -> EpochsFix:
    """The run that trains ``target_epochs`` passes instead, with a logging interval that shows it.

    The motivating run (23 examples, batch 1 x accumulation 8) gives 3 steps per epoch, so
    3 epochs are ``--max_steps 9``; its ``logging_steps 10`` would log no record at all.
    """
    per = steps_per_epoch(examples, per_device_batch, grad_accum, world_size)
    steps = steps_for_epochs(target_epochs, examples, per_device_batch, grad_accum, world_size)
    records = None if logging_steps is None else logged_records(steps, logging_steps)
    empty = records == 0
    keep = records is not None and records >= MIN_USEFUL_LOGS
    new_logging = logging_steps if keep and logging_steps else logging_steps_for(steps)
    return EpochsFix(
        epochs=target_epochs,
        max_steps=steps,
        steps_per_epoch=per,
        logging_steps=new_logging,
        logging_would_be_empty=empty,
        old_logging_steps=logging_steps,
    )


def epochs_suggestion(
    examples: int | None,
    effective_batch: int | None,
    logging_steps: float | None = None,
    target_epochs: int = 3,
) -> Text | None:
    """The too-many-epochs fix as numbers and flags to paste, or None when the run does not
    say its dataset size and effective batch."""
    if not examples or not effective_batch or examples < 1 or effective_batch < 1:
        return None
    log = int(logging_steps) if logging_steps and logging_steps >= 1 else None
    fix = fewer_epochs(target_epochs, examples, effective_batch, 1, logging_steps=log)
    text = tr(
        "Train {t} epochs or fewer: with {n} examples and an effective batch of {b}, one epoch "
        "is {p} steps, so {t} epochs are {m} steps: --max_steps {m} (or --num_train_epochs {t}).",
        "{t} 에폭 이하로 학습하세요: 예제 {n}개, 유효 배치 {b}이면 1 에폭이 {p} 스텝이므로 "
        "{t} 에폭은 {m} 스텝입니다: --max_steps {m} (또는 --num_train_epochs {t}).",
        t=target_epochs,
        n=examples,
        b=effective_batch,
        p=fix.steps_per_epoch,
        m=fix.max_steps,
    )
    if log is not None and fix.logging_steps != log:
        why = (
            tr("would log nothing", "아무것도 기록되지 않습니다")
            if fix.logging_would_be_empty
            else tr("would log too few points", "기록이 너무 적습니다")
        )
        text = tr(
            "{a} With logging_steps {o} those {m} steps {w}: add --logging_steps {l}.",
            "{a} logging_steps가 {o}이면 {m} 스텝 동안 {w}: --logging_steps {l}도 지정하세요.",
            a=text,
            o=log,
            m=fix.max_steps,
            w=why,
            l=fix.logging_steps,
        )
    return tr(
        "{a} More data helps more than more passes.",
        "{a} 반복을 늘리기보다 데이터를 늘리세요.",
        a=text,
    )


def warmup_steps_for(max_steps: int, ratio: float = 0.03) -> int:
    """Warmup steps for a ratio of the run (at least 1 when the ratio is above 0)."""
    if ratio <= 0:
        return 0
    return max(1, round(max_steps * ratio))


__all__ = [
    "MIN_USEFUL_LOGS",
    "EpochsFix",
    "epochs_for_steps",
    "epochs_suggestion",
    "fewer_epochs",
    "logged_records",
    "logging_steps_for",
    "steps_for_epochs",
    "steps_per_epoch",
    "warmup_steps_for",
]
