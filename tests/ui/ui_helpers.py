"""Builders shared by the dashboard and report tests."""

from __future__ import annotations

import math
import random
import time
from typing import Any

from losslens.model import MetricPoint, RunInfo, RunStatus
from losslens.store import Store


def make_run(
    store: Store,
    name: str = "qwen-lora",
    *,
    project: str = "demo",
    steps: int = 300,
    spike_at: int | None = None,
    overfit: bool = True,
    config: dict[str, Any] | None = None,
    seed: int = 0,
    system: bool = True,
) -> RunInfo:
    """A finished fine-tune-like run: noisy falling loss, eval loss that turns up, cosine LR."""
    rng = random.Random(seed)
    t0 = time.time() - 600
    info = store.create_run(
        project,
        name,
        status=RunStatus.FINISHED,
        start_time=t0,
        end_time=t0 + 300,
        config=config
        if config is not None
        else {"learning_rate": 2e-4, "lora_r": 16, "max_steps": steps, "model": "tiny-qwen2"},
        summary={"train/loss": 0.21},
    )
    pts: list[MetricPoint] = []
    warm = max(1, steps // 30)
    for s in range(1, steps + 1):
        t = t0 + s
        loss = 0.2 + 2.3 * math.exp(-s / (steps / 6)) + rng.gauss(0, 0.03)
        if spike_at is not None and s == spike_at:
            loss += 4.0
        lr = 2e-4 * (s / warm if s < warm else 0.5 * (1 + math.cos(math.pi * s / steps)))
        pts += [
            MetricPoint("train/loss", s, loss, t),
            MetricPoint("train/learning_rate", s, lr, t),
            MetricPoint(
                "train/grad_norm", s, 0.8 + 0.4 * math.exp(-s / 80) + rng.gauss(0, 0.05), t
            ),
            MetricPoint("train/epoch", s, 3.0 * s / steps, t),
        ]
        if s % (steps // 10) == 0:
            ev = 1.2 * math.exp(-s / (steps / 4)) + 0.55
            if overfit and s > steps / 2:
                ev += 0.9 * (s / steps - 0.5)
            pts.append(MetricPoint("eval/loss", s, ev, t))
    store.write_points(info.id, pts)
    if system:
        store.write_points(
            info.id,
            [
                MetricPoint("system/cpu_percent", i, 40 + 10 * math.sin(i / 5), t0 + 5 * i)
                for i in range(60)
            ]
            + [MetricPoint("system/proc_rss_mb", i, 900 + i, t0 + 5 * i) for i in range(60)],
            kind="system",
        )
    return info


def make_lr_pair(store: Store, *, steps: int = 200) -> tuple[RunInfo, RunInfo]:
    """Two LoRA runs that differ only in the learning rate: 2e-4 trains well, 5e-3 is too
    high (loss spikes, then settles far above the good run)."""
    rng = random.Random(7)
    t0 = time.time() - 900
    out = []
    for name, lr_peak in (("lr-2e-4", 2e-4), ("lr-5e-3", 5e-3)):
        info = store.create_run(
            "lr-sweep",
            name,
            status=RunStatus.FINISHED,
            start_time=t0,
            end_time=t0 + steps,
            config={
                "model_name_or_path": "Qwen/Qwen2-0.5B",
                "learning_rate": lr_peak,
                "lora_r": 16,
                "per_device_train_batch_size": 8,
                "gradient_accumulation_steps": 4,
                "max_steps": steps,
                "output_dir": f"/tmp/out/{name}",
            },
        )
        high = lr_peak > 1e-3
        pts: list[MetricPoint] = []
        for s in range(1, steps + 1):
            t = t0 + s
            loss = 0.35 + 2.2 * math.exp(-s / (steps / 6)) + rng.gauss(0, 0.03)
            if high:
                loss = 1.6 + 1.0 * math.exp(-s / (steps / 4)) + rng.gauss(0, 0.08)
                if s in (40, 90, 140):
                    loss += 5.0
            lr = lr_peak * 0.5 * (1 + math.cos(math.pi * s / steps))
            pts += [
                MetricPoint("train/loss", s, loss, t),
                MetricPoint("train/learning_rate", s, lr, t),
                MetricPoint("train/epoch", s, 2.0 * s / steps, t),
            ]
            if s % 20 == 0:
                ev = (1.9 if high else 0.55) + 1.0 * math.exp(-s / (steps / 4))
                pts.append(MetricPoint("eval/loss", s, ev, t))
        store.write_points(info.id, pts)
        out.append(info)
    return out[0], out[1]
