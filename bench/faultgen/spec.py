"""One grid cell: the training configuration and the fault caused on purpose."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunSpec:
    name: str
    family: str  # "healthy" or the fault family
    task: str  # "lm" | "chat_sft" | "cls"
    trainer: str  # "trl_sft" | "hf_trainer"
    size: str  # a key of data.SIZES
    optim: str = "adamw_torch"
    lr: float = 1e-3
    scheduler: str = "cosine"
    warmup: float = 0  # steps (int) or a ratio (< 1) as TrainingArguments takes it
    batch: int = 8
    grad_accum: int = 1
    logging_steps: int = 5
    logging_first_step: bool = False
    eval: str = "none"  # "none" | "steps:N" | "epoch"
    n_train: int = 400
    n_eval: int = 0
    epochs: float = 0  # when > 0, num_train_epochs; otherwise max_steps
    max_steps: int = 120
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    nan_inf_filter: bool = True
    label_noise: float = 0.1  # cls only
    chat_pool: int | None = None  # chat_sft: number of distinct facts in train
    seed: int = 0
    # faults
    corrupt_steps: tuple[int, ...] = ()
    nan_step: int | None = None
    nan_mode: str = ""  # "transient" (one step skipped) | "persistent" (weights NaN)
    ga_loss_scale: bool = False  # logged train loss multiplied by grad_accum
    init_scale: float = 1.0  # final norm scaled at init (bad start)
    # outputs
    console: bool = False
    tqdm: bool = False
    table: str = ""  # "" | "csv" | "jsonl"
    expect: dict[str, Any] = field(default_factory=dict)  # what the construction should show

    @property
    def eval_every(self) -> int | None:
        return int(self.eval.split(":")[1]) if self.eval.startswith("steps:") else None

    @property
    def effective_batch(self) -> int:
        return self.batch * self.grad_accum

    def steps_per_epoch(self) -> int:
        return max(1, -(-self.n_train // self.batch) // self.grad_accum)

    def total_steps_guess(self) -> int:
        return int(self.steps_per_epoch() * self.epochs) if self.epochs else self.max_steps

    def config(self) -> dict[str, Any]:
        """The training configuration as ``losslens train`` would record it."""
        from bench.faultgen.data import SIZES

        shape = {k: v for k, v in SIZES[self.size].items()}
        cfg: dict[str, Any] = {
            "model": f"tiny random {shape.pop('arch')} ({self.size}), trained from scratch",
            "model_shape": shape,
            "from_scratch": True,
            "trainer": "trl.SFTTrainer" if self.trainer == "trl_sft" else "transformers.Trainer",
            "task": self.task,
            "train_examples": self.n_train,
            "eval_examples": self.n_eval,
            "per_device_train_batch_size": self.batch,
            "gradient_accumulation_steps": self.grad_accum,
            "learning_rate": self.lr,
            "lr_scheduler_type": self.scheduler,
            "warmup_steps": self.warmup,
            "optim": self.optim,
            "weight_decay": self.weight_decay,
            "max_grad_norm": self.max_grad_norm,
            "logging_steps": self.logging_steps,
            "logging_first_step": self.logging_first_step,
            "logging_nan_inf_filter": self.nan_inf_filter,
            "eval_strategy": "no" if self.eval == "none" else self.eval.split(":")[0],
            "seed": self.seed,
        }
        if self.epochs:
            cfg["num_train_epochs"] = self.epochs
        else:
            cfg["max_steps"] = self.max_steps
        if self.eval_every:
            cfg["eval_steps"] = self.eval_every
        if self.task == "cls":
            cfg["label_noise"] = self.label_noise
        if self.chat_pool:
            cfg["distinct_facts"] = self.chat_pool
        return cfg

    def cell(self) -> dict[str, Any]:
        """The grid cell, faults included (what the generator did on purpose)."""
        d = asdict(self)
        for k in ("console", "tqdm", "table", "expect", "name"):
            d.pop(k)
        d["corrupt_steps"] = list(self.corrupt_steps)
        return d

    def describe(self) -> str:
        """What the generator did, in one sentence (the start of every label's notes)."""
        run = f"{self.epochs:g} epochs" if self.epochs else f"{self.max_steps} steps"
        base = (
            f"{self.trainer} {self.task} on {self.n_train} examples, {self.size}, "
            f"{self.optim} LR {self.lr:g} {self.scheduler} (warmup {self.warmup:g}), "
            f"batch {self.batch}x{self.grad_accum}, {run}, eval {self.eval}"
        )
        fault = {
            "healthy": "no fault",
            "lr_blowup": f"LR far too high, no clipping (max_grad_norm {self.max_grad_norm:g})",
            "lr_high_schedule": "warmup to a far too high peak LR, then decay, no clipping",
            "lr_low": "LR far too low",
            "memorize_no_eval": "a tiny train set for many epochs, no eval set",
            "memorize_eval": "a tiny train set for many epochs, with eval",
            "overfit_eval": "a small train set for many epochs, eval every epoch",
            "warmup_long": f"warmup_steps {self.warmup:g} longer than the run",
            "clip_saturated": f"max_grad_norm {self.max_grad_norm:g}, far below the gradient norm",
            "corrupt_batches": f"random-token batches at steps {list(self.corrupt_steps)}",
            "nan_transient": f"one NaN loss at step {self.nan_step}, its update skipped",
            "nan_persistent": f"weights set to NaN after step {self.nan_step}",
            "ga_loss_scale": (
                f"logged train loss multiplied by gradient accumulation {self.grad_accum}"
            ),
            "bad_start": f"final norm scaled {self.init_scale:g}x at init",
        }[self.family]
        filt = "" if self.nan_inf_filter else ", logging_nan_inf_filter=False"
        return f"{base}{filt}; fault: {fault}"
