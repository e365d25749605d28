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

from losslens.analysis.messages import Text, num, tr
from losslens.analysis.messages import lr as fmt_lr

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
    best_epoch: float | None = None,
    metric_epoch: float | None = None,
) -> Text | None:
    """The too-many-epochs fix as numbers and flags to paste, or None when the run does not
    say its dataset size and effective batch. With ``best_epoch`` (where the eval loss was
    best; ``metric_epoch``, where a task metric was, when later) the target is the passes
    the eval says helped, not the usual 1-3."""
    if not examples or not effective_batch or examples < 1 or effective_batch < 1:
        return None
    log = int(logging_steps) if logging_steps and logging_steps >= 1 else None
    fix = fewer_epochs(target_epochs, examples, effective_batch, 1, logging_steps=log)
    nums = {"t": target_epochs, "n": examples, "b": effective_batch}
    nums |= {"p": fix.steps_per_epoch, "m": fix.max_steps}
    if best_epoch is None:
        text = tr(
            "Train {t} epochs or fewer: with {n} examples and an effective batch of {b}, one "
            "epoch is {p} steps, so {t} epochs are {m} steps: --max_steps {m} (or "
            "--num_train_epochs {t}).",
            "{t} 에폭 이하로 학습하세요: 예제 {n}개, 유효 배치 {b}이면 1 에폭이 {p} 스텝이므로 "
            "{t} 에폭은 {m} 스텝입니다: --max_steps {m} (또는 --num_train_epochs {t}).",
            **nums,
        )
    else:
        metric = (
            tr(
                " (a task metric at epoch {x})",
                " (과제 지표는 에폭 {x}에서 최고)",
                x=num(metric_epoch, 2),
            )
            if metric_epoch is not None
            else tr("", "")
        )
        text = tr(
            "The eval loss was best at epoch {e}{x}: train {t} epoch(s) and keep the best "
            "checkpoint. With {n} examples and an effective batch of {b}, one epoch is {p} "
            "steps, so {t} epoch(s) are {m} steps: --max_steps {m} (or --num_train_epochs {t}).",
            "평가 손실은 에폭 {e}에서 가장 낮았습니다{x}: {t} 에폭만 학습하고 가장 좋은 "
            "체크포인트를 남기세요. 예제 {n}개, 유효 배치 {b}이면 1 에폭이 {p} 스텝이므로 "
            "{t} 에폭은 {m} 스텝입니다: --max_steps {m} (또는 --num_train_epochs {t}).",
            e=num(best_epoch, 2),
            x=metric,
            **nums,
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


#: A peak LR at or above this share of the usual value counts as usual: raising it further is
#: not the fix for a loss that learns too little.
USUAL_LR_SHARE = 0.5


def underlearning_suggestion(
    peak_lr: float | None,
    usual: tuple[float, float],
    *,
    lr_held_back: bool = False,
    usual_share: float = USUAL_LR_SHARE,
) -> Text:
    """What to try when a loss learns too little, by the level of the learning rate.

    ``usual``: the usual peak LR for the kind of run, as ``(low, high)``: one value twice
    when the kind is known (LoRA 2e-4, full fine-tune 2e-5, preference 5e-6), the full
    fine-tune and LoRA values when it is not. ``lr_held_back``: the LR that acted was a
    fraction of the one set (warmup that never ended, every update clipped): finishing the
    warmup or raising ``max_grad_norm`` comes first. Otherwise a peak LR below
    ``usual_share`` of the usual value is raised toward it; a peak at or above it is left
    alone (1e-3 on a tiny model is already high), and the suggestion turns to what an LR
    cannot fix: the data and labels, the loss masking, the model or adapter size. An LR
    usual for one kind of run and low for the other, or unknown, gets both, conditioned.
    """
    low, high = usual
    rest = tr(
        "check that the labels carry a signal (print a batch: are the targets right, and not "
        "all masked?), check the loss masking (only the answer tokens, or padding counted?), "
        "give the model more capacity (a larger model, a higher LoRA rank or all linear "
        "layers), or stop early to save the compute.",
        "라벨에 신호가 있는지 확인하고(배치를 출력해 정답이 맞는지, 모두 마스킹되지 "
        "않았는지), 손실 마스킹을 확인하고(답변 토큰만 세는지, 패딩이 섞였는지), 모델 "
        "용량을 늘리거나(더 큰 모델, 더 높은 LoRA 랭크나 모든 선형 층) 연산을 아끼려면 "
        "일찍 멈추세요.",
    )
    t = fmt_lr(low) if low == high else f"{fmt_lr(low)}–{fmt_lr(high)}"
    if lr_held_back:
        return tr(
            "Let the learning rate act: finish the warmup within the run and raise "
            "max_grad_norm; then {r}",
            "학습률이 작동하게 하세요: 워밍업을 실행 안에서 끝내고 max_grad_norm을 "
            "올리세요. 그다음 {r}",
            r=rest,
        )
    if peak_lr is None:
        return tr(
            "If the learning rate is below the usual {t}, raise it toward that value; if it "
            "is already there, {r}",
            "학습률이 일반적인 {t}보다 낮다면 그 값 쪽으로 올리세요. 이미 그 정도라면 {r}",
            t=t,
            r=rest,
        )
    if peak_lr < usual_share * low:
        return tr(
            "Raise the learning rate (peak {p}) toward the usual {t}; if that does not help, {r}",
            "학습률(최고 {p})을 일반적인 {t} 쪽으로 올리세요. 그래도 안 되면 {r}",
            p=fmt_lr(peak_lr),
            t=t,
            r=rest,
        )
    if peak_lr < usual_share * high:
        return tr(
            "The learning rate (peak {p}) is usual for a full fine-tune ({a}) but low for "
            "LoRA ({b}): with an adapter, raise it toward {b}; otherwise {r}",
            "학습률(최고 {p})은 전체 파인튜닝({a})에는 일반적이지만 LoRA({b})에는 낮습니다. "
            "어댑터라면 {b} 쪽으로 올리고, 아니라면 {r}",
            p=fmt_lr(peak_lr),
            a=fmt_lr(low),
            b=fmt_lr(high),
            r=rest,
        )
    return tr(
        "The learning rate (peak {p}) is already at or above the usual {t}: raising it is not "
        "the fix. Instead {r}",
        "학습률(최고 {p})은 이미 일반적인 {t} 이상이라 올려도 해결되지 않습니다. 대신 {r}",
        p=fmt_lr(peak_lr),
        t=t,
        r=rest,
    )


__all__ = [
    "MIN_USEFUL_LOGS",
    "USUAL_LR_SHARE",
    "EpochsFix",
    "epochs_for_steps",
    "epochs_suggestion",
    "fewer_epochs",
    "logged_records",
    "logging_steps_for",
    "steps_for_epochs",
    "steps_per_epoch",
    "underlearning_suggestion",
    "warmup_steps_for",
]
