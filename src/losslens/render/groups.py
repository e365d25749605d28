"""Which metrics share a chart, and the JSON the charts are drawn from.

The HTML report, the dashboard and the PNG charts all draw the same groups: train and
eval loss together, learning rate, gradient norm, epoch, throughput, one chart per other
metric, and the system metrics grouped by unit. Each series is sent downsampled per
pixel column (see :mod:`losslens.render.downsample`), never by stride or at random.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from losslens import keys as K
from losslens import numeric
from losslens.analysis.rules import RULES
from losslens.model import Finding, Report, Series, finding_to_dict, jsonable
from losslens.present.strings import KIND_WORDS
from losslens.render.downsample import bucket_means, m4_indices

#: Widest chart (pixel columns) a request may ask for.
MAX_WIDTH = 4000
DEFAULT_WIDTH = 1000


@dataclass(frozen=True)
class ChartGroup:
    """One chart: its series as ``(kind, key)`` pairs and its x axis ("step" or "time")."""

    id: str
    title: dict[str, str]
    series: tuple[tuple[str, str], ...]
    x: str = "step"

    def label(self, lang: str) -> str:
        return self.title.get(lang) or self.title["en"]


_TITLES: dict[str, dict[str, str]] = {
    "loss": {"en": "Loss (train and eval)", "ko": "손실 (학습·평가)"},
    "lr": {"en": "Learning rate", "ko": "학습률"},
    "grad": {"en": "Gradient norm", "ko": "그래디언트 노름"},
    "epoch": {"en": "Epoch", "ko": "에폭"},
    "throughput": {"en": "Throughput", "ko": "처리량"},
    "sys-util": {"en": "System: utilisation (%)", "ko": "시스템: 사용률 (%)"},
    "sys-mem": {"en": "System: memory (MB)", "ko": "시스템: 메모리 (MB)"},
    "sys-temp": {"en": "GPU temperature (°C)", "ko": "GPU 온도 (°C)"},
    "sys-power": {"en": "GPU power (W)", "ko": "GPU 전력 (W)"},
}
_ORDER = ("loss", "lr", "grad", "epoch", "throughput")
_THROUGHPUT = ("per_second", "per_sec", "throughput", "tokens_per", "samples_per", "/mfu")


def metric_group(key: str) -> str:
    """The group id of a metric key (``other:<key>`` when it has a chart of its own)."""
    c = K.normalize_key(key)
    if c in (K.LOSS, K.EVAL_LOSS, "test/loss"):
        return "loss"
    if c == K.LR or c.endswith("learning_rate"):
        return "lr"
    if c == K.GRAD_NORM or "grad_norm" in c:
        return "grad"
    if c == K.EPOCH:
        return "epoch"
    if any(t in c for t in _THROUGHPUT):
        return "throughput"
    return "other:" + key


def system_group(key: str) -> str:
    low = key.lower()
    if low.endswith(("percent", ".gpu", "_util", "utilization")):
        return "sys-util"
    if low.endswith(("_mb", "_gb", "memory")):
        return "sys-mem"
    if "temp" in low:
        return "sys-temp"
    if "power" in low:
        return "sys-power"
    return "sys:" + key


def chart_groups(metric_keys: Iterable[str], system_keys: Iterable[str] = ()) -> list[ChartGroup]:
    """The charts for a run (or several runs) with these keys, in display order."""
    by_id: dict[str, list[tuple[str, str]]] = {}
    for key in sorted(set(metric_keys), key=_loss_first):
        by_id.setdefault(metric_group(key), []).append(("metric", key))
    sys_ids: dict[str, list[tuple[str, str]]] = {}
    for key in sorted(set(system_keys)):
        sys_ids.setdefault(system_group(key), []).append(("system", key))
    out = [ChartGroup(g, _TITLES[g], tuple(by_id.pop(g))) for g in _ORDER if g in by_id]
    for gid in sorted(by_id):
        key = gid.split(":", 1)[1]
        out.append(ChartGroup(gid, {"en": key}, tuple(by_id[gid])))
    for gid in sorted(sys_ids, key=lambda g: (g.startswith("sys:"), g)):
        title = _TITLES.get(gid) or {"en": gid.split(":", 1)[1]}
        out.append(ChartGroup(gid, title, tuple(sys_ids[gid]), x="time"))
    return out


def _loss_first(key: str) -> tuple[int, str]:
    """Train loss before eval loss, whatever they are called."""
    c = K.normalize_key(key)
    return (0 if c == K.LOSS else 1 if c == K.EVAL_LOSS else 2, key)


def group_of_metric(groups: Sequence[ChartGroup], metric: str) -> str | None:
    """The chart a finding about ``metric`` is drawn on (the loss chart when unknown)."""
    if not metric:
        return next((g.id for g in groups if g.id == "loss"), None)
    canon = K.normalize_key(metric)
    for g in groups:
        for _, key in g.series:
            if key == metric:
                return g.id
    for g in groups:
        for kind, key in g.series:
            if kind == "metric" and K.normalize_key(key) == canon:
                return g.id
    if metric.startswith("system/"):
        gid = system_group(metric)
        if any(g.id == gid for g in groups):
            return gid
    return next((g.id for g in groups if g.id == "loss"), None)


# -- numbers to JSON --------------------------------------------------------------------------


def round_sig(values: npt.NDArray[np.float64], digits: int = 7) -> npt.NDArray[np.float64]:
    """Values rounded to ``digits`` significant digits (shorter JSON, same picture)."""
    out = np.array(values, dtype=np.float64, copy=True)
    m = np.isfinite(out) & (out != 0)
    if m.any():
        mag = np.clip(np.floor(np.log10(np.abs(out[m]))), -290, 290)
        scale = 10.0 ** (digits - 1 - mag)
        out[m] = np.round(out[m] * scale) / scale
    return out


def _floats(values: npt.NDArray[np.float64], digits: int = 7) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in round_sig(values, digits).tolist()]


def _xs(x: npt.NDArray[np.float64], mode: str) -> list[Any]:
    if mode == "step":
        return [int(v) for v in x.tolist()]
    return [round(v, 3) for v in x.tolist()]


# -- series and groups --------------------------------------------------------------------------


def series_xy(
    s: Series, mode: str, start_time: float | None
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The x (steps, or seconds since ``start_time``) and y arrays of a series, x sorted."""
    if mode == "time":
        w = s.wall_times
        ok = np.isfinite(w)
        if len(w) and ok.all():
            x = w - (start_time if start_time is not None else float(w[0]))
            order = np.argsort(x, kind="stable")
            return x[order], s.values[order]
    return s.steps.astype(np.float64), s.values


