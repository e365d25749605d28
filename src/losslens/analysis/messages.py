"""Texts in every language the reports speak, and the number formats they use.

Rules write their own sentences (next to the logic that justifies them) through :func:`tr`,
which formats an English and a Korean template with the same values. Shared phrases
(verdicts, headings, metric readings) live here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

LANGS = ("en", "ko")

Text = dict[str, str]


def tr(en: str, ko: str, /, **values: object) -> Text:
    """Both languages of one message, formatted with the same ``values``.

    A value that is itself a message (a ``{"en": ..., "ko": ...}`` dict) is substituted in
    the matching language, so sentences can be built from parts.
    """

    def pick(lang: str) -> dict[str, object]:
        return {
            k: (v.get(lang, v.get("en", "")) if isinstance(v, dict) else v)
            for k, v in values.items()
        }

    return {"en": en.format(**pick("en")), "ko": ko.format(**pick("ko"))}


def join(*parts: Mapping[str, str], sep: str = " ") -> Text:
    """Concatenate messages language by language (empty parts are skipped)."""
    return {lang: sep.join(p[lang] for p in parts if p.get(lang)) for lang in LANGS}


def num(x: float | int | None, digits: int = 3) -> str:
    """A number for people: ``2.80``, ``0.0599``, ``1.98e-4``, ``240,024``, ``3.2e10``."""
    if x is None:
        return "-"
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:,}"
    xf = float(x)
    if math.isnan(xf):
        return "NaN"
    if math.isinf(xf):
        return "inf" if xf > 0 else "-inf"
    if xf == 0:
        return "0"
    a = abs(xf)
    if 10_000 <= a < 1e9:
        return f"{xf:,.0f}"
    if a < 1e-3 or a >= 1e9:  # 1.98e-4; 3.2e10, not eleven digits with their commas
        m, e = f"{xf:.{digits - 1}e}".split("e")
        m = m.rstrip("0").rstrip(".")
        return f"{m}e{int(e)}"
    out = f"{xf:#.{digits}g}"
    if "e" in out:
        return f"{xf:.0f}"
    if a < 0.1 and "." in out:
        out = out.rstrip("0")
    return out.rstrip(".")


def lr(x: float | None) -> str:
    """A learning rate: ``2e-4``, ``1.98e-4``, ``5e-3``."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    m, e = f"{x:.2e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


def pct(x: float) -> str:
    return f"{x * 100:+.0f}%"


def steps_range(a: int | None, b: int | None) -> Text:
    if a is None and b is None:
        return {"en": "", "ko": ""}
    if a is None or b is None or a == b:
        s = a if a is not None else b
        return tr("step {s}", "{s} 스텝", s=s)
    return tr("steps {a}–{b}", "{a}–{b} 스텝", a=a, b=b)


VERDICT: dict[str, Text] = {
    "healthy": {"en": "Healthy", "ko": "정상"},
    "needs_attention": {"en": "Needs attention", "ko": "확인 필요"},
    "failed": {"en": "Failed", "ko": "실패"},
}

SEVERITY: dict[str, Text] = {
    "info": {"en": "info", "ko": "참고"},
    "warning": {"en": "warning", "ko": "경고"},
    "error": {"en": "error", "ko": "오류"},
}

STATUS: dict[str, Text] = {
    "ok": {"en": "ok", "ko": "정상"},
    "attention": {"en": "attention", "ko": "주의"},
    "problem": {"en": "problem", "ko": "문제"},
    "info": {"en": "info", "ko": "참고"},
}

HEADINGS: dict[str, Text] = {
    "report": {"en": "losslens report", "ko": "losslens 진단 보고서"},
    "verdict": {"en": "Verdict", "ko": "판정"},
    "metrics": {"en": "Metrics", "ko": "지표"},
    "findings": {"en": "Findings", "ko": "발견된 문제"},
    "no_findings": {"en": "No findings.", "ko": "발견된 문제가 없습니다."},
    "evidence": {"en": "Evidence", "ko": "근거"},
    "try": {"en": "What to try", "ko": "해 볼 일"},
    "why": {"en": "Why", "ko": "설명"},
    "metric": {"en": "metric", "ko": "지표"},
    "status": {"en": "status", "ko": "상태"},
    "reading": {"en": "reading", "ko": "해석"},
    "run": {"en": "Run", "ko": "실행"},
    "steps": {"en": "steps", "ko": "스텝"},
    "rule": {"en": "rule", "ko": "규칙"},
    "severity": {"en": "severity", "ko": "심각도"},
    "charts": {"en": "Charts", "ko": "차트"},
    "import_notes": {"en": "Import notes", "ko": "가져오기 참고"},
}


def heading(key: str, lang: str) -> str:
    return HEADINGS[key].get(lang) or HEADINGS[key]["en"]
