"""What the rules know about a run besides its curves: the set-up, read from config and logs.

The context is built once per analysis: LoRA vs full fine-tune, the task (language modelling,
preference, classification ...), the learning-rate schedule as logged, epochs and steps per
epoch, the effective batch and the number of training examples when they can be known.
Every derived value says where it came from, so reports can show it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from losslens import keys
from losslens.analysis import components, signals
from losslens.model import Finding, RunData, Series

#: Usual peak learning rates per kind of fine-tune: ``(typical, low_edge, high_edge)``.
LR_BANDS: dict[str, tuple[float, float, float]] = {
    "lora": (2e-4, 2e-5, 1e-3),
    "full": (2e-5, 2e-6, 1e-4),
    "preference": (5e-6, 1e-7, 1e-4),
    "unknown": (2e-4, 1e-6, 1e-2),
}

#: Tasks whose loss is not next-token cross-entropy over natural text.
NON_TEXT_TASKS = frozenset({"preference", "classification", "speech", "embedding", "regression"})

_LORA_WORD = re.compile(r"(^|[^a-z])q?lora([^a-z]|$)")


def _flatten(
    d: Mapping[str, Any], prefix: str = "", out: dict[str, Any] | None = None
) -> dict[str, Any]:
    out = {} if out is None else out
    for k, v in d.items():
        name = f"{prefix}{k}".lower()
        if isinstance(v, Mapping):
            _flatten(v, name + ".", out)
        else:
            out.setdefault(name, v)
            out.setdefault(str(k).lower(), v)
    return out


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        f = float(v)
        return f if math.isfinite(f) else None
    if isinstance(v, str):
        try:
            f = float(v.strip())
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


@dataclass
class Schedule:
    """The learning-rate schedule as the log shows it."""

    kind: str  # constant | linear | cosine | decaying | warmup_only | unknown
    peak: float
    peak_step: int
    start: float
    end: float
    warmup: bool
    warmup_end_step: int | None
    still_rising: bool  # LR still increasing at the end of the log
    #: The schedule's own peak: the fitted linear/cosine curve's top when one fits (the
    #: true peak usually falls between two logs), else the largest logged LR.
    top: float = 0.0

    def __post_init__(self) -> None:
        self.top = max(self.top, self.peak)


@dataclass
class RunContext:
    run: RunData
    config: dict[str, Any]
    summary: dict[str, Any]
    loss: Series | None = None
    eval_loss: Series | None = None
    lr: Series | None = None
    grad_norm: Series | None = None
    epoch: Series | None = None
    finetune: str = "unknown"  # lora | full | unknown
    #: Whether ``finetune`` comes from the config (else from the run's name, or unknown).
    #: A name is a hint for wording only: it never turns a finding on or off.
    finetune_from_config: bool = False
    task: str = "lm"  # lm | preference | classification | speech | embedding | regression
    first_step: int = 0
    last_step: int = 0
    log_interval: float = 1.0
    planned_steps: int | None = None
    steps_per_epoch: float | None = None
    epochs: float | None = None
    first_epoch: float | None = None
    effective_batch: int | None = None
    dataset_size: int | None = None
    dataset_size_source: str | None = None
    covers_start: bool = True
    finished: bool = False
    max_grad_norm: float | None = None
    gradient_accumulation: int | None = None
    schedule: Schedule | None = None
    #: ``(factor, from_step)`` when the logged train loss was found multiplied by gradient
    #: accumulation and divided back before the rules ran (see ``analysis/rules/artifacts.py``).
    loss_scale: tuple[int, int] | None = None
    found: list[Finding] = field(default_factory=list)

    # -- helpers for rules ------------------------------------------------------------------

    def cfg(self, *names: str) -> Any:
        for n in names:
            v = self.config.get(n.lower())
            if v is not None:
                return v
        return None

    def cfg_num(self, *names: str) -> float | None:
        for n in names:
            f = _num(self.config.get(n.lower()))
            if f is not None:
                return f
        return None

    @property
    def lr_band(self) -> tuple[float, float, float]:
        """The usual LR range for this kind of run, the name's hint included (for readings)."""
        if self.task == "preference":
            return LR_BANDS["preference"]
        return LR_BANDS[self.finetune]

    @property
    def decisive_finetune(self) -> str:
        """The kind of fine-tune as far as the config says: what rules may decide on."""
        return self.finetune if self.finetune_from_config else "unknown"

    @property
    def decision_band(self) -> tuple[float, float, float]:
        """The usual LR range for rules: the config's kind of run, not a guess from its name."""
        if self.task == "preference":
            return LR_BANDS["preference"]
        return LR_BANDS[self.decisive_finetune]

    @property
    def text_task(self) -> bool:
        return self.task not in NON_TEXT_TASKS

    def epoch_at(self, step: float) -> float | None:
        if self.epoch is not None and len(self.epoch.finite) >= 1:
            e = self.epoch.finite
            if len(e) >= 2:
                st = e.steps.astype(float)
                if self.steps_per_epoch and not st[0] <= step <= st[-1]:
                    # outside the train log (an eval before its first line or after its
                    # last): the epoch moves with the step from the nearer end, down to 0 at
                    # step 0; it does not stop at that log's epoch
                    edge = 0 if step < st[0] else -1
                    moved = (step - float(st[edge])) / self.steps_per_epoch
                    return max(0.0, float(e.values[edge]) + moved)
                return signals.interp(st, e.values, step)
            if self.steps_per_epoch:
                return step / self.steps_per_epoch
            return float(e.values[0])
        if self.steps_per_epoch:
            return step / self.steps_per_epoch
        return None

    def has(self, rule_id: str) -> Finding | None:
        return next((f for f in self.found if f.rule_id == rule_id), None)

    def has_kind(self, kind: str) -> Finding | None:
        return next((f for f in self.found if f.kind == kind), None)


