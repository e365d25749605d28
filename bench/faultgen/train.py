"""Train one grid cell for real (CPU) and write what the Trainer wrote.

The Trainer's own files and output are kept: ``trainer_state.json`` from ``TrainerState``,
``console.txt`` from the process's stdout and stderr (file descriptors 1 and 2, so the
Trainer's printed dict lines, tqdm bars and warnings land there as in a terminal paste), and
a CSV or JSONL table written by a small logging callback, as user scripts do.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.faultgen import data
from bench.faultgen.spec import RunSpec


@contextlib.contextmanager
def captured(path: Path) -> Iterator[None]:
    """Send fd 1 and fd 2 to ``path`` (like ``2>&1 | tee``), Python and C writes alike."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("wb") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _datasets(spec: RunSpec) -> tuple[Any, Any, Any]:
    """(tokenizer, train dataset, eval dataset or None) for the spec's task and trainer."""
    import torch

    if spec.task == "chat_sft":
        train = data.chats(spec.n_train, seed=1 + spec.seed, pool=spec.chat_pool)
        ev = data.chats(spec.n_eval, seed=1001 + spec.seed) if spec.n_eval else []
        texts = [m["content"] for c in train + ev for m in c["messages"]]
    elif spec.task == "lm":
        train_t = data.lm_texts(spec.n_train, seed=1 + spec.seed)
        ev_t = data.lm_texts(spec.n_eval, seed=1001 + spec.seed) if spec.n_eval else []
        texts = train_t + ev_t
    else:
        train_c = data.classified(spec.n_train, 1 + spec.seed, spec.label_noise)
        ev_c = (
            data.classified(spec.n_eval, 1001 + spec.seed, spec.label_noise) if spec.n_eval else []
        )
        texts = [t for t, _ in train_c + ev_c]
    tok = data.build_tokenizer(texts, vocab_size=320)

    if spec.trainer == "trl_sft":
        from datasets import Dataset

        if spec.task == "chat_sft":
            return tok, Dataset.from_list(train), Dataset.from_list(ev) if ev else None
        return (
            tok,
            Dataset.from_list([{"text": t} for t in train_t]),
            Dataset.from_list([{"text": t} for t in ev_t]) if ev_t else None,
        )

    class Rows(torch.utils.data.Dataset[dict[str, Any]]):
        def __init__(self, rows: list[dict[str, Any]]) -> None:
            self.rows = rows

        def __len__(self) -> int:
            return len(self.rows)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return self.rows[i]

    if spec.task == "lm":

        def enc(t: str) -> dict[str, Any]:
            ids = torch.tensor(tok(t)["input_ids"][:32])
            return {"input_ids": ids, "labels": ids.clone()}

        return tok, Rows([enc(t) for t in train_t]), Rows([enc(t) for t in ev_t]) if ev_t else None

    def enc_c(t: str, y: int) -> dict[str, Any]:
        return {"input_ids": torch.tensor(tok(t)["input_ids"][:32]), "labels": torch.tensor(y)}

    return (
        tok,
        Rows([enc_c(t, y) for t, y in train_c]),
        Rows([enc_c(t, y) for t, y in ev_c]) if ev_c else None,
    )


def _collate(tok: Any, task: str) -> Any:
    import torch

    pad = tok.pad_token_id

    def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
        n = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), n), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), n), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r["input_ids"])] = r["input_ids"]
            mask[i, : len(r["input_ids"])] = 1
        if task == "cls":
            labels = torch.stack([r["labels"] for r in rows])
        else:
            labels = ids.masked_fill(mask == 0, -100)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    return collate


class _Table:
    """A user-style logging callback: every ``on_log`` dict, with its step, to CSV or JSONL."""

    def __init__(self, path: Path, kind: str) -> None:
        self.path, self.kind = path, kind
        self.rows: list[dict[str, Any]] = []

    def on_log(self, state: Any, logs: dict[str, Any]) -> None:
        row = {"step": state.global_step, **{k: v for k, v in logs.items() if k != "total_flos"}}
        if self.kind == "jsonl":
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
        self.rows.append(row)

    def close(self) -> None:
        if self.kind != "csv":
            return
        cols: list[str] = []
        for r in self.rows:
            cols += [k for k in r if k not in cols]
        with self.path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            for r in self.rows:
                w.writerow(r)


