"""Online RL fine-tuning (GRPO, PPO, RLOO): is the policy being given something to learn from?

In online RL the logged loss is a policy loss plus ``beta`` x KL to the reference model: it
starts at 0 and says how far the policy moved, not how well it learned (see
``analysis/progress_signal.py``), so the loss rules stay silent on these runs. What the log
does show is the sampled reward, its spread within each group of completions, and how many
completions were cut at the length cap. GRPO scores each completion by its reward relative to
the other completions sampled for the same prompt (``advantage = (r - mean) / std`` over the
group), so three readings follow from how it works:

- completions cut at the length cap are scored as cut: the reward judges unfinished answers;
- a reward that does not move over the run, by size against its own log-to-log noise, is a
  policy that did not get better at the task;
- a group whose completions all get the same reward has zero advantage for every member, so
  when (nearly) every group is like that the policy gets no gradient at all.

A reward function that returns the same value at every log adds nothing to any advantage
either (info).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from losslens.analysis.context import RunContext
from losslens.analysis.messages import num, tr
from losslens.analysis.progress_signal import log_from_start, rewards_logged
from losslens.analysis.rules.base import Rule, param, rule
from losslens.model import Finding, Series, Severity

#: Last name parts of the run's overall sampled reward (TRL ``reward``, ``env/reward_mean``).
_REWARD = ("reward", "reward_mean", "rewards_mean", "mean_reward")
#: Name endings of the overall reward, most usual first (verl ``critic/rewards/mean``).
_REWARD_NAMES: tuple[tuple[str, ...], ...] = (
    *((n,) for n in _REWARD),
    ("critic", "rewards", "mean"),
    ("critic", "score", "mean"),
    ("objective", "scores"),
)
#: Per-function reward names that are DPO's implicit rewards, not an RL reward function.
_DPO_PARTS = frozenset({"chosen", "rejected", "margins", "accuracies"})


def _pick(ctx: RunContext, match: tuple[tuple[str, ...], ...]) -> Series | None:
    """The first train-side series whose name ends with one of ``match`` (name parts)."""
    found: list[tuple[int, str, Series]] = []
    for name, s in ctx.run.series.items():
        parts = tuple(name.lower().split("/"))
        if parts[0].startswith(("eval", "val", "test")):
            continue
        for rank, tail in enumerate(match):
            if parts[-len(tail) :] == tail and len(s.finite) > 0:
                found.append((rank, name, s))
    return min(found, key=lambda t: (t[0], t[1]))[2] if found else None


def reward_series(ctx: RunContext) -> Series | None:
    """The run's overall sampled reward (mean over the batch), or None."""
    return _pick(ctx, _REWARD_NAMES)


def clipped_series(ctx: RunContext) -> Series | None:
    """The share of completions cut at the length cap (TRL ``completions/clipped_ratio``,
    verl ``response_length/clip_ratio``). Not PPO's ratio clipping (``clip_ratio/...``)."""
    return _pick(
        ctx,
        (("completions", "clipped_ratio"), ("response_length", "clip_ratio"), ("clipped_ratio",)),
    )


def robust_noise(values: np.ndarray) -> float:
    """The log-to-log noise of a series: 1.4826 x the MAD of consecutive differences / √2.

    Differences of neighbouring logs cancel any slow trend, so this is the scatter of one
    log around the curve, whatever the curve does."""
    if values.size < 3:
        return 0.0
    d = np.diff(values)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2.0))


# -- LL181: completions truncated at the length cap -------------------------------------------


@dataclass(frozen=True)
class TruncationParams:
    min_logs: int = param(5, "logs of the clipped-completion share needed")
    majority: float = param(
        0.5, "a log where at least this share of completions hit the length cap is truncated"
    )
    run_share: float = param(0.5, "... and at least this share of the logs are truncated")


