"""Make the labelled fault runs in tests/data/faults/ from tiny REAL trainings on CPU.

    .venv/bin/python bench/make_fault_runs.py            # all runs (about a minute on 2 cores)
    .venv/bin/python bench/make_fault_runs.py lr_too_high
    .venv/bin/python bench/make_fault_runs.py generate   # the grid of corpus/generated/

``generate`` trains the larger grid of ``bench/faultgen`` (TRL SFTTrainer and the plain
Trainer, several tasks, model sizes, optimizers, schedulers, eval cadences and faults) into
``corpus/generated/``; see ``corpus/generated/README.md``.

Each run trains a tiny randomly initialised Qwen2 (hidden 64, 2 layers) with the plain
``transformers.Trainer`` on synthetic sentences from a small grammar, with one fault caused
on purpose, and writes ``<name>/trainer_state.json`` (the Trainer's own state, as saved in a
checkpoint) and ``<name>/labels.json``: the corpus label format plus the ``config`` the run
was trained with (what ``losslens train`` would record). Labels were written from the
intended fault and checked against the numbers each run produced (see "notes").
"""

from __future__ import annotations

import json
import math
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# bench/ holds a logging.py benchmark that would shadow the standard library module
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "tests" / "data" / "faults"

from bench.faultgen.data import ENDINGS, OBJECTS, SUBJECTS, VERBS  # noqa: E402

SEQ = 24


@dataclass
class Fault:
    name: str
    labels: dict[str, Any]
    lr: float = 1e-3
    steps: int = 120
    examples: int = 400
    eval_examples: int = 0
    batch: int = 8
    logging_steps: int = 5
    eval_steps: int = 20
    warmup_steps: int = 10
    scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    optim: str = "adamw_torch"
    corrupt_steps: tuple[int, ...] = ()
    nan_at_step: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words: list[str] = []
        while len(words) < SEQ + 1:
            parts = (SUBJECTS, VERBS, OBJECTS, ENDINGS)
            words += [*" ".join(rng.choice(p) for p in parts).split(), "."]
        out.append(" ".join(words[: SEQ + 1]))
    return out


