"""``losslens import/analyze/runs/show/db upgrade --store postgresql://…`` through real
subprocesses: the same findings as on SQLite for the same logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from extras import needs

needs("psycopg", "team")

from losslens.store.pg_schema import migrations  # noqa: E402

FAULTS = Path(__file__).resolve().parents[1] / "data" / "faults"
CASES = ["nan_hidden", "lr_too_high", "overfit_with_eval"]


def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losslens", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120", **(env or {})},
    )


def _ok(got: subprocess.CompletedProcess[str]) -> Any:
    assert got.returncode == 0, got.stderr
    return json.loads(got.stdout)


#: Two dev runs of the shared corpus (tests/conftest.py ``corpus``) with several findings
#: between them: eval loss rising while train loss falls, and a DPO run with NaN grad norms.
CORPUS_RUNS = (
    "013_llama3-lora-overfit-eval-rising.json",
    "046_dpo-per-step-json-nan-gradnorm.json",
)


def _import_and_analyze(store: str, corpus: Path) -> dict[str, dict[str, Any]]:
    """``losslens import`` of the fault logs and the corpus runs, then ``losslens analyze
    --json`` of every imported run: name -> the report without what names this copy (the
    run id) or this moment (``created_at``)."""
    logs = [*(FAULTS / c for c in CASES), *(corpus / "real" / "files" / f for f in CORPUS_RUNS)]
    imported = _ok(cli("import", *logs, "--store", store, "--json"))
    assert imported["errors"] == []
    ids = {e["name"]: e["id"] for e in imported["imported"]}
    assert len(ids) == len(logs)
    got = cli("analyze", *ids.values(), "--store", store, "--json")
    assert got.returncode == 0, got.stderr
    reports = json.loads(got.stdout)["reports"]
    assert [r["run"]["id"] for r in reports] == list(ids.values())
    for r in reports:
        del r["run"]["id"], r["created_at"]
    return {r["run"]["name"]: r for r in reports}


def test_import_then_analyze_gives_the_same_findings_as_sqlite(
    pg_store_url: str, tmp_path: Path, corpus: Path
) -> None:
    on_sqlite = _import_and_analyze(str(tmp_path / "store.db"), corpus)
    on_pg = _import_and_analyze(pg_store_url, corpus)
    # verdict, summary, counts, findings, readings and the run itself, for every run
    assert on_pg == on_sqlite
    assert on_pg["nan_hidden"]["verdict"] == "failed"
    assert any(f["rule_id"] == "LL102" for f in on_pg["nan_hidden"]["findings"])
    real = [on_pg[Path(f).stem] for f in CORPUS_RUNS]
    rules = [[f["rule_id"] for f in r["findings"]] for r in real]
    assert all(rules) and sum(map(len, rules)) >= 4, rules  # several findings to compare

    # a second import of the same logs is recognised: nothing is written twice
    again = _ok(cli("import", FAULTS / "nan_hidden", "--store", pg_store_url, "--json"))
    assert again["imported"] == []
    assert any("already imported" in s["reason"] for s in again["skipped"])

    # runs and show read the same store, through $LOSSLENS_STORE too
    runs = _ok(cli("runs", "--json", env={"LOSSLENS_STORE": pg_store_url}))
    assert sorted(r["name"] for r in runs) == sorted(on_sqlite)
    verdicts = {r["name"]: r["verdict"] for r in runs}
    assert verdicts == {name: r["verdict"] for name, r in on_sqlite.items()}
    shown = _ok(cli("show", "nan_hidden", "--store", pg_store_url, "--json"))
    assert "train/loss" in shown["metrics"]


def test_db_upgrade_twice_is_a_no_op(pg_url: str) -> None:
    first = _ok(cli("db", "upgrade", "--store", pg_url, "--json"))
    assert first == {
        "applied": [name for _, name, _ in migrations()],
        "schema_version": len(migrations()),
    }
    second = _ok(cli("db", "upgrade", "--store", pg_url, "--json"))
    assert second == {"applied": [], "schema_version": len(migrations())}
    text = cli("db", "upgrade", "--store", pg_url)
    assert text.returncode == 0 and "nothing to do" in text.stdout


def test_a_store_without_schema_is_one_line_naming_db_upgrade(pg_url: str) -> None:
    got = cli("runs", "--store", pg_url)
    assert got.returncode == 2
    assert "losslens db upgrade --store" in got.stderr
    assert "Traceback" not in got.stderr


def test_db_upgrade_refuses_a_file_store(tmp_path: Path) -> None:
    got = cli("db", "upgrade", "--store", str(tmp_path / "x.db"))
    assert got.returncode == 2 and "needs a PostgreSQL store" in got.stderr


@pytest.mark.parametrize("store", ["postgresql://u@/db?host=/nonexistent-losslens&port=1"])
def test_an_unreachable_server_is_one_line(store: str) -> None:
    got = cli("runs", "--store", store)
    assert got.returncode == 2
    assert "cannot connect to PostgreSQL" in got.stderr and "Traceback" not in got.stderr


def test_without_the_team_extra_the_error_names_it(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['psycopg'] = None\n"  # as if psycopg were not installed
        "from losslens.cli import main\n"
        "sys.exit(main(['runs', '--store', 'postgresql://u@/db?host=/nonexistent']))\n"
    )
    got = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert got.returncode == 2, got.stderr
    assert "pip install 'losslens[team]'" in got.stderr
    assert got.stderr.startswith("losslens: error: ") and "Traceback" not in got.stderr
