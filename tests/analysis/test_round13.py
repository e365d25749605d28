"""Round 13: a task metric logged twice at one step keeps the first value, as the eval loss
does (a ``trainer.evaluate()`` of the best checkpoint after training is not a new point)."""

from __future__ import annotations

from analysis_curves import run_of

from losslens.analysis.context import build_context
from losslens.analysis.evalview import task_metrics


def test_a_metric_evaluated_again_at_the_last_step_is_not_still_improving() -> None:
    """Accuracy peaks at the first of four evals and falls after it; the best checkpoint is
    evaluated again at the last step and logs the peak once more."""
    ev_steps = [100, 200, 300, 400, 400]
    acc = [0.86, 0.84, 0.83, 0.82, 0.86]
    run = run_of(
        {
            "train/loss": (
                [50, 100, 150, 200, 250, 300, 350, 400],
                [0.6, 0.4, 0.3, 0.2, 0.15, 0.1, 0.08, 0.05],
            ),
            "eval/accuracy": (ev_steps, acc),
        }
    )
    (m,) = task_metrics(build_context(run))
    assert m.last == 0.82 and m.best == 0.86 and m.best_step == 100
    assert not m.still_improving