def _series(run: RunData, canonical: str) -> Series | None:
    name = keys.resolve(list(run.series), canonical)
    if name is None and canonical in (keys.LOSS, keys.EVAL_LOSS):
        name = _named_train_loss(run) if canonical == keys.LOSS else _named_eval_loss(run)
    if name is None:
        return None
    twin = keys.epoch_twin(list(run.series), name)  # Lightning's epoch means, when denser
    if twin is not None and len(run.series[twin].finite) > len(run.series[name].finite):
        name = twin
    return run.series[name] if len(run.series[name]) else None


def _lr(run: RunData) -> Series | None:
    """The run's learning rate. Of a monitor's parameter groups, the first whose schedule
    another group shares: Ultralytics and YOLOv5 log their biases first (``lr/pg0``, warmed
    down from a rate of their own) beside two groups of weights on one schedule, which is the
    run's; when no two groups share one, or the first shares its own, the first group's (a
    learning rate logged by its own name stands)."""
    lr = _series(run, keys.LR)
    groups = keys.lr_groups(list(run.series))
    if lr is None or len(groups) < 3 or lr.key != groups[0]:
        return lr
    vals = [run.series[n].values for n in groups]

    def shared(i: int) -> bool:
        return any(
            j != i and v.shape == vals[i].shape and np.allclose(v, vals[i], equal_nan=True)
            for j, v in enumerate(vals)
        )

    i = next((i for i in range(len(groups)) if shared(i)), 0)
    return lr if i == 0 else run.series[groups[i]]


#: A test split's loss: the held-out loss of a run that logs no validation loss.
TEST_LOSS = "test/loss"


