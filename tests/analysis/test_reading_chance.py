"""The loss reading's "random guessing" level comes from the model's vocabulary, or is not said."""

from __future__ import annotations

import math

import pytest

from losslens.analysis import Analyzer


def loss_reading(config: dict[str, object]) -> dict[str, str]:
    an = Analyzer(config=config)
    for step in range(1, 61):  # a tiny random model: loss stuck around 6
        an.log({"train/loss": 6.3 - 0.002 * step, "train/learning_rate": 2e-3}, step)
    an.check()
    assert an.report is not None
    (reading,) = [r for r in an.report.readings if r.metric == "train/loss"]
    return dict(reading.summary)


def test_chance_is_ln_of_the_vocabulary_size() -> None:
    text = loss_reading({"vocab_size": 512, "model": "tiny"})
    assert "ln 512 ≈ 6.24" in text["en"] and "ln 512 ≈ 6.24" in text["ko"]
    assert f"{math.log(512):.2f}" == "6.24"
    assert "10–12" not in text["en"]


@pytest.mark.parametrize("config", [{}, {"model": "Qwen/Qwen2-0.5B-Instruct"}])
def test_without_a_vocabulary_size_chance_is_not_mentioned(config: dict[str, object]) -> None:
    text = loss_reading(config)
    assert "high" in text["en"]
    assert "guess" not in text["en"] and "무작위" not in text["ko"]
