"""The verdict of a comparison (``losslens.analysis.compare``) and ``losslens compare``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from ui_helpers import make_lr_pair, make_run

from losslens.analysis import analyze
from losslens.analysis.compare import compare, comparison_to_dict, config_changes
from losslens.model import RunData, RunInfo, RunStatus, Series
from losslens.store import Store

XSS = "<img src=x onerror=alert(1)>"


def run_of(
    name: str, losses: list[float], *, epochs: list[float] | None = None, **cfg: object
) -> RunData:
    info = RunInfo(id=name + "-id", project="p", name=name, status=RunStatus.FINISHED,
                   start_time=0.0, config=dict(cfg))  # fmt: skip
    steps = list(range(1, len(losses) + 1))
    series = {"train/loss": Series.from_lists("train/loss", steps, losses)}
    if epochs is not None:
        series["train/epoch"] = Series.from_lists("train/epoch", steps, epochs)
    return RunData(info=info, series=series)


def test_lr_pair_verdict_names_the_better_run(store: Store) -> None:
    good, bad = make_lr_pair(store)
    runs = [store.load(bad.id), store.load(good.id)]
    c = compare(runs, [analyze(r) for r in runs])
    assert c.metric == "eval/loss" and c.aggregate == "best" and c.basis == "step"
    assert c.better == 1 and c.runner_up == 0 and c.equal and c.horizon == 200
    assert c.margin is not None and 0.5 < c.margin < 0.9
    # The learning rate is the difference that explains it; the output folder is not.
    assert [ch.key for ch in c.changes] == ["learning_rate"]
    assert any(g.kind == "loss_spike" and g.runs == (0,) for g in c.gaps)
    en, ko = c.summary["en"], c.summary["ko"]
    assert en.startswith("lr-2e-4 is better: best eval loss 0.568 vs 1.92 for lr-5e-3")
    assert "learning_rate 2e-4 vs 5e-3 (25×)" in en and "Only lr-5e-3:" in en
    assert ko.startswith("더 나은 실행: lr-2e-4.") and "learning_rate 2e-4 대 5e-3" in ko
    json.dumps(comparison_to_dict(c), allow_nan=False)


def test_runs_are_compared_at_equal_steps() -> None:
    # b is better at every step it reached; a only looks better because it ran longer.
    a = run_of("a", [2.0 - 0.01 * s for s in range(200)])
    b = run_of("b", [1.9 - 0.01 * s for s in range(100)])
    c = compare([a, b], [None, None])
    assert c.metric == "train/loss" and c.aggregate == "final"
    assert c.horizon == 100 and c.better == 1
    assert "up to step 100" in c.summary["en"]


def test_equal_epochs_when_steps_per_epoch_differ() -> None:
    a = run_of("a", [1.0] * 50 + [0.5] * 50, epochs=[s / 50 for s in range(1, 101)], bs=8)
    b = run_of("b", [1.0] * 25 + [0.7] * 25, epochs=[s / 25 for s in range(1, 51)], bs=16)
    c = compare([a, b], [None, None])
    assert c.basis == "epoch" and c.horizon is not None and math.isclose(c.horizon, 2.0)
    assert c.better == 0


def test_even_runs_and_diverged_runs() -> None:
    a = run_of("a", [1.0] * 20)
    b = run_of("b", [1.001] * 20)
    even = compare([a, b], [None, None])
    assert even.better is None and even.summary["en"].startswith("Even:")
    nan = run_of("nan", [1.0] * 10 + [math.nan] * 10)
    c = compare([nan, a], [None, None])
    assert c.better == 1 and c.sides[0].diverged and "diverged" in c.summary["en"]
    d = comparison_to_dict(c)
    assert d["runs"][0]["value"] == "Infinity"
    json.dumps(d, allow_nan=False)


def test_config_changes_rank_what_matters() -> None:
    changes = config_changes(
        [
            {"learning_rate": 1e-4, "seed": 1, "output_dir": "/a", "warmup_ratio": 0.03,
             "training_args": {"learning_rate": 1e-4, "logging_steps": 5}},
            {"learning_rate": 1e-3, "seed": 2, "output_dir": "/b", "warmup_ratio": 0.1,
             "training_args": {"learning_rate": 1e-3, "logging_steps": 10}},
        ]
    )  # fmt: skip
    keys = [c.key for c in changes]
    assert keys[0] == "learning_rate" and keys[-1] == "seed"
    assert "output_dir" not in keys and "training_args.logging_steps" not in keys
    assert "training_args.learning_rate" not in keys  # the same change, said once


def losslens(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losslens", *args], capture_output=True, text=True, timeout=120
    )


def test_compare_command(store_path: Path) -> None:
    with Store(store_path) as st:
        good, bad = make_lr_pair(st)
        odd = make_run(st, XSS, steps=60, system=False)
    db = str(store_path)
    term = losslens("compare", bad.id, good.id, "--store", db, "--lang", "en")
    assert term.returncode == 0, term.stderr
    assert "lr-2e-4 is better" in term.stdout and "★" in term.stdout
    md = losslens("compare", "lr-5e-3", "lr-2e-4", "--store", db, "--format", "markdown")
    assert md.returncode == 0 and md.stdout.startswith("# Comparison: lr-5e-3 vs lr-2e-4")
    assert "| `learning_rate` | 5e-3 | 2e-4 |" in md.stdout
    data = json.loads(losslens("compare", bad.id, good.id, "--store", db, "--json").stdout)
    assert data["runs"][data["better"]]["name"] == "lr-2e-4"
    ko = losslens("compare", bad.id, good.id, "--store", db, "--lang", "ko")
    assert "더 나은 실행: lr-2e-4" in ko.stdout and "스텝" in ko.stdout
    hostile = losslens("compare", odd.id, good.id, "--store", db, "--format", "markdown")
    assert hostile.returncode == 0 and XSS not in hostile.stdout
    one = losslens("compare", good.id, "--store", db)
    assert one.returncode == 2 and one.stderr.startswith("losslens: error: compare needs at least")
    assert "Traceback" not in one.stderr
