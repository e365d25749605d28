"""What recording costs a training loop: the same tiny fine-tune with and without trackers.

Variants, interleaved (none, losslens, tensorboard, wandb, none, losslens, ...) so that
machine noise hits every variant alike:

* ``none``: TRL ``SFTTrainer`` with no tracking callback at all (the baseline);
* ``losslens``: plus :class:`losslens.integrations.hf.LosslensCallback` (system metrics on);
* ``tensorboard``: ``report_to="tensorboard"`` (transformers' own callback);
* ``wandb``: ``report_to="wandb"`` in offline mode.

Every step logs (``logging_steps=1``, the worst case). A step's time is the wall time
between two consecutive ``on_step_begin`` events, so it includes the logging that happens
after the optimizer step. One untimed run goes first, and the first steps of each run are
dropped (warm-up). Reported:
median and p90 step time per variant, and the median's overhead over ``none``; for
losslens also the time spent inside its ``on_log`` per call, which is the direct cost.

The training is the demo's (tiny model, 23 chats, batch 1 x accumulation 8, 256 tokens,
LoRA r=8 on all linear layers). Its steps are short (about 0.1 s on 2 CPU cores), so these
percentages are an upper bound:
on a GPU fine-tune of a real model a step takes 0.3-5 s while the callback cost stays the
same.

Run: ``.venv/bin/python bench/train_overhead.py`` (options: ``--steps 30 --repeats 5
--tools none,losslens,tensorboard,wandb --markdown FILE``).
"""

from __future__ import annotations

import sys

# bench/ holds a logging.py: keep this folder off sys.path so ``import logging`` stays stdlib.
if sys.path and sys.path[0] and __file__.startswith(sys.path[0]):
    del sys.path[0]

import argparse
import copy
import itertools
import os
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "mini_instruct.jsonl"
TOOLS = ("none", "losslens", "tensorboard", "wandb")
WARMUP_STEPS = 3


def _setup_env(tmp: Path) -> None:
    os.environ.update(
        HF_HUB_OFFLINE="1",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_DIR=str(tmp / "wandb"),
        TENSORBOARD_LOGGING_DIR=str(tmp / "tb"),
        LOSSLENS_HOME=str(tmp / "losslens"),
        TOKENIZERS_PARALLELISM="false",
    )
    (tmp / "wandb").mkdir(parents=True, exist_ok=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps per run")
    ap.add_argument("--repeats", type=int, default=5, help="runs per variant (interleaved)")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--markdown", type=Path, default=None, help="also write a Markdown table")
    opts = ap.parse_args()
    tools = [t for t in opts.tools.split(",") if t]
    tmp = Path(tempfile.mkdtemp(prefix="ll-train-bench-"))
    _setup_env(tmp)
    warnings.filterwarnings("ignore")

    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback, ProgressCallback
    from trl import SFTConfig, SFTTrainer

    from losslens.integrations.hf import LosslensCallback
    from losslens.train.data import corpus_texts, load_examples
    from losslens.train.runner import quiet_third_party
    from losslens.train.tiny import build_model, build_tokenizer

    quiet_third_party()
    examples = load_examples(DATA)
    tokenizer = build_tokenizer(corpus_texts(examples))
    base = build_model(tokenizer, seed=0)
    dataset = Dataset.from_list([{"messages": e.messages} for e in examples])

    class StepClock(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.begins: list[float] = []

        def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
            self.begins.append(time.perf_counter())

        def on_train_end(self, *args: Any, **kwargs: Any) -> None:
            self.begins.append(time.perf_counter())

        def step_times(self) -> list[float]:
            t = self.begins
            return [b - a for a, b in itertools.pairwise(t)][WARMUP_STEPS:]

    class TimedLosslens(LosslensCallback):
        def __init__(self) -> None:
            super().__init__(project="bench")
            self.calls: list[float] = []

        def on_log(self, *args: Any, **kwargs: Any) -> None:
            t0 = time.perf_counter()
            super().on_log(*args, **kwargs)
            self.calls.append(time.perf_counter() - t0)

    def one_run(tool: str, index: int) -> tuple[list[float], list[float]]:
        clock = StepClock()
        callbacks: list[Any] = [clock]
        recorder: TimedLosslens | None = None
        if tool == "losslens":
            recorder = TimedLosslens()
            callbacks.insert(0, recorder)
        args = SFTConfig(
            output_dir=str(tmp / f"out-{tool}-{index}"),
            run_name=f"bench-{tool}-{index}",
            max_steps=opts.steps,
            learning_rate=2e-3,
            per_device_train_batch_size=1,
            gradient_accumulation_steps=8,
            max_length=256,
            logging_steps=1,
            logging_first_step=True,
            logging_nan_inf_filter=False,
            save_strategy="no",
            eval_strategy="no",
            report_to=[tool] if tool in ("tensorboard", "wandb") else "none",
            use_cpu=True,
            bf16=False,
            fp16=False,
            activation_checkpointing=False,
            disable_tqdm=True,
            seed=0,
            assistant_only_loss=True,
        )
        trainer = SFTTrainer(
            model=copy.deepcopy(base),
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=LoraConfig(r=8, lora_alpha=16, target_modules="all-linear"),
            callbacks=callbacks,
        )
        trainer.remove_callback(PrinterCallback)
        trainer.remove_callback(ProgressCallback)
        trainer.train()
        if tool == "wandb":
            import wandb

            wandb.finish()
        return clock.step_times(), (recorder.calls if recorder else [])

    one_run("none", -1)  # untimed: first-run allocations and lazy imports land here
    steps: dict[str, list[float]] = {t: [] for t in tools}
    on_log: list[float] = []
    for r in range(opts.repeats):
        for tool in tools:
            times, calls = one_run(tool, r)
            steps[tool] += times
            on_log += calls
            print(
                f"  run {r + 1}/{opts.repeats} {tool:<12} median step "
                f"{statistics.median(times) * 1e3:7.2f} ms",
                flush=True,
            )

    base_median = statistics.median(steps["none"]) if "none" in steps else None
    rows = []
    for tool in tools:
        xs = sorted(steps[tool])
        med = statistics.median(xs)
        p90 = xs[int(0.9 * (len(xs) - 1))]
        over = (
            "-"
            if base_median is None or tool == "none"
            else f"{(med / base_median - 1) * 100:+.2f}%"
        )
        rows.append((tool, f"{med * 1e3:.2f}", f"{p90 * 1e3:.2f}", over, str(len(xs))))
    header = ("variant", "median step ms", "p90 step ms", "overhead vs none", "steps")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    direct = ""
    if on_log and base_median:
        per_call = statistics.median(on_log)
        direct = (
            f"losslens on_log: median {per_call * 1e6:.0f} µs per call "
            f"= {per_call / base_median * 100:.3f}% of a median step"
        )
        print(f"\n{direct}")
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {opts.repeats} runs x {opts.steps} steps per variant, "
        f"first {WARMUP_STEPS} steps of each run dropped"
    )
    if opts.markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        if direct:
            lines += ["", direct]
        opts.markdown.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