def train(spec: RunSpec, folder: Path) -> dict[str, Any]:
    """Train ``spec``; write its files into ``folder``; return file names by format."""
    import torch
    import transformers
    from transformers import TrainerCallback

    folder.mkdir(parents=True, exist_ok=True)
    tok, train_ds, eval_ds = _datasets(spec)
    model = data.build_model(spec.size, tok, spec.task, seed=spec.seed)
    if spec.init_scale != 1.0:  # bad start: a badly scaled final norm (huge first logits)
        with torch.no_grad():
            model.model.norm.weight.mul_(spec.init_scale)
    junk_rng = torch.Generator().manual_seed(123 + spec.seed)
    ga = spec.grad_accum

    if spec.trainer == "trl_sft":
        from trl import SFTConfig, SFTTrainer  # type: ignore[attr-defined]

        base: Any = SFTTrainer
    else:
        base = transformers.Trainer

    class Faulty(base):  # type: ignore[misc]
        def compute_loss(self, model: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            step = self.state.global_step + 1
            if step in spec.corrupt_steps:  # a garbage batch: random tokens (or labels)
                inputs = dict(inputs)
                shape = inputs["input_ids"].shape
                junk = torch.randint(5, len(tok), shape, generator=junk_rng)
                if spec.task == "cls":
                    inputs["input_ids"] = junk
                    inputs["labels"] = 1 - inputs["labels"]
                else:
                    keep = inputs["labels"] != -100
                    inputs["input_ids"] = junk
                    inputs["labels"] = torch.where(keep, junk, inputs["labels"])
            loss = super().compute_loss(model, inputs, *args, **kwargs)
            if spec.nan_mode == "transient" and step == spec.nan_step:
                if isinstance(loss, tuple):
                    return (loss[0] * float("nan"), *loss[1:])
                return loss * float("nan")
            return loss

        def training_step(self, *args: Any, **kwargs: Any) -> Any:
            out = super().training_step(*args, **kwargs)
            return out * ga if spec.ga_loss_scale else out  # the logging bug: loss x GA

    table = _Table(folder / f"metrics.{spec.table}", spec.table) if spec.table else None

    class Hooks(TrainerCallback):
        def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if spec.nan_mode != "transient":
                return
            params = [p for p in kw["model"].parameters() if p.grad is not None]
            if any(not torch.isfinite(p.grad).all() for p in params):
                for p in params:  # skip the update, as an fp16 GradScaler does on overflow
                    p.grad.zero_()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if spec.nan_mode == "persistent" and state.global_step == spec.nan_step:
                with torch.no_grad():  # an overflow that reaches the weights
                    for p in kw["model"].parameters():
                        p.fill_(float("nan"))

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if table is not None and logs is not None:
                table.on_log(state, logs)

    scratch = Path(tempfile.mkdtemp(prefix="faultgen-"))
    common: dict[str, Any] = {
        "output_dir": str(scratch),
        "per_device_train_batch_size": spec.batch,
        "per_device_eval_batch_size": 32,
        "gradient_accumulation_steps": ga,
        "learning_rate": spec.lr,
        "lr_scheduler_type": spec.scheduler,
        "warmup_steps": spec.warmup,
        "max_grad_norm": spec.max_grad_norm,
        "weight_decay": spec.weight_decay,
        "optim": spec.optim,
        "logging_steps": spec.logging_steps,
        "logging_first_step": spec.logging_first_step,
        "logging_nan_inf_filter": spec.nan_inf_filter,
        "eval_strategy": "no" if spec.eval == "none" else spec.eval.split(":")[0],
        "save_strategy": "no",
        "report_to": "none",
        "use_cpu": True,
        "seed": spec.seed,
        "data_seed": spec.seed,
        "disable_tqdm": not spec.tqdm,
        "dataloader_num_workers": 0,
    }
    if spec.eval_every:
        common["eval_steps"] = spec.eval_every
    if spec.epochs:
        common["num_train_epochs"] = spec.epochs
    else:
        common["max_steps"] = spec.max_steps
    kwargs: dict[str, Any] = {
        "model": model,
        "train_dataset": train_ds,
        "eval_dataset": eval_ds,
        "callbacks": [Hooks()],
    }
    if spec.trainer == "trl_sft":
        kwargs["args"] = SFTConfig(
            **common,
            max_length=64,
            bf16=False,
            activation_checkpointing=False,
            dataset_num_proc=None,
        )
        kwargs["processing_class"] = tok
    else:
        kwargs["args"] = transformers.TrainingArguments(**common)
        kwargs["data_collator"] = _collate(tok, spec.task)
    console = folder / "console.txt"
    sink = console if spec.console else scratch / "console.txt"
    with captured(sink):
        trainer = Faulty(**kwargs)
        trainer.train()
    if table is not None:
        table.close()
    trainer.state.save_to_json(str(folder / "trainer_state.json"))
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    files = {"hf_trainer_state": "trainer_state.json"}
    if spec.console:
        files["hf_console"] = "console.txt"
    if table is not None:
        files[spec.table] = table.path.name
    return files


def log_history(folder: Path) -> list[dict[str, Any]]:
    state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    hist: list[dict[str, Any]] = state["log_history"]
    return hist


def finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)
