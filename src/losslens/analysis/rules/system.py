"""The machine under the run: throughput drops and GPU memory near its limit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.rules.base import Rule, param, rule
from losslens.model import Finding, FloatArray, Series, Severity

_GPU_USED = re.compile(r"^system/gpu\.(\d+)\.memory_used_mb$")


@dataclass(frozen=True)
class ThroughputParams:
    min_points: int = param(11, "train logs with a wall time needed")
    base_from: float = param(0.05, "the baseline window starts at this share of the run ...")
    base_to: float = param(0.5, "... and ends at this share")
    late_from: float = param(0.8, "the late window starts at this share of the run")
    slower: float = param(1.5, "late seconds per step over the baseline's that is a drop")


#: Wall-time differences computed at once (memory O(chunk), not O(run)).
_CHUNK = 1 << 16


@rule(
    "LL171",
    "throughput-drop",
    kind="other",
    severity=Severity.WARNING,
    family="system",
    params=ThroughputParams(),
)
def throughput_drop(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """Training got much slower during the run.

    What it detects:
        From the wall-clock times of the train-loss logs: the median time per step over the
        last 20% of the run is more than 1.5× the median over the first half (the first 5%,
        warm-up and compilation, left out). Needs 10 logs with times.
    Why it matters:
        A slowdown that was not there at the start points to the machine: a dataloader that
        cannot keep up, thermal throttling, memory swapping, or evaluation and checkpointing
        taking over.
    Evidence:
        Seconds per step at the start and at the end.
    What to try:
        Raise ``dataloader_num_workers``, evaluate and save less often, watch CPU RAM and GPU
        temperature.
    """
    p: ThroughputParams = r.params
    s = ctx.loss
    if s is None:
        return
    ok = np.isfinite(s.wall_times)
    n_ok = int(ok.sum())
    if n_ok < p.min_points:
        return
    # no copy of the wall times when all are known; differences by chunks
    steps, t = (s.steps, s.wall_times) if n_ok == ok.size else (s.steps[ok], s.wall_times[ok])
    del ok
    lo, hi = float(steps[0]), float(steps[-1])
    span = max(hi - lo, 1.0)
    b_lo, b_hi = lo + p.base_from * span, lo + p.base_to * span
    l_lo = lo + p.late_from * span
    n_good = 0
    bases: list[FloatArray] = []
    lates: list[FloatArray] = []
    for a in range(0, steps.size - 1, _CHUNK):
        c_st = steps[a : a + _CHUNK + 1].astype(float)
        ds, dt = np.diff(c_st), np.diff(t[a : a + _CHUNK + 1])
        good = (ds > 0) & (dt >= 0)
        n_good += int(good.sum())
        per = dt[good] / ds[good]
        mid = c_st[1:][good]
        bases.append(per[(mid > b_lo) & (mid <= b_hi)])
        lates.append(per[mid > l_lo])
    if n_good < p.min_points - 1:
        return
    base = np.concatenate(bases)
    late = np.concatenate(lates)
    if base.size < 3 or late.size < 2:
        return
    b, e = float(np.median(base)), float(np.median(late))
    if b <= 0 or e <= p.slower * b:
        return
    onset = int(lo + p.late_from * span)
    yield r.finding(
        title=tr("Training slowed down", "학습 속도가 느려졌습니다"),
        explanation=tr(
            "Steps took {a} s at the start and {b} s near the end ({x}× slower). The model "
            "does not get slower by itself: something on the machine did.",
            "스텝당 시간이 처음 {a}초에서 끝 무렵 {b}초로 늘었습니다({x}배 느림). 모델이 "
            "저절로 느려지지는 않으니 기계 쪽에 원인이 있습니다.",
            a=num(b),
            b=num(e),
            x=num(e / b, 2),
        ),
        suggestion=tr(
            "Raise dataloader_num_workers, evaluate and save less often, and watch CPU RAM "
            "(swapping) and GPU temperature (throttling).",
            "dataloader_num_workers를 늘리고, 평가와 저장 빈도를 줄이고, CPU 메모리(스와핑)와 "
            "GPU 온도(스로틀링)를 확인하세요.",
        ),
        metric=s.key,
        step_start=onset,
        step_end=int(hi),
        evidence=tr(
            "{a} s/step (first half) → {b} s/step (last 20%)",
            "스텝당 {a}초(전반부) → {b}초(마지막 20%)",
            a=num(b),
            b=num(e),
        ),
        values={"s_per_step_start": b, "s_per_step_end": e, "ratio": e / b},
        onset_step=onset,
    )


def _gpu_total(system: dict[str, Series], idx: str) -> float | None:
    tot = system.get(f"system/gpu.{idx}.memory_total_mb")
    if tot is None:
        return None
    f = tot.finite.values
    return float(np.max(f)) if f.size else None


@dataclass(frozen=True)
class GpuMemoryParams:
    share: float = param(0.95, "peak memory use at this share of the card's total or more")
    baseline: float = param(0.1, "share of the samples (at least 2) whose median is the start")
    growth: float = param(1.1, "peak above this many times the start: use kept growing")


@rule(
    "LL172",
    "gpu-memory-limit",
    kind="other",
    severity=Severity.WARNING,
    family="system",
    params=GpuMemoryParams(),
)
def gpu_memory_limit(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """GPU memory use comes within 5% of the card's capacity.

    What it detects:
        From system metrics (``system/gpu.N.memory_used_mb`` and ``memory_total_mb``): peak
        use of 95% of the GPU's memory or more.
    Why it matters:
        A run this close to the limit fails with out-of-memory on the first longer batch, an
        eval pass or a checkpoint save, possibly hours in.
    Evidence:
        Peak memory used, the card's total, and whether use kept growing.
    What to try:
        Lower ``per_device_train_batch_size`` and raise ``gradient_accumulation_steps``, enable
        gradient checkpointing, lower ``max_seq_length``, use a smaller eval batch.
    """
    p: GpuMemoryParams = r.params
    for key, s in sorted(ctx.run.system.items()):
        m = _GPU_USED.match(key)
        if not m:
            continue
        total = _gpu_total(ctx.run.system, m.group(1))
        used = s.finite
        if total is None or total <= 0 or len(used) < 2:
            continue
        i = int(np.argmax(used.values))
        peak = float(used.values[i])
        if peak < p.share * total:
            continue
        first = float(np.median(used.values[: max(2, int(len(used) * p.baseline))]))
        growth = (
            tr("; use grew from {a} MB", "; 사용량이 {a} MB에서 증가", a=f"{first:,.0f}")
            if peak > p.growth * first
            else tr("", "")
        )
        yield r.finding(
            title=tr(
                "GPU {g} memory is nearly full",
                "GPU {g} 메모리가 거의 가득 찼습니다",
                g=m.group(1),
            ),
            explanation=tr(
                "GPU {g} used up to {p}% of its memory. A run this close to the limit fails "
                "with out-of-memory on the first longer batch, eval pass or checkpoint save.",
                "GPU {g}가 메모리의 최대 {p}%를 썼습니다. 이렇게 한계에 가까우면 더 긴 배치나 "
                "평가, 체크포인트 저장 때 메모리 부족으로 실패하기 쉽습니다.",
                g=m.group(1),
                p=f"{peak / total * 100:.0f}",
            ),
            suggestion=tr(
                "Lower per_device_train_batch_size and raise gradient_accumulation_steps; "
                "enable gradient checkpointing; lower max_seq_length; use a smaller eval batch.",
                "per_device_train_batch_size를 줄이고 gradient_accumulation_steps를 늘리세요. "
                "그래디언트 체크포인팅을 켜고, max_seq_length와 평가 배치 크기를 줄이세요.",
            ),
            metric=key,
            step_start=int(used.steps[i]),
            step_end=int(used.steps[i]),
            evidence=tr(
                "peak {u} MB of {t} MB ({p}%){g}",
                "최대 {u} MB / {t} MB ({p}%){g}",
                u=f"{peak:,.0f}",
                t=f"{total:,.0f}",
                p=f"{peak / total * 100:.0f}",
                g=growth,
            ),
            values={"peak_mb": peak, "total_mb": total, "share": peak / total},
            onset_step=int(used.steps[i]),
        )