def _losses(run: RunData) -> tuple[Series | None, Series | None]:
    """The train and eval loss; with no train loss by name, the sums of an objective's parts
    (:func:`components.summed_losses`, once for both), an eval loss by name standing. With no
    validation loss at all, a test loss is the held-out one (a script that scores its test
    split as it trains watches that curve as others watch a validation loss)."""
    names = list(run.series)
    if keys.resolve(names, keys.LOSS) is None:
        train, held = components.summed_losses(run)
        if train is not None:
            named = keys.resolve(names, keys.EVAL_LOSS) is not None
            held = _series(run, keys.EVAL_LOSS) if named else held
            return train, held or _series(run, TEST_LOSS)
    return _series(run, keys.LOSS), _series(run, keys.EVAL_LOSS) or _series(run, TEST_LOSS)


def first_per_step(s: Series) -> Series:
    """An eval series with one value per step, the first logged. A second evaluation at the
    same step is a ``trainer.evaluate()`` after training (of the best checkpoint, when the
    Trainer loads it at the end), not a new point of the curve: read as one, it would make
    an eval loss that rose look as if it came back to its minimum."""
    if len(s) < 2:
        return s
    _, first = np.unique(s.steps, return_index=True)
    if first.size == len(s):
        return s
    keep = np.sort(first)
    return Series(s.key, s.steps[keep], s.values[keep], s.wall_times[keep])


def _named_train_loss(run: RunData) -> str | None:
    """The train loss of a run that logs no plain ``loss``, when exactly one train series is
    named ``*_loss``: SetFit logs its contrastive objective as ``embedding_loss``. With two or
    more (component losses such as ``mlm_loss`` and ``nsp_loss``) none is taken for the loss."""
    named = components.component_losses(run)
    return named[0] if len(named) == 1 else None


def _named_eval_loss(run: RunData) -> str | None:
    """The loss of the first named eval set when there is no plain eval loss: the Trainer,
    given a dict of eval datasets, logs ``eval_<name>_loss`` for each and no ``eval_loss``."""
    named = sorted(
        k
        for k in run.series
        if keys.is_eval_key(keys.normalize_key(k)) and keys.normalize_key(k).endswith("_loss")
    )
    return named[0] if named else None


def _finetune_from_config(cfg: dict[str, Any]) -> str:
    ft = str(cfg.get("finetuning_type") or cfg.get("finetune") or cfg.get("method") or "").lower()
    if "lora" in ft or "adapter" in ft:
        return "lora"
    if ft in ("full", "full_finetune", "full-finetune"):
        return "full"
    if cfg.get("from_scratch") or cfg.get("pretraining"):
        return "none"
    if any(k in cfg for k in ("lora_r", "lora_alpha", "peft_config", "lora_rank", "use_peft")):
        if cfg.get("use_peft") is False:
            return "full"
        return "lora"
    if "r" in cfg and "target_modules" in cfg:
        return "lora"
    return "unknown"


def _detect_finetune(run: RunData, cfg: dict[str, Any]) -> tuple[str, bool]:
    """The kind of fine-tune and whether the config says so (else a guess from the name)."""
    ft = _finetune_from_config(cfg)
    if ft == "none":
        return "unknown", False
    if ft != "unknown":
        return ft, True
    names = " ".join(str(x or "") for x in (run.info.name, run.info.output_dir)).lower()
    if _LORA_WORD.search(names):
        return "lora", False
    return "unknown", False


def _detect_task(run: RunData, cfg: dict[str, Any]) -> str:
    """The kind of loss: from the metrics logged (rewards, WER, accuracy ...) or what the
    config says (the task name, the model class, the PEFT task type)."""
    ks = [k.lower() for k in run.series]
    task = str(cfg.get("task") or cfg.get("trainer") or "").lower()
    if any(w in task for w in ("dpo", "orpo", "kto", "preference", "reward")):
        return "preference"
    if any(("rewards/" in k or "logps" in k) for k in ks):
        return "preference"
    if any(k.endswith(("/cer", "/wer")) for k in ks):
        return "speech"
    if any(("pearson" in k or "spearman" in k) for k in ks):
        return "embedding"
    if any(
        k.endswith(("/accuracy", "/acc", "/f1", "/matthews_correlation", "/precision", "/recall"))
        or _TOP_K.search(k)
        for k in ks
    ) and not any("token_accuracy" in k for k in ks):
        return "classification"
    if _says_classifier(cfg, task):
        return "classification"
    if any(_REGRESSION.search(k) for k in ks):
        return "regression"
    return "lm"


