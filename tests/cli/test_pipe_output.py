"""Output to a pipe (not a terminal) is whole lines: no wrapping at 80 columns, no "…",
no trailing padding, whatever $COLUMNS says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import losslens

FAULTS = Path(__file__).resolve().parents[1] / "data" / "faults"


def _cli(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "losslens", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_runs_prints_one_line_per_run_to_a_pipe(store_path: Path) -> None:
    ids = []
    for i in range(3):
        run = losslens.init(
            project="a-rather-long-project-name-for-a-table",
            name=f"qwen2.5-0.5b-qlora-r16-lr2e-4-epochs3-run{i}",
            dir=store_path,
            system_metrics=False,
        )
        run.log({"loss": 1.0})
        run.finish()
        ids.append(run.id)
    res = _cli("runs", "--store", store_path)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1 + len(ids)  # the header, then one line per run: no wrapped dates
    for rid in ids:
        (line,) = [x for x in lines if x.startswith(rid)]
        assert "qwen2.5-0.5b-qlora-r16-lr2e-4-epochs3-run" in line
    assert all(x == x.rstrip() for x in lines)
    assert "…" not in res.stdout


def test_korean_evidence_is_not_cut_in_a_pipe() -> None:
    res = _cli("analyze", FAULTS / "lr_too_high" / "trainer_state.json", "--lang", "ko")
    assert res.returncode in (0, 1), res.stderr
    assert "…" not in res.stdout
    lines = res.stdout.splitlines()
    assert all(x == x.rstrip() for x in lines)
    assert max(len(x) for x in lines) > 80  # full sentences, not wrapped at 80
