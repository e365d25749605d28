"""The arithmetic behind computed fixes (losslens.analysis.advice)."""

from __future__ import annotations

import pytest

from losslens.analysis.advice import (
    epochs_for_steps,
    fewer_epochs,
    logged_records,
    logging_steps_for,
    steps_for_epochs,
    steps_per_epoch,
    warmup_steps_for,
)


def test_the_motivating_run() -> None:
    # 23 chats, batch 1 x accumulation 8, logging_steps 10, 100 steps: about 35 epochs.
    assert steps_per_epoch(23, 1, 8) == 3
    assert epochs_for_steps(100, 23, 1, 8) == pytest.approx(33.3, abs=0.1)
    fix = fewer_epochs(3, 23, 1, 8, logging_steps=10)
    assert fix.max_steps == 9
    assert fix.logging_would_be_empty and logged_records(9, 10) == 0
    assert fix.logging_steps == 1
    assert fix.flags == "--max_steps 9 --logging_steps 1"


@pytest.mark.parametrize(
    ("examples", "batch", "accum", "world", "per_epoch"),
    [(8, 1, 8, 1, 1), (9, 1, 8, 1, 2), (100, 4, 2, 2, 7), (1, 8, 8, 1, 1), (0, 1, 1, 1, 1)],
)
def test_steps_per_epoch_rounds_like_the_trainer(
    examples: int, batch: int, accum: int, world: int, per_epoch: int
) -> None:
    assert steps_per_epoch(examples, batch, accum, world) == per_epoch


def test_epochs_and_logging() -> None:
    assert steps_for_epochs(1.5, 23, 1, 8) == 5  # ceil(1.5 x 3)
    assert steps_for_epochs(0.01, 23, 1, 8) == 1
    assert logging_steps_for(9) == 1 and logging_steps_for(1000) == 100
    fix = fewer_epochs(3, 2000, 1, 1, logging_steps=10)
    assert not fix.logging_would_be_empty and fix.logging_steps == 10  # 600 steps: keep 10
    assert warmup_steps_for(100, 0.03) == 3 and warmup_steps_for(9, 0.03) == 1
    assert warmup_steps_for(9, 0) == 0


def test_the_epochs_fix_gives_numbers_and_flags() -> None:
    from losslens.analysis.advice import epochs_suggestion

    text = epochs_suggestion(23, 8, 10)
    assert text is not None
    assert "--max_steps 9" in text["en"] and "--num_train_epochs 3" in text["en"]
    assert "logging_steps 10" in text["en"] and "would log nothing" in text["en"]
    assert "--logging_steps 1" in text["en"]
    assert "--max_steps 9" in text["ko"] and "--logging_steps 1" in text["ko"]
    big = epochs_suggestion(2000, 8, 10)
    assert big is not None and "--max_steps 750" in big["en"] and "logging" not in big["en"]
    assert epochs_suggestion(None, 8, 10) is None and epochs_suggestion(23, None) is None
