"""The verdict of a comparison: which run is better, by how much, and what plausibly explains it.

::

    from losslens.analysis.compare import compare
    c = compare([run_a, run_b], [report_a, report_b])
    c.better, c.summary["ko"]

Pure: takes :class:`~losslens.model.RunData` and their reports, returns a
:class:`Comparison`. The dashboard, the HTML/Markdown renderers and ``losslens compare``
only display it.

The metric that matters is the best eval loss when every run has one, else the final train
loss (the mean of the last few points, so one noisy step does not decide). Runs are compared
at equal progress: up to the step (or, when their steps per epoch differ, the epoch) that
the shortest run reached. Config differences are ranked by how much such a change usually
moves a loss curve (learning rate, model and data first; output paths and logging never),
weighted by how far apart the values are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from losslens import keys as K
from losslens import numeric
from losslens.analysis.messages import Text, num, tr
from losslens.flatconfig import flatten as _flatten
from losslens.flatconfig import same_value as _same
from losslens.model import Report, RunData, Series

#: Relative difference below which two runs are called even.
TIE = 0.01

#: How much a change of each config key usually moves a loss curve (0: never).
_IMPORTANCE: dict[str, float] = {
    "learning_rate": 10, "lr": 10, "max_lr": 10,
    "model": 9, "model_name_or_path": 9, "base_model": 9, "model_name": 9,
    "dataset": 8, "dataset_name": 8, "data": 8, "data_path": 8, "train_file": 8,
    "num_train_epochs": 7, "epochs": 7, "max_steps": 7,
    "per_device_train_batch_size": 6, "batch_size": 6, "train_batch_size": 6,
    "gradient_accumulation_steps": 6, "total_batch_size": 6,
    "lr_scheduler_type": 5, "scheduler": 5, "warmup_ratio": 5, "warmup_steps": 5,
    "lora_r": 5, "r": 5, "lora_alpha": 5, "lora_dropout": 4, "target_modules": 4,
    "use_lora": 6, "use_qlora": 6, "load_in_4bit": 4, "load_in_8bit": 4,
    "max_seq_length": 4, "max_length": 4, "weight_decay": 3, "max_grad_norm": 3,
    "optim": 4, "optimizer": 4, "adam_beta2": 2, "adam_epsilon": 1,
    "bf16": 2, "fp16": 2, "seed": 1, "packing": 3,
}  # fmt: skip
_IGNORED = frozenset(
    {
        "output_dir",
        "logging_dir",
        "run_name",
        "report_to",
        "logging_steps",
        "save_steps",
        "save_total_limit",
        "eval_steps",
        "push_to_hub",
        "hub_model_id",
        "overwrite_output_dir",
        "logging_first_step",
        "save_strategy",
        "disable_tqdm",
        "dataloader_num_workers",
        "project",
        "name",
        "notes",
        "tags",
        "resume_from_checkpoint",
        "use_wandb",
    }
)
_OTHER = 2.0


@dataclass(frozen=True)
class Side:
    """One run of a comparison and what it scored."""

    id: str
    name: str
    label: str  # the name, with the id when two runs share it
    value: float | None  # the metric at equal progress (None: no such metric)
    at: float | None  # where (step or epoch) the value was read
    last: float | None  # how far the run got (same unit)
    verdict: str | None
    finding_kinds: tuple[str, ...]
    diverged: bool = False


@dataclass(frozen=True)
class ConfigChange:
    """A config key whose values differ, with how plausibly it explains the difference."""

    key: str
    values: tuple[Any, ...]  # one per run (None: missing)
    weight: float


@dataclass(frozen=True)
class FindingGap:
    """A finding (by kind) that some runs have and others not."""

    kind: str
    title: Text
    severity: str
    runs: tuple[int, ...]  # indexes of the runs that have it


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare` (see the module docstring)."""

    sides: tuple[Side, ...]
    metric: str  # canonical key: eval/loss or train/loss ("" when no run has a loss)
    aggregate: str  # "best" or "final"
    basis: str  # "step" or "epoch"
    horizon: float | None  # the equal progress all values were read at
    equal: bool  # whether every value was read within the horizon
    better: int | None  # index of the best run (None: no metric, or a tie)
    runner_up: int | None
    margin: float | None  # relative: (runner-up - best) / runner-up
    delta: float | None  # absolute difference
    changes: tuple[ConfigChange, ...]
    gaps: tuple[FindingGap, ...]
    summary: Text = field(default_factory=dict)