#: Below this many points a series is drawn as it is: smoothing would only hide data.
MIN_SMOOTH_POINTS = 40
_COUNTER_WORDS = ("step", "epoch", "learning_rate", "tokens", "samples_seen", "flos")


def smoothable(key: str, ys: npt.NDArray[np.float64], n: int) -> bool:
    """Whether smoothing may apply to a series: a noisy one (not monotone) of at least
    :data:`MIN_SMOOTH_POINTS` points that is not a learning rate, an epoch or a counter."""
    if n < MIN_SMOOTH_POINTS or metric_group(key) in ("lr", "epoch"):
        return False
    low = K.normalize_key(key).lower()
    if any(w in low for w in _COUNTER_WORDS) or low.endswith(("/lr", "_lr")):
        return False
    fin = ys[np.isfinite(ys)]
    if len(fin) < 3:
        return False
    d = np.diff(fin)
    return not (bool(np.all(d >= 0)) or bool(np.all(d <= 0)))


def series_payload(
    s: Series,
    *,
    kind: str,
    label: str,
    mode: str = "step",
    start_time: float | None = None,
    width: int = DEFAULT_WIDTH,
    x_min: float | None = None,
    x_max: float | None = None,
) -> dict[str, Any]:
    """One series as drawn: at most four points per pixel column, non-finite points listed."""
    xs, ys = series_xy(s, mode, start_time)
    lo, hi = 0, len(xs)
    if x_min is not None:
        lo = max(0, int(np.searchsorted(xs, x_min, "left")) - 1)
    if x_max is not None:
        hi = min(len(xs), int(np.searchsorted(xs, x_max, "right")) + 1)
    x, y = xs[lo:hi], ys[lo:hi]
    idx = m4_indices(x, y, width)
    kx, ky = x[idx], y[idx]
    bad = ~np.isfinite(ky)
    nonfinite = [
        [xv, numeric.nonfinite_token(v)]
        for xv, v in zip(_xs(kx[bad], mode), ky[bad].tolist(), strict=True)
    ]
    out: dict[str, Any] = {
        "key": s.key,
        "kind": kind,
        "label": label,
        "n_total": len(x),
        "n_shown": len(idx),
        "x": _xs(kx, mode),
        "y": _floats(ky),
        "nonfinite": nonfinite,
        "smooth": smoothable(s.key, ky, len(x)),
    }
    if mode == "step" and len(s.wall_times) == len(s.steps):
        w = s.wall_times[lo:hi][idx]
        if len(w) and np.isfinite(w).all():
            t0 = start_time if start_time is not None else float(w.min())
            out["t"] = [round(v, 2) for v in (w - t0).tolist()]
    if len(idx) < len(x):
        bm = bucket_means(x, y, width)
        out["mean"] = {
            "x": _xs(np.round(bm.x), mode) if mode == "step" else _xs(bm.x, mode),
            "y": _floats(bm.mean),
            "n": bm.n.tolist(),
        }
    return out


