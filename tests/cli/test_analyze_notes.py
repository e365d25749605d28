"""``losslens analyze`` says what the import said about the log: the steps of its findings
rest on it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

NOTE = "steps are the order of the log lines"


def _losslens(*args: str, cwd: Path | None = None) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "losslens", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _analyze(path: Path, *args: str) -> str:
    return _losslens("analyze", str(path), *args)


def _stepless_log(tmp_path: Path) -> Path:
    p = tmp_path / "train.log"
    p.write_text(
        "".join(
            f"{{'loss': {2.0 - 0.1 * i:.2f}, 'learning_rate': 0.0001, 'epoch': {0.1 * i:.1f}}}\n"
            for i in range(1, 7)
        ),
        encoding="utf-8",
    )
    return p


def test_a_console_log_without_steps_says_so_in_every_report(tmp_path: Path) -> None:
    p = _stepless_log(tmp_path)
    note = NOTE
    text = _analyze(p, "--width", "200")
    assert "Import notes: no step numbers" in text and note in text
    assert note in _analyze(p, "--format", "markdown")
    (got,) = json.loads(_analyze(p, "--json"))["run"]["import_notes"]
    assert note in got


def test_the_html_report_and_the_dashboard_show_the_import_notes(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from losslens.store import Store
    from losslens.ui import create_app

    p = _stepless_log(tmp_path)
    _losslens("report", str(p), "--html", "r.html", cwd=tmp_path)
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'class="ll-import-notes"' in html and NOTE in html
    db = tmp_path / "s.db"
    _losslens("import", str(p), "--store", str(db))
    with Store(db) as store:
        (run,) = store.list_runs()
    app = TestClient(create_app(db), base_url="http://127.0.0.1")
    page = app.get(f"/runs/{run.id}").text
    assert 'class="ll-import-notes"' in page and NOTE in page
