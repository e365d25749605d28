"""A run's config for people: the choices that matter first, the rest folded.

The lead answers what a reader asks first about a fine-tune (model, data, learning rate,
schedule, batch × accumulation, epochs or steps, LoRA); other flat values follow, and
nested blocks (the Trainer's whole ``training_args``, a PEFT config) are folded as JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from losslens.flatconfig import flatten as _walk
from losslens.present.format import fmt_value

#: (label, candidate keys), looked up at the top level first, then anywhere nested.
LEAD: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("model", ("model_name_or_path", "model", "base_model", "model_name")),
    ("data", ("dataset", "dataset_name", "data_path", "train_file", "data", "dataset_path")),
    ("learning rate", ("learning_rate", "lr")),
    ("schedule", ("lr_scheduler_type", "scheduler", "lr_schedule")),
    ("warmup", ("warmup_ratio", "warmup_steps")),
    ("batch", ("per_device_train_batch_size", "batch_size", "train_batch_size")),
    ("accumulation", ("gradient_accumulation_steps",)),
    ("epochs", ("num_train_epochs", "epochs")),
    ("steps", ("max_steps",)),
    ("LoRA r", ("lora_r", "r")),
    ("LoRA alpha", ("lora_alpha",)),
    ("LoRA dropout", ("lora_dropout",)),
)
LEAD_KO = {
    "model": "모델",
    "data": "데이터",
    "learning rate": "학습률",
    "schedule": "스케줄",
    "warmup": "워밍업",
    "batch": "배치",
    "accumulation": "누적",
    "epochs": "에폭",
    "steps": "스텝",
}


class ConfigView(NamedTuple):
    lead: list[tuple[str, str]]  # (label, shown value)
    rest: list[tuple[str, str]]  # other flat values
    folded: list[tuple[str, str]]  # nested blocks as JSON


def _find(flat: Mapping[str, Any], names: Sequence[str]) -> tuple[str, Any] | None:
    for n in names:
        if n in flat and flat[n] not in (None, "", [], {}):
            return n, flat[n]
    for n in names:
        for k, v in flat.items():
            if k.rsplit(".", 1)[-1] == n and v not in (None, "", [], {}):
                return k, v
    return None


def show(v: Any) -> str:
    if isinstance(v, float) and math.isfinite(v) and v != 0 and abs(v) < 1e-2:
        m, e = f"{v:.2e}".split("e")
        return f"{m.rstrip('0').rstrip('.')}e{int(e)}"
    if isinstance(v, list | tuple):
        return ", ".join(str(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, default=str)
    return fmt_value(v)


def config_view(config: Mapping[str, Any], lang: str = "en") -> ConfigView:
    """The config split into the lead, the other flat values and the folded blocks."""
    flat = _walk(config)
    used: set[str] = set()
    lead: list[tuple[str, str]] = []
    for label, names in LEAD:
        hit = _find(flat, names)
        if hit is None:
            continue
        used.add(hit[0])
        shown = label if lang != "ko" else LEAD_KO.get(label, label)
        lead.append((shown, show(hit[1])))
    lead = _join_batch(lead, lang)
    rest = [
        (k, show(v))
        for k, v in sorted(config.items())
        if not (isinstance(v, Mapping) and v) and k not in used
    ]
    folded = [
        (k, json.dumps(v, ensure_ascii=False, indent=1, sort_keys=True, default=str))
        for k, v in sorted(config.items())
        if isinstance(v, Mapping) and v
    ]
    return ConfigView(lead, rest, folded)


def _join_batch(lead: list[tuple[str, str]], lang: str) -> list[tuple[str, str]]:
    """``batch 8`` and ``accumulation 4`` as one ``batch × accum 8 × 4``."""
    names = ("배치", "누적") if lang == "ko" else ("batch", "accumulation")
    found = {k: i for i, (k, _) in enumerate(lead) if k in names}
    if len(found) < 2:
        return lead
    i, j = found[names[0]], found[names[1]]
    label = "배치 × 누적" if lang == "ko" else "batch × accum"
    merged = (label, f"{lead[i][1]} × {lead[j][1]}")
    return [merged if k == i else x for k, x in enumerate(lead) if k != j]


def config_summary(
    config: Mapping[str, Any], first: Sequence[str] = (), n: int = 4
) -> list[tuple[str, str]]:
    """A few ``(key, value)`` for a table cell: the keys in ``first`` (the values that differ
    between the listed runs) then the lead choices."""
    flat = _walk(config)
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for k in first:
        if k in flat and k not in seen and len(out) < n:
            out.append((k.rsplit(".", 1)[-1], show(flat[k])))
            seen.add(k)
    for _, names in LEAD:
        if len(out) >= n:
            break
        hit = _find(flat, names)
        if hit is not None and hit[0] not in seen:
            out.append((hit[0].rsplit(".", 1)[-1], show(hit[1])))
            seen.add(hit[0])
    return [(k, v if len(v) <= 40 else v[:39] + "…") for k, v in out]
