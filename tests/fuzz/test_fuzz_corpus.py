"""The bounded mutation corpus: every format's fixture damaged and made odd in ~25 ways,
plus a FIFO named like it, read as ``losslens analyze`` reads a path, each under a time
and memory limit. No traceback, no hang, no silent damage, one line per refusal.
(``bench/fuzz.py`` runs the long version and writes the figures to docs/benchmarks.md.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzzlib

#: Mutations per format in CI (9 formats; about 15 s on 2 cores).
PER_FORMAT = 24


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, object]]:
    inputs = fuzzlib.make_corpus(tmp_path_factory.mktemp("fuzz"), PER_FORMAT, seed=2026)
    assert len(inputs) == (PER_FORMAT + 1) * len(fuzzlib.SEEDS)
    return fuzzlib.run_corpus(inputs, limit_s=20.0, mem_mb=3072)


def test_every_input_has_an_outcome(results: list[dict[str, object]]) -> None:
    assert len(results) == (PER_FORMAT + 1) * len(fuzzlib.SEEDS)
    assert {r["outcome"] for r in results} <= {"ok", "partial", "refused", *fuzzlib.FAILURES}


@pytest.mark.parametrize("outcome", fuzzlib.FAILURES)
def test_no_failures(results: list[dict[str, object]], outcome: str) -> None:
    bad = [
        f"{r['id']} ({r['mutation']}): {r['message']}" for r in results if r["outcome"] == outcome
    ]
    assert not bad, "\n".join(bad)


def test_each_fifo_is_refused_in_one_line(results: list[dict[str, object]]) -> None:
    fifos = [r for r in results if r["mutation"] == "fifo"]
    assert len(fifos) == len(fuzzlib.SEEDS)
    for r in fifos:
        assert r["outcome"] == "refused", r
        assert "FIFO" in str(r["message"]) or "nothing importable" in str(r["message"]), r


def test_memory_stays_bounded(results: list[dict[str, object]]) -> None:
    # the worker's peak resident memory over all inputs (100 KB lines, 200 KB fields,
    # deep nesting and YAML alias bombs included)
    peak = max(int(str(r.get("maxrss_mb", 0))) for r in results)
    assert peak < 1024, peak


def test_the_corpus_is_damaged_in_many_ways(results: list[dict[str, object]]) -> None:
    # the generator really produces refusals and partial imports, not only clean copies
    kinds = {str(r["outcome"]) for r in results}
    assert {"ok", "refused", "partial"} <= kinds
