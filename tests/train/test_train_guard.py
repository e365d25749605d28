"""The live checks behind the guard, on hand-written loss sequences."""

from __future__ import annotations

import math

from losslens.analysis.live import LiveChecks


def _feed(checks: LiveChecks, losses: list[float], grads: list[float] | None = None) -> list[str]:
    kinds: list[str] = []
    for i, loss in enumerate(losses, 1):
        g = grads[i - 1] if grads else 1.0
        kinds += [a.kind for a in checks.on_train(i, loss, g, 1e-4)]
    return kinds


def test_healthy_decrease_raises_nothing() -> None:
    losses = [2.8 * math.exp(-i / 20) + 0.05 for i in range(100)]
    assert _feed(LiveChecks(), losses) == []


def test_memorisation_to_near_zero_is_not_divergence() -> None:
    losses = [2.8, 1.5, 0.8, 0.3, 0.09, 0.07, 0.064, 0.2, 0.06]
    assert "divergence" not in _feed(LiveChecks(), losses)


def test_nan_is_fatal_once() -> None:
    checks = LiveChecks()
    alerts = checks.on_train(3, float("nan"), 1.0, 1e20)
    assert [a.kind for a in alerts] == ["nan_or_inf"] and alerts[0].fatal
    assert "learning rate 1e+20" in alerts[0].message
    assert checks.on_train(4, float("nan"), float("inf"), 1e20) == []


def test_divergence_needs_a_sustained_rise() -> None:
    assert _feed(LiveChecks(), [2.0, 1.0, 2.5, 1.0, 2.5, 1.0]) == []
    kinds = _feed(LiveChecks(), [2.0, 1.0, 2.5, 3.0, 4.0])
    assert kinds == ["divergence"]
    assert _feed(LiveChecks(), [2.0, 25.0]) == ["divergence"]  # 10x the start at once


def test_dead_gradients() -> None:
    kinds = _feed(LiveChecks(), [5.8] * 6, grads=[1.0, 0.5, 0.0, 0.0, 0.0, 0.0])
    assert kinds == ["grad_vanishing"]


def test_grad_spike_is_a_warning() -> None:
    checks = LiveChecks()
    alerts = []
    for i, g in enumerate([1.0, 1.1, 0.9, 1.0, 1.2, 50.0], 1):
        alerts += checks.on_train(i, 2.0 - i * 0.01, g, 1e-4)
    assert [a.kind for a in alerts] == ["grad_spike"] and not alerts[0].fatal


def test_eval_patience_and_early_stop() -> None:
    checks = LiveChecks(early_stopping_patience=3)
    seen = []
    evals = (2.0, 1.5, 1.501, 1.6, 1.7, 1.8)  # 1.501: flat, not a rise
    for step, loss in zip((10, 20, 30, 40, 50, 60), evals, strict=True):
        seen += [a.kind for a in checks.on_eval(step, loss)]
        if step == 50:
            assert not checks.should_early_stop
    assert seen == ["overfitting"]
    assert checks.should_early_stop and checks.best_eval_step == 20
    assert not LiveChecks().should_early_stop  # patience 0: never
