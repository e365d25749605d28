"""One name per quantity, whatever tool wrote the log.

The canonical names follow the convention W&B, TensorBoard and trackio already use
for Hugging Face runs (``train/loss``, ``eval/loss``, ...). ``normalize_key`` maps the
raw ``log_history`` names (``loss``, ``eval_loss``), underscores (``train_loss``) and
known aliases onto them; the original name is always kept next to the series.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

LOSS = "train/loss"
EVAL_LOSS = "eval/loss"
LR = "train/learning_rate"
GRAD_NORM = "train/grad_norm"
EPOCH = "train/epoch"
GLOBAL_STEP = "train/global_step"
TOKENS = "train/num_tokens"
#: Losses named by their function (``mse``, ``val_bce``, ``Train MSE Loss``): a log's loss
#: where nothing names the loss itself.
LOSS_FUNCTIONS = frozenset({"mse", "mae", "rmse", "bce", "ce", "nll", "l1", "l2", "huber", "ctc"})

#: End-of-run records of the HF Trainer: summary values, never step series.
SUMMARY_ONLY = frozenset(
    {
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "total_flos",
        "train_loss",
    }
)


def is_run_summary(entry: Iterable[str]) -> bool:
    """Whether a Trainer log entry (its keys) is the end-of-training record (``train_loss``,
    ``train_runtime`` ...): one without a ``loss``. A train log that also carries a running
    ``train_runtime`` (some Trainers log throughput on every log) is still a log."""
    names = set(entry)
    return "loss" not in names and not SUMMARY_ONLY.isdisjoint(names)


#: TrainingArguments names the importers read as a run's config (from a console banner or a
#: report's nested object).
TRAINING_ARGS = (
    "logging_steps",
    "max_steps",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "learning_rate",
    "warmup_steps",
    "warmup_ratio",
    "eval_steps",
    "save_steps",
    "weight_decay",
    "max_grad_norm",
    "lr_scheduler_type",
    "seed",
)

_ALIASES = {
    "loss": LOSS,
    "train_loss": LOSS,
    "training_loss": LOSS,
    "training loss": LOSS,
    "train/train_loss": LOSS,
    "lr": LR,
    "learning_rate": LR,
    "train/lr": LR,
    "train_lr": LR,
    "grad_norm": GRAD_NORM,
    "gradient_norm": GRAD_NORM,
    "train/gradient_norm": GRAD_NORM,
    "epoch": EPOCH,
    "global_step": GLOBAL_STEP,
    "num_tokens": TOKENS,
    "num_input_tokens_seen": "train/num_input_tokens_seen",
    "eval_loss": EVAL_LOSS,
    "validation_loss": EVAL_LOSS,
    "validation loss": EVAL_LOSS,
    "val_loss": EVAL_LOSS,
    "val/loss": EVAL_LOSS,
    "valid/loss": EVAL_LOSS,
    "validation/loss": EVAL_LOSS,
}

_PREFIXES = (
    ("eval_", "eval/"),
    ("test_", "test/"),
    ("val_", "eval/"),
    ("valid_", "eval/"),
    ("dev_", "eval/"),
    ("train_", "train/"),
    ("training_", "train/"),
)
#: PyTorch Lightning logs a value asked for both per step and per epoch twice, as
#: ``<name>_step`` and ``<name>_epoch`` (the epoch mean). The per-step series is the quantity
#: itself; the epoch mean keeps its suffix (``train/loss_epoch``) and stands in for it when no
#: per-step series was logged (see :func:`resolve`), or, for analysis, when the per-step one
#: holds fewer points (``log_every_n_steps`` above an epoch's length; :func:`epoch_twin`).
STEP_SUFFIX, EPOCH_SUFFIX = "_step", "_epoch"
#: Plural names a script gives the lists of a history (``train_losses``, ``val_accs``).
_PLURALS_TO = {"losses": "loss", "accs": "acc", "accuracies": "accuracy"}
_PLURAL = re.compile(r"(?:^|[_\- ])(losses|accs|accuracies)$")
#: An average's qualifier before a split or the loss (``avg_val_loss``, ``mean_train_loss``,
#: ``avg_loss``): the per-epoch average is the quantity as logged.
_AVERAGED = re.compile(
    r"(?:avg|average|mean)[_\- ]"
    r"(?=(?:train|training|val|valid|validation|eval|test|dev)[_\- ]|loss$)"
)
#: A loss in total or on average (``total_loss``, ``loss_total``, ``loss_avg``), or named for
#: what it is (``nll``, the negative log-likelihood): the loss where no plain one is logged
#: (:func:`resolve`).
_TOTAL_LOSS = re.compile(r"total_loss|loss_total|loss_avg|loss_mean|nll")
#: Where a camel-case name starts a new word (``ValLoss``: before the ``L``).
CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


_SPACES = re.compile(r"\s+")


def normalize_key(key: str) -> str:
    """The canonical name of a metric key (``eval_loss`` -> ``eval/loss``); a camel-case key,
    or one of words apart by spaces (a table's header), is read as its snake-case form when
    that names a known quantity or split (``ValLoss`` and ``Val Loss`` -> ``eval/loss``,
    ``ValReconstructRate`` -> ``eval/reconstruct_rate``, ``Train Acc`` -> ``train/Acc``)."""
    k = key.strip()
    # ``ValLoss`` and ``Val Loss`` (a table's header) are read as ``Val_Loss``
    snake = _SPACES.sub("_", CAMEL.sub("_", k))
    if "/" not in k and snake != k:
        low = snake.lower()
        if low in _ALIASES or low.startswith(tuple(p for p, _ in _PREFIXES)):
            k = low  # a header's capitals name nothing: ``Valid Loss`` is ``valid_loss``
    low = k.lower()
    if low in _ALIASES:
        return _ALIASES[low]
    avg = _AVERAGED.match(low) if "/" not in k else None
    if avg is not None:
        # ``avg_val_loss``, ``mean_train_loss``: a per-epoch average is the quantity as logged
        return normalize_key(k[avg.end() :])
    plural = _PLURAL.search(low) if "/" not in k else None
    if plural is not None:
        # a history's lists named in the plural (``train_losses``, ``val_accs``): one value
        # per log of the quantity the singular names
        return normalize_key(k[: plural.start(1)] + _PLURALS_TO[plural.group(1)])
    if low.endswith(STEP_SUFFIX) and len(k) > len(STEP_SUFFIX):
        stem = normalize_key(k[: -len(STEP_SUFFIX)])
        if stem in _CANONICAL:
            return stem  # Lightning's per-step copy of a known quantity
    if "/" in k:
        head, _, tail = k.partition("/")
        if head in ("train", "eval", "test") and tail.lower() in _ALIASES:
            alias = _ALIASES[tail.lower()]
            if head == "train" or alias.startswith(head + "/"):
                return alias
            return f"{head}/{alias.split('/', 1)[1]}"
        # an eval set named after a hub dataset: ``eval_yahma/alpaca-cleaned_loss``
        if not low.startswith(("eval_", "test_", "val_")):
            return k
    for prefix, repl in _PREFIXES:
        if low.startswith(prefix) and len(k) > len(prefix):
            return repl + k[len(prefix) :]
    return "train/" + k


_CANONICAL = frozenset(_ALIASES.values())
#: The learning rate as a monitor names each parameter group's: Lightning's
#: ``LearningRateMonitor`` logs ``lr-AdamW`` (``lr-AdamW/pg1``, ``/pg2`` ... with several
#: groups), ultralytics ``lr/pg0``, ``lr/pg1`` ...
_LR_MONITOR = re.compile(r"(?:train/)?lr[-/][a-z0-9_]*(?:/pg(\d+))?", re.IGNORECASE)


def is_eval_key(key: str) -> bool:
    return key.startswith(("eval/", "test/"))


def is_held_out(key: str) -> bool:
    """Whether a logged series, under any spelling (``eval_loss``, ``eval/accuracy``,
    ``val/f1``, ``test_wer``), is measured on held-out data."""
    return normalize_key(key).lower().startswith(("eval/", "test/", "val/", "valid/"))


def epoch_twin(available: list[str] | set[str] | dict[str, object], name: str) -> str | None:
    """The epoch mean logged beside ``name`` (Lightning's ``train_loss_epoch`` beside
    ``train_loss_step``), or None."""
    # a per-step copy whose stem is no known quantity keeps its suffix (``loss_avg_step``)
    target = normalize_key(name).removesuffix(STEP_SUFFIX) + EPOCH_SUFFIX
    return next((n for n in available if n != name and normalize_key(n) == target), None)


def resolve(available: list[str] | set[str] | dict[str, object], canonical: str) -> str | None:
    """Which of ``available`` holds the quantity ``canonical`` (exact name first, then aliases,
    then its epoch mean: Lightning's ``<name>_epoch`` when no per-step series was logged; for
    a loss, then a total, averaged or NLL loss of that split (``total_loss``, ``loss_avg``,
    ``val_nll``); for the learning rate, a monitor's first parameter group).

    Runs logged through ``losslens.log`` keep the user's names (``loss``, ``val_loss``);
    analysis uses this to find them without renaming anything.
    """
    names = list(available)
    if canonical in names:
        return canonical
    for name in names:
        if normalize_key(name) == canonical:
            return name
    for name in names:  # only an epoch mean was logged (Lightning's ``train_loss_epoch``)
        if normalize_key(name) == canonical + EPOCH_SUFFIX:
            return name
    if canonical in (LOSS, EVAL_LOSS):
        # no plain loss: the total of an objective's parts (``total_loss``, ``loss_total``,
        # ``loss/total``), the loss averaged (``loss_avg``, ``loss_mean``) or the negative
        # log-likelihood (``train_nll``) is the loss, its per-step copy before its epoch mean
        split = canonical.partition("/")[0]
        for suffix in ("", STEP_SUFFIX, EPOCH_SUFFIX):
            for name in names:
                head, _, tail = normalize_key(name).partition("/")
                if suffix:
                    if not tail.endswith(suffix):
                        continue
                    tail = tail[: -len(suffix)]
                if head == "loss" and canonical == LOSS and tail in ("total", "total_loss"):
                    return name  # ``loss/total``: the total in a namespace of losses
                if head == split and _TOTAL_LOSS.fullmatch(tail):
                    return name
    if canonical == LR:  # a monitor's groups: the first group's is the run's schedule
        groups = lr_groups(names)
        return groups[0] if groups else None
    return None


def lr_groups(names: list[str] | set[str] | dict[str, object]) -> list[str]:
    """The learning rates a monitor logs per parameter group (``lr-AdamW/pg1``, ``lr/pg0``),
    in the order of their groups."""
    groups = [(int(m.group(1) or 0), n) for n in names if (m := _LR_MONITOR.fullmatch(n))]
    return [n for _, n in sorted(groups)]
