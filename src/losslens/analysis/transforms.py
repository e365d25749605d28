"""Logging transforms: the same training, logged differently.

These are the transforms that the invariance tests (``tests/analysis/test_analysis_invariance.py``,
``tests/analysis/test_invariance_logging.py``) and ``bench/invariance.py`` apply to a run to
check that how it was logged does not decide its diagnosis: a coarser log (every k-th train
log), every step scaled (a smaller batch, epochs unchanged), neutral names, and a scaled loss.

Each is a pure function of a :class:`~losslens.model.RunData`: the run passed in is never
changed, the run returned shares no mutable metadata with it. The differences between the
callers are parameters (whether the first and last logs are kept, the fewest train logs a
coarser run needs, which config entries count steps or name the run, which keys are losses).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import numpy as np

from losslens.model import RunData, Series

#: Config entries counted in optimizer steps: they scale with the steps.
STEP_KEYS = ("max_steps", "warmup_steps", "logging_steps", "eval_steps", "save_steps")
#: Config entries that name the run or where it wrote its files.
NAME_KEYS = ("output_dir", "logging_dir", "run_name", "hub_model_id", "wandb_run_name")
#: The series a loss scale applies to.
LOSS_KEYS = ("train/loss", "eval/loss")


def copy_run(
    run: RunData, series: dict[str, Series], system: dict[str, Series] | None = None
) -> RunData:
    """``run`` with other series (and system series, else the run's own): metadata copied."""
    return RunData(
        info=copy.deepcopy(run.info),
        series=series,
        system=dict(run.system) if system is None else system,
        original_keys=dict(run.original_keys),
    )


def coarser(
    run: RunData, k: int, *, keep_ends: bool = True, min_logs: int = 0, min_finite: int = 0
) -> RunData | None:
    """Every k-th train log kept (all ``train/*`` keys at those steps); other keys kept.

    ``keep_ends``: the first and the last train log are kept too (a Trainer logging less
    often still logs the first and the last step). None when the run has no ``train/loss``,
    fewer than ``min_logs`` train loss logs, or fewer than ``min_finite`` finite ones left.
    """
    loss = run.series.get("train/loss")
    if loss is None or len(loss) < min_logs:
        return None
    steps = np.unique(loss.steps)
    keep = steps[k - 1 :: k]
    if keep_ends and steps.size:
        keep = np.union1d(keep, [steps[0], steps[-1]])
    out = {}
    for key, s in run.series.items():
        if key.startswith("train/"):
            m = np.isin(s.steps, keep)
            s = Series(key, s.steps[m], s.values[m], s.wall_times[m])
        out[key] = s
    if len(out["train/loss"].finite) < min_finite:
        return None
    return copy_run(run, out)


def steps_times(run: RunData, c: int, *, step_keys: Iterable[str] = STEP_KEYS) -> RunData:
    """Every step (series and system series) times ``c``, epochs unchanged; the config's
    ``step_keys`` and the summary's ``global_step`` scale with it."""

    def scaled(d: dict[str, Series]) -> dict[str, Series]:
        return {k: Series(k, s.steps * c, s.values, s.wall_times) for k, s in d.items()}

    new = copy_run(run, scaled(run.series), scaled(run.system))
    for k in step_keys:
        v = new.info.config.get(k)
        if isinstance(v, int | float) and not isinstance(v, bool):
            new.info.config[k] = v * c
    gs = new.info.summary.get("global_step")
    if isinstance(gs, int | float) and not isinstance(gs, bool):
        new.info.summary["global_step"] = gs * c
    return new


def neutral_names(
    run: RunData, name: str = "run-1", *, name_keys: Iterable[str] = NAME_KEYS
) -> RunData:
    """The run's name, output directory and the config's ``name_keys`` set to ``name``."""
    new = copy_run(run, dict(run.series))
    new.info.name = name
    new.info.output_dir = f"/tmp/{name}"
    for k in name_keys:
        if k in new.info.config:
            new.info.config[k] = name
    return new


def loss_times(run: RunData, c: float, *, loss_keys: Iterable[str] = LOSS_KEYS) -> RunData:
    """The values of the ``loss_keys`` series times ``c``; every other series as it was."""
    keys = frozenset(loss_keys)
    out = {
        k: Series(k, s.steps, s.values * c, s.wall_times) if k in keys else s
        for k, s in run.series.items()
    }
    return copy_run(run, out)