def build(fault: Fault) -> dict[str, Any]:
    import torch
    from transformers import (
        Qwen2Config,
        Qwen2ForCausalLM,
        Trainer,
        TrainerCallback,
        TrainingArguments,
    )

    torch.manual_seed(0)
    vocab: dict[str, int] = {"<pad>": 0}
    for part in SUBJECTS + VERBS + OBJECTS + ENDINGS + ["."]:
        for w in part.split():
            vocab.setdefault(w, len(vocab))
    train_text = sentences(fault.examples, seed=1)
    eval_text = sentences(fault.eval_examples, seed=2) if fault.eval_examples else []

    class Data(torch.utils.data.Dataset[dict[str, Any]]):
        def __init__(self, texts: list[str]) -> None:
            self.ids = [torch.tensor([vocab[w] for w in t.split()][:SEQ]) for t in texts]

        def __len__(self) -> int:
            return len(self.ids)

        def __getitem__(self, i: int) -> dict[str, Any]:
            return {"input_ids": self.ids[i], "labels": self.ids[i].clone()}

    cfg = Qwen2Config(
        vocab_size=len(vocab) + 8,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    model = Qwen2ForCausalLM(cfg)
    rng = torch.Generator().manual_seed(123)

    class Faulty(Trainer):
        def compute_loss(self, model: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            if self.state.global_step + 1 in fault.corrupt_steps:  # a garbage batch
                junk = torch.randint(1, cfg.vocab_size, inputs["input_ids"].shape, generator=rng)
                inputs = {"input_ids": junk, "labels": junk.clone()}
            return super().compute_loss(model, inputs, *args, **kwargs)

    class Poison(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if fault.nan_at_step is not None and state.global_step == fault.nan_at_step:
                with torch.no_grad():  # an overflow that reaches the weights
                    for p in kw["model"].parameters():
                        p.fill_(float("nan"))

    args = TrainingArguments(
        output_dir=str(OUT / ".tmp" / fault.name),
        max_steps=fault.steps,
        per_device_train_batch_size=fault.batch,
        per_device_eval_batch_size=32,
        learning_rate=fault.lr,
        lr_scheduler_type=fault.scheduler,
        warmup_steps=fault.warmup_steps,
        max_grad_norm=fault.max_grad_norm,
        optim=fault.optim,
        logging_steps=fault.logging_steps,
        eval_strategy="steps" if eval_text else "no",
        eval_steps=fault.eval_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        seed=0,
        data_seed=0,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = Faulty(
        model=model,
        args=args,
        train_dataset=Data(train_text),
        eval_dataset=Data(eval_text) if eval_text else None,
        callbacks=[Poison()],
    )
    trainer.train()
    folder = OUT / fault.name
    folder.mkdir(parents=True, exist_ok=True)
    trainer.state.save_to_json(str(folder / "trainer_state.json"))
    config = {
        "model": "tiny random Qwen2 (hidden 64, 2 layers), trained from scratch",
        "from_scratch": True,
        "train_examples": fault.examples,
        "per_device_train_batch_size": fault.batch,
        "gradient_accumulation_steps": 1,
        "learning_rate": fault.lr,
        "lr_scheduler_type": fault.scheduler,
        "warmup_steps": fault.warmup_steps,
        "max_steps": fault.steps,
        "max_grad_norm": fault.max_grad_norm,
        "optim": fault.optim,
        "logging_steps": fault.logging_steps,
        **({"eval_examples": fault.eval_examples} if fault.eval_examples else {}),
        **fault.extra,
    }
    doc = {"labels": fault.labels, "config": config}
    (folder / "labels.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return doc


def _lab(
    verdict: str, *findings: tuple[str, str, int | None, str], notes: str = ""
) -> dict[str, Any]:
    return {
        "verdict": verdict,
        "findings": [
            {"kind": k, "severity": s, "onset_step": o, "evidence": e} for k, s, o, e in findings
        ],
        "notes": notes,
    }


FAULTS: list[Fault] = [
    Fault(
        "healthy",
        _lab(
            "healthy",
            notes="400 examples, 120 steps x batch 8 = 2.4 epochs, LR 1e-3 cosine, "
            "eval every 20 steps.",
        ),
        eval_examples=64,
    ),
    Fault(
        "lr_too_high",
        _lab(
            "problematic",
            (
                "lr_too_high",
                "error",
                None,
                "warmup to LR 0.3, 300x the 1e-3 this model trains well at",
            ),
            (
                "divergence",
                "info",
                None,
                "2.63@35 -> ~3.0-3.1 once the LR is at 0.3 (+15%, stays up)",
            ),
            ("warmup_issue", "info", None, "warmup 40 of 120 steps (33%)"),
        ),
        lr=0.3,
        scheduler="constant_with_warmup",
        warmup_steps=40,
    ),
    Fault(
        "lr_too_low",
        _lab(
            "problematic",
            ("lr_too_low", "warning", None, "LR 1e-7: loss stays at its initial value"),
            ("loss_not_decreasing", "info", None, "the symptom of the low LR"),
        ),
        lr=1e-7,
    ),
    Fault(
        "corrupted_batches",
        _lab(
            "problematic",
            (
                "loss_spike",
                "warning",
                60,
                "random-token batches at steps 60, 61 and 110 spike the loss",
            ),
            ("grad_spike", "info", 60, "gradient norm jumps with the corrupted batches"),
        ),
        logging_steps=1,
        corrupt_steps=(60, 61, 110),
    ),
    Fault(
        "too_many_epochs",
        _lab(
            "problematic",
            ("memorization", "error", None, "16 examples: train loss falls to ~0"),
            ("too_many_epochs", "error", None, "300 steps x batch 8 / 16 examples = 150 epochs"),
            ("other", "warning", None, "no eval set"),
        ),
        examples=16,
        steps=300,
        lr=3e-3,
        scheduler="constant",
    ),
    Fault(
        "overfit_with_eval",
        _lab(
            "problematic",
            ("overfitting", "error", None, "eval loss rises from its best while train loss falls"),
            ("eval_gap", "warning", None, "eval loss far above train loss"),
            ("memorization", "warning", None, "train loss 0.32 vs eval 1.85 after 80 epochs"),
            ("too_many_epochs", "error", None, "240 steps x 8 / 24 examples = 80 epochs"),
        ),
        examples=24,
        eval_examples=64,
        steps=240,
    ),
    Fault(
        "warmup_longer_than_run",
        _lab(
            "problematic",
            (
                "warmup_issue",
                "warning",
                None,
                "warmup_steps 1000 > max_steps 120: LR still rising at the end",
            ),
            ("loss_not_decreasing", "info", None, "LR stays tiny, learning is slow"),
            ("lr_too_low", "info", None, "effective LR far below the configured 1e-3"),
            ("loss_plateau", "info", None, ""),
        ),
        warmup_steps=1000,
    ),
    Fault(
        "clipping_far_below",
        _lab(
            "problematic",
            (
                "clipping_saturated",
                "warning",
                None,
                "max_grad_norm 0.01 while grad_norm is ~1: every step clipped",
            ),
            ("loss_not_decreasing", "info", None, "SGD with clipped steps learns slowly"),
            ("loss_plateau", "info", None, ""),
            ("lr_too_low", "info", None, ""),
        ),
        optim="sgd",
        lr=0.1,
        max_grad_norm=0.01,
    ),
    Fault(
        "nan_hidden",
        _lab(
            "problematic",
            (
                "nan_or_inf",
                "error",
                45,
                "weights become NaN after step 40: the Trainer logs loss 0.0 with grad_norm NaN",
            ),
        ),
        nan_at_step=40,
    ),
]


def main(argv: list[str]) -> int:
    if argv[:1] == ["generate"]:
        from bench.faultgen.generate import main as generate

        return generate(argv[1:])
    labels_only = "--labels-only" in argv  # rewrite labels.json, keep the trained states
    names = [a for a in argv if not a.startswith("--")]
    chosen = [f for f in FAULTS if not names or f.name in names]
    for f in chosen:
        if labels_only:
            path = OUT / f.name / "labels.json"
            doc = json.loads(path.read_text(encoding="utf-8"))
            doc["labels"] = f.labels
            path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            continue
        build(f)
        state = json.loads((OUT / f.name / "trainer_state.json").read_text())
        losses = [h["loss"] for h in state["log_history"] if "loss" in h]
        evals = [h["eval_loss"] for h in state["log_history"] if "eval_loss" in h]
        first, last = (losses[0], losses[-1]) if losses else (math.nan, math.nan)
        print(
            f"{f.name:24} loss {first:.3f} -> {last:.3f}"
            + (f"  eval {evals[0]:.3f} -> {evals[-1]:.3f} (min {min(evals):.3f})" if evals else "")
        )
    tmp = OUT / ".tmp"
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