#: A top-k accuracy (``metrics/accuracy_top1``, ``val/top5``, ``acc1``): a classifier's metric.
_TOP_K = re.compile(r"/(?:acc(?:uracy)?_?top\d+|top\d+(?:_acc(?:uracy)?)?|acc\d+)$")


#: Error metrics of continuous targets (``val_mse``, ``eval/mae``, ``r2``): a run that logs one
#: trains a regressor, whose loss is an error in the targets' units, not a cross-entropy.
_REGRESSION = re.compile(r"(?:^|[/_])(?:mse|rmse|mae|mape|smape|rmsle|r2|r2_score|l2re)$")


#: A classification head, by the model class (``BertForSequenceClassification``), the PEFT
#: ``task_type`` (``SEQ_CLS``, ``TOKEN_CLS``) or a task name (``text-classification``, ``cls``).
_CLASSIFIER = re.compile(r"classif|(?:^|[^a-z])(?:seq_|token_)?cls(?:$|[^a-z])")


def _says_classifier(cfg: dict[str, Any], task: str) -> bool:
    """Whether the config names a classifier: its task, model class or PEFT task type."""
    said = [task, *(str(cfg.get(k) or "") for k in ("architecture", "architectures", "task_type"))]
    return any(_CLASSIFIER.search(x.lower()) for x in said)


