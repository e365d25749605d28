"""Which metrics share a chart, and the JSON the charts are drawn from.

The HTML report, the dashboard and the PNG charts all draw the same groups: train and
eval loss together, learning rate, gradient norm, epoch, throughput, one chart per other
metric, and the system metrics grouped by unit. Each series is sent downsampled per
pixel column (see :mod:`losslens.render.downsample`), never by stride or at random.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from losslens import keys as K
from losslens.model import Finding, Report, Series, finding_to_dict, jsonable
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
        [xv, "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")]
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
    }
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
                "title": _text(d.get("title"), lang),
                "explanation": _text(d.get("explanation"), lang),
                "suggestion": _text(d.get("suggestion"), lang),
                "evidence": _text(ev.get("text"), lang),
                "metric": metric,
                "step_start": ev.get("step_start"),
                "step_end": ev.get("step_end"),
                "onset_step": d.get("onset_step"),
                "group": group_of_metric(groups, metric),
            }
        )
    return out


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


# -- words of the pages -----------------------------------------------------------------------

UI_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "runs": "Runs",
        "project": "Project",
        "all_projects": "all projects",
        "name": "Name",
        "status": "Status",
        "verdict": "Verdict",
        "started": "Started",
        "duration": "Duration",
        "final_loss": "Final loss",
        "best_loss": "Best loss",
        "config": "Config",
        "summary": "Summary",
        "findings": "Findings",
        "no_findings": "No findings: nothing unusual in these curves.",
        "not_analysed": "Not analysed yet.",
        "charts": "Charts",
        "system": "System",
        "smoothing": "Smoothing",
        "log_scale": "Log scale",
        "compare": "Compare selected",
        "filter": "Filter by name",
        "any": "any",
        "compare_title": "Compare runs",
        "config_diff": "Config differences",
        "no_diff": "The configs are identical.",
        "key": "Key",
        "report_title": "Training report",
        "generated": "Generated by losslens",
        "healthy": "healthy",
        "needs_attention": "needs attention",
        "failed": "failed",
        "steps": "steps",
        "suggestion": "What to do",
        "evidence": "Evidence",
        "no_runs": "No runs yet. Log one with losslens.init(), train one, or losslens import PATH.",
        "reset_zoom": "Drag to zoom, double-click to reset.",
        "source": "Source",
        "id": "Id",
        "command": "Command",
        "rename": "Rename",
        "delete": "Delete",
        "live": "live: updates every few seconds",
    },
    "ko": {
        "runs": "실행 목록",
        "project": "프로젝트",
        "all_projects": "모든 프로젝트",
        "name": "이름",
        "status": "상태",
        "verdict": "판정",
        "started": "시작",
        "duration": "소요 시간",
        "final_loss": "최종 손실",
        "best_loss": "최저 손실",
        "config": "설정",
        "summary": "요약",
        "findings": "발견 사항",
        "no_findings": "발견 사항 없음: 곡선에 특이점이 없습니다.",
        "not_analysed": "아직 분석하지 않았습니다.",
        "charts": "차트",
        "system": "시스템",
        "smoothing": "스무딩",
        "log_scale": "로그 스케일",
        "compare": "선택한 실행 비교",
        "filter": "이름으로 거르기",
        "any": "전체",
        "compare_title": "실행 비교",
        "config_diff": "설정 차이",
        "no_diff": "설정이 모두 같습니다.",
        "key": "키",
        "report_title": "학습 보고서",
        "generated": "losslens로 생성",
        "healthy": "정상",
        "needs_attention": "주의 필요",
        "failed": "실패",
        "steps": "스텝",
        "suggestion": "조치",
        "evidence": "근거",
        "no_runs": "아직 실행이 없습니다. losslens.init()으로 기록하거나 losslens import PATH로 "
        "가져오세요.",
        "reset_zoom": "드래그하면 확대, 더블클릭하면 원래대로.",
        "source": "출처",
        "id": "ID",
        "command": "명령",
        "rename": "이름 바꾸기",
        "delete": "삭제",
        "live": "실시간: 몇 초마다 갱신",
    },
}


def ui_text(lang: str) -> dict[str, str]:
    base = dict(UI_TEXT["en"])
    base.update(UI_TEXT.get(lang, {}))
    return base