def config_changes(configs: Sequence[Mapping[str, Any]]) -> list[ConfigChange]:
    """The keys whose values differ, most plausible explanation first (never output paths,
    run names or logging settings)."""
    flat = [_flatten(c) for c in configs]
    out = []
    for key in sorted({k for f in flat for k in f}):
        vals = tuple(f.get(key) for f in flat)
        present = [key in f for f in flat]
        if all(present) and all(_same(vals[0], v) for v in vals[1:]):
            continue
        leaf = key.rsplit(".", 1)[-1].lower()
        if leaf in _IGNORED or key.lower() in _IGNORED:
            continue
        weight = _IMPORTANCE.get(leaf, _OTHER)
        nums = [float(v) for v in vals if isinstance(v, int | float) and not isinstance(v, bool)]
        pos = [v for v in nums if math.isfinite(v) and v > 0]
        if len(pos) == len(vals) and len(pos) >= 2:
            weight *= 1.0 + math.log10(max(pos) / min(pos))
        out.append(ConfigChange(key, vals, round(weight, 3)))
    top = {c.key: c.values for c in out if "." not in c.key}
    out = [c for c in out if "." not in c.key or top.get(c.key.rsplit(".", 1)[-1]) != c.values]
    out.sort(key=lambda c: (-c.weight, c.key))
    return out


def _epoch_of(run: RunData) -> Series | None:
    key = K.resolve(set(run.series), K.EPOCH)
    if key is None:
        return None
    e = run.series[key].finite
    if len(e) < 2 or np.any(np.diff(e.values) < 0) or e.values[-1] <= e.values[0]:
        return None
    return e


def epoch_series(run: RunData) -> Series | None:
    """The run's epochs by step when usable as an x axis (increasing), else None."""
    return _epoch_of(run)


def _steps_per_epoch(e: Series) -> float:
    return float(e.steps[-1] - e.steps[0]) / float(e.values[-1] - e.values[0])


def choose_basis(runs: Sequence[RunData]) -> str:
    """``"epoch"`` when every run logs epochs and their steps per epoch differ, else ``"step"``."""
    return _choose_basis(runs)


def _choose_basis(runs: Sequence[RunData]) -> str:
    epochs = [_epoch_of(r) for r in runs]
    if any(e is None for e in epochs):
        return "step"
    spe = [_steps_per_epoch(e) for e in epochs if e is not None]
    return "epoch" if max(spe) > 1.1 * min(spe) else "step"