@rule(
    "LL181",
    "completions-truncated",
    kind="other",
    severity=Severity.WARNING,
    family="progress",
    params=TruncationParams(),
)
def completions_truncated(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """Most sampled completions are cut at the length cap for most of an RL run.

    What it detects:
        An online RL run (GRPO, RLOO ...) that logs the share of sampled completions cut at the
        maximum completion length (``completions/clipped_ratio``) where at least half of the
        completions were cut at half of the logs or more.
    Why it matters:
        The reward is computed on the completion as generated: when most completions are cut
        before they finish, the reward judges unfinished answers (no final answer, broken
        format), the advantages compare truncated texts with each other, and the policy can
        learn to ramble up to the cap. Training on such rewards wastes compute.
    Evidence:
        The share of truncated completions over the run, how many logs had a majority cut, and
        the mean completion length against the cap when logged.
    What to try:
        Raise the maximum completion length, or reward (or penalise) length explicitly; ask for
        shorter answers in the prompt or the system message; check that the stop token /
        end-of-sequence token of the chat template is generated and honoured.
    """
    p: TruncationParams = r.params
    s = clipped_series(ctx)
    if s is None:
        return
    f = s.finite
    if len(f) < p.min_logs:
        return
    v = f.values
    cut = v >= p.majority
    share = float(cut.mean())
    if share < p.run_share:
        return
    onset = int(f.steps[int(np.argmax(cut))])
    lens = _pick(ctx, (("completions", "mean_length"), ("completion_length",)))
    caps = _pick(ctx, (("completions", "max_length"),))
    length_txt = tr("", "")
    values: dict[str, float | int | str] = {
        "median_clipped_ratio": float(np.median(v)),
        "share_of_logs": share,
    }
    if lens is not None and caps is not None:
        mean_len = float(np.median(lens.finite.values))
        cap = float(np.max(caps.finite.values))
        length_txt = tr(
            "; mean completion length {m} against a cap of {c}",
            "; 평균 생성 길이 {m}, 상한 {c}",
            m=num(mean_len),
            c=num(cap),
        )
        values |= {"median_mean_length": mean_len, "max_length": cap}
    yield r.finding(
        title=tr(
            "Most completions are cut at the length cap", "대부분의 생성이 길이 상한에서 잘립니다"
        ),
        explanation=tr(
            "At {k} of {n} logs at least {m} of the sampled completions hit the maximum "
            "completion length (median {c}). Their rewards were computed on unfinished "
            "outputs, so the policy is trained on scores of cut answers.",
            "{n}번의 로그 중 {k}번에서 샘플링된 생성의 {m} 이상이 최대 생성 길이에 "
            "도달했습니다(중앙값 {c}). 보상이 끝나지 않은 출력으로 계산되었으므로, 정책은 "
            "잘린 답의 점수로 학습됩니다.",
            k=int(cut.sum()),
            n=len(f),
            m=f"{p.majority * 100:.0f}%",
            c=f"{float(np.median(v)) * 100:.0f}%",
        ),
        suggestion=tr(
            "Raise the maximum completion length, or reward length explicitly; ask for shorter "
            "answers in the prompt; check that the end-of-sequence token is generated and "
            "honoured.",
            "최대 생성 길이를 늘리거나 길이에 대한 보상(또는 벌점)을 명시적으로 주세요. "
            "프롬프트에서 더 짧은 답을 요구하고, 시퀀스 종료 토큰이 생성되고 처리되는지 "
            "확인하세요.",
        ),
        metric=s.key,
        step_start=onset,
        step_end=int(f.steps[-1]),
        evidence=tr(
            "clipped completions {a}–{b} (median {c}); {k}/{n} logs with a majority cut{l}",
            "잘린 생성 비율 {a}–{b}(중앙값 {c}); 과반이 잘린 로그 {k}/{n}{l}",
            a=num(float(v.min())),
            b=num(float(v.max())),
            c=num(float(np.median(v))),
            k=int(cut.sum()),
            n=len(f),
            l=length_txt,
        ),
        values=values,
        onset_step=onset,
    )


# -- LL182: the reward does not improve -------------------------------------------------------


@dataclass(frozen=True)
class RewardFlatParams:
    min_logs: int = param(12, "reward logs needed (4 in each third)")
    min_gain: float = param(
        0.5,
        "the last third's mean reward is above the first third's by less than this many "
        "log-to-log noise units (a change too small to see in the curve) ...",
    )
    z_crit: float = param(
        1.645,
        "... and the rise is not significant either (one-sided 5% z of the two thirds' means)",
    )


@rule(
    "LL182",
    "reward-not-improving",
    kind="other",
    severity=Severity.WARNING,
    family="progress",
    params=RewardFlatParams(),
)
def reward_not_improving(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """The sampled reward of an RL run does not rise over the run, judged against its noise.

    What it detects:
        An online RL run (a sampled reward is logged) whose log starts with the run and has 12
        reward logs or more, where the mean reward over the last third of the logs is above the
        mean over the first third by less than half the reward's log-to-log noise (1.4826 x
        the MAD of consecutive differences / √2, which a slow trend does not inflate), and the
        rise is not significant either (z of the two means below 1.645). A reward that falls
        counts too. Not while the LR is still rising at the last log: a log that is all
        warmup has not yet trained the policy at its rate. The kind is ``other``, not
        ``loss_not_decreasing``: the loss of an RL run (beta x KL) is not what fails to move,
        and the corpus conventions keep loss kinds for the loss.
    Why it matters:
        In RL fine-tuning the reward is the measure of progress (the loss only says how far the
        policy moved from the reference). A reward that does not rise means the policy is not
        getting better at the task: the task may be too hard for the model (no completion ever
        scores, so no group has anything to prefer), the reward functions may not reward what
        the model can produce, or the learning rate may be too low to move it.
    Evidence:
        The mean reward over the first and last thirds of the logs, the change in units of the
        log-to-log noise, and the reward's range.
    What to try:
        Look at sampled completions and their scores: check that each reward function can be
        earned (partial credit helps), start from an easier subset of prompts or a model
        fine-tuned on the answer format first, sample more completions per prompt, or raise
        the learning rate.
    """
    p: RewardFlatParams = r.params
    if not rewards_logged(ctx) or not log_from_start(ctx):
        return
    if ctx.schedule is not None and ctx.schedule.still_rising:
        return  # the whole log is warmup: the policy has not been trained at its rate yet
    s = reward_series(ctx)
    if s is None:
        return
    f = s.finite
    n = len(f)
    if n < p.min_logs:
        return
    v = f.values
    k = n // 3
    first, last = float(v[:k].mean()), float(v[-k:].mean())
    noise = robust_noise(v)
    if noise <= 0:
        return  # a reward with no noise at all: LL183 reads a reward without spread
    gain = (last - first) / noise
    z = (last - first) / (noise * math.sqrt(2.0 / k))
    if gain >= p.min_gain or z >= p.z_crit:
        return
    falls = last < first and z <= -p.z_crit
    how = tr("fell", "떨어졌습니다") if falls else tr("did not improve", "개선되지 않았습니다")
    yield r.finding(
        title=tr("The reward does not improve", "보상이 개선되지 않습니다"),
        explanation=tr(
            "Over {n} logs the mean reward {h}: {a} over the first third of the logs, {b} over "
            "the last third, a change of {g} times its log-to-log noise ({s}). In RL "
            "fine-tuning the reward is the measure of progress, so the policy is not getting "
            "better at the task.",
            "{n}번의 로그 동안 평균 보상이 {h}: 처음 3분의 1에서 {a}, 마지막 3분의 1에서 {b}로, "
            "로그 간 잡음({s})의 {g}배만큼 변했습니다. RL 미세조정에서는 보상이 진척의 "
            "척도이므로, 정책이 과제를 더 잘하게 되지 않고 있습니다.",
            n=n,
            h=how,
            a=num(first),
            b=num(last),
            g=f"{gain:+.2f}",
            s=num(noise),
        ),
        suggestion=tr(
            "Look at sampled completions and their scores: check that each reward function can "
            "be earned (partial credit helps); start from easier prompts or a model first "
            "fine-tuned on the answer format; sample more completions per prompt; or raise the "
            "learning rate.",
            "샘플링된 생성과 점수를 직접 보세요. 각 보상 함수를 실제로 얻을 수 있는지(부분 "
            "점수가 도움이 됩니다) 확인하고, 더 쉬운 프롬프트나 답 형식에 먼저 미세조정한 "
            "모델에서 시작하거나, 프롬프트당 생성 수를 늘리거나, 학습률을 올려 보세요.",
        ),
        metric=s.key,
        step_start=int(f.steps[0]),
        step_end=int(f.steps[-1]),
        evidence=tr(
            "mean reward {a} (first third) → {b} (last third), {g} noise units (noise {s}), "
            "range {lo}…{hi}",
            "평균 보상 {a}(처음 3분의 1) → {b}(마지막 3분의 1), 잡음 단위 {g}(잡음 {s}), "
            "범위 {lo}…{hi}",
            a=num(first),
            b=num(last),
            g=f"{gain:+.2f}",
            s=num(noise),
            lo=num(float(v.min())),
            hi=num(float(v.max())),
        ),
        values={"first_third": first, "last_third": last, "gain_in_noise": gain, "z": z},
        onset_step=int(f.steps[0]),
    )


# -- LL183: no learning signal (groups with identical rewards) -------------------------------


@dataclass(frozen=True)
class NoSignalParams:
    min_logs: int = param(5, "logs needed")
    zero_frac: float = param(
        0.9,
        "a log where at least this share of the groups have zero reward spread "
        "(`frac_reward_zero_std`) gives (almost) no gradient",
    )
    zero_std: float = param(
        1e-6, "... as does a log whose mean within-group reward std (`reward_std`) is below this"
    )
    run_share: float = param(0.5, "... at this share of the logs or more")


def _zero_signal(ctx: RunContext, p: NoSignalParams) -> tuple[Series, np.ndarray, str] | None:
    frac = _pick(ctx, (("frac_reward_zero_std",),))
    if frac is not None and len(frac.finite) >= p.min_logs:
        return frac, frac.finite.values >= p.zero_frac, "frac"
    std = _pick(ctx, (("reward_std",),))
    if std is not None and len(std.finite) >= p.min_logs:
        return std, np.abs(std.finite.values) < p.zero_std, "std"
    return None


@rule(
    "LL183",
    "no-reward-signal",
    kind="other",
    severity=Severity.WARNING,
    family="progress",
    params=NoSignalParams(),
)
def no_reward_signal(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """(Almost) every group of completions gets one reward for most of an RL run: no gradient.

    What it detects:
        An online RL run where, at half of the logs or more, at least 90% of the groups of
        completions sampled for one prompt have zero reward spread (TRL's
        ``frac_reward_zero_std``), or, when that is not logged, where the mean within-group
        reward standard deviation (``reward_std``) is zero.
    Why it matters:
        GRPO (and RLOO) score each completion against the others of its group: the advantage
        is the reward minus the group mean (divided by the group's spread). When every
        completion of a group gets the same reward, every advantage is zero and the group
        contributes no gradient; when that holds for nearly every group, the policy is not
        trained at all (only the KL term moves it). Typical causes: a task so hard that no
        completion ever scores, so easy that all do, or a reward that is constant.
    Evidence:
        How many logs had (almost) no reward spread, and the median share of zero-spread groups.
    What to try:
        Check the reward functions on sampled completions; pick prompts of a difficulty where
        some completions succeed and some fail; sample more completions per prompt; raise the
        sampling temperature; add partial-credit rewards.
    """
    p: NoSignalParams = r.params
    got = _zero_signal(ctx, p)
    if got is None:
        return
    s, dead, how = got
    share = float(dead.mean())
    if share < p.run_share:
        return
    f = s.finite
    onset = int(f.steps[int(np.argmax(dead))])
    what = (
        tr(
            "at least {z} of the groups had zero reward spread",
            "그룹의 {z} 이상에서 보상 분산이 0이었습니다",
            z=f"{p.zero_frac * 100:.0f}%",
        )
        if how == "frac"
        else tr("the within-group reward spread was zero", "그룹 내 보상 분산이 0이었습니다")
    )
    yield r.finding(
        title=tr(
            "Completions get identical rewards: no learning signal",
            "생성들이 같은 보상을 받습니다: 학습 신호가 없습니다",
        ),
        explanation=tr(
            "At {k} of {n} logs {w}. GRPO scores each completion against the others sampled "
            "for the same prompt; when they all get the same reward every advantage is zero, "
            "so those steps give the policy no gradient.",
            "{n}번의 로그 중 {k}번에서 {w}. GRPO는 같은 프롬프트로 샘플링된 다른 생성과 "
            "비교해 각 생성을 평가하므로, 모두 같은 보상을 받으면 어드밴티지가 모두 0이 되어 "
            "그 스텝에서는 정책에 그래디언트가 전달되지 않습니다.",
            k=int(dead.sum()),
            n=len(f),
            w=what,
        ),
        suggestion=tr(
            "Check the reward functions on sampled completions; use prompts where some "
            "completions succeed and some fail; sample more completions per prompt or at a "
            "higher temperature; add partial-credit rewards.",
            "샘플링된 생성으로 보상 함수를 확인하세요. 일부 생성은 성공하고 일부는 실패하는 "
            "난이도의 프롬프트를 쓰고, 프롬프트당 생성 수나 샘플링 온도를 높이고, 부분 점수 "
            "보상을 추가하세요.",
        ),
        metric=s.key,
        step_start=onset,
        step_end=int(f.steps[-1]),
        evidence=tr(
            "{k}/{n} logs without reward spread; median {m} = {v}",
            "보상 분산이 없는 로그 {k}/{n}; {m} 중앙값 = {v}",
            k=int(dead.sum()),
            n=len(f),
            m=s.key,
            v=num(float(np.median(f.values))),
        ),
        values={"share_of_logs": share, "median": float(np.median(f.values))},
        onset_step=onset,
    )


# -- LL184: a reward function that never changes (info) ---------------------------------------


@dataclass(frozen=True)
class ConstantRewardParams:
    min_logs: int = param(10, "logs of the reward function needed")


def _reward_functions(ctx: RunContext) -> list[tuple[str, Series]]:
    """Per-function rewards (``rewards/<func>`` or ``rewards/<func>/mean``) of an RL run."""
    out = []
    for name, s in ctx.run.series.items():
        parts = name.lower().split("/")
        if parts and parts[0] in ("train", "training"):
            parts = parts[1:]
        if len(parts) < 2 or parts[0] != "rewards" or parts[1] in _DPO_PARTS:
            continue
        if len(parts) == 2 or (len(parts) == 3 and parts[2] == "mean"):
            out.append((parts[1], s))
    return sorted(out, key=lambda t: t[0])


@rule(
    "LL184",
    "constant-reward-function",
    kind="other",
    severity=Severity.INFO,
    family="progress",
    params=ConstantRewardParams(),
)
def constant_reward_function(r: Rule, ctx: RunContext) -> Iterator[Finding]:
    """A reward function of an RL run returns the same mean value at every log: it adds no signal.

    What it detects:
        An online RL run that logs its reward functions separately (``rewards/<func>`` or
        ``rewards/<func>/mean``) where one of them has exactly the same batch mean at every one
        of 10 or more logs (a format reward that never fires, a correctness reward that is
        always at its floor).
    Why it matters:
        A reward function that gives every completion the same score adds the same number to
        every member of a group, so it never changes an advantage: it teaches nothing. Either
        the model never produces what it rewards (the task or format is out of reach) or the
        function is broken (a parsing bug, a wrong field).
    Evidence:
        The reward functions that never change and their constant value.
    What to try:
        Run the reward function on a few sampled completions by hand; give partial credit so
        that near misses score; check the expected answer format against what the model writes.
    """
    p: ConstantRewardParams = r.params
    if not rewards_logged(ctx):
        return
    flat: list[tuple[str, float, Series]] = []
    for func, s in _reward_functions(ctx):
        v = s.finite.values
        if v.size >= p.min_logs and float(v.max() - v.min()) == 0.0:
            flat.append((func, float(v[0]), s))
    if not flat:
        return
    names = ", ".join(f"{func} = {num(val)}" for func, val, _ in flat)
    s0 = flat[0][2].finite
    yield r.finding(
        title=tr("A reward function never changes", "값이 전혀 변하지 않는 보상 함수가 있습니다"),
        explanation=tr(
            "{f} at every log. A reward that gives every completion the same score never "
            "changes an advantage, so it teaches the policy nothing.",
            "모든 로그에서 {f}. 모든 생성에 같은 점수를 주는 보상은 어드밴티지를 바꾸지 "
            "못하므로 정책에 아무것도 가르치지 않습니다.",
            f=names,
        ),
        suggestion=tr(
            "Run the reward function on a few sampled completions by hand; give partial credit "
            "for near misses; check the expected answer format against what the model writes.",
            "샘플링된 생성 몇 개에 보상 함수를 직접 실행해 보세요. 근접한 답에 부분 점수를 "
            "주고, 기대하는 답 형식이 모델이 쓰는 형식과 맞는지 확인하세요.",
        ),
        metric=flat[0][2].key,
        step_start=int(s0.steps[0]),
        step_end=int(s0.steps[-1]),
        evidence=tr(
            "constant over {n} logs: {f}", "{n}번의 로그 동안 일정: {f}", n=len(s0), f=names
        ),
        values={"constant_functions": len(flat)},
        onset_step=int(s0.steps[0]),
    )
