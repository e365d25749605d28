"""Round 12 (the readings test v9 asked for): a SetFit run's ``embedding_loss`` is its train
loss; a second evaluation at the last step (``trainer.evaluate()`` after training) is not a
point of the eval curve; an eval loss best before the LR peak that jumps while the train loss
keeps falling is overfitting, not the schedule (LL112, LL151); a small eval step up that holds
while the train loss falls, each beyond its noise, is overfitting (LL151); a GRPO log that is
all warmup is too early to call the reward flat (LL182); and a console paste's step count comes
from the Trainer's end-of-run line, never from a bar shorter than the log (``1/1``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from analysis_curves import epoch_run, ids, noisy, rule, run_of

from losslens import keys
from losslens.analysis import analyze
from losslens.ingest import load_into_memory
from losslens.model import RunData, Severity

# -- a train loss under another name -----------------------------------------------------------


def _setfit(names: tuple[str, ...]) -> RunData:
    """One epoch of 300 steps logged every 50 (SetFit's contrastive objective): the train loss
    falls to ~0.002 while the single eval at the end is 0.34."""
    steps = np.array([1, 50, 100, 150, 200, 250, 300])
    train = np.array([0.43, 0.09, 0.02, 0.0074, 0.004, 0.003, 0.0022])
    series: dict[str, tuple[Any, Any]] = {n: (steps, train) for n in names}
    series["train/epoch"] = (steps, steps / 300)
    series["eval/embedding_loss"] = ([300], [0.344])
    return run_of(series)


def test_setfits_embedding_loss_is_read_as_the_train_loss() -> None:
    f = rule(_setfit(("train/embedding_loss",)), "LL152")
    assert f is not None and f.severity is Severity.WARNING
    assert f.evidence.values["ratio"] > 100


def test_two_component_losses_and_no_plain_loss_are_not_guessed_between() -> None:
    assert rule(_setfit(("train/mlm_loss", "train/nsp_loss")), "LL152") is None


# -- an eval loss that rose, then the best checkpoint evaluated at the end -------------------


def _early_best(train_end: float, flat_from: int = 60) -> RunData:
    """3 epochs of 68 steps, logged every 10 with warmup to step 100 then linear decay; evals
    at each epoch end: best at the first (0.413), then 0.527 and 0.509, and
    ``trainer.evaluate()`` of the best checkpoint logs 0.412 again at the last step. The train
    loss falls to 0.55 by step ``flat_from``, then to ``train_end``."""
    steps = np.arange(10, 201, 10)
    train = noisy(np.interp(steps, [10, flat_from, 200], [0.73, 0.55, train_end]), 0.03, 4)
    lr = np.where(steps <= 100, 4.95e-5 * steps / 100, 4.95e-5 * (204 - steps) / 104)
    ev_steps, ev = [68, 136, 204, 204], [0.413, 0.527, 0.509, 0.412]
    return run_of(
        {
            "train/loss": (steps, train),
            "train/learning_rate": (steps, lr),
            "train/epoch": (steps, steps / 68),
            "eval/loss": (ev_steps, ev),
        },
        config={"max_steps": 204},
    )


def test_an_eval_that_rose_is_overfitting_though_the_best_checkpoint_is_evaluated_last() -> None:
    rep = analyze(_early_best(0.11))
    f = next(f for f in rep.findings if f.rule_id == "LL151")
    assert f.severity is Severity.WARNING and f.onset_step == 68
    assert f.evidence.values["last_eval_loss"] == 0.509
    # the train loss fell by half while the eval loss jumped: not the LR's doing
    assert "LL112" not in ids(rep)


def test_the_same_eval_jump_at_the_lr_peak_with_a_train_loss_that_stopped_is_the_schedule() -> None:
    rep = analyze(_early_best(0.55, flat_from=30))
    assert "LL151" not in ids(rep)
    f = next(f for f in rep.findings if f.rule_id == "LL112")
    assert f.severity is Severity.WARNING


# -- LL151: a small step up that holds, each loss beyond its noise ----------------------------


def _step_up(train_noise: float) -> RunData:
    """3 epochs of 282 steps logged every 10, eval every 50: the eval loss flattens at ~1.47
    and steps up 2% to 1.503 with the third pass, holding there for 5 evals; the train loss
    steps down at each epoch (1.82, 1.36, 1.20 on average) with ``train_noise``."""
    steps = np.arange(10, 801, 10)
    level = np.where(steps <= 282, 1.82, np.where(steps <= 564, 1.36, 1.20))
    train = noisy(level, train_noise, 7)
    ev_steps = np.arange(50, 801, 50)
    ev = [1.916, 1.516, 1.496, 1.49, 1.482, 1.477, 1.484, 1.477, 1.476, 1.472, 1.471]
    ev += [1.501, 1.504, 1.503, 1.503, 1.503]
    return epoch_run(train, spe=282, every=10, evals=(ev_steps, ev))


def test_a_two_percent_eval_step_up_that_holds_on_smooth_curves_is_overfitting() -> None:
    f = rule(_step_up(0.01), "LL151")
    assert f is not None and f.severity is Severity.WARNING
    assert f.onset_step == 550


def test_the_same_step_up_beside_a_train_loss_too_noisy_to_show_a_fall_is_not() -> None:
    assert rule(_step_up(0.25), "LL151") is None


# -- LL182: a GRPO log that is all warmup -------------------------------------------------------


def _grpo_reward(lr: np.ndarray) -> RunData:
    n = lr.size
    steps = np.arange(1, n + 1)
    rng = np.random.default_rng(5)
    reward = 0.78 + 0.15 * rng.standard_normal(n)  # flat
    return run_of(
        {
            "train/loss": (steps, 0.02 * rng.standard_normal(n)),
            "train/learning_rate": (steps, lr),
            "train/reward": (steps, reward),
            "train/reward_std": (steps, 0.2 + 0.02 * rng.standard_normal(n)),
            "train/epoch": (steps, steps / 520),
        },
        config={"max_steps": 1038},
    )


def test_a_flat_reward_over_a_log_that_is_all_warmup_is_too_early_to_call() -> None:
    rising = 1e-6 * np.arange(1, 51) / 21
    assert "LL182" not in ids(analyze(_grpo_reward(rising)))


def test_a_flat_reward_after_the_warmup_is_reported() -> None:
    lr = np.concatenate([1e-6 * np.arange(1, 11) / 10, np.full(40, 1e-6)])
    assert "LL182" in ids(analyze(_grpo_reward(lr)))


# -- console: the step count from the end-of-run line ----------------------------------------


def test_a_console_pastes_steps_come_from_the_end_of_run_line_not_a_one_step_bar(
    tmp_path: Path,
) -> None:
    lines = [
        f"{{'loss': '{0.7 - 0.03 * i:.4g}', 'learning_rate': '{1e-5:.3g}', "
        f"'epoch': '{i * 10 / 68:.4g}'}}\n"
        for i in range(1, 21)
    ]
    lines.append("Writing model shards: 100%|██████████| 1/1 [00:00<00:00, 3.10it/s]\n")
    lines.append(
        "{'train_runtime': '17.8', 'train_samples_per_second': '181.9', "
        "'train_steps_per_second': '11.46', 'train_loss': '0.365', 'epoch': '3'}\n"
    )
    p = tmp_path / "train.log"
    p.write_text("".join(lines), encoding="utf-8")
    run = load_into_memory(p)[0]
    assert run.info.config["max_steps"] == 204  # 17.8 s x 11.46 steps/s
    loss = run.series[keys.LOSS]
    assert list(loss.steps) == list(range(10, 201, 10))
