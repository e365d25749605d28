"""Hugging Face ``Trainer`` integration: record every log to losslens, and an optional guard.

::

    from losslens.integrations.hf import GuardCallback, LosslensCallback

    trainer = SFTTrainer(..., callbacks=[LosslensCallback(project="qwen"), GuardCallback()])

``LosslensCallback`` writes through the public logging API (:class:`losslens.Run`):
each ``on_log`` record under canonical names (``loss`` -> ``train/loss``, ``eval_loss`` ->
``eval/loss``) at ``state.global_step``; the end-of-run record (``train_runtime``,
``train_loss``, ...) goes to ``run.summary``, never into a series. Only the main process
writes when training is distributed. If training raises, the run is marked failed.

``GuardCallback`` stops training on NaN/Inf, clear divergence or dead gradients, and, with
``early_stopping_patience``, when eval loss has risen above its best for N evaluations. A guard stop
raises :class:`losslens.errors.GuardStop` from ``trainer.train()``. Put it after
``LosslensCallback`` so the record that tripped it is recorded first.
"""

from __future__ import annotations

import atexit
import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from losslens.analysis.live import Alert, LiveEngine
from losslens.errors import GuardStop, MissingExtraError
from losslens.keys import SUMMARY_ONLY, is_eval_key, is_run_summary, normalize_key
from losslens.model import RunStatus, as_float
from losslens.tracking.run import Run

try:
    from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("transformers", "train") from exc

#: Attributes the guard sets on the shared ``TrainerState`` so every callback can see them.
GUARD_STOP_ATTR = "losslens_guard_stop"
EARLY_STOP_ATTR = "losslens_early_stop"


def _json_safe(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(dict(data), default=str))
    return out


def _args_dict(args: Any) -> dict[str, Any]:
    out: dict[str, Any] = args.to_dict()
    return out


def _dataset_len(loader: Any) -> int | None:
    ds = getattr(loader, "dataset", None)
    try:
        return len(ds) if ds is not None else None
    except TypeError:
        return None


def _model_name(model: Any) -> str | None:
    for obj in (model, getattr(model, "config", None)):
        name = getattr(obj, "name_or_path", None) or getattr(obj, "_name_or_path", None)
        if isinstance(name, str) and name:
            return name
    return None


def _head(model: Any) -> dict[str, Any]:
    """The model class under any PEFT wrapper and, for a classification head, its number of
    labels: what the analysis reads the task and the chance level ``ln k`` from (every
    config has a ``num_labels``, so it is recorded only where a head uses it)."""
    base = getattr(model, "get_base_model", None)
    inner = base() if callable(base) else model
    if inner is None:
        return {}
    arch = type(inner).__name__
    out: dict[str, Any] = {"architecture": arch}
    labels = getattr(getattr(inner, "config", None), "num_labels", None)
    if "Classification" in arch and isinstance(labels, int) and labels > 1:
        out["num_labels"] = labels
    return out


def _peft_config(model: Any) -> dict[str, Any] | None:
    configs = getattr(model, "peft_config", None)
    if not isinstance(configs, dict) or not configs:
        return None
    cfg = next(iter(configs.values()))
    out: dict[str, Any] = {"type": str(getattr(cfg, "peft_type", "") or "")}
    for key in (
        "task_type",
        "r",
        "lora_alpha",
        "lora_dropout",
        "target_modules",
        "bias",
        "use_rslora",
    ):
        value = getattr(cfg, key, None)
        if isinstance(value, set | frozenset):
            value = sorted(value)
        if value is not None:
            out[key] = value
    return _json_safe(out)