def _schedule(lr: Series | None, planned: int | None) -> Schedule | None:
    if lr is None:
        return None
    f = lr.finite
    if len(f) < 2:
        return None
    steps = f.steps.astype(float)
    v = f.values
    peak_i = int(np.argmax(v))
    peak = float(v[peak_i])
    if peak <= 0:
        return Schedule("constant", 0.0, int(f.steps[0]), 0.0, 0.0, False, None, False)
    start, end = float(v[0]), float(v[-1])
    rel = v / peak
    warmup = peak_i > 0 and start < 0.9 * peak
    last = v[-max(2, len(v) // 10) :]
    still_rising = peak_i >= len(v) - 1 and start < 0.9 * peak and bool(np.all(np.diff(last) >= 0))
    if still_rising:
        return Schedule("warmup_only", peak, int(f.steps[peak_i]), start, end, True, None, True)
    warmup_end = int(f.steps[peak_i]) if warmup else None
    post = rel[peak_i:]
    post_steps = steps[peak_i:]
    top = peak
    if np.all(np.abs(post - 1.0) <= 0.01):
        kind = "constant"
    elif post.size >= 3 and post[-1] < post[0]:
        kind = "decaying"
        # the log must show the shape: from the peak, decayed well below it
        if post[-1] < 0.7 and peak_i < len(v) - 2:
            fit = _fit_decay(post_steps, v[peak_i:], planned, float(f.steps[peak_i]))
            if fit is not None:
                kind, top = fit
    else:
        kind = "unknown"
    return Schedule(kind, peak, int(f.steps[peak_i]), start, end, warmup, warmup_end, False, top)


def _fit_decay(
    steps: np.ndarray, lr: np.ndarray, planned: int | None, peak_step: float
) -> tuple[str, float] | None:
    """``linear`` or ``cosine`` and the fitted peak, when one fits within 4% of its peak.

    The decay may have started before the first logged point (a short warmup between two
    logs), so its start ``s0`` (0..peak step) and end ``T`` (the scheduler's horizon: the
    planned steps when known, else searched) are fitted, and the peak scale by least squares.
    """
    last = float(steps[-1])
    ends = (
        [float(planned)] if planned and planned >= last else list(np.linspace(last, 4 * last, 40))
    )
    starts = list(np.linspace(0.0, peak_step, 8))
    # Every candidate (start, end, shape) gets a lower bound of its error from a few points
    # spread over the decay; they are then fitted from the lowest bound up, and once a bound
    # exceeds the best error so far (or 4%) no later candidate can win. The winner is the
    # one a plain scan in (start, end, linear/cosine) order would keep: the smallest error,
    # ties to the earliest candidate.
    probe = np.unique(np.linspace(0, steps.size - 1, min(steps.size, 48)).round().astype(int))
    lr_p = lr[probe]
    cands: list[tuple[float, int, float, float, str]] = []
    for s0 in starts:
        for total in ends:
            span = total - s0
            if span <= 0:
                continue
            tp = np.clip((steps[probe] - s0) / span, 0, 1)
            for name, shape_p in (("linear", 1 - tp), ("cosine", 0.5 * (1 + np.cos(math.pi * tp)))):
                cands.append((_fit_floor(shape_p, lr_p), len(cands), s0, span, name))
    cands.sort()
    best: tuple[float, int, str | None, float] = (float("inf"), -1, None, 0.0)
    shape, diff = np.empty_like(steps), np.empty_like(steps)  # scratch, reused
    for bound, order, s0, span, name in cands:
        if bound > min(best[0], 0.04) * (1 + 1e-6) + 1e-12:  # margins for rounding
            break
        # the numbers of np.clip((steps - s0) / span, 0, 1), then 1 - t or
        # 0.5 * (1 + np.cos(math.pi * t)), computed in place
        np.subtract(steps, s0, out=shape)
        shape /= span
        np.clip(shape, 0, 1, out=shape)
        if name == "linear":
            np.subtract(1, shape, out=shape)
        else:
            shape *= math.pi
            np.cos(shape, out=shape)
            shape += 1
            shape *= 0.5
        denom = _dot(shape, shape)
        if denom <= 0:
            continue
        scale = _dot(lr, shape) / denom
        if scale <= 0:
            continue
        np.multiply(shape, scale, out=diff)
        diff -= lr
        np.abs(diff, out=diff)
        err = float(np.max(diff)) / scale
        if (err, order) < best[:2]:
            best = (err, order, name, scale)
    return (best[2], best[3]) if best[2] is not None and best[0] < 0.04 else None


def _fit_floor(shape: np.ndarray, lr: np.ndarray) -> float:
    """A lower bound of ``max|c * shape - lr| / c`` over every scale ``c > 0`` (the error of
    :func:`_fit_decay`): for each pair of points ``i, k``, no ``u = 1 / c`` brings both
    ``|shape - u * lr|`` under ``|shape_i lr_k - shape_k lr_i| / (lr_i + lr_k)``."""
    ok = lr >= 0
    a, b = shape[ok], lr[ok]
    den = b[:, None] + b[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.abs(a[:, None] * b[None, :] - a[None, :] * b[:, None]) / den
    gap = gap[den > 0]
    return float(gap.max()) if gap.size else 0.0


#: Elements per ``np.dot`` call in :func:`_dot`: below OpenBLAS's threading threshold (10,000).
_DOT_CHUNK = 8192


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """``np.dot(a, b)`` (the same number up to ``_DOT_CHUNK`` elements), summed chunk by
    chunk beyond: OpenBLAS splits a longer dot over threads, which costs 20-40x more than
    the product itself on a busy machine and makes the last bit depend on the core count."""
    if a.size <= _DOT_CHUNK:
        return float(np.dot(a, b))
    return math.fsum(
        float(np.dot(a[i : i + _DOT_CHUNK], b[i : i + _DOT_CHUNK]))
        for i in range(0, a.size, _DOT_CHUNK)
    )


def build_context(run: RunData) -> RunContext:
    cfg = _flatten(run.info.config or {})
    summ = _flatten(run.info.summary or {})
    ctx = RunContext(run=run, config=cfg, summary=summ)
    ctx.loss, ev = _losses(run)
    ctx.eval_loss = first_per_step(ev) if ev is not None else None
    ctx.lr = _lr(run)
    ctx.grad_norm = _series(run, keys.GRAD_NORM)
    ctx.epoch = _series(run, keys.EPOCH)
    ctx.finetune, ctx.finetune_from_config = _detect_finetune(run, cfg)
    ctx.task = _detect_task(run, cfg)

    all_steps = [int(s.steps[0]) for s in (ctx.loss, ctx.eval_loss) if s is not None]
    all_last = [int(s.steps[-1]) for s in (ctx.loss, ctx.eval_loss) if s is not None]
    ctx.first_step = min(all_steps) if all_steps else 0
    ctx.last_step = max(all_last) if all_last else 0
    if ctx.loss is not None and len(ctx.loss) >= 2:
        ctx.log_interval = median_gap(ctx.loss.steps)
    elif ctx.cfg_num("logging_steps"):
        ctx.log_interval = float(ctx.cfg_num("logging_steps") or 1.0)

    max_steps = ctx.cfg_num("max_steps")
    ctx.planned_steps = int(max_steps) if max_steps and max_steps > 0 else None
    ctx.gradient_accumulation = _int(ctx.cfg_num("gradient_accumulation_steps"))
    mgn = ctx.cfg_num("max_grad_norm")
    ctx.max_grad_norm = mgn if mgn and mgn > 0 else None

    # epochs: logged epoch series first, then the summary
    if ctx.epoch is not None and len(ctx.epoch.finite) >= 1:
        e = ctx.epoch.finite
        ctx.epochs = float(e.values[-1])
        ctx.first_epoch = float(e.values[0])
        sel = e.steps > 0
        if sel.sum() >= 2 and float(e.values[sel][-1] - e.values[sel][0]) > 0:
            ds = float(e.steps[sel][-1] - e.steps[sel][0])
            ctx.steps_per_epoch = ds / float(e.values[sel][-1] - e.values[sel][0])
        elif sel.sum() >= 1 and float(e.values[sel][-1]) > 0:
            ctx.steps_per_epoch = float(e.steps[sel][-1]) / float(e.values[sel][-1])
        # the state's own epoch, at its global step at or after the last log, is how far the
        # run went (the last log can be up to one logging interval before the end)
        at_end, gstep = _num(summ.get("epoch")), _num(summ.get("global_step"))
        if at_end and gstep and gstep >= float(e.steps[-1]) and at_end > ctx.epochs:
            ctx.epochs = at_end
    elif _num(summ.get("epoch")):
        ctx.epochs = _num(summ.get("epoch"))

    _batch_and_data(ctx)
    if ctx.epochs is None and ctx.dataset_size and ctx.effective_batch and ctx.last_step:
        ctx.epochs = ctx.last_step * ctx.effective_batch / ctx.dataset_size
    if ctx.steps_per_epoch is None and ctx.dataset_size and ctx.effective_batch:
        ctx.steps_per_epoch = ctx.dataset_size / ctx.effective_batch

    # does the log start at the beginning of training, and did the run end?
    start_tol = max(2 * ctx.log_interval, 0.05 * (ctx.planned_steps or ctx.last_step or 1), 1)
    ctx.covers_start = ctx.first_step <= start_tol
    if (
        ctx.first_epoch is not None
        and ctx.first_epoch > 0.1
        and ctx.first_step > 2 * ctx.log_interval
    ):
        ctx.covers_start = False
    ctx.finished = (
        "train_runtime" in summ
        or bool(ctx.planned_steps and ctx.last_step >= 0.95 * ctx.planned_steps)
        or _no_time_left(run)
    )
    ctx.schedule = _schedule(ctx.lr, ctx.planned_steps)
    return ctx


def _no_time_left(run: RunData) -> bool:
    """Whether the time left that a progress log prints (detectron2's ``eta_seconds``) falls
    to 0 at its last log: the run finished the steps it planned."""
    eta = _series(run, "train/eta_seconds")  # also a name kept as logged (``eta_seconds``)
    return eta is not None and len(eta) >= 2 and eta.values[0] > 0 and eta.values[-1] == 0


#: Steps per chunk when the median gap of a long series is counted chunk by chunk.
_GAP_CHUNK = 1 << 20


def median_gap(steps: np.ndarray) -> float:
    """The median of the positive gaps between consecutive steps (1.0 when none).

    A long series is counted chunk by chunk (how often each gap occurs), so memory stays
    O(chunk + distinct gaps) instead of three copies of the series; the result is the
    number ``np.median`` gives on all the gaps.
    """
    if steps.size <= _GAP_CHUNK or max(-int(steps.min()), int(steps.max())) >= 2**53:
        d = np.diff(steps.astype(float))
        d = d[d > 0]
        return float(np.median(d)) if d.size else 1.0
    vals, counts = [], []
    for a in range(0, steps.size - 1, _GAP_CHUNK):
        gaps = np.diff(steps[a : a + _GAP_CHUNK + 1])
        gaps = gaps[gaps > 0]
        if not gaps.size:
            continue
        if gaps.min() == gaps.max():  # regular logging: one gap
            vals.append(gaps[:1])
            counts.append(np.array([gaps.size]))
        else:
            u, c = np.unique(gaps, return_counts=True)
            vals.append(u)
            counts.append(c)
    if not vals:
        return 1.0
    uniq, inv = np.unique(np.concatenate(vals), return_inverse=True)
    cum = np.cumsum(np.bincount(inv, weights=np.concatenate(counts)).astype(np.int64))
    total = int(cum[-1])

    def kth(k: int) -> float:  # the k-th smallest gap (0-based)
        return float(uniq[int(np.searchsorted(cum, k, side="right"))])

    if total % 2:
        return kth(total // 2)
    return (kth(total // 2 - 1) + kth(total // 2)) / 2


def _int(v: float | None) -> int | None:
    return int(v) if v is not None and v > 0 else None


def _batch_and_data(ctx: RunContext) -> None:
    cfg = ctx.cfg_num
    bs = cfg("per_device_train_batch_size", "batch_size", "micro_batch_size")
    ga = cfg("gradient_accumulation_steps") or 1.0
    world = cfg("world_size", "num_gpus", "n_gpu") or 1.0
    total = cfg("total_batch_size", "effective_batch_size", "total_train_batch_size")
    if total:
        ctx.effective_batch = int(total)
    elif bs:
        ctx.effective_batch = int(bs * ga * world)
    elif cfg("train_batch_size") and ctx.gradient_accumulation:
        ctx.effective_batch = int((cfg("train_batch_size") or 1) * ctx.gradient_accumulation)

    n = cfg(
        "train_examples",
        "num_train_examples",
        "num_examples",
        "dataset_size",
        "train_size",
        "n_train",
        "num_train_samples",
    )
    if n:
        ctx.dataset_size, ctx.dataset_size_source = int(n), "config"

    # The Trainer's end-of-run record: samples/s x runtime = samples seen = steps x batch.
    sps = _num(ctx.summary.get("train_samples_per_second"))
    runtime = _num(ctx.summary.get("train_runtime"))
    steps = _num(ctx.summary.get("global_step")) or (
        float(ctx.last_step) if ctx.last_step else None
    )
    if sps and runtime and steps:
        seen = sps * runtime
        if ctx.effective_batch is None:
            est = seen / steps
            if est >= 0.95:
                ctx.effective_batch = max(1, round(est))
        if ctx.dataset_size is None and ctx.epochs and ctx.epochs > 0:
            est_n = seen / ctx.epochs
            if est_n >= 1:
                ctx.dataset_size, ctx.dataset_size_source = round(est_n), "log"
    if ctx.dataset_size is None and ctx.steps_per_epoch and ctx.effective_batch:
        ctx.dataset_size = round(ctx.steps_per_epoch * ctx.effective_batch)
        ctx.dataset_size_source = "log"
