"""Stop 52: a loss near zero at the end of the first pass was measured on unseen batches (LL153);
a loss that never moves over 4 logs (LL131); a top-k accuracy names a classifier; a held-out
metric that stalls is read as LL151 reads a stalled eval loss (LL157)."""

from __future__ import annotations

import numpy as np
from tests.analysis.analysis_curves import run_of

from losslens.analysis import analyze
from losslens.analysis.context import build_context
from losslens.model import RunData, Severity

#: one log per epoch (the end of each pass), no eval set: already 0.075 when the first pass
#: ends, then 0.044 after five (1.7x lower: repeated examples fitted little tighter than the
#: unseen batches of the first pass)
_EASY = [0.0754, 0.0630, 0.0557, 0.0460, 0.0441]


def _run(first: float) -> RunData:
    steps = np.arange(1, 6) * 781
    return run_of(
        {"train/loss": (steps, [first, *_EASY[1:]]), "train/epoch": (steps, np.arange(1, 6))},
        config={"model_type": "gpt2"},
    )


def test_near_zero_at_the_end_of_the_first_pass_is_not_memorization() -> None:
    assert not [f for f in analyze(_run(_EASY[0])).findings if f.rule_id == "LL153"]


def test_near_zero_only_after_the_first_pass_is_still_read() -> None:
    # the same run but 0.5 when the first pass ends: the near-zero level came on repeats
    found = [f.severity for f in analyze(_run(0.5)).findings if f.rule_id == "LL153"]
    assert found == [Severity.ERROR]


def _four(values: list[float]) -> RunData:
    steps = [1, 2, 3, 4]
    return run_of({"train/loss": (steps, values), "train/epoch": (steps, steps)})


def test_four_epoch_logs_that_never_move_are_a_loss_not_decreasing() -> None:
    # an MSE at 1.0 (the mean's) for four epochs: no two logs show a decline of 5%
    found = analyze(_four([1.0007, 1.0000, 1.0000, 1.0000])).findings
    assert [f.severity for f in found if f.rule_id == "LL131"] == [Severity.ERROR]


def test_four_logs_with_a_pair_falling_beyond_the_bar_are_not_judged_flat() -> None:
    # the same level, but one pair of logs 3% apart in a run of three epochs: a 5%
    # decline over the run cannot be ruled out
    found = analyze(_four([1.03, 1.0, 1.01, 1.0])).findings
    assert not [f for f in found if f.rule_id == "LL131"]


def test_a_top_k_accuracy_names_a_classifier() -> None:
    # Ultralytics' classify results.csv: train/loss, val/loss, metrics/accuracy_top1 and _top5.
    # A classifier's cross-entropy at 0.07 after 40 epochs, its eval loss holding near its
    # best, is a good fit, not a text learned by heart
    ep = np.arange(1, 41)
    train = 0.06 + 0.8 * np.exp(-ep / 6)
    ev = 0.15 + 0.15 * np.exp(-ep / 5) + 0.01 * np.sin(ep)
    acc = 0.95 - 0.06 * np.exp(-ep / 5)
    series = {
        "train/loss": (ep, train),
        "train/epoch": (ep, ep),
        "eval/loss": (ep, ev),
        "metrics/accuracy_top1": (ep, acc),
        "metrics/accuracy_top5": (ep, np.ones(40)),
    }
    run = run_of(series)
    assert build_context(run).task == "classification"
    assert not [f for f in analyze(run).findings if f.rule_id == "LL153"]


def _stall(train_metric: list[float] | None, f1: list[float] | None = None) -> list[str]:
    """Rule ids at warning or above on a run whose held-out accuracy holds from epoch 8 (no
    eval loss) while the train loss falls from 0.05 to 0.025."""
    ep = np.arange(1, 21)
    acc = [0.95, 0.96, 0.97, 0.97, 0.92, 0.977, 0.982, 0.985, 0.983, 0.989]
    acc += [0.981, 0.986, 0.983, 0.985, 0.986, 0.989, 0.985, 0.979, 0.986, 0.988]
    series = {
        "train/loss": (ep, 0.025 + 0.21 * np.exp(-ep / 3)),
        "train/epoch": (ep, ep),
        "eval/accuracy": (ep, acc),
    }
    if train_metric is not None:
        series["train/accuracy"] = (ep, train_metric)
    if f1 is not None:
        series["eval/f1"] = (ep, f1)
    report = analyze(run_of(series))
    return [f.rule_id for f in report.findings if f.severity.rank >= Severity.WARNING.rank]


def test_a_held_out_metric_that_stalls_beside_its_train_score_is_overfitting_if_they_part() -> None:
    assert "LL157" in _stall(None)  # nothing to compare with: the stall alone
    # the train score rose with it, 98.6% -> 99.3%: the held-out score followed training
    close = list(np.linspace(0.90, 0.986, 10)) + list(np.linspace(0.987, 0.993, 10))
    assert "LL157" not in _stall(close)
    # the train score ran away from it, 80% -> 99%: the held-out task did not follow
    apart = list(np.linspace(0.60, 0.80, 10)) + list(np.linspace(0.82, 0.99, 10))
    assert "LL157" in _stall(apart)


def test_a_held_out_metric_that_stalls_while_another_still_improves_is_no_stall() -> None:
    f1 = list(np.linspace(0.24, 0.93, 20))  # the held-out F1 at its best at the last eval
    assert "LL157" not in _stall(None, f1)