class LosslensCallback(TrainerCallback):
    """Records a Trainer run into the losslens store (main process only).

    ``project``, ``name`` and ``dir`` are those of :func:`losslens.init`; ``config`` is merged
    over what the callback records itself (training arguments, model, dataset sizes,
    effective batch size, world size). ``run`` may be an already started run to write to.
    ``server`` and ``token`` send the run to a ``losslens server`` as it is recorded, as
    ``losslens.init(server=..., token=...)`` does (default: ``$LOSSLENS_SERVER`` and
    ``$LOSSLENS_TOKEN``; docs/team.md).
    """

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        dir: str | None = None,
        *,
        run: Run | None = None,
        system_metrics: bool | None = None,
        server: str | None = None,
        token: str | None = None,
    ) -> None:
        self.project = project
        self.server = server
        self.token = token
        self.name = name
        self.extra_config = dict(config or {})
        self.dir = dir
        self.run: Run | None = run
        self.system_metrics = system_metrics
        self.done = False
        self._sizes_recorded = False

    # -- lifecycle ----------------------------------------------------------------------------

    def _base_config(
        self, args: TrainingArguments, state: TrainerState, model: Any
    ) -> dict[str, Any]:
        world = int(getattr(args, "world_size", 1) or 1)
        per_device = int(args.per_device_train_batch_size)
        accum = int(args.gradient_accumulation_steps)
        cfg: dict[str, Any] = {
            "model": _model_name(model),
            "learning_rate": args.learning_rate,
            "max_steps": state.max_steps,
            "num_train_epochs": args.num_train_epochs,
            "per_device_train_batch_size": per_device,
            "gradient_accumulation_steps": accum,
            "world_size": world,
            "effective_batch_size": per_device * accum * world,
            "lr_scheduler_type": str(
                getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)
            ),
            "warmup_steps": args.warmup_steps,
            "logging_steps": state.logging_steps,
            "eval_steps": state.eval_steps,
            "seed": args.seed,
            "training_args": _json_safe(_args_dict(args)),
        }
        cfg.update(_head(model))
        peft = _peft_config(model)
        if peft is not None:
            cfg["peft"] = peft
        vocab = getattr(getattr(model, "config", None), "vocab_size", None)
        if isinstance(vocab, int) and vocab > 1:
            cfg["vocab_size"] = vocab  # the loss of random guessing is ln(vocab_size)
        return cfg

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        train_dataloader: Any = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or self.done:
            return
        config = self._base_config(args, state, model)
        n_train = _dataset_len(train_dataloader)
        if n_train is not None:
            config["train_dataset_size"] = n_train
            self._sizes_recorded = True
        config.update(self.extra_config)
        if self.run is None:
            name = self.name
            if name is None and args.run_name and args.run_name != args.output_dir:
                name = args.run_name
            self.run = Run(
                project=self.project,
                name=name,
                config=config,
                dir=self.dir,
                output_dir=str(args.output_dir) if args.output_dir else None,
                system_metrics=self.system_metrics,
                server=self.server,
                token=self.token,
            )
        else:
            self.run.config.setdefaults(config)
        self._mark_output_dir(args)
        atexit.register(self._at_exit)

    def _mark_output_dir(self, args: TrainingArguments) -> None:
        """Leave the run id in OUTPUT_DIR so that ``losslens import`` recognises the run."""
        if self.run is None or not args.output_dir:
            return
        from losslens.marker import source_id_for, write_marker
        from losslens.store import Store

        try:
            write_marker(args.output_dir, self.run.id, str(self.run.store_path))
            with Store(self.run.store_path) as store:
                store.set_source_id(self.run.id, source_id_for(self.run.id))
        except OSError:
            pass  # an unwritable output dir only loses the shortcut, never the run

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: Mapping[str, Any] | None = None,
        eval_dataloader: Any = None,
        **kwargs: Any,
    ) -> None:
        run = self.run
        if run is None or self.done or not state.is_world_process_zero or not logs:
            return
        is_final = is_run_summary(logs)
        is_eval = any(normalize_key(k).startswith(("eval/", "test/")) for k in logs)
        points: dict[str, float] = {}
        for key, value in logs.items():
            number = as_float(value)
            if number is None:
                continue
            if is_final:
                if key != "epoch":
                    run.summary[key] = number
                continue
            if key in SUMMARY_ONLY:
                continue  # a running train_runtime & co. on a train log: counters, not series
            canonical = normalize_key(key)
            if is_eval and not is_eval_key(canonical):
                continue  # epoch & co. repeat the train record of the same step
            points[canonical] = number
        if points:
            run.log(points, step=state.global_step)
        if is_eval and "eval_dataset_size" not in run.config:
            n_eval = _dataset_len(eval_dataloader)
            if n_eval is not None:
                run.config["eval_dataset_size"] = n_eval

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.run is None or self.done or not state.is_world_process_zero:
            return
        summary = self.run.summary
        summary["global_step"] = state.global_step
        if state.best_metric is not None and math.isfinite(state.best_metric):
            summary["best_metric"] = state.best_metric
        if state.best_model_checkpoint:
            summary["best_model_checkpoint"] = state.best_model_checkpoint
        early = getattr(state, EARLY_STOP_ATTR, None)
        if early is not None:
            summary["early_stopped_at_step"] = early
        trip: Alert | None = getattr(state, GUARD_STOP_ATTR, None)
        if trip is not None:
            self.finish(GuardStop.exit_code, status=RunStatus.FAILED, guard=trip)
        else:
            self.finish(0)

    def finish(
        self,
        exit_code: int = 0,
        *,
        status: RunStatus | None = None,
        guard: Alert | None = None,
        error: str | None = None,
    ) -> None:
        """Mark the run done (``exit_code`` != 0: failed). Safe to call more than once."""
        if self.run is None or self.done:
            return
        self.done = True
        if guard is not None:
            self.run.summary["guard_stop"] = guard.message
            self.run.summary["guard_stop_kind"] = guard.kind
            self.run.summary["guard_stop_step"] = guard.step
        if error:
            self.run.summary["error"] = error[:500]
        try:
            atexit.unregister(self._at_exit)
        finally:
            self.run.finish(exit_code, status=status)

    def _at_exit(self) -> None:
        # train() raised (no on_train_end) and nobody finished the run: it failed.
        self.finish(1, status=RunStatus.FAILED, error="training did not reach its end")