def _xs(s: Series, run: RunData, basis: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    x = s.steps.astype(np.float64)
    if basis == "epoch":
        e = _epoch_of(run)
        if e is not None:
            return np.interp(x, e.steps.astype(np.float64), e.values)
    return x


def choose_metric(names: Sequence[set[str]]) -> tuple[str, str]:
    """``(canonical metric, aggregate)`` for runs with these metric keys: the best eval loss
    when every run has one, else the final train loss (``""``: no loss in common)."""
    if names and all(K.resolve(n, K.EVAL_LOSS) for n in names):
        return K.EVAL_LOSS, "best"
    if names and all(K.resolve(n, K.LOSS) for n in names):
        return K.LOSS, "final"
    return "", "final"


def _metric(runs: Sequence[RunData]) -> tuple[str, str]:
    return choose_metric([set(r.series) for r in runs])


def _score(xs: Any, ys: Any, horizon: float | None, aggregate: str) -> tuple[float, float] | None:
    """``(value, at)`` of a series up to ``horizon``; non-finite last values count as inf."""
    sel = xs <= horizon * (1 + 1e-9) + 1e-9 if horizon is not None else np.ones(len(xs), bool)
    x, y = xs[sel], ys[sel]
    if not len(x):
        return None
    ok = np.isfinite(y)
    if aggregate == "best":
        if not ok.any():
            return math.inf, float(x[-1])
        i = int(np.argmin(np.where(ok, y, np.inf)))
        return float(y[i]), float(x[i])
    if not ok[-1]:
        return math.inf, float(x[-1])
    tail = y[ok][-max(1, min(10, int(ok.sum()) // 10)) :]
    return float(np.mean(tail)), float(x[-1])


def _labels(runs: Sequence[RunData]) -> list[str]:
    names = [r.info.name for r in runs]
    return [
        n if names.count(n) == 1 else f"{n} ({r.info.id[:8]})"
        for n, r in zip(names, runs, strict=True)
    ]


def compare(runs: Sequence[RunData], reports: Sequence[Report | None]) -> Comparison:
    """Compare runs (two or more) on the metric that matters; see the module docstring."""
    reports = list(reports) + [None] * (len(runs) - len(reports))
    metric, aggregate = _metric(runs)
    basis = _choose_basis(runs) if metric else "step"
    curves: list[tuple[Any, Any] | None] = []
    for r in runs:
        key = K.resolve(set(r.series), metric) if metric else None
        s = r.series[key] if key else None
        curves.append((_xs(s, r, basis), s.values) if s is not None and len(s) else None)
    lasts = [float(c[0][-1]) if c is not None else None for c in curves]
    known = [v for v in lasts if v is not None]
    horizon = min(known) if known else None
    scores = [_score(c[0], c[1], horizon, aggregate) if c is not None else None for c in curves]
    equal = all(sc is not None for sc, c in zip(scores, curves, strict=True) if c is not None)
    if not equal:
        scores = [_score(c[0], c[1], None, aggregate) if c is not None else None for c in curves]
    labels = _labels(runs)
    sides = []
    for i, r in enumerate(runs):
        rep = reports[i]
        sc = scores[i]
        sides.append(
            Side(
                id=r.info.id,
                name=r.info.name,
                label=labels[i],
                value=sc[0] if sc is not None else None,
                at=sc[1] if sc is not None else None,
                last=lasts[i],
                verdict=str(rep.verdict) if rep is not None else None,
                finding_kinds=tuple(sorted({f.kind for f in rep.findings})) if rep else (),
                diverged=sc is not None and not math.isfinite(sc[0]),
            )
        )
    ranked = sorted(
        (i for i, s in enumerate(sides) if s.value is not None),
        key=lambda i: (sides[i].value, i),
    )
    better = runner = None
    margin = delta = None
    if len(ranked) >= 2:
        a, b = sides[ranked[0]].value, sides[ranked[1]].value
        assert a is not None and b is not None
        if math.isfinite(b):
            delta = b - a
            margin = delta / abs(b) if b != 0 else 0.0
        if not math.isfinite(b) or (margin is not None and margin > TIE) or not math.isfinite(a):
            better, runner = ranked[0], ranked[1]
        if not math.isfinite(a):
            better = runner = None
    changes = tuple(config_changes([r.info.config for r in runs]))
    gaps = tuple(_finding_gaps(reports))
    c = Comparison(
        sides=tuple(sides),
        metric=metric,
        aggregate=aggregate,
        basis=basis,
        horizon=horizon if equal else None,
        equal=equal,
        better=better,
        runner_up=runner,
        margin=margin,
        delta=delta,
        changes=changes,
        gaps=gaps,
    )
    return replace(c, summary=summarize(c))


def _finding_gaps(reports: Sequence[Report | None]) -> list[FindingGap]:
    if len(reports) < 2 or any(r is None for r in reports):
        return []
    kinds: dict[str, tuple[Text, str, set[int]]] = {}
    for i, rep in enumerate(reports):
        assert rep is not None
        for f in rep.findings:
            kinds.setdefault(f.kind, (dict(f.title), str(f.severity), set()))[2].add(i)
    out = [
        FindingGap(kind, title, sev, tuple(sorted(who)))
        for kind, (title, sev, who) in kinds.items()
        if len(who) < len(reports)
    ]
    order = {"error": 0, "warning": 1, "info": 2}
    out.sort(key=lambda g: (order.get(g.severity, 3), g.runs, g.kind))
    return out


# -- words ------------------------------------------------------------------------------------

_METRIC_WORDS: dict[tuple[str, str], Text] = {
    (K.EVAL_LOSS, "best"): {"en": "best eval loss", "ko": "최저 평가 손실"},
    (K.LOSS, "final"): {"en": "final train loss", "ko": "최종 학습 손실"},
}


def fmt_config_value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float) and math.isfinite(v) and v != 0 and abs(v) < 1e-2:
        m, e = f"{v:.2e}".split("e")
        return f"{m.rstrip('0').rstrip('.')}e{int(e)}"
    if isinstance(v, float):
        return num(v)
    text = str(v)
    return text if len(text) <= 40 else text[:39] + "…"


def where_text(c: Comparison) -> Text:
    """ "up to step 100" / "up to epoch 2.5" (or "over each whole run")."""
    if c.horizon is None:
        return tr("over each whole run", "각 실행 전체 기준")
    if c.basis == "epoch":
        return tr("up to epoch {e}", "{e} 에폭까지", e=num(c.horizon, 3))
    return tr("up to step {s}", "{s} 스텝까지", s=f"{round(c.horizon):,}")


def metric_text(c: Comparison) -> Text:
    return _METRIC_WORDS.get((c.metric, c.aggregate), {"en": c.metric, "ko": c.metric})


def change_text(ch: ConfigChange, order: Sequence[int] | None = None) -> Text:
    """``learning_rate 2e-4 vs 5e-3 (25×)``, values in ``order`` (run indexes)."""
    idx = list(order) if order is not None else list(range(len(ch.values)))
    vals = [ch.values[i] for i in idx if i < len(ch.values)]
    shown = [fmt_config_value(v) for v in vals]
    ratio = ""
    nums = [v for v in vals if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(vals) == 2 and len(nums) == 2 and all(math.isfinite(v) and v > 0 for v in nums):
        r = max(nums) / min(nums)
        if r >= 1.5:
            ratio = f" ({num(r, 2)}×)"
    return {
        "en": f"{ch.key} " + " vs ".join(shown) + ratio,
        "ko": f"{ch.key} " + " 대 ".join(shown) + ratio,
    }


def summarize(c: Comparison) -> Text:
    """One paragraph, in every language: the verdict of the comparison."""
    if not c.metric:
        return tr(
            "No loss in common: these runs cannot be ranked.",
            "공통된 손실 지표가 없어 순위를 매길 수 없습니다.",
        )
    parts: list[Text] = []
    sides = c.sides
    what = metric_text(c)
    if c.better is None or c.runner_up is None:
        vals = ", ".join(f"{s.label} {num(s.value)}" for s in sides if s.value is not None)
        if all(s.diverged for s in sides if s.value is not None):
            parts.append(tr("Every run diverged ({v}).", "모든 실행이 발산했습니다 ({v}).", v=vals))
        else:
            parts.append(
                tr(
                    "Even: {what} {vals} ({where}), within 1%.",
                    "비슷합니다: {what} {vals} ({where}), 차이 1% 이내.",
                    what=what,
                    vals=vals,
                    where=where_text(c),
                )
            )
    else:
        best, other = sides[c.better], sides[c.runner_up]
        if other.diverged:
            parts.append(
                tr(
                    "{a} is better: {b} diverged ({what} {bv}), {a} reached {av} ({where}).",
                    "더 나은 실행: {a}. {b} 발산 ({what} {bv}), {a} {av} ({where}).",
                    a=best.label,
                    b=other.label,
                    what=what,
                    av=num(best.value),
                    bv=num(other.value),
                    where=where_text(c),
                )
            )
        else:
            pct = f"{100 * (c.margin or 0):.0f}%" if (c.margin or 0) >= 0.005 else "<1%"
            parts.append(
                tr(
                    "{a} is better: {what} {av} vs {bv} for {b} ({pct} lower, {where}).",
                    "더 나은 실행: {a}. {what} {av} 대 {b} {bv} ({pct} 낮음, {where}).",
                    a=best.label,
                    b=other.label,
                    what=what,
                    av=num(best.value),
                    bv=num(other.value),
                    pct=pct,
                    where=where_text(c),
                )
            )
    top = [ch for ch in c.changes if ch.weight >= _OTHER][:3]
    if top:
        order = None
        if c.better is not None and c.runner_up is not None:
            order = [c.better, c.runner_up] + [
                i for i in range(len(sides)) if i not in (c.better, c.runner_up)
            ]
        texts = [change_text(ch, order) for ch in top]
        listed = {lang: "; ".join(t[lang] for t in texts) for lang in ("en", "ko")}
        parts.append(tr("Most likely explained by: {x}.", "가장 그럴듯한 원인: {x}.", x=listed))
    elif len(sides) >= 2:
        parts.append(
            tr("The configs do not differ in any setting that matters.", "설정 차이가 없습니다.")
        )
    for g in c.gaps[:4]:
        who = ", ".join(sides[i].label for i in g.runs)
        parts.append(
            tr("Only {who}: {t}.", "{who}에만 있음: {t}.", who=who, t=g.title),
        )
    return {lang: " ".join(p[lang] for p in parts) for lang in ("en", "ko")}


def comparison_to_dict(c: Comparison) -> dict[str, Any]:
    """JSON-ready (non-finite numbers as strings)."""

    def f(v: float | None) -> float | str | None:
        if v is None:
            return None
        return v if math.isfinite(v) else numeric.nonfinite_token(v)

    return {
        "metric": c.metric,
        "aggregate": c.aggregate,
        "basis": c.basis,
        "horizon": c.horizon,
        "equal": c.equal,
        "better": c.better,
        "runner_up": c.runner_up,
        "margin": f(c.margin),
        "delta": f(c.delta),
        "runs": [
            {
                "id": s.id,
                "name": s.name,
                "label": s.label,
                "value": f(s.value),
                "at": f(s.at),
                "last": f(s.last),
                "verdict": s.verdict,
                "finding_kinds": list(s.finding_kinds),
                "diverged": s.diverged,
            }
            for s in c.sides
        ],
        "config_changes": [
            {"key": ch.key, "values": list(ch.values), "weight": ch.weight} for ch in c.changes
        ],
        "finding_gaps": [
            {"kind": g.kind, "title": g.title, "severity": g.severity, "runs": list(g.runs)}
            for g in c.gaps
        ],
        "summary": c.summary,
    }


__all__ = [
    "Comparison",
    "ConfigChange",
    "FindingGap",
    "Side",
    "choose_basis",
    "choose_metric",
    "compare",
    "comparison_to_dict",
    "config_changes",
    "epoch_series",
    "summarize",
]
