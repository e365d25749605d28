"""A run whose objective is logged in parts: the component losses and, when every part is
also measured on held-out data, their sum as the train and eval loss.

A detector (ultralytics YOLO logs ``train/box_loss``, ``train/cls_loss``, ``train/dfl_loss``
and the same three under ``val/``) or a BERT pretraining (``mlm_loss`` and ``nsp_loss``)
minimizes the sum of its parts; the parts are logged already weighted. A part measured on
held-out data under the same name is a term of one supervised objective, so the sum of the
train parts is the train loss and the sum of the held-out parts its eval loss. Opposing
objectives (a GAN's generator and discriminator) have no held-out twins and are never summed.
"""

from __future__ import annotations

import numpy as np

from losslens import keys
from losslens.model import RunData, Series


def component_losses(run: RunData) -> list[str]:
    """The train series named ``*_loss`` (``embedding_loss``, a GAN's ``gen_loss`` and
    ``disc_loss``), as logged."""
    return [
        k
        for k in run.series
        if (c := keys.normalize_key(k)).startswith("train/") and c.endswith("_loss")
    ]


def _part(key: str) -> str:
    """The component's own name: ``box_loss`` for ``train/box_loss`` or ``val/box_loss``."""
    return keys.normalize_key(key).split("/", 1)[-1].lower()


def _held_out_parts(run: RunData) -> dict[str, str]:
    out: dict[str, str] = {}
    for k in sorted(run.series):
        if keys.is_held_out(k) and keys.normalize_key(k).lower().endswith("_loss"):
            out.setdefault(_part(k), k)
    return out


def _sum(run: RunData, names: list[str], key: str) -> Series | None:
    """The parts added at the steps where every part was logged (the first value per step)."""
    parts = []
    for n in names:
        s = run.series[n]
        steps, first = np.unique(s.steps, return_index=True)
        parts.append((steps, s.values[first]))
    common = parts[0][0]
    for steps, _ in parts[1:]:
        common = np.intersect1d(common, steps)
    if common.size < 2:
        return None
    total = np.zeros(common.size)
    for steps, values in parts:
        total += values[np.searchsorted(steps, common)]
    return Series.from_lists(key, common.tolist(), total.tolist())


def summed_losses(run: RunData) -> tuple[Series | None, Series | None]:
    """The train and eval loss of a run logged only in parts: the sums of the train parts
    and of their held-out twins, when there are two or more parts and each has one. ``(None,
    None)`` otherwise."""
    train = {_part(k): k for k in component_losses(run)}
    held = _held_out_parts(run)
    if len(train) < 2 or not set(train) <= set(held):
        return None, None
    names = sorted(train)
    label = " + ".join(names)
    return (
        _sum(run, [train[n] for n in names], f"train/({label})"),
        _sum(run, [held[n] for n in names], f"eval/({label})"),
    )
