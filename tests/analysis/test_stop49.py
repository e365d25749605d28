"""Stop 49: a flat end of a loss whose unit nothing names is the end of a converged curve."""

from __future__ import annotations

import numpy as np
from tests.analysis.analysis_curves import one, run_of

from losslens.analysis import analyze
from losslens.analysis.messages import num
from losslens.model import Severity


def _flat_end(source: str) -> object:
    """A per-epoch log: the train loss falls from 2.0 to 1.2 over 4 epochs, then holds near
    1.2 (gaining 0.2% per epoch) for 4 more, no eval (a flat end shorter than the 5 epochs
    that make a waste whatever the unit)."""
    ep = np.arange(1, 9)
    loss = np.where(ep <= 4, 2.0 - 0.8 * (ep - 1) / 3, 1.2 * 0.998 ** (ep - 4))
    loss = loss * (1 + 0.003 * np.sin(ep * 2.6))
    run = run_of({"train/loss": (ep, loss), "train/epoch": (ep, ep)})
    run.info.source = source  # type: ignore[attr-defined]
    return run


def test_a_flat_end_of_a_script_loss_of_no_known_unit_is_info() -> None:
    f = one(analyze(_flat_end("csv:history.csv")), "LL135")  # type: ignore[arg-type]
    assert f.severity is Severity.INFO


def test_the_same_flat_end_in_a_trainer_log_is_a_plateau() -> None:
    f = one(analyze(_flat_end("hf_trainer_state:abc")), "LL135")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING


# -- keys: a total or an averaged loss is the loss where no plain one is logged -------------


def test_a_total_loss_in_a_namespace_of_losses_is_the_train_loss() -> None:
    steps = np.arange(10, 410, 10)
    total = 40.0 * np.exp(-steps / 400)
    total[14] = 4000.0  # one step 100x its neighbours
    run = run_of({"loss/total_loss": (steps, total), "loss/dir_loss": (steps, total / 3)})
    f = one(analyze(run), "LL121")  # type: ignore[arg-type]
    assert f.evidence.metric == "loss/total_loss"


def test_an_averaged_loss_and_its_epoch_mean_are_the_train_loss() -> None:
    ep = np.arange(5)
    run = run_of(
        {
            "loss_avg_epoch": (ep * 10 + 9, np.zeros(5)),
            "loss_avg_step": ([49], [0.0]),
            "epoch": (ep * 10 + 9, ep),
        }
    )
    rep = analyze(run)
    assert one(rep, "LL103").severity is Severity.ERROR  # a loss of exactly 0, 5 of 5 logs
    assert "5 of 5" in one(rep, "LL103").evidence.text["en"]


def test_a_huge_number_is_written_with_its_exponent() -> None:
    assert num(1e308) == "1e308"
    assert num(3.2e10) == "3.2e10"
    assert num(999_999_999.0) == "999,999,999"


# -- LL158: a word error rate frozen above 0 ------------------------------------------------


def _asr(wer: list[float]) -> object:
    """A CTC fine-tune: the loss falls from 32 to 5 in the first 300 steps and holds; six
    evals of the loss and the word error rate."""
    steps = np.arange(100, 3100, 100)
    loss = np.where(steps <= 300, 32.0 - 27 * (steps - 100) / 200, 5.0 + 0.01 * np.sin(steps))
    evals = np.arange(500, 3500, 500)
    return run_of(
        {
            "train/loss": (steps, loss),
            "train/epoch": (steps, steps / 328),
            "eval/loss": (evals, 5.0 - 0.001 * np.arange(6)),
            "eval/wer": (evals, wer),
        }
    )


def test_a_word_error_rate_of_one_at_every_eval_is_a_frozen_metric() -> None:
    f = one(analyze(_asr([1.0] * 6)), "LL158")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING
    assert "wer = 1" in f.evidence.text["en"]


def test_a_word_error_rate_that_moves_is_not_frozen() -> None:
    rep = analyze(_asr([1.0, 0.9, 0.7, 0.6, 0.55, 0.5]))  # type: ignore[arg-type]
    assert not [f for f in rep.findings if f.rule_id == "LL158"]


# -- LL135 judges a loss that LL131 called flat but learning (info) -------------------------


def test_a_binary_classifier_at_chance_is_judged_when_its_eval_loss_creeps_down() -> None:
    """Ten epochs of a binary classifier whose train loss stays at ln 2 (logged 4 times an
    epoch) while its eval loss creeps down 0.2% an epoch to its best at the end."""
    steps = np.arange(8, 328, 8)
    train = np.log(2) * (1 + 0.01 * np.sin(steps * 0.7))
    evals = np.arange(32, 352, 32)
    run = run_of(
        {
            "train/loss": (steps, train),
            "train/epoch": (steps, steps / 32),
            "eval/loss": (evals, 0.6935 * 0.998 ** np.arange(10)),
            "eval/acc": (evals, 0.5 + 0.002 * np.sin(np.arange(10))),
        }
    )
    rep = analyze(run)  # type: ignore[arg-type]
    assert one(rep, "LL131").severity is Severity.INFO
    assert one(rep, "LL135").severity is Severity.WARNING


# -- LL157: a held-out metric that never beat its first eval while the train loss fell --------


def test_a_metric_that_never_beat_its_first_eval_while_training_fit_is_overfitting() -> None:
    """30 epochs: the train loss falls from 2.7 to 0.001, the validation accuracy is best at
    the first eval (0.167) and wanders between 0.06 and 0.12 after; no eval loss."""
    ep = np.arange(1, 31)
    acc = np.concatenate([[0.167], 0.09 + 0.03 * np.sin(np.arange(29))])
    run = run_of(
        {
            "train/loss": (ep, np.geomspace(2.7, 0.001, 30)),
            "train/epoch": (ep, ep),
            "eval/accuracy": (ep, acc),
        }
    )
    f = one(analyze(run), "LL157")  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING and f.onset_step == 1
