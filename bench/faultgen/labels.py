"""Labels for a generated run: from what was caused on purpose, checked against its numbers.

Every label follows the corpus README (kinds, severities, "judge by size"). The construction
says what to look for; the logged numbers decide whether it is labelled and how severely.
A constructed fault that did not show is not labelled, and the notes say so; anything the
numbers show that was not constructed (a healthy cell that overfit, say) is labelled too.

Thresholds are in ``T`` below (quoted in corpus/generated/README.md).
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass
from typing import Any

from bench.faultgen.spec import RunSpec

#: How the labeller reads the numbers (documented in corpus/generated/README.md).
T = {
    "spike_ratio": 1.5,  # a loss at least 1.5x its neighbours' median ...
    "spike_noise": 4.0,  # ... and 4 robust noise units above it, coming straight back
    "spike_warning": 3.0,  # a spike >= 3x the surrounding level is a warning, else info
    "grad_spike_ratio": 5.0,  # grad_norm >= 5x its neighbours' median (info)
    "never_moves": 0.97,  # end/start >= 0.97 over >= 50 steps: the loss never moves (error)
    "plateau": 0.70,  # end/start >= 0.70 after >= 1 epoch: plateau at a high level (warning)
    "rise": 1.3,  # a rise of the windowed median >= 1.3x its running minimum ...
    "rise_progress": 0.25,  # ... giving back >= 25% of the progress made is sustained
    "rise_noise": 3.0,  # ... and >= 3 per-log noise units (robust) is sustained
    "schedule_rise": 1.05,  # high-LR cells: loss at the LR peak >= 1.05x its low before it
    "near_zero": 0.15,  # train loss at or below this is memorized (our tasks' floors are >= 0.3)
    "overfit_rel": 0.03,  # eval end >= min x 1.03, >= 0.02 above it, >= 3 evals after the min
    "many_epochs": 10,  # epoch count worth an info (escalated only with harm shown)
    "clip_ratio": 10.0,  # median grad_norm >= 10x max_grad_norm: every step clipped
    "gap_widen": 2.0,  # eval-train gap at the end >= 2x the gap at the eval minimum (and >= 0.5)
}


@dataclass
class Curve:
    steps: list[int]
    loss: list[float]
    grad: list[float]
    lr: list[float]
    eval_steps: list[int]
    eval_loss: list[float]
    steps_per_epoch: float
    total_steps: int


def fin(x: float) -> bool:
    return math.isfinite(x)


def curve(hist: list[dict[str, Any]], scale: float = 1.0) -> Curve:
    tr = [h for h in hist if "loss" in h and "step" in h]
    ev = [h for h in hist if "eval_loss" in h]
    steps = [int(h["step"]) for h in tr]
    spe = math.nan
    for h in tr[::-1]:
        if h.get("epoch"):
            spe = h["step"] / h["epoch"]
            break
    return Curve(
        steps=steps,
        loss=[float(h["loss"]) / scale for h in tr],
        grad=[float(h.get("grad_norm", math.nan)) for h in tr],
        lr=[float(h.get("learning_rate", math.nan)) for h in tr],
        eval_steps=[int(h["step"]) for h in ev],
        eval_loss=[float(h["eval_loss"]) for h in ev],
        steps_per_epoch=spe,
        total_steps=max([*steps, *[int(h["step"]) for h in ev], 0]),
    )


def _med(xs: list[float]) -> float:
    xs = [x for x in xs if fin(x)]
    return statistics.median(xs) if xs else math.nan


def _f(x: float) -> str:
    return f"{x:.3g}"


class Labeller:
    def __init__(self, spec: RunSpec, hist: list[dict[str, Any]]) -> None:
        self.spec = spec
        # transformers 5 does not divide a sequence-classification model's mean loss by the
        # accumulation steps (the model takes **kwargs, so the Trainer expects a summed loss):
        # the same artifact as the constructed one, made by the library itself
        self.natural_ga = spec.task == "cls" and spec.grad_accum > 1 and not spec.ga_loss_scale
        self.scale = spec.grad_accum if spec.ga_loss_scale or self.natural_ga else 1
        self.c = curve(hist, self.scale)
        self.findings: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.ln_v = math.log(2) if spec.task == "cls" else math.log(320)
        self.bad_start = False

    def add(self, kind: str, severity: str, onset: int | None, evidence: str) -> None:
        for f in self.findings:
            if f["kind"] == kind:
                return
        self.findings.append(
            {"kind": kind, "onset_step": onset, "evidence": evidence, "severity": severity}
        )

    def has(self, kind: str, *severities: str) -> bool:
        return any(
            f["kind"] == kind and (not severities or f["severity"] in severities)
            for f in self.findings
        )

    # -- readings -----------------------------------------------------------------------
    def epochs(self) -> float:
        c = self.c
        return c.total_steps / c.steps_per_epoch if fin(c.steps_per_epoch) else math.nan

    def finite_loss(self) -> list[tuple[int, float]]:
        return [(s, v) for s, v in zip(self.c.steps, self.c.loss, strict=True) if fin(v)]

    def start_end(self) -> tuple[float, float, float]:
        """First logged loss (the second when the first is a bad-start outlier), end, min."""
        pts = [v for _, v in self.finite_loss() if v > 0]
        if not pts:
            return math.nan, math.nan, math.nan
        end = _med(pts[-3:])
        return pts[0], end, min(pts)

    def nonfinite(self) -> None:
        c = self.c
        bad_loss = [i for i, v in enumerate(c.loss) if not fin(v)]
        bad_grad = [i for i, v in enumerate(c.grad) if not fin(v)]
        # a NaN hidden by logging_nan_inf_filter: loss logged as exactly 0.0 next to NaN grads
        hidden = [i for i in bad_grad if c.loss[i] == 0.0]
        if not bad_loss and not bad_grad:
            return
        first = min(bad_loss + bad_grad)
        step = c.steps[first]
        last_grad_bad = not fin(c.grad[-1])
        eval_bad = bool(c.eval_loss) and not fin(c.eval_loss[-1])
        if last_grad_bad or eval_bad:
            what = "loss NaN" if bad_loss else "grad_norm NaN"
            if hidden:
                what = "loss logged as 0.0 (NaN filtered) with grad_norm NaN"
            self.add(
                "nan_or_inf",
                "error",
                step,
                f"{what} from step {step} to the end"
                + (f"; eval_loss NaN from step {self._first_bad_eval()}" if eval_bad else ""),
            )
            return
        tail = f"grad_norm finite after step {c.steps[max(bad_grad)] if bad_grad else step}"
        if bad_loss and len(bad_loss) > 1:
            self.add(
                "nan_or_inf",
                "warning",
                step,
                f"loss NaN from step {step} to the end while {tail}"
                + (
                    f" and eval_loss keeps improving ({_f(c.eval_loss[0])} -> "
                    f"{_f(c.eval_loss[-1])})"
                    if c.eval_loss
                    else ""
                ),
            )
            self.notes.append(
                "One step's loss was NaN and its update was skipped; with "
                "logging_nan_inf_filter=False the Trainer's running loss sum stays NaN after it "
                "(tr_loss -= tr_loss keeps NaN), so every later logged loss is NaN although the "
                "weights are finite."
            )
        else:
            # a lone non-finite grad norm with a finite loss that the run comes back from
            # never reached the weights (a NaN there leaves every later value NaN): the update
            # was skipped, as the fp16 loss scaler does by design; one lost step harms nothing
            isolated = all(b - a > 1 for a, b in itertools.pairwise(bad_grad))
            rare = len(bad_grad) == 1 or len(bad_grad) < 0.05 * len(c.grad)
            skipped = not bad_loss and isolated and rare
            self.add(
                "nan_or_inf",
                "info" if skipped else "warning",
                step,
                f"one non-finite value at step {step} (loss {_f(c.loss[first])}, grad_norm "
                f"{_f(c.grad[first])}); {tail}"
                + ("; a skipped update the run came back from" if skipped else ""),
            )

    def _first_bad_eval(self) -> int | None:
        for st, v in zip(self.c.eval_steps, self.c.eval_loss, strict=True):
            if not fin(v):
                return st
        return None

    def spikes(self) -> list[tuple[int, float]]:
        """Isolated loss spikes: (step, ratio to the neighbours' median)."""
        pts = self.finite_loss()
        out = []
        for i in range(1, len(pts)):
            win = [
                v for j, (_, v) in enumerate(pts[max(0, i - 4) : i + 5], max(0, i - 4)) if j != i
            ]
            if len(win) < 3:
                continue
            level = statistics.median(win)
            noise = statistics.median([abs(v - level) for v in win]) * 1.4826
            v = pts[i][1]
            back = i + 1 >= len(pts) or pts[i + 1][1] < v / 1.3
            back = back and pts[i - 1][1] < v / 1.3  # up from the previous log, too
            if (
                level > 0
                and v >= T["spike_ratio"] * level
                and v - level >= max(T["spike_noise"] * noise, 0.1)
                and back
            ):
                out.append((pts[i][0], v / level))
        return out

    def grad_spikes(self) -> list[tuple[int, float]]:
        c = self.c
        out = []
        for i in range(1, len(c.grad)):
            win = [g for j, g in enumerate(c.grad[max(0, i - 4) : i + 5], max(0, i - 4)) if j != i]
            level = _med(win)
            ok = fin(c.grad[i]) and fin(level) and level > 0
            if ok and c.grad[i] >= T["grad_spike_ratio"] * level:
                out.append((c.steps[i], c.grad[i] / level))
        return out

    def rise(self) -> tuple[int, float, float, float] | None:
        """A sustained rise: (onset step, min before, peak, end), on 5-log medians."""
        pts = self.finite_loss()
        if len(pts) < 6:
            return None
        vals = [v for _, v in pts]
        h = max(2, len(vals) // 16)  # half-window: 5 logs, wider on long runs
        sm = [(pts[0][0], vals[0])] + [
            (pts[i][0], _med(vals[max(0, i - h) : i + h + 1])) for i in range(1, len(pts))
        ]
        first = vals[0]
        # per-log noise: robust scale of log-to-log differences
        diffs = [abs(b - a) for a, b in itertools.pairwise(vals)]
        sigma = 1.4826 * statistics.median(diffs) / math.sqrt(2) if diffs else 0.0
        run_min, best = math.inf, None
        for k, (_st, v) in enumerate(sm):
            if v < run_min:
                run_min = v
            elif (
                v >= T["rise"] * run_min
                and v - run_min >= T["rise_progress"] * max(first - run_min, 0.0)
                and v - run_min >= T["rise_noise"] * sigma
                and (best is None or v / run_min > best[2] / best[1])
            ):
                onset = next(s for s, w in sm[: k + 1][::-1] if w <= run_min)
                best = (onset, run_min, v, sm[-1][1])
        if best is None:
            return None
        onset, lo, _, end = best
        # sustained: at least 3 logs after the onset are that far above the low
        bar = max(T["rise"] * lo, lo + T["rise_noise"] * sigma)
        if sum(v >= bar for st, v in pts if st > onset) < 3:
            return None
        peak = max(v for s, v in sm if s >= onset)
        return onset, lo, peak, end

    # -- the label ----------------------------------------------------------------------
    def derive(self) -> dict[str, Any]:
        s, c = self.spec, self.c
        fam = s.family
        start, end, _low = self.start_end()
        ep = self.epochs()
        self.nonfinite()
        weights_nan = self.has("nan_or_inf", "error")

        # bad start: a huge first value that starts a steady descent (a from-scratch model
        # starts near ln(vocab); the reference is the loss 10-20% into the run)
        pts = self.finite_loss()
        ref = _med([v for st, v in pts if 0.1 * c.total_steps <= st <= 0.2 * c.total_steps])
        if pts and fin(ref) and pts[0][1] >= 1.5 * self.ln_v and pts[0][1] >= 2.5 * ref:
            self.add(
                "other",
                "info",
                pts[0][0],
                f"bad start: first logged loss {_f(pts[0][1])} (a fresh model starts near "
                f"{self.ln_v:.2f}), {pts[0][1] / ref:.0f}x the loss 10-20% into the run, then a "
                "steady descent (not divergence)",
            )
            start = ref
            self.bad_start = True
        elif fam == "bad_start":
            self.notes.append("constructed bad start did not show as an outlying first value")

        # divergence and LR too high: a sustained rise, recovered or not
        rise = None if weights_nan or self.bad_start else self.rise()
        high_lr = fam in ("lr_blowup", "lr_high_schedule")
        if rise is not None:
            onset, lo, peak, r_end = rise
            first = self.finite_loss()[0][1]
            recovered = r_end < first and r_end <= max(1.1 * lo, lo + 0.3 * (peak - lo))
            ev = f"loss {_f(lo)}@{onset} -> {_f(peak)} ({peak / lo:.1f}x)"
            if not recovered:
                self.add("divergence", "error", onset, f"{ev}, still {_f(r_end)} at the end")
                if high_lr:
                    self.add("lr_too_high", "error", onset, f"LR {s.lr:g} ({s.optim}): {ev}")
            elif high_lr:
                sev = "error" if end >= T["plateau"] * start else "warning"
                self.add(
                    "lr_too_high",
                    sev,
                    onset,
                    f"loss worsens at LR {s.lr:g} ({s.optim}, {s.scheduler}): {ev}, back to "
                    f"{_f(r_end)} as the LR decays; ends at {end / start:.0%} of its start",
                )
                self.add("divergence", "info", onset, f"{ev}, recovered")
            elif peak >= 1.5 * lo:
                self.add("divergence", "info", onset, f"{ev}, recovered to {_f(r_end)}")
        if weights_nan and high_lr:
            self.add("lr_too_high", "error", None, f"LR {s.lr:g} ({s.optim}) blows the run up")
            self.add("divergence", "error", None, "loss leaves finite values and never returns")
        if high_lr and not self.has("lr_too_high") and not weights_nan:
            self._schedule_response()

        # spikes
        # a spike at a step whose gradient norm is NaN/inf is a warning (the conventions)
        nan_grad = {st for st, g in zip(self.c.steps, self.c.grad, strict=True) if not fin(g)}
        for st, r in self.spikes():
            paired = st in nan_grad
            sev = "warning" if r >= T["spike_warning"] or paired else "info"
            cause = (
                " (a corrupted batch)"
                if any(st - s.logging_steps < k <= st for k in s.corrupt_steps)
                else ""
            ) + (" with a NaN/inf gradient norm" if paired else "")
            if self.has("loss_spike"):
                f = next(f for f in self.findings if f["kind"] == "loss_spike")
                f["evidence"] += f"; {r:.1f}x at step {st}{cause}"
                if sev == "warning":
                    f["severity"] = "warning"
                continue
            self.add("loss_spike", sev, st, f"{r:.1f}x the surrounding level at step {st}{cause}")
        if s.corrupt_steps and not self.has("loss_spike"):
            self.notes.append(
                f"corrupted batches at steps {list(s.corrupt_steps)} did not show as loss spikes "
                f"(logging_steps {s.logging_steps} averages them away)"
            )
        gs = self.grad_spikes()
        if gs and not weights_nan:
            self.add(
                "grad_spike",
                "info",
                gs[0][0],
                ", ".join(f"grad_norm {r:.0f}x its neighbours at step {st}" for st, r in gs[:4]),
            )

        # not learning: judged by size
        moving = (
            c.total_steps >= 50
            and fin(start)
            and not weights_nan
            and not self.has("lr_too_high")
            and not self.has("divergence", "error")
        )
        if moving and end >= T["never_moves"] * start:
            self.add(
                "loss_not_decreasing",
                "error",
                None,
                f"loss {_f(start)} -> {_f(end)} ({(start - end) / start:.1%} in "
                f"{c.total_steps} steps): it never moves",
            )
        elif moving and end >= T["plateau"] * start and ep >= 1:
            self.add(
                "loss_plateau",
                "warning",
                None,
                f"loss still {end / start:.0%} of its start ({_f(start)} -> {_f(end)}) after "
                f"{ep:.1f} epochs",
            )
        slow = self.has("loss_not_decreasing") or self.has("loss_plateau")
        if high_lr and slow:
            self.add(
                "lr_too_high",
                "error",
                None,
                f"after the first updates at LR {s.lr:g} ({s.optim}) the network stops learning: "
                f"{self._why()}",
            )
        if high_lr and not self.has("lr_too_high"):
            self.notes.append(f"constructed high LR ({s.lr:g}) did not show in the numbers")
        if fam == "lr_low":
            if slow:
                self.add("lr_too_low", "warning", None, f"LR {s.lr:g} ({s.optim}): {self._why()}")
            else:
                self.notes.append(f"constructed low LR ({s.lr:g}) still let the loss fall")
        if fam == "warmup_long":
            lr_up = [x for x in c.lr if fin(x)]
            rising = len(lr_up) >= 2 and lr_up[-1] > lr_up[0]
            self.add(
                "warmup_issue",
                "warning",
                None,
                f"warmup_steps {s.warmup:g} > {c.total_steps} steps of the run: the LR is "
                + (f"still rising at the end ({lr_up[-1]:.2g} of {s.lr:g})" if rising else "")
                + ("" if rising else "never reached"),
            )
            if slow:
                self.add(
                    "lr_too_low", "info", None, "the effective LR stays a fraction of the set one"
                )
        if fam == "clip_saturated":
            g = _med(c.grad)
            ratio = g / s.max_grad_norm if s.max_grad_norm > 0 else 0
            if ratio >= T["clip_ratio"]:
                harm = slow
                self.add(
                    "clipping_saturated",
                    "warning" if harm else "info",
                    None,
                    f"max_grad_norm {s.max_grad_norm:g} while the median grad_norm is {_f(g)} "
                    f"({ratio:.0f}x): every step is clipped"
                    + (
                        f"; with {s.optim} the loss {self._why()}"
                        if harm
                        else "; the loss still falls"
                    ),
                )
            else:
                self.notes.append("clipping did not saturate (grad_norm near max_grad_norm)")

        # eval-aware: overfitting, memorization, epochs
        self._eval_and_epochs(ep, start, end, weights_nan)
        if fam in ("memorize_eval", "overfit_eval") and not self.has("overfitting"):
            self.notes.append("constructed overfitting did not show: eval_loss does not rise")
        if fam.startswith("memorize") and not self.has("memorization"):
            self.notes.append("constructed memorization did not show: train loss stays above 0.15")

        # logging artifact
        if s.ga_loss_scale or self.natural_ga:
            raw_end = end * self.scale
            gap = (
                f"; train/eval ratio {raw_end / c.eval_loss[-1]:.2f} at the end"
                if c.eval_loss and fin(c.eval_loss[-1])
                else ""
            )
            # a logging artifact with no harm shown is info (the corpus README's convention, as
            # the real readers grade it); the other checks read the rescaled loss
            self.add(
                "other",
                "info",
                None,
                f"logging artifact: the logged train loss is {s.grad_accum}x the true loss "
                f"(gradient_accumulation_steps {s.grad_accum}); it starts at "
                f"{_f(c.loss[0] * self.scale)}"
                + (
                    f" ({s.grad_accum} x ln 2 = {s.grad_accum * math.log(2):.2f})"
                    if self.natural_ga
                    else ""
                )
                + f"{gap}; not divergence",
            )
            if self.natural_ga:
                self.notes.append(
                    "Not injected: transformers 5.25 does not divide this sequence-classification "
                    "model's mean loss by gradient_accumulation_steps (the model accepts loss "
                    "kwargs, so the Trainer expects a summed loss), so both the logged loss and "
                    "the gradients are GA x; the optimizer here (Adam/Adafactor) is insensitive "
                    "to the gradient scale. The other checks read the loss divided by GA."
                )
        verdict = (
            "problematic"
            if any(f["severity"] in ("warning", "error") for f in self.findings)
            else "healthy"
        )
        if fam == "healthy" and verdict == "problematic":
            self.notes.append(
                "A healthy cell by construction; labelled from what its numbers show."
            )
        head = f"Construction: {s.describe()}."
        return {
            "verdict": verdict,
            "findings": self.findings,
            "notes": " ".join([head, *self.notes]),
        }

    def _schedule_response(self) -> None:
        """A milder LR-too-high sign: the loss worsens around the LR peak, then recovers."""
        c = self.c
        lrs = [(st, x) for st, x in zip(c.steps, c.lr, strict=True) if fin(x)]
        pts = self.finite_loss()
        if len(lrs) < 6 or len(pts) < 8:
            return
        peak_lr = max(x for _, x in lrs)
        at_peak = [st for st, x in lrs if x >= 0.8 * peak_lr]
        if not at_peak or at_peak[0] == lrs[0][0]:
            return  # no warmup: nothing to react to
        vals = [v for _, v in pts]
        sm = [(pts[i][0], _med(vals[max(0, i - 2) : i + 3])) for i in range(len(pts))]
        before = [v for st, v in sm if st < at_peak[0]]
        around = [(st, v) for st, v in sm if at_peak[0] <= st <= at_peak[-1] + 0.1 * c.total_steps]
        if not before or not around:
            return
        lo = min(before)
        st_hi, hi = max(around, key=lambda p: p[1])
        end = sm[-1][1]
        if hi >= T["schedule_rise"] * lo and end < hi:
            s = self.spec
            self.add(
                "lr_too_high",
                "warning",
                st_hi,
                f"loss {_f(lo)} before the LR reaches its peak {s.lr:g} ({s.optim}), "
                f"{_f(hi)}@{st_hi} at the peak, {_f(end)} as it decays: it reacts to the schedule",
            )

    def _why(self) -> str:
        f = next(f for f in self.findings if f["kind"] in ("loss_not_decreasing", "loss_plateau"))
        return str(f["evidence"])

    def _eval_and_epochs(self, ep: float, start: float, end: float, weights_nan: bool) -> None:
        c, s = self.c, self.spec
        ev = [(st, v) for st, v in zip(c.eval_steps, c.eval_loss, strict=True) if fin(v)]
        overfit_min_step: int | None = None
        broken = weights_nan or self.has("divergence", "error")
        if len(ev) >= 4 and not broken:
            m = min(range(len(ev)), key=lambda i: ev[i][1])
            st_min, e_min = ev[m]
            e_end = ev[-1][1]
            after = len(ev) - 1 - m
            train_falls = end <= 0.95 * self._train_at(st_min)
            if (
                after >= 3
                and train_falls
                and e_end >= e_min * (1 + T["overfit_rel"])
                and e_end - e_min >= 0.02
            ):
                overfit_min_step = st_min
                self.add(
                    "overfitting",
                    "warning",
                    st_min,
                    f"eval_loss best {_f(e_min)}@{st_min}, then rises to {_f(e_end)} over "
                    f"{after} evals while train loss goes {_f(self._train_at(st_min))} -> "
                    f"{_f(end)}",
                )
                g_min = e_min - self._train_at(st_min)
                g_end = e_end - end
                if g_end >= T["gap_widen"] * max(g_min, 0.05) and g_end >= 0.5:
                    self.add(
                        "eval_gap",
                        "warning",
                        st_min,
                        f"eval-train gap {_f(g_min)} at the eval minimum -> {_f(g_end)} at the end",
                    )
        near_zero = fin(end) and end <= T["near_zero"]
        spe = c.steps_per_epoch
        harm_epochs = (
            overfit_min_step is not None and fin(spe) and c.total_steps - overfit_min_step >= spe
        )
        if near_zero and not weights_nan:
            if not ev:
                self.add(
                    "memorization",
                    "error",
                    None,
                    f"train loss {_f(end)} (near zero) after {ep:.0f} epochs on "
                    f"{s.n_train} examples, no eval set",
                )
            elif harm_epochs:
                self.add(
                    "memorization",
                    "error",
                    overfit_min_step,
                    f"train loss {_f(end)} (near zero) while eval_loss rises from its minimum "
                    f"at step {overfit_min_step}",
                )
            else:
                self.add(
                    "memorization",
                    "info",
                    None,
                    f"train loss {_f(end)} (near zero); eval does not rise",
                )
        if fin(ep) and ep >= T["many_epochs"]:
            harm = harm_epochs or self.has("memorization", "error")
            self.add(
                "too_many_epochs",
                "warning" if harm else "info",
                overfit_min_step,
                f"{ep:.0f} epochs on {s.n_train} examples"
                + (
                    f"; eval best at step {overfit_min_step}, "
                    f"{(c.total_steps - overfit_min_step) / spe:.0f} epochs before the end"
                    if harm_epochs and overfit_min_step is not None
                    else ("; train near zero, no eval" if harm else "; no harm shown")
                ),
            )
        elif harm_epochs and overfit_min_step is not None:
            self.add(
                "too_many_epochs",
                "warning",
                overfit_min_step,
                f"eval best at step {overfit_min_step}, "
                f"{(c.total_steps - overfit_min_step) / spe:.1f} epochs before the end",
            )

    def _train_at(self, step: int) -> float:
        pts = self.finite_loss()
        near = min(pts, key=lambda p: abs(p[0] - step))
        return near[1]


def derive(spec: RunSpec, hist: list[dict[str, Any]]) -> dict[str, Any]:
    return Labeller(spec, hist).derive()
