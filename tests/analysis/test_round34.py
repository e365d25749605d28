"""Round 34: LL134 reads a loss frozen at a uniform guess with a gradient norm near 0.

A model that guesses uniformly over a large vocabulary misplaces nearly all of its probability
on every token, so the gradient of its loss is far from small. A token loss that does not move
at all at that level while the gradient norm stays in the thousandths says the gradient does
not reach the weights that would change the output: vanishing gradients, with no earlier
level for LL134's collapse test to fall from (v29's vn004). The same frozen loss with an
ordinary gradient norm is a run not learning for another reason (LL131), not this one.
"""

from __future__ import annotations

import numpy as np
from analysis_curves import ids, noisy, one, run_of

from losslens.analysis import analyze
from losslens.model import RunData, Severity


def _frozen(level: float, grad: float) -> RunData:
    """A causal-LM LoRA run logged every 10 steps for 70 steps, its loss at ``level`` to
    within 0.05% and its gradient norm near ``grad``."""
    steps = np.arange(10, 80, 10)
    loss = noisy(np.full(steps.size, level), 0.0002, seed=3)
    grad_norm = noisy(np.full(steps.size, grad), 0.4, seed=4)
    lr = np.linspace(1.8e-4, 1.6e-5, steps.size)
    return run_of(
        {
            "train/loss": (steps, loss),
            "train/grad_norm": (steps, grad_norm),
            "train/learning_rate": (steps, lr),
        },
        config={"model_type": "qwen2", "vocab_size": 151936},
    )


def test_a_loss_frozen_at_a_uniform_guess_with_a_tiny_gradient_is_vanishing() -> None:
    finding = one(analyze(_frozen(10.68, 0.005)), "LL134")
    assert finding.kind == "grad_vanishing"
    assert finding.severity is Severity.WARNING


def test_the_same_frozen_loss_with_an_ordinary_gradient_is_not() -> None:
    assert "LL134" not in ids(analyze(_frozen(10.68, 0.4)))


def test_a_tiny_gradient_on_a_frozen_loss_below_a_uniform_guess_is_not() -> None:
    # 2.1 nats is an ordinary fine-tune level: a flat loss there is a plateau, if anything
    assert "LL134" not in ids(analyze(_frozen(2.1, 0.005)))
