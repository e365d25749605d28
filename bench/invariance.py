"""How a run was logged must not decide its diagnosis: invariance breaks over the dev corpus.

    nice .venv/bin/python bench/invariance.py              # every dev run, every transform
    nice .venv/bin/python bench/invariance.py --only coarser-2 --ids generated:g136
    .venv/bin/python bench/invariance.py --engine-src /tmp/old/src   # another copy of losslens

Every dev run of ``corpus/`` (``index_logs(..., splits=("dev",))``: the sealed test split is
never opened), the shared corpus and ``tests/data/faults`` is analysed as read, then under
transforms that change how the run was logged and not how it trained:

- ``coarser-2``: every 2nd train log kept, the first and the last always kept (a Trainer
  logging half as often still logs the first and the last step);
- ``steps-x3``: every step x3, epochs unchanged (config step counts and ``global_step``
  scale with it);
- ``neutral-names``: the run's name and output paths are "run-1";
- ``loss-x0.5`` / ``loss-x2``: train and eval loss scaled (the rules meant to be scale-free);
- ``console``: the same run read from its console output (``other_files`` of the index).

A break is a change of the set of families at warning or above, or of the run's worst
severity (ok / warning / error; an info finding is "worth knowing" and counts as ok). Per
transform, kinds that the transform may legitimately change are left out of both (see
``EXEMPT``): a point event may fall between the kept logs of a coarser log (it may vanish,
never appear), and kinds defined by an absolute loss level change with the loss scale.
Breaks are printed as a table per transform and a list, with the rules whose findings moved.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from engine_src import import_tool, use_engine_src

ROOT = use_engine_src()  # before losslens is imported: --engine-src DIR

from losslens.analysis import analyze  # noqa: E402
from losslens.analysis.scoring import (  # noqa: E402
    LabelledLog,
    corpus_logs,
    family_of,
    fault_logs,
    index_logs,
)
from losslens.ingest import load_into_memory  # noqa: E402
from losslens.model import Finding, RunData  # noqa: E402

transforms = import_tool("losslens.analysis.transforms")  # an older --engine-src lacks it

POINT_EVENTS = frozenset({"loss_spike", "grad_spike", "nan_or_inf"})
#: Kinds defined by an absolute loss level (see tests/analysis/test_analysis_invariance.py).
ABSOLUTE_LEVEL = frozenset(
    {"memorization", "too_many_epochs", "eval_gap", "grad_vanishing", "other"}
)
#: The run's verdict: its worst severity, an info finding counting as none ("worth knowing",
#: no harm shown: a healthy run may carry some).
SEVERITIES = ("ok", "ok", "warning", "error")

Transform = Callable[[RunData], RunData | None]


# -- transforms (losslens.analysis.transforms) -----------------------------------------------

TRANSFORMS: dict[str, Transform] = {
    # every 2nd train log, first and last kept; runs with fewer than 4 train logs skipped
    "coarser-2": functools.partial(transforms.coarser, k=2, min_logs=4),
    "steps-x3": functools.partial(transforms.steps_times, c=3),
    "neutral-names": transforms.neutral_names,
    "loss-x0.5": functools.partial(transforms.loss_times, c=0.5),
    "loss-x2": functools.partial(transforms.loss_times, c=2.0),
}
#: Kinds a transform may change legitimately: left out of both sides of the comparison.
EXEMPT: dict[str, frozenset[str]] = {
    "coarser-2": POINT_EVENTS,
    "loss-x0.5": ABSOLUTE_LEVEL,
    "loss-x2": ABSOLUTE_LEVEL,
}
#: Point events may vanish from a coarser log, never appear in it.
MAY_VANISH: dict[str, frozenset[str]] = {"coarser-2": POINT_EVENTS}
ALL_NAMES = (*TRANSFORMS, "console")


# -- what a diagnosis is, for the comparison -------------------------------------------------


@dataclass(frozen=True)
class View:
    families: frozenset[str]
    worst: str
    rules: tuple[str, ...]  # "LL131:error", for the break list

    def text(self) -> str:
        fams = ",".join(sorted(self.families)) or "-"
        return f"{self.worst} [{fams}]"


def view(findings: Iterable[Finding], exempt: frozenset[str] = frozenset()) -> View:
    kept = [f for f in findings if f.kind not in exempt]
    fams = frozenset(family_of(f.kind) for f in kept if f.severity.rank >= 1) - {"other"}
    worst = max((f.severity.rank + 1 for f in kept), default=0)
    rules = tuple(sorted(f"{f.rule_id}:{f.severity}" for f in kept))
    return View(fams, SEVERITIES[worst], rules)


@dataclass(frozen=True)
class Break:
    rid: str
    transform: str
    before: View
    after: View
    fam: bool
    sev: bool
    logs: tuple[int, int] = (0, 0)  # train logs before -> after the transform

    def line(self) -> str:
        gone = sorted(set(self.before.rules) - set(self.after.rules))
        new = sorted(set(self.after.rules) - set(self.before.rules))
        n = f", {self.logs[0]}->{self.logs[1]} train logs" if self.logs[0] != self.logs[1] else ""
        return (
            f"{self.rid:24} {self.transform:13} {self.before.text()} -> {self.after.text()}"
            f"   (-{' '.join(gone) or '.'} +{' '.join(new) or '.'}{n})"
        )


def compare(rid: str, name: str, base: list[Finding], got: list[Finding]) -> Break | None:
    exempt = EXEMPT.get(name, frozenset())
    b, a = view(base, exempt), view(got, exempt)
    vanish = MAY_VANISH.get(name, frozenset())
    if vanish:  # a point event that vanished is allowed; one that appears is a break
        b_all, a_all = view(base), view(got)
        appeared = {family_of(k) for k in vanish} & (a_all.families - b_all.families)
        if appeared:
            b, a = b_all, a_all
    fam, sev = b.families != a.families, b.worst != a.worst
    return Break(rid, name, b, a, fam, sev) if fam or sev else None


# -- the runs --------------------------------------------------------------------------------

#: Files of the sealed test v3 that is being collected: never read, whatever an index says.
SEALED_PREFIXES = ("e", "f", "g")


def dev_logs(with_shared: bool = True) -> list[LabelledLog]:
    logs = [log for log in index_logs(ROOT / "corpus", splits=("dev",)) if log.split == "dev"]
    logs = [
        log for log in logs if not (log.group == "real" and log.path.name[:1] in SEALED_PREFIXES)
    ]
    if with_shared:
        shared = ROOT / "corpus" / "shared"
        if not (shared / "real" / "index.jsonl").exists():
            shared = ROOT.parent / "shared" / "corpus"
        logs = corpus_logs(shared) + fault_logs(ROOT / "tests" / "data" / "faults") + logs
    return logs


def load(log: LabelledLog, path: Path | None = None) -> RunData:
    run = load_into_memory(path or log.path)[0]
    if log.config:
        run.info.config = {**run.info.config, **log.config}
    return run


def train_logs(run: RunData) -> int:
    loss = run.series.get("train/loss")
    return 0 if loss is None else len(loss)


@dataclass
class Tally:
    runs: int = 0
    skipped: int = 0
    fam: int = 0
    sev: int = 0
    any: int = 0


def measure(
    logs: list[LabelledLog], names: Iterable[str], verbose: bool = False
) -> tuple[dict[str, Tally], list[Break], list[str]]:
    names = list(names)
    tallies = {n: Tally() for n in names}
    breaks: list[Break] = []
    failed: list[str] = []
    for log in logs:
        try:
            run = load(log)
        except Exception as exc:
            failed.append(f"{log.id} ({type(exc).__name__})")
            continue
        base = analyze(run).findings
        variants: list[tuple[str, RunData | None]] = [
            (n, TRANSFORMS[n](run)) for n in names if n in TRANSFORMS
        ]
        if "console" in names:
            for alt in log.alternates:
                try:
                    variants.append(("console", load(log, alt)))
                except Exception as exc:
                    failed.append(f"{log.id} ({alt.name}: {type(exc).__name__})")
        for name, var in variants:
            t = tallies[name]
            if var is None:
                t.skipped += 1
                continue
            t.runs += 1
            br = compare(log.id, name, base, analyze(var).findings)
            if br is not None:
                br = replace(br, logs=(train_logs(run), train_logs(var)))
                t.fam += br.fam
                t.sev += br.sev
                t.any += 1
                breaks.append(br)
                if verbose:
                    print(br.line(), flush=True)
    return tallies, breaks, failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--only", action="append", choices=ALL_NAMES, help="transform(s) to run")
    ap.add_argument("--ids", nargs="*", help="run ids to keep (e.g. generated:g136)")
    ap.add_argument("--no-shared", action="store_true", help="corpus/ dev runs only")
    ap.add_argument("--engine-src", type=Path, help="the src/ folder of the losslens to measure")
    ap.add_argument("--verbose", "-v", action="store_true", help="print breaks as found")
    args = ap.parse_args(argv)

    logs = dev_logs(not args.no_shared)
    if args.ids:
        logs = [log for log in logs if log.id in set(args.ids)]
    names = args.only or list(ALL_NAMES)
    t0 = time.perf_counter()
    tallies, breaks, failed = measure(logs, names, args.verbose)
    print(f"# Invariance breaks, dev split: {len(logs)} runs ({time.perf_counter() - t0:.0f} s)\n")
    print(
        "| transform | runs compared | skipped | families changed | worst severity changed "
        "| breaks |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, t in tallies.items():
        print(f"| {name} | {t.runs} | {t.skipped} | {t.fam} | {t.sev} | {t.any} |")
    total = sum(t.any for t in tallies.values())
    print(
        f"| **all** | {sum(t.runs for t in tallies.values())} | | "
        f"{sum(t.fam for t in tallies.values())} | {sum(t.sev for t in tallies.values())} "
        f"| {total} |"
    )
    print("\n## Breaks (worst severity [families >= warning], rules lost / gained)\n")
    for br in sorted(breaks, key=lambda b: (b.transform, b.rid)):
        print(br.line())
    if failed:
        print(f"\nunreadable: {failed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
