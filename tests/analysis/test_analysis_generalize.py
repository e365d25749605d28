"""Issue 9: signals that hold on runs the rules were never tuned on.

Each test builds the shape the issue names (eval-aware escalation, small persistent
overfitting, LR too high read from the schedule, under-learning by size, transient vs
sustained, logging artifacts) and checks the kind and the severity the severity conventions
ask for; plus the rule registry (``requires=``, parameter sets) and the same run read from
``trainer_state.json`` and from console output.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from analysis_curves import cosine_lr, noisy, run_of

from losslens.analysis import analyze
from losslens.analysis.context import build_context
from losslens.analysis.docs import rules_markdown
from losslens.analysis.rules import RULES, Rule, run_order
from losslens.analysis.rules.base import param_docs
from losslens.ingest import load_into_memory
from losslens.model import Finding, Report, Severity, Verdict

ROOT = Path(__file__).resolve().parents[2]
FAULTS = ROOT / "tests" / "data" / "faults"


def kinds(rep: Report, floor: Severity = Severity.WARNING) -> dict[str, Severity]:
    out: dict[str, Severity] = {}
    for f in rep.findings:
        keep = f.severity.rank >= floor.rank and f.kind != "other"
        if keep and (f.kind not in out or f.severity.rank > out[f.kind].rank):
            out[f.kind] = f.severity
    return out


def by_rule(rep: Report, rule_id: str) -> Finding | None:
    return next((f for f in rep.findings if f.rule_id == rule_id), None)


def epochs_run(
    train: np.ndarray,
    evals: np.ndarray | None,
    *,
    spe: int = 100,
    every: int = 10,
    extra: dict[str, tuple[Any, Any]] | None = None,
    lr: float = 2e-4,
    config: dict[str, Any] | None = None,
) -> Any:
    """A run logged every ``every`` steps, ``spe`` steps per epoch, eval once per epoch."""
    steps = np.arange(every, every * train.size + 1, every)
    series: dict[str, tuple[Any, Any]] = {
        "train/loss": (steps, train),
        "train/epoch": (steps, steps / spe),
        "train/learning_rate": (steps, cosine_lr(steps, lr, int(steps[-1]) + every, warmup=0)),
    }
    if evals is not None:
        est = np.arange(spe, spe * evals.size + 1, spe)
        series["eval/loss"] = (est, evals)
    series.update(extra or {})
    return run_of(series, config=config)


# -- the registry -------------------------------------------------------------------------


def _fake(id: str, requires: tuple[str, ...] = (), phase: int = 1) -> Rule:
    return Rule(id, id.lower(), "other", Severity.INFO, "system", lambda r, c: [], phase, requires)


def test_rules_run_after_the_rules_they_require_not_in_id_order() -> None:
    order = [r.id for r in run_order({"A2": _fake("A2"), "A1": _fake("A1", ("A2",))})]
    assert order == ["A2", "A1"]
    real = [r.id for r in run_order(RULES)]
    for r in RULES.values():
        assert all(real.index(x) < real.index(r.id) for x in r.requires), r.id


def test_unknown_requirements_and_cycles_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown"):
        run_order({"A1": _fake("A1", ("ZZ9",))})
    with pytest.raises(ValueError, match="cycle"):
        run_order({"A1": _fake("A1", ("A2",)), "A2": _fake("A2", ("A1",))})


def test_a_rule_sees_only_the_findings_it_requires() -> None:
    seen: dict[str, list[str]] = {}

    def check(r: Rule, ctx: Any) -> list[Finding]:
        seen[r.id] = [f.rule_id for f in ctx.found]
        return []

    ctx = build_context(epochs_run(np.linspace(2, 1, 30), None))
    ctx.found = [
        dataclasses.replace(f, rule_id=rid)
        for rid, f in zip(
            ("LL111", "LL121"),
            [Finding("x", "other", Severity.INFO, {}, {}, {}, _evidence())] * 2,
            strict=True,
        )
    ]
    Rule("T1", "t1", "other", Severity.INFO, "system", check, 1, ("LL111",)).run(ctx)
    Rule("T2", "t2", "other", Severity.INFO, "system", check, 1, ()).run(ctx)
    assert seen == {"T1": ["LL111"], "T2": []}
    assert len(ctx.found) == 2  # restored after the rule ran


def _evidence() -> Any:
    from losslens.model import Evidence

    return Evidence(metric="", step_start=None, step_end=None)


def test_parameters_are_frozen_documented_and_rendered() -> None:
    doc = rules_markdown()
    with_params = [r for r in RULES.values() if r.params is not None]
    assert len(with_params) >= 6
    for r in with_params:
        assert dataclasses.is_dataclass(r.params)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(r.params, dataclasses.fields(r.params)[0].name, 0)
        for name, value, text in param_docs(r.params):
            assert text, f"{r.id}.{name} has no documentation"
            assert f"| `{name}` | {value!r} |" in doc


# -- severity conventions -------------------------------------------------------------------


def test_severity_meanings_are_documented() -> None:
    text = (ROOT / "docs" / "analysis.md").read_text(encoding="utf-8")
    for word in ("**error**", "**warning**", "**info**"):
        assert word in text


def test_many_epochs_with_eval_still_improving_is_info() -> None:
    train = noisy(np.geomspace(2.0, 1.0, 150), 0.01, seed=1)
    evals = np.geomspace(1.9, 1.1, 15)  # best at the end, no widening gap
    rep = analyze(epochs_run(train, evals))
    f = by_rule(rep, "LL154")
    assert f is not None and f.severity is Severity.INFO
    assert kinds(rep) == {}
    assert rep.verdict is Verdict.HEALTHY


def test_epochs_escalate_only_on_harm() -> None:
    train = noisy(np.geomspace(2.0, 0.2, 150), 0.01, seed=2)
    evals = np.concatenate([np.geomspace(1.9, 1.3, 5), np.linspace(1.33, 1.9, 10)])
    rep = analyze(epochs_run(train, evals))
    assert kinds(rep)["too_many_epochs"] is not Severity.INFO
    assert kinds(rep)["overfitting"] is Severity.ERROR


# -- overfitting -----------------------------------------------------------------------------


def _small_rise_run(accuracy: np.ndarray | None = None) -> Any:
    train = noisy(np.geomspace(2.0, 0.6, 80), 0.005, seed=3)
    evals = np.array([1.60, 1.40, 1.30, 1.25, 1.23, 1.236, 1.245, 1.255])  # +2%, 3 rises
    extra = {}
    if accuracy is not None:
        extra["eval/accuracy"] = (np.arange(100, 801, 100), accuracy)
    return epochs_run(train, evals, extra=extra)


def test_small_persistent_overfitting_is_found() -> None:
    f = by_rule(analyze(_small_rise_run()), "LL151")
    assert f is not None and f.severity is Severity.WARNING
    assert f.onset_step == 500


def test_a_task_metric_still_improving_lowers_the_severity() -> None:
    acc = np.array([0.50, 0.60, 0.65, 0.68, 0.70, 0.71, 0.72, 0.73])
    f = by_rule(analyze(_small_rise_run(acc)), "LL151")
    assert f is not None and f.severity is Severity.INFO
    assert "eval/accuracy" in f.explanation["en"]


def test_eval_stalled_for_epochs_while_train_falls_is_reported() -> None:
    # the eval loss holds its minimum (within 1%) while the train loss keeps falling: the
    # gap is reported, at info, since the held-out loss did not get worse (round 25)
    train = noisy(np.geomspace(2.0, 0.5, 100), 0.005, seed=4)
    evals = np.array([1.5, 1.3, 1.2, 1.15, 1.14, 1.142, 1.141, 1.143, 1.142, 1.144])
    f = by_rule(analyze(epochs_run(train, evals)), "LL151")
    assert f is not None and f.severity is Severity.INFO
    # read from the eval the stall starts at, which is not the minimum: the evidence says
    # so and names the best since (zl004: "min 3.45 at step 100" where 3.36 came later)
    text = f.evidence.text["en"]
    assert "eval loss min" not in text
    assert "lower in the" in text and "(best 1.14 at step" in text
    # and the checkpoint it points to is the lowest eval (1.14 at step 500), not the stall's
    assert "The checkpoint at step 500 is probably the best one" in f.explanation["en"]
    # and where nothing after it was lower, it says that instead of a negative gain
    evals = np.array([1.5, 1.3, 1.2, 1.15, 1.145, 1.142, 1.141, 1.140, 1.142, 1.144])
    f = by_rule(analyze(epochs_run(train, evals)), "LL151")
    assert f is not None
    assert "1.14 at step 800 and no lower in the 2.0 epochs since" in f.evidence.text["en"]


def test_eval_best_at_first_eval_with_flat_train_is_not_learning_not_overfitting() -> None:
    train = noisy(np.full(60, 2.0), 0.01, seed=5)
    evals = np.array([1.90, 1.95, 1.97, 2.00, 2.02, 2.03])
    rep = analyze(epochs_run(train, evals))
    assert "overfitting" not in kinds(rep, Severity.INFO)
    assert set(kinds(rep)) & {"loss_plateau", "loss_not_decreasing", "lr_too_low"}


# -- under-learning by size ------------------------------------------------------------------


def test_slow_significant_decline_at_a_high_level_is_a_plateau() -> None:
    # 0.4% per epoch over 7 epochs: "significantly declining", but a plateau by size
    steps = np.arange(10, 801, 10)
    per_step = math.log(1 - 0.004) / 100
    train = 2.5 * np.exp(per_step * (steps - 100))
    train[:9] = np.linspace(3.5, 2.55, 9)
    train = noisy(train, 0.002, seed=6)
    rep = analyze(epochs_run(train, None, lr=2e-4))
    assert set(kinds(rep)) & {"loss_plateau", "loss_not_decreasing", "lr_too_low"}


# -- transient vs sustained ------------------------------------------------------------------


def _base(n: int = 60, seed: int = 7) -> np.ndarray:
    return noisy(np.geomspace(2.0, 1.0, n), 0.01, seed=seed)


def test_one_absurd_value_that_comes_back_is_a_severe_spike_not_divergence() -> None:
    train = _base()
    train[30] = 900.0
    rep = analyze(epochs_run(train, None))
    k = kinds(rep)
    assert "divergence" not in k
    assert k["loss_spike"] is Severity.WARNING


def test_a_huge_first_value_that_starts_a_steady_descent_is_not_divergence() -> None:
    train = np.concatenate([[250.0, 120.0], _base(58)])
    assert "divergence" not in kinds(analyze(epochs_run(train, None)), Severity.INFO)


def test_one_nan_among_finite_values_is_a_warning_not_a_broken_run() -> None:
    train = _base()
    train[25] = float("nan")
    rep = analyze(epochs_run(train, None))
    f = by_rule(rep, "LL101")
    assert f is not None and f.severity is Severity.WARNING
    assert f.evidence.step_end == 260  # the shading stops where the NaN stops
    assert rep.verdict is not Verdict.FAILED


def test_a_spike_with_a_nan_grad_norm_is_a_warning_at_the_right_step() -> None:
    steps = np.arange(10, 601, 10)
    train = _base()
    train[40] = train[39] * 3.0
    grad = noisy(np.full(60, 0.8), 0.05, seed=8)
    grad[40] = float("nan")
    rep = analyze(epochs_run(train, None, extra={"train/grad_norm": (steps, grad)}))
    f = by_rule(rep, "LL121")
    assert f is not None and f.severity is Severity.WARNING and f.onset_step == 410


def test_adjacent_spikes_are_found_at_the_first_one() -> None:
    train = _base(seed=9)
    train[30] *= 6
    train[31] *= 7
    f = by_rule(analyze(epochs_run(train, None)), "LL121")
    assert f is not None and f.onset_step == 310


# -- logging artifacts -----------------------------------------------------------------------


def test_loss_multiplied_by_grad_accumulation_is_found_without_config_and_rescaled() -> None:
    train = noisy(np.geomspace(2.0, 1.0, 80), 0.01, seed=10)
    evals = np.geomspace(1.95, 1.02, 8)
    scaled = train.copy()
    scaled[40:] *= 8  # the logging bug starts mid-run (e.g. after a resume)
    rep = analyze(epochs_run(scaled, evals))
    f = by_rule(rep, "LL161")
    # info: the model trains fine and the loss is read divided back; only the printed numbers
    # are off (worth knowing, no harm shown)
    assert f is not None and f.severity is Severity.INFO
    assert f.evidence.values["gradient_accumulation_steps"] == 8
    assert kinds(rep) == {}  # not divergence, not an eval gap (LL161 is kind "other")


# -- LR too high read from the schedule ------------------------------------------------------


def test_loss_worsening_during_warmup_is_lr_too_high_at_any_absolute_lr() -> None:
    steps = np.arange(25, 1501, 25)
    lr = cosine_lr(steps, 1e-4, 1500, warmup=500)
    base = np.concatenate(
        [np.geomspace(0.9, 0.12, 5), np.geomspace(0.13, 0.31, 16), np.full(39, 0.30)]
    )
    train = noisy(base, 0.02, seed=11)
    run = run_of(
        {
            "train/loss": (steps, train),
            "train/learning_rate": (steps, lr),
            "train/epoch": (steps, steps / 1000),
        }
    )
    rep = analyze(run)
    assert kinds(rep).get("lr_too_high") is Severity.WARNING


# -- the same run from trainer_state.json and from console output ----------------------------


def console_text(state: dict[str, Any]) -> str:
    """The console output the Trainer prints for ``state``: a dict line per log entry, each
    followed by the tqdm bar at its step."""
    total = int(state.get("max_steps") or state["global_step"])
    lines = []
    for row in state["log_history"]:
        step = int(row["step"])
        shown = {k: v for k, v in row.items() if k != "step"}
        lines.append(repr(shown))
        pct = int(100 * step / total)
        lines.append(f"{pct}%|#####     | {step}/{total} [00:10<00:10,  1.00it/s]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", sorted(p.name for p in FAULTS.iterdir() if p.is_dir()))
def test_trainer_state_and_console_give_the_same_verdict(name: str, tmp_path: Path) -> None:
    src = FAULTS / name / "trainer_state.json"
    state = json.loads(src.read_text(encoding="utf-8"))
    console = tmp_path / "train_log.txt"
    console.write_text(console_text(state), encoding="utf-8")
    config = json.loads((FAULTS / name / "labels.json").read_text(encoding="utf-8"))["config"]
    reps = []
    for path in (src, console):
        (run,) = load_into_memory(path)
        run.info.config = {**run.info.config, **config}
        reps.append(analyze(run))
    a, b = reps
    assert a.verdict == b.verdict
    assert kinds(a) == kinds(b)


# -- the benchmark's plumbing -----------------------------------------------------------------


def test_index_logs_skips_other_splits_without_opening_them(tmp_path: Path) -> None:
    from losslens.analysis.scoring import index_logs

    real = tmp_path / "real"
    real.mkdir()
    labels = {"verdict": "healthy", "findings": []}
    lines = [
        {"id": "d1", "file": "files/d1.json", "split": "dev", "labels": labels},
        {"id": "t1", "file": "files/missing.json", "split": "test", "labels": labels},
        {"id": "x1", "file": "files/x.json", "labels": labels},  # no split: never used
    ]
    (real / "index-z.jsonl").write_text("\n".join(json.dumps(x) for x in lines), "utf-8")
    dev = index_logs(tmp_path)
    assert [log.id for log in dev] == ["real:d1"] and dev[0].split == "dev"
    test = index_logs(tmp_path, splits=("test",))
    assert [log.id for log in test] == ["real:t1"]


def test_confusion_counts_misnamed_missed_and_false_families() -> None:
    from losslens.analysis.scoring import Case, Pred, confusion

    lab = [{"kind": "divergence", "severity": "error"}]
    cases = [
        Case("a", "problematic", lab, [Pred("lr_too_high", "warning")]),  # same family
        Case("b", "problematic", lab, [Pred("loss_spike", "warning")]),  # misnamed
        Case("c", "problematic", lab, [Pred("loss_spike", "info")]),  # missed (info)
        Case("d", "healthy", [], [Pred("overfitting", "warning")]),  # false alarm
    ]
    conf = confusion(cases)
    fam = "divergence+lr_too_high"
    assert conf[fam] == {fam: 1, "loss_spike": 1, "(none)": 1}
    assert conf["(none)"] == {"overfitting+eval_gap": 1}


def test_a_nan_grad_norm_where_the_lr_held_is_a_skipped_step_info() -> None:
    steps = np.arange(1, 101)
    lr = np.linspace(2e-4, 1e-5, 100)
    lr[50] = lr[49]  # the scheduler did not step: the optimizer steps were skipped
    lr[51] = lr[49]
    grad = noisy(np.full(100, 1.0), 0.05, seed=12)
    grad[50:52] = float("nan")  # two in a row: a lone one is a skip whatever the LR did
    series = {
        "train/loss": (steps, _base(100, seed=12)),
        "train/learning_rate": (steps, lr),
        "train/grad_norm": (steps, grad),
    }
    f = by_rule(analyze(run_of(series)), "LL101")
    assert f is not None and f.severity is Severity.INFO
    lr[50:52] = lr[49] + (lr[52] - lr[49]) * np.array([1, 2]) / 3  # the LR advanced
    f = by_rule(analyze(run_of(series)), "LL101")
    assert f is not None and f.severity is Severity.WARNING


def test_a_zero_loss_with_zero_gradients_never_moves_even_late_in_epochs() -> None:
    steps = np.arange(10, 1001, 10)
    series = {
        "train/loss": (steps, np.zeros(100)),
        "train/grad_norm": (steps, np.zeros(100)),
        "train/epoch": (steps, steps.astype(float)),  # one step per epoch
    }
    k = kinds(analyze(run_of(series)))
    assert k.get("loss_not_decreasing") is Severity.ERROR
    assert "memorization" not in k and "grad_vanishing" not in k


def test_unknown_max_grad_norm_is_said_in_the_reading_not_as_a_finding() -> None:
    steps = np.arange(10, 301, 10)
    series = {
        "train/loss": (steps, _base(30, seed=13)),
        "train/grad_norm": (steps, noisy(np.full(30, 20.0), 0.05, seed=13)),
    }
    rep = analyze(run_of(series))
    assert by_rule(rep, "LL143") is None
    grad = next(r for r in rep.readings if r.metric == "train/grad_norm")
    assert "max_grad_norm unknown" in grad.summary["en"]
