"""``losslens train`` end to end: check inputs, load, train with TRL's SFTTrainer, save.

The order is chosen so that mistakes surface before anything slow: options and the data
file are checked first (no torch import), then the tokenizer and chat template (every chat
must render), then the model. Training uses the current API only: ``SFTConfig``,
``processing_class``, the conversational dataset as it is, ``logging_nan_inf_filter=False``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from losslens.analysis.advice import logged_records, logging_steps_for
from losslens.analysis.live import Alert, LiveEngine
from losslens.errors import ConfigError, GuardStop, MissingExtraError, TrainError
from losslens.model import RunStatus
from losslens.paths import resolve_store_path
from losslens.train import data as data_mod
from losslens.train.hub import check_model_source
from losslens.train.options import (
    CONFIG_FILENAME,
    TINY,
    TrainOptions,
    load_config_file,
    merge,
    resolve,
    save,
    target_modules,
)

BASE_DIRNAME = "base_model"

#: Third-party warnings raised inside transformers/TRL/PEFT internals (not by our calls).
_THIRD_PARTY_NOISE = (
    r".*is_gradient_checkpointing.*",
    r".*Paged optimizers are not supported on CPU.*",
)


@dataclass
class TrainResult:
    options: TrainOptions
    output_dir: Path
    store_path: Path
    run_id: str | None
    plan: dict[str, Any]
    n_train: int
    n_eval: int
    alerts: list[Alert] = field(default_factory=list)
    stopped: Alert | None = None
    early_stopped_at: int | None = None
    saved: dict[str, str] = field(default_factory=dict)
    is_main: bool = True
    seconds: float = 0.0


def quiet_third_party() -> None:
    """Silence import-time chatter and per-row progress bars of the libraries underneath."""
    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for pattern in _THIRD_PARTY_NOISE:
        warnings.filterwarnings("ignore", message=pattern)
    try:
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except ImportError:
        pass
    try:
        import transformers

        tf_logging: Any = transformers.logging
        tf_logging.set_verbosity_error()
        tf_logging.disable_progress_bar()
    except ImportError:
        pass


def _lib(name: str) -> Any:
    """A heavy library, typed loosely (its own annotations are incomplete)."""
    import importlib

    return importlib.import_module(name)


def _require_train_extra() -> None:
    from importlib.util import find_spec

    for pkg in ("torch", "transformers", "trl", "peft", "datasets"):
        if find_spec(pkg) is None:
            raise MissingExtraError(pkg, "train")


def _rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


@contextmanager
def _main_first(args: Any) -> Iterator[None]:
    """Rank 0 runs the block first, the others after it (a no-op in one process)."""
    with args.main_process_first(local=False, desc="prepare base model"):
        yield


def options_from(cli_values: Mapping[str, Any], config_path: str | None) -> TrainOptions:
    file_values = load_config_file(config_path) if config_path else {}
    return merge(file_values, cli_values)


def check_output_dir(path: str | None) -> None:
    """``--output_dir`` must be a folder or a path whose first existing parent is a folder."""
    if path is None:
        return
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise ConfigError(
            f"--output_dir {path}: this is a file, not a folder", "pass a folder path instead"
        )
    for parent in p.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"--output_dir {path}: {parent} is a file, not a folder",
                    "pass a folder path instead",
                )
            break


def prepare(
    cli_values: Mapping[str, Any],
    config_path: str | None,
    *,
    announce: Callable[[str], None] | None = None,
) -> tuple[TrainOptions, list[data_mod.Example], Any]:
    """Options, data, model source and hardware plan, checked and resolved; nothing is written.

    ``announce`` receives one-line notes (e.g. the model is used offline from the cache).
    """
    opts = options_from(cli_values, config_path)
    check_output_dir(opts.output_dir)
    examples = data_mod.load_examples(opts.data_path or "")
    if opts.model != TINY:
        note = check_model_source(opts.model)
        if note and announce is not None:
            announce(note)
    quiet_third_party()
    _require_train_extra()
    from losslens.train import modeling

    plan = modeling.plan_hardware(opts.quantization, opts.precision)
    o = resolve(
        opts, n_examples=len(examples), quantization=plan.quantization, precision=plan.precision
    )
    data_mod.split(examples, o.eval_ratio or 0.0, o.seed)  # raises if nothing is left to train
    if announce is not None and logged_records(o.max_steps, o.logging_steps) < 2:
        announce(
            f"--logging_steps {o.logging_steps} with {o.max_steps} steps records the first step "
            f"only; --logging_steps {logging_steps_for(o.max_steps)} shows the curve"
        )
    return o, examples, plan


def sft_config(o: TrainOptions, plan: Any, assistant_only: bool, has_eval: bool) -> Any:
    SFTConfig = _lib("trl").SFTConfig

    early = bool(o.early_stopping_patience) and has_eval
    report_to: list[str] | str = ["wandb"] if o.use_wandb else "none"
    # transformers renamed gradient_checkpointing to activation_checkpointing (5.2x); older
    # releases still in our supported range only know the old name.
    names = {f.name for f in dataclasses.fields(SFTConfig)}
    ckpt = "activation_checkpointing"
    if ckpt not in names:
        ckpt = "gradient_checkpointing"
    return SFTConfig(
        output_dir=o.output_dir,
        run_name=o.name,
        seed=o.seed,
        data_seed=o.seed,
        max_steps=o.max_steps,
        learning_rate=o.lr,
        lr_scheduler_type=o.lr_scheduler_type,
        warmup_steps=o.warmup_ratio,  # a float < 1 is a ratio of max_steps
        per_device_train_batch_size=o.per_device_train_batch_size,
        per_device_eval_batch_size=o.per_device_train_batch_size,
        gradient_accumulation_steps=o.gradient_accumulation_steps,
        max_grad_norm=o.max_grad_norm,
        logging_strategy="steps",
        logging_steps=o.logging_steps,
        logging_first_step=True,
        logging_nan_inf_filter=False,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=o.eval_steps if has_eval else None,
        save_strategy="steps" if early else "no",
        save_steps=(o.eval_steps or 500) if early else 500,
        save_total_limit=2 if early else None,
        load_best_model_at_end=early,
        metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        bf16=plan.bf16,
        fp16=plan.fp16,
        use_cpu=plan.device == "cpu",
        optim=plan.optim,
        **{ckpt: plan.device == "cuda"},
        max_length=o.cutoff_len,
        packing=False,
        assistant_only_loss=assistant_only,
        report_to=report_to,
        disable_tqdm=True,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
    )


def wandb_logged_in() -> bool:
    """Whether W&B has credentials: ``WANDB_API_KEY`` or a netrc entry for its host."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    import netrc
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname or ""
    candidates = [os.environ.get("NETRC", ""), "~/.netrc", "~/_netrc"]
    for name in filter(None, candidates):
        path = Path(name).expanduser()
        if not path.is_file():
            continue
        try:
            if netrc.netrc(str(path)).authenticators(host):
                return True
        except (netrc.NetrcParseError, OSError):
            continue
    return False


