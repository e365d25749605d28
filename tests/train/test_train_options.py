"""Options: flags = YAML keys, precedence, validation naming the option, resolution fixed point."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from losslens.errors import ConfigError
from losslens.train.options import (
    TrainOptions,
    auto_eval_ratio,
    load_config_file,
    merge,
    resolve,
    save,
)


def _resolve(o: TrainOptions, n: int = 23) -> TrainOptions:
    return resolve(o, n_examples=n, quantization="none", precision="fp32")


def test_defaults_match_the_issue() -> None:
    o = TrainOptions()
    assert o.model == "Qwen/Qwen2-0.5B-Instruct"
    assert (o.cutoff_len, o.max_steps, o.lr) == (256, 100, 2e-4)
    assert (o.per_device_train_batch_size, o.gradient_accumulation_steps) == (1, 8)
    assert (o.lora_r, o.lora_alpha, o.lora_dropout) == (8, 16, 0.05)
    assert o.lora_target_modules == "all-linear"
    assert (o.lr_scheduler_type, o.warmup_ratio, o.logging_steps) == ("cosine", 0.03, 1)


def test_cli_overrides_file_overrides_defaults(tmp_path: Path) -> None:
    cfg = tmp_path / "t.yaml"
    cfg.write_text("max_steps: 30\nlr: 1e-3\ndata_path: d.jsonl\nguard: true\n", encoding="utf-8")
    o = merge(load_config_file(cfg), {"max_steps": "12", "lr": None, "cutoff_len": None})
    assert o.max_steps == 12  # flag wins
    assert o.lr == 1e-3  # file wins over default
    assert o.guard is True
    assert o.cutoff_len == 256  # default


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"max_steps": "0"}, "--max_steps"),
        ({"lr": "-1"}, "--lr"),
        ({"lr": "fast"}, "--lr"),
        ({"cutoff_len": "2.5"}, "--cutoff_len"),
        ({"eval_ratio": "1.5"}, "--eval_ratio"),
        ({"quantization": "8bit"}, "--quantization"),
        ({"eval_ratio": "0", "early_stopping_patience": "2"}, "--early_stopping_patience"),
    ],
)
def test_bad_values_name_the_option(values: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError) as err:
        merge({}, {"data_path": "d.jsonl", **values})
    assert needle in err.value.message


def test_config_file_errors_name_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_step: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown option 'max_step'"):
        load_config_file(bad)
    bad.write_text("max_steps: [1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(bad)
    bad.write_text("max_steps: many\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="max_steps must be a whole number"):
        load_config_file(bad)
    with pytest.raises(ConfigError, match="no such file"):
        load_config_file(tmp_path / "missing.yaml")


def test_auto_eval_rule() -> None:
    assert auto_eval_ratio(19) == 0.0
    assert auto_eval_ratio(20) == 0.1
    r = _resolve(merge({}, {"data_path": "d.jsonl", "max_steps": "50"}))
    assert r.eval_ratio == 0.1 and r.eval_steps == 5
    small = _resolve(merge({}, {"data_path": "d.jsonl"}), n=5)
    assert small.eval_ratio == 0.0 and small.eval_steps is None


def test_saved_config_resolves_to_itself(tmp_path: Path) -> None:
    first = _resolve(merge({}, {"data_path": "d.jsonl", "model": "tiny", "seed": "7"}))
    path = tmp_path / "losslens_train.yaml"
    save(first, path)
    again = _resolve(merge(load_config_file(path), {}))
    assert again == first
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["seed"] == 7


def test_example_config_file_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    o = merge(load_config_file(root / "examples" / "train.yaml"), {})
    assert o.model == "Qwen/Qwen2-0.5B-Instruct" and o.data_path == "examples/mini_instruct.jsonl"
    assert o.guard is True