def group_payload(
    group: ChartGroup,
    lookup: Mapping[tuple[str, str], Series],
    *,
    lang: str = "en",
    width: int = DEFAULT_WIDTH,
    start_time: float | None = None,
    x_min: float | None = None,
    x_max: float | None = None,
    labels: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """A chart: its title, x axis and every series it overlays."""
    series = []
    for ref in group.series:
        s = lookup.get(ref)
        if s is None:
            continue
        label = (labels or {}).get(ref) or ref[1]
        series.append(
            series_payload(
                s,
                kind=ref[0],
                label=label,
                mode=group.x,
                start_time=start_time,
                width=width,
                x_min=x_min,
                x_max=x_max,
            )
        )
    return {"id": group.id, "title": group.label(lang), "x": group.x, "series": series}


def clamp_width(width: int | None) -> int:
    if width is None:
        return DEFAULT_WIDTH
    return max(50, min(MAX_WIDTH, int(width)))


# -- findings ---------------------------------------------------------------------------------


def _text(d: Mapping[str, str] | None, lang: str) -> str:
    if not d:
        return ""
    return d.get(lang) or d.get("en") or next(iter(d.values()), "")


_RULE_REF = re.compile(r"\s*\((?:see |원인은 )?LL\d{3}\b[^()]*\)|\bLL\d{3}\b")


def _no_rule_ids(text: str, lang: str) -> str:
    """A finding's text as people read it: "(see LL103 for why)" dropped, a bare rule id
    said in words ("memorisation"). Rule ids stay in the JSON (``rule_id``) for tools."""
    if "LL" not in text:
        return text

    def words(m: re.Match[str]) -> str:
        ref = m.group(0)
        if ref.lstrip().startswith("("):
            return ""
        rule = RULES.get(ref)
        if rule is None:
            return ref
        w = KIND_WORDS.get(rule.kind)
        return (w.get(lang) or w["en"]) if w else rule.name.replace("-", " ")

    return _RULE_REF.sub(words, text)


def findings_payload(
    findings: Sequence[Finding | Mapping[str, Any]], groups: Sequence[ChartGroup], lang: str
) -> list[dict[str, Any]]:
    """Findings as the charts and lists draw them, each tied to the chart of its metric."""
    out = []
    for i, f in enumerate(findings):
        d = finding_to_dict(f) if isinstance(f, Finding) else f
        ev = d.get("evidence") or {}
        metric = str(ev.get("metric") or "")
        out.append(
            {
                "id": i,
                "rule_id": d.get("rule_id"),
                "kind": d.get("kind"),
                "severity": d.get("severity"),
                "title": _no_rule_ids(_text(d.get("title"), lang), lang),
                "explanation": _no_rule_ids(_text(d.get("explanation"), lang), lang),
                "suggestion": _no_rule_ids(_text(d.get("suggestion"), lang), lang),
                "evidence": _no_rule_ids(_text(ev.get("text"), lang), lang),
                "metric": metric,
                "step_start": ev.get("step_start"),
                "step_end": ev.get("step_end"),
                "onset_step": d.get("onset_step"),
                "group": group_of_metric(groups, metric),
                "marks": finding_marks(ev.get("values") or {}),
                "band": _is_band(d.get("kind"), ev),
            }
        )
    return out


#: Findings about single steps (drawn as one mark per step, never as a band).
POINT_KINDS = frozenset({"loss_spike", "grad_spike", "nan_or_inf"})


def finding_marks(values: Mapping[str, Any]) -> list[int]:
    """The steps a finding points at one by one (each spike of "spiked N times")."""
    raw = values.get("steps")
    if not isinstance(raw, str) or not raw:
        return []
    out = []
    for part in raw.split(","):
        try:
            out.append(int(part))
        except ValueError:
            continue
    return out


def _is_band(kind: Any, ev: Mapping[str, Any]) -> bool:
    """Whether a finding is about a sustained range (shaded), not single steps (marked)."""
    a, b = ev.get("step_start"), ev.get("step_end")
    return kind not in POINT_KINDS and a is not None and b is not None and b > a


def report_payload(
    report: Report | None, groups: Sequence[ChartGroup], lang: str
) -> dict[str, Any]:
    """The verdict, its summary sentence and the findings (empty when not analysed)."""
    if report is None:
        return {"verdict": None, "summary": "", "findings": [], "readings": []}
    return {
        "verdict": str(report.verdict),
        "summary": _text(report.summary, lang),
        "findings": findings_payload(report.findings, groups, lang),
        "readings": [
            {
                "metric": r.metric,
                "status": r.status,
                "summary": _text(r.summary, lang),
                "values": jsonable(dict(r.values)),
            }
            for r in report.readings
        ],
    }