class GuardCallback(TrainerCallback):
    """Stops training on NaN/Inf, divergence, dead gradients, or stalled eval loss.

    ``stop_on_failure`` (default True) stops on the fatal checks and then raises
    :class:`GuardStop` from ``trainer.train()`` (``raise_on_stop``). With
    ``early_stopping_patience`` N > 0, training stops normally when eval loss has risen above
    its best for N evaluations; keep the best weights with ``load_best_model_at_end=True``.
    ``on_alert`` is called with every alert, fatal or not. The checks are those of the live
    engine (:class:`losslens.analysis.live.LiveEngine`); pass ``engine`` to share one.
    """

    def __init__(
        self,
        *,
        stop_on_failure: bool = True,
        early_stopping_patience: int = 0,
        raise_on_stop: bool = True,
        on_alert: Callable[[Alert], None] | None = None,
        engine: LiveEngine | None = None,
    ) -> None:
        self.engine = engine or LiveEngine(early_stopping_patience=early_stopping_patience)
        if engine is not None and early_stopping_patience:
            engine.checks.early_stopping_patience = early_stopping_patience
        self.stop_on_failure = stop_on_failure
        self.raise_on_stop = raise_on_stop
        self.on_alert = on_alert
        self.trip: Alert | None = None
        self.early_stopped_at: int | None = None
        self.alerts: list[Alert] = []

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not logs or is_run_summary(logs):
            return
        step = state.global_step
        for alert in self.engine.feed(step, logs):
            self.alerts.append(alert)
            if self.on_alert is not None:
                self.on_alert(alert)
            if alert.fatal and self.stop_on_failure and self.trip is None:
                self.trip = alert
                setattr(state, GUARD_STOP_ATTR, alert)
                control.should_training_stop = True
        if self.trip is None and self.engine.should_early_stop and self.early_stopped_at is None:
            self.early_stopped_at = step
            setattr(state, EARLY_STOP_ATTR, step)
            control.should_training_stop = True

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.trip is not None and self.raise_on_stop:
            raise GuardStop(f"guard stopped the run: {self.trip.message}", self.trip.hint or None)
