"""``losslens train`` options: one table for the CLI flags, the YAML file and the saved config.

The same names are used everywhere (``--max_steps`` on the command line, ``max_steps:`` in
the YAML file), so a saved config can be fed back with ``--config`` to repeat a run. Values
are merged as defaults < config file < command line; "auto" values are then resolved once
(``resolve``) and the resolved set is what gets saved, so loading it resolves to itself.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from losslens.errors import ConfigError

DEFAULT_MODEL = "Qwen/Qwen2-0.5B-Instruct"
TINY = "tiny"
CONFIG_FILENAME = "losslens_train.yaml"

#: The held-out rule: with at least this many examples, ``eval_ratio`` "auto" keeps 10% aside.
AUTO_EVAL_MIN_EXAMPLES = 20
AUTO_EVAL_RATIO = 0.1

QUANTIZATIONS = ("auto", "4bit", "none")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")


@dataclass
class TrainOptions:
    """Every option of ``losslens train``; ``None`` means "not set / decide automatically"."""

    model: str = DEFAULT_MODEL
    data_path: str | None = None
    output_dir: str | None = None
    cutoff_len: int = 256
    max_steps: int = 100
    num_train_epochs: float | None = None
    lr: float = 2e-4
    per_device_train_batch_size: int = 1
    gradient_accumulation_steps: int = 8
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: str = "all-linear"
    lr_scheduler_type: str = "cosine"
    warmup_ratio: float = 0.03
    logging_steps: int = 1
    eval_ratio: float | None = None
    eval_steps: int | None = None
    seed: int = 42
    project: str = "finetune"
    name: str | None = None
    quantization: str = "auto"
    precision: str = "auto"
    assistant_only_loss: bool = True
    max_grad_norm: float = 1.0
    guard: bool = False
    early_stopping_patience: int = 0
    use_wandb: bool = False
    wandb_project: str | None = None
    wandb_entity: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Spec:
    name: str
    type: type
    help: str
    choices: tuple[str, ...] | None = None
    metavar: str | None = None


SPECS: tuple[Spec, ...] = (
    Spec("model", str, f"hub name, local path, or 'tiny' (default {DEFAULT_MODEL})", None, "NAME"),
    Spec("data_path", str, 'JSONL file, one {"messages": [...]} chat per line', None, "FILE"),
    Spec(
        "output_dir",
        str,
        "where the adapter, tokenizer and config go (default out/NAME)",
        None,
        "DIR",
    ),
    Spec("cutoff_len", int, "max tokens per example; longer ones are cut (default 256)"),
    Spec("max_steps", int, "optimizer steps (default 100)"),
    Spec(
        "num_train_epochs",
        float,
        "passes over the train split, turned into --max_steps before training "
        "(an explicit --max_steps wins, as in the Trainer)",
    ),
    Spec("lr", float, "peak learning rate (default 2e-4)"),
    Spec("per_device_train_batch_size", int, "examples per device per micro-batch (default 1)"),
    Spec("gradient_accumulation_steps", int, "micro-batches per optimizer step (default 8)"),
    Spec("lora_r", int, "LoRA rank (default 8)"),
    Spec("lora_alpha", int, "LoRA alpha (default 16)"),
    Spec("lora_dropout", float, "LoRA dropout (default 0.05)"),
    Spec(
        "lora_target_modules",
        str,
        "'all-linear' (q/k/v/o/gate/up/down for Qwen2) or a comma list (default all-linear)",
    ),
    Spec("lr_scheduler_type", str, "learning-rate schedule (default cosine)", SCHEDULERS),
    Spec("warmup_ratio", float, "share of max_steps spent warming up (default 0.03)"),
    Spec("logging_steps", int, "record metrics every N steps (default 1)"),
    Spec(
        "eval_ratio",
        float,
        "held-out share for eval loss; default: 0.1 with >= 20 examples, else 0; 0 turns it off",
    ),
    Spec("eval_steps", int, "evaluate every N steps (default max_steps/10)"),
    Spec("seed", int, "random seed for the split, the weights and the data order (default 42)"),
    Spec("project", str, "project name in the store (default finetune)"),
    Spec("name", str, "run name (default MODEL-lora-TIMESTAMP)"),
    Spec(
        "quantization",
        str,
        "4-bit NF4 QLoRA or none; auto: 4bit on CUDA, none on CPU",
        QUANTIZATIONS,
    ),
    Spec("precision", str, "compute precision; auto picks from the GPU (fp32 on CPU)", PRECISIONS),
    Spec("assistant_only_loss", bool, "loss on assistant turns only where the template allows it"),
    Spec("max_grad_norm", float, "gradient clipping norm (default 1.0)"),
    Spec("guard", bool, "stop the run on NaN/Inf loss or clear divergence"),
    Spec(
        "early_stopping_patience",
        int,
        "stop when eval loss has risen for N evaluations and keep the best adapter (0: off)",
    ),
    Spec("use_wandb", bool, "also report to Weights & Biases (WANDB_MODE=offline works)"),
    Spec("wandb_project", str, "W&B project (default: the losslens project)"),
    Spec("wandb_entity", str, "W&B entity (team or user)"),
)

SPEC_BY_NAME = {s.name: s for s in SPECS}

#: Flags of the blog-style ``train_peft.py`` (HF ``TrainingArguments`` names) accepted as
#: they are, each an alias of one of our options. docs/train.md lists them.
ALIASES: dict[str, str] = {
    "model_name_or_path": "model",
    "base_model": "model",
    "learning_rate": "lr",
    "max_seq_length": "cutoff_len",
    "max_length": "cutoff_len",
    "run_name": "name",
    "target_modules": "lora_target_modules",
    "num_epochs": "num_train_epochs",
    "train_file": "data_path",
    "dataset_path": "data_path",
}
_FIELDS = {f.name for f in dataclasses.fields(TrainOptions)}
assert set(SPEC_BY_NAME) == _FIELDS, "every option needs a spec"


def _where(name: str, source: str) -> str:
    return f"--{name}" if source == "cli" else f"{source}: {name}"


def _coerce(name: str, value: Any, source: str) -> Any:
    spec = SPEC_BY_NAME[name]
    if value is None:
        return None
    where = _where(name, source)
    if spec.type is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if spec.type is int:
        if isinstance(value, bool) or not isinstance(value, int | str | float):
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        try:
            f = float(value)
        except ValueError:
            raise ConfigError(f"{where} must be a whole number, got {value!r}") from None
        if not f.is_integer():
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        return int(f)
    if spec.type is float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        try:
            out = float(value)
        except ValueError:
            raise ConfigError(f"{where} must be a number, got {value!r}") from None
        if not math.isfinite(out):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
        return out
    if isinstance(value, list) and name == "lora_target_modules":
        return ",".join(str(v) for v in value)
    if not isinstance(value, str | int | float):
        raise ConfigError(f"{where} must be a string, got {value!r}")
    out_s = str(value)
    if spec.choices and out_s not in spec.choices:
        raise ConfigError(f"{where} must be one of {', '.join(spec.choices)}, got {out_s!r}")
    return out_s


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The options in a YAML config file (unknown keys and bad values are errors)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--config: no such file: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise ConfigError(f"{p}{where}: not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a config file must be a mapping of option: value")
    out: dict[str, Any] = {}
    for key, value in data.items():
        k = str(key).replace("-", "_")
        if k not in SPEC_BY_NAME:
            hint = "the keys are the flags of 'losslens train --help'"
            if k in ALIASES:
                hint = f"the key is '{ALIASES[k]}' (--{k} is accepted on the command line only)"
            raise ConfigError(f"{p}: unknown option '{key}'", hint)
        out[k] = _coerce(k, value, str(p))
    return out


def merge(
    file_values: Mapping[str, Any], cli_values: Mapping[str, Any], *, file_label: str = "config"
) -> TrainOptions:
    """Defaults < config file < command line (``None`` on the command line means "not given")."""
    opts = TrainOptions()
    values = opts.to_dict()
    for k, v in file_values.items():
        values[k] = v
    for k, v in cli_values.items():
        if v is not None:
            values[k] = _coerce(k, v, "cli")

    def layer(name: str) -> int:
        return 2 if cli_values.get(name) is not None else 1 if name in file_values else 0

    if values["num_train_epochs"] is not None and layer("max_steps") >= layer("num_train_epochs"):
        values["num_train_epochs"] = None  # the Trainer's rule: max_steps overrides epochs
    out = TrainOptions(**values)
    validate(out)
    return out


def validate(o: TrainOptions) -> None:
    """Range checks; each error names the option."""

    def need(ok: bool, name: str, rule: str) -> None:
        if not ok:
            raise ConfigError(f"--{name} {rule}, got {getattr(o, name)!r}")

    need(bool(o.model and o.model.strip()), "model", "must name a model")
    need(o.cutoff_len >= 8, "cutoff_len", "must be at least 8")
    need(o.max_steps >= 1, "max_steps", "must be at least 1")
    need(
        o.num_train_epochs is None or o.num_train_epochs > 0,
        "num_train_epochs",
        "must be greater than 0",
    )
    need(o.lr > 0, "lr", "must be greater than 0")
    need(o.per_device_train_batch_size >= 1, "per_device_train_batch_size", "must be at least 1")
    need(o.gradient_accumulation_steps >= 1, "gradient_accumulation_steps", "must be at least 1")
    need(o.lora_r >= 1, "lora_r", "must be at least 1")
    need(o.lora_alpha >= 1, "lora_alpha", "must be at least 1")
    need(0 <= o.lora_dropout < 1, "lora_dropout", "must be in [0, 1)")
    need(bool(o.lora_target_modules.strip()), "lora_target_modules", "must not be empty")
    need(0 <= o.warmup_ratio < 1, "warmup_ratio", "must be in [0, 1)")
    need(o.logging_steps >= 1, "logging_steps", "must be at least 1")
    need(o.eval_ratio is None or 0 <= o.eval_ratio < 1, "eval_ratio", "must be in [0, 1)")
    need(o.eval_steps is None or o.eval_steps >= 1, "eval_steps", "must be at least 1")
    need(o.max_grad_norm >= 0, "max_grad_norm", "must be 0 (off) or more")
    need(o.early_stopping_patience >= 0, "early_stopping_patience", "must be 0 (off) or more")
    need(bool(o.project.strip()), "project", "must not be empty")
    if o.eval_ratio == 0 and o.early_stopping_patience:
        raise ConfigError(
            "--early_stopping_patience needs an eval split, but --eval_ratio is 0",
            "set --eval_ratio (e.g. 0.1) or drop --early_stopping_patience",
        )
    if o.data_path is None:
        raise ConfigError("--data_path is required", "a JSONL file with one chat per line")


def auto_eval_ratio(n_examples: int) -> float:
    """The documented default split: 10% held out when there are at least 20 examples."""
    return AUTO_EVAL_RATIO if n_examples >= AUTO_EVAL_MIN_EXAMPLES else 0.0


def default_name(model: str, now: dt.datetime | None = None) -> str:
    base = Path(model.rstrip("/")).name or "model"
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", base)
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{base}-lora-{stamp}"


def resolve(o: TrainOptions, *, n_examples: int, quantization: str, precision: str) -> TrainOptions:
    """Fix every "auto" value; resolving a resolved set changes nothing."""
    r = dataclasses.replace(o)
    if r.eval_ratio is None:
        r.eval_ratio = auto_eval_ratio(n_examples)
    if r.eval_ratio == 0:
        r.eval_steps = None
        if r.early_stopping_patience:
            raise ConfigError(
                f"--early_stopping_patience needs an eval split, but {n_examples} examples "
                f"are too few for the automatic one (it needs {AUTO_EVAL_MIN_EXAMPLES})",
                "set --eval_ratio explicitly (e.g. 0.2)",
            )
    if r.num_train_epochs is not None:
        from losslens.analysis.advice import steps_for_epochs
        from losslens.train.data import eval_count

        n_train = n_examples - eval_count(n_examples, r.eval_ratio)
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        r.max_steps = steps_for_epochs(
            r.num_train_epochs,
            n_train,
            r.per_device_train_batch_size,
            r.gradient_accumulation_steps,
            world,
        )
        r.num_train_epochs = None  # resolved: the saved config repeats the same steps
    if r.eval_ratio and r.eval_steps is None:
        r.eval_steps = max(1, r.max_steps // 10)
    r.quantization = quantization
    r.precision = precision
    if r.name is None:
        r.name = default_name(r.model)
    if r.output_dir is None:
        r.output_dir = str(Path("out") / r.name)
    r.output_dir = str(Path(r.output_dir).expanduser().absolute())
    if r.data_path is not None:
        r.data_path = str(Path(r.data_path).expanduser().absolute())
    if r.use_wandb and r.wandb_project is None:
        r.wandb_project = r.project
    return r


def save(o: TrainOptions, path: str | os.PathLike[str]) -> None:
    """Write the options as YAML in table order (the file ``--config`` reads back)."""
    header = (
        "# losslens train: the resolved options of this run.\n"
        "# Repeat it with: losslens train --config THIS_FILE (command-line flags override).\n"
    )
    body = yaml.safe_dump(o.to_dict(), sort_keys=False, allow_unicode=True)
    Path(path).write_text(header + body, encoding="utf-8")


def target_modules(o: TrainOptions) -> str | list[str]:
    t = o.lora_target_modules.strip()
    if t == "all-linear":
        return t
    return [m.strip() for m in t.split(",") if m.strip()]


__all__ = [
    "ALIASES",
    "CONFIG_FILENAME",
    "DEFAULT_MODEL",
    "SPECS",
    "TINY",
    "TrainOptions",
    "auto_eval_ratio",
    "load_config_file",
    "merge",
    "resolve",
    "save",
    "validate",
]