def _setup_wandb(o: TrainOptions, announce: Callable[[str], None]) -> None:
    if not o.use_wandb:
        return
    try:
        import wandb  # noqa: F401
    except ImportError:
        raise MissingExtraError("wandb", "wandb") from None
    if not os.environ.get("WANDB_MODE") and not wandb_logged_in():
        # W&B's own habit without credentials: record offline, sync later.
        os.environ["WANDB_MODE"] = "offline"
        announce(
            f"W&B is not logged in: logging offline to {o.output_dir}/wandb "
            "(upload later with 'wandb sync', or run 'wandb login' first)"
        )
    os.environ.setdefault("WANDB_DIR", str(o.output_dir))
    if o.wandb_project:
        os.environ["WANDB_PROJECT"] = o.wandb_project
    if o.wandb_entity:
        os.environ["WANDB_ENTITY"] = o.wandb_entity


def train(
    cli_values: Mapping[str, Any],
    *,
    config_path: str | None = None,
    console: Console | None = None,
    store: str | None = None,
    server: str | None = None,
    token: str | None = None,
) -> TrainResult:
    """Run one fine-tune. Raises ``ConfigError`` for bad input, ``TrainError`` on failure.

    ``server``/``token`` send the run to a ``losslens server`` as it is recorded (default:
    ``$LOSSLENS_SERVER``/``$LOSSLENS_TOKEN``).

    A guard stop does not raise here: ``result.stopped`` says why, after the run is recorded
    and the state saved, so the caller can print the summary first.
    """
    started = time.monotonic()
    console = console or Console(stderr=False)

    def announce(message: str) -> None:
        if _rank() == 0:
            console.print(f"[dim]note: {escape(message)}[/]", highlight=False, soft_wrap=True)

    o, examples, plan = prepare(cli_values, config_path, announce=announce)
    from losslens.train import chat, modeling, tiny

    train_ex, eval_ex = data_mod.split(examples, o.eval_ratio or 0.0, o.seed)
    out = Path(o.output_dir or ".")
    main = _rank() == 0
    if main:
        console.print(
            f"[bold]losslens train[/] {o.name}  [dim]({plan.reason})[/]",
            highlight=False,
            soft_wrap=True,
        )

    # Tokenizer and template first: every chat must render before anything is written.
    is_tiny = o.model == TINY
    if is_tiny:
        tokenizer = tiny.build_tokenizer(data_mod.corpus_texts(examples))
    else:
        tokenizer = modeling.load_tokenizer(o.model)
    choice = chat.choose_template(tokenizer, o.assistant_only_loss)
    tokenizer.chat_template = choice.template
    data_mod.check_rendering(
        examples,
        lambda messages: tokenizer.apply_chat_template(messages, tokenize=False),
        o.data_path or "",
    )
    if main:
        out.mkdir(parents=True, exist_ok=True)
        console.print(f"[dim]chat template: {choice.note}[/]", highlight=False, soft_wrap=True)
    _setup_wandb(o, announce)
    # The SFTConfig is built before the model: it sets up the (possibly distributed) state.
    args = sft_config(o, plan, assistant_only=choice.assistant_only_loss, has_eval=bool(eval_ex))
    model_path = o.model
    if is_tiny:
        model_path = str(out / BASE_DIRNAME)
        with _main_first(args):
            if main:
                tiny.save_base(tokenizer, o.seed, Path(model_path))
    model = modeling.load_model(model_path, plan)
    if modeling.avoid_triton_on_old_gpus(plan) and main:
        console.print(
            "[dim]GPU older than sm_70: TRL's Triton loss kernels are off (plain torch)[/]",
            highlight=False,
            soft_wrap=True,
        )

    from datasets import Dataset
    from peft import LoraConfig

    SFTTrainer = _lib("trl").SFTTrainer

    from losslens.integrations.hf import LosslensCallback

    train_ds = Dataset.from_list([{"messages": e.messages} for e in train_ex])
    eval_ds = Dataset.from_list([{"messages": e.messages} for e in eval_ex]) if eval_ex else None
    lora = LoraConfig(
        r=o.lora_r,
        lora_alpha=o.lora_alpha,
        lora_dropout=o.lora_dropout,
        target_modules=target_modules(o),
        bias="none",
        task_type="CAUSAL_LM",
    )
    run_config: dict[str, Any] = {
        "model": o.model,
        "losslens_train": o.to_dict(),
        "precision": plan.precision,
        "precision_reason": plan.reason,
        "quantization": plan.quantization,
        "hardware": plan.to_dict(),
        "chat_template": choice.source,
        "assistant_only_loss": choice.assistant_only_loss,
        "versions": modeling.versions(),
        "data_path": o.data_path,
        "examples": len(examples),
        "train_examples": len(train_ex),
        "eval_examples": len(eval_ex),
    }
    recorder = LosslensCallback(
        project=o.project, name=o.name, config=run_config, dir=store, server=server, token=token
    )
    guard, live = live_callbacks(o, console, has_eval=bool(eval_ex))
    callbacks: list[Any] = [recorder, guard, live]

    try:
        trainer: Any = SFTTrainer(
            model=model,
            args=args,
            train_dataset=train_ds,
            eval_dataset=eval_ds,
            processing_class=tokenizer,
            peft_config=lora,
            callbacks=callbacks,
        )
    except (ValueError, RuntimeError) as exc:
        raise TrainError(f"cannot set up training: {str(exc).splitlines()[0][:300]}") from None
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if plan.quantization == "4bit" and not plan.bf16:
        modeling.cast_trainable_to_fp32(trainer.model)
    recorder.extra_config["quantized_linear_layers"] = sum(
        1
        for m in trainer.model.modules()
        if type(m).__name__ == "Linear4bit" and type(m).__module__.startswith("bitsandbytes")
    )
    recorder.extra_config["train_rows_after_prep"] = len(trainer.train_dataset)
    if trainer.eval_dataset is not None:
        recorder.extra_config["eval_rows_after_prep"] = len(trainer.eval_dataset)
    targets = getattr(next(iter(trainer.model.peft_config.values())), "target_modules", None)
    recorder.extra_config["lora_target_modules_resolved"] = sorted(
        {str(m).rsplit(".", 1)[-1] for m in (targets or [])}
    )

    try:
        trainer.train()
    except KeyboardInterrupt:
        live.close()
        recorder.finish(130, status=RunStatus.KILLED)
        raise
    except Exception as exc:
        live.close()
        message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else repr(exc)
        recorder.finish(1, status=RunStatus.FAILED, error=message)
        if type(exc).__name__ == "OutOfMemoryError":
            raise TrainError(
                f"out of GPU memory: {message}",
                "lower --cutoff_len or --per_device_train_batch_size",
            ) from None
        raise
    live.close()

    result = TrainResult(
        options=o,
        output_dir=out,
        store_path=resolve_store_path(store or os.environ.get("LOSSLENS_STORE")),
        run_id=recorder.run.id if recorder.run is not None else None,
        plan=plan.to_dict(),
        n_train=len(train_ex),
        n_eval=len(eval_ex),
        alerts=list(live.alerts),
        stopped=guard.trip,
        early_stopped_at=guard.early_stopped_at,
        is_main=main,
    )
    trainer.save_state()
    if result.stopped is None:
        trainer.save_model(str(out))
        result.saved["adapter"] = str(out)
    if main:
        tokenizer.save_pretrained(str(out))
        save(o, out / CONFIG_FILENAME)
        result.saved["config"] = str(out / CONFIG_FILENAME)
        result.saved["trainer_state"] = str(out / "trainer_state.json")
        if o.model == TINY:
            result.saved["base_model"] = str(out / BASE_DIRNAME)
    result.seconds = time.monotonic() - started
    return result


def live_callbacks(o: TrainOptions, console: Console, *, has_eval: bool) -> tuple[Any, Any]:
    """The guard and the terminal view around one live engine: each record is checked once.

    The guard callback feeds the engine (and stops the run only with ``--guard`` or
    ``--early_stopping_patience``); the terminal view just shows the engine's alerts.
    """
    from losslens.integrations.hf import GuardCallback
    from losslens.train.progress import LiveProgress

    live = LiveProgress(console)
    patience = o.early_stopping_patience if has_eval else 0
    engine = LiveEngine(early_stopping_patience=patience, on_alert=live.show)
    guard = GuardCallback(
        stop_on_failure=o.guard,
        early_stopping_patience=patience,
        raise_on_stop=False,
        engine=engine,
    )
    return guard, live


def raise_if_stopped(result: TrainResult) -> None:
    if result.stopped is not None:
        raise GuardStop(f"guard stopped the run: {result.stopped.message}", result.stopped.hint)
