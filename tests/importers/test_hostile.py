"""Hostile and odd input for every importer: special files, huge steps, escape sequences in
names, long lines, deep nesting, YAML aliases, odd SQLite cells and damaged pages."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from losslens.importers.crc32c import masked_crc32c
from losslens.ingest import load_into_memory

DATA = Path(__file__).resolve().parents[1] / "data" / "importers"
Cli = Callable[..., "object"]
#: A name that, printed raw, sets the window title, clears the screen, opens an OSC 8
#: hyperlink and reverses the text direction.
ESC = "evil\x1b]0;pwned\x07\x1b[2J\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\u202e"


def assert_terminal_safe(text: str) -> None:
    for ch in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert ch not in text, repr(text[:2000])


def _one_line_error(res: object, *needles: str) -> str:
    err: str = res.err  # type: ignore[attr-defined]
    lines = [line for line in err.splitlines() if line.startswith("losslens: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], err
    return lines[0]


# -- 1. special files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "trainer_state.json",
        "console.txt",
        "loss_log.txt",
        "log.csv",
        "log.jsonl",
        "run-abc.wandb",
        "events.out.tfevents.1.host",
        "mlflow.db",
    ],
)
def test_a_fifo_is_refused_in_one_line(tmp_path: Path, cli: Cli, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    res = cli("import", fifo)
    assert res.code == 2  # type: ignore[attr-defined]
    _one_line_error(res, "FIFO", "not a regular file")
    res = cli("analyze", fifo)
    _one_line_error(res, "FIFO")


def test_a_fifo_named_wandb_in_a_folder_is_skipped(tmp_path: Path, cli: Cli) -> None:
    run_dir = tmp_path / "wandb" / "offline-run-x"
    run_dir.mkdir(parents=True)
    os.mkfifo(run_dir / "run-x.wandb")
    shutil.copy(DATA / "other" / "log_history.jsonl", tmp_path / "log.jsonl")
    res = cli("import", tmp_path, "--json")
    data = res.json()  # type: ignore[attr-defined]
    assert len(data["imported"]) == 1
    assert any("FIFO" in s["reason"] for s in data["skipped"])


def test_a_device_is_refused(cli: Cli) -> None:
    res = cli("import", "/dev/zero")
    _one_line_error(res, "character device")


# -- 6/7. huge and odd steps --------------------------------------------------------------


def test_huge_steps_are_dropped_with_a_warning_and_never_poison_the_run(
    tmp_path: Path, cli: Cli
) -> None:
    csv = tmp_path / "huge.csv"
    csv.write_text("step,loss\n1,2.0\n1e30,1.5\n2,1.9\nInfinity,1.0\n1e400,1.0\n3,1.8\n")
    res = cli("import", csv, "--json")
    data = res.json()  # type: ignore[attr-defined]
    (run,) = data["imported"]
    assert run["points"] == 3
    assert any("dropped 3 records" in w and "1e30" in w for w in run["warnings"])
    assert cli("show", run["id"]).code == 0  # type: ignore[attr-defined]
    res = cli("analyze", run["id"], "--store", tmp_path / "store.db")
    assert res.code in (0, 1), res.err  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", ["1e400", "Infinity", "-Infinity", "1e30", str(2**70)])
def test_odd_steps_in_trainer_state_and_jsonl(tmp_path: Path, bad: str) -> None:
    state = tmp_path / "trainer_state.json"
    state.write_text(
        '{"global_step": 3, "log_history": [{"step": 1, "loss": 2.0}, '
        f'{{"step": {bad}, "loss": 1.5}}, {{"step": 3, "loss": 1.4}}]}}'
    )
    (run,) = load_into_memory(state)
    assert list(run.series["train/loss"].steps) == [1, 3]
    assert any("could not be kept" in w for w in run.info.summary["import_warnings"])
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_text(f'{{"step": 1, "loss": 2.0}}\n{{"step": {bad}, "loss": 1.0}}\n')
    (run,) = load_into_memory(jsonl)
    assert list(run.series["train/loss"].steps) == [1]


def test_csv_steps_beyond_2_53_stay_exact(tmp_path: Path) -> None:
    big = 2**53 + 1
    csv = tmp_path / "big.csv"
    csv.write_text(f"step,loss\n{big},1.0\n{big + 2},0.5\n")
    (run,) = load_into_memory(csv)
    assert [int(s) for s in run.series["train/loss"].steps] == [big, big + 2]


def test_a_csv_cut_mid_number_warns(tmp_path: Path) -> None:
    csv = tmp_path / "cut.csv"
    csv.write_text("step,loss\n1,2.0\n2,1.9\n3,1.8")  # no line end: cut while written
    (run,) = load_into_memory(csv)
    assert any("cut short" in w for w in run.info.summary["import_warnings"])


def test_cr_only_line_ends_and_huge_fields(tmp_path: Path, cli: Cli) -> None:
    cr = tmp_path / "mac.csv"
    cr.write_text("step,loss\r1,2.0\r2,1.5\r")
    (run,) = load_into_memory(cr)
    assert list(run.series["train/loss"].steps) == [1, 2]
    big = tmp_path / "field.csv"
    big.write_text("step,loss,note\n1,2.0,ok\n2,1.9," + "x" * 200_000 + "\n")
    res = cli("import", big)
    line = _one_line_error(res, "malformed CSV", "line 3", "kept the 1 point before it")
    assert len(line) < 400


def test_deep_json_is_one_line(tmp_path: Path, cli: Cli) -> None:
    state = tmp_path / "trainer_state.json"
    state.write_text('{"log_history": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _one_line_error(cli("import", state), "nested too deeply")
    jsonl = tmp_path / "deep.jsonl"
    jsonl.write_text('{"step": 1, "loss": 1.0}\n' + "[" * 100_000 + "\n")
    _one_line_error(cli("import", jsonl), "nested too deeply", "line 2")


def test_a_100kb_console_line_parses_fast(tmp_path: Path) -> None:
    from losslens.importers.hf_console import _parse

    # these took 60-170 s of regex backtracking each; linear patterns take milliseconds
    for line in (
        "1" * 100_000,
        " num examples = " + "1" * 100_000,
        "{'loss': 1" + " " * 100_000 + "'",
    ):
        t0 = time.process_time()
        _parse("{'loss': 1.0, 'epoch': 0.1}\n" + line)
        assert time.process_time() - t0 < 1.0


def test_a_console_run_folder_that_is_no_date(tmp_path: Path) -> None:
    log = tmp_path / "console.txt"
    log.write_text(
        "wandb: Syncing run r1\nwandb: offline-run-20261399_999999-abc\n"
        "{'loss': 2.0, 'grad_norm': 1.0, 'learning_rate': 1e-4, 'epoch': 0.5}\n"
        "{'loss': 1.5, 'grad_norm': 1.0, 'learning_rate': 1e-4, 'epoch': 1.0}\n"
    )
    (run,) = load_into_memory(log)
    assert len(run.series["train/loss"]) == 2


# -- 10. MLflow meta.yaml -----------------------------------------------------------------


def _mlflow_copy(tmp_path: Path) -> Path:
    src = DATA / "other" / "mlflow_files"
    shutil.copytree(src, tmp_path / "mlruns")
    (run_dir,) = [p for p in (tmp_path / "mlruns").glob("*/*") if p.is_dir()]
    return run_dir


def test_a_yaml_alias_bomb_is_refused(tmp_path: Path, cli: Cli) -> None:
    run_dir = _mlflow_copy(tmp_path)
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    (run_dir / "meta.yaml").write_text(bomb)
    _one_line_error(cli("import", run_dir), "aliases")


def test_mlflow_status_by_name_and_escape_names(tmp_path: Path, cli: Cli) -> None:
    run_dir = _mlflow_copy(tmp_path)
    meta = (run_dir / "meta.yaml").read_text()
    meta = "\n".join(
        line for line in meta.splitlines() if not line.startswith(("status:", "run_name:"))
    )
    (run_dir / "meta.yaml").write_text(
        meta + '\nstatus: RUNNING\nrun_name: "evil\\e]0;pwned\\a\\e[2J"\n'
    )
    (run_dir / "tags" / "mlflow.runName").write_text(ESC)
    res = cli("import", run_dir)
    assert res.code == 0, res.err  # type: ignore[attr-defined]
    assert_terminal_safe(cli("runs").out)  # type: ignore[attr-defined]


# -- 7/8. SQLite sources ------------------------------------------------------------------


def test_odd_cells_in_mlflow_db_are_counted_not_fatal(tmp_path: Path) -> None:
    db = tmp_path / "mlflow.db"
    shutil.copy(DATA / "hf_run" / "mlflow.db", db)
    with sqlite3.connect(db) as conn:
        ids = [r[0] for r in conn.execute("SELECT rowid FROM metrics LIMIT 3")]
        conn.execute("UPDATE metrics SET value = 'text' WHERE rowid = ?", (ids[0],))
        conn.execute("UPDATE metrics SET value = ? WHERE rowid = ?", (b"\x00\xff", ids[1]))
        conn.execute("UPDATE metrics SET step = ? WHERE rowid = ?", (b"\x00\xff", ids[2]))
        conn.execute("UPDATE runs SET name = ?", (ESC,))
    runs = load_into_memory(db)
    warnings = [w for r in runs for w in r.info.summary.get("import_warnings", [])]
    assert any("value could not be kept" in w for w in warnings)
    assert any("step could not be kept" in w for w in warnings)


def test_a_damaged_sqlite_index_is_checked_and_reported(tmp_path: Path, cli: Cli) -> None:
    db = tmp_path / "mlflow.db"
    shutil.copy(DATA / "hf_run" / "mlflow.db", db)
    with sqlite3.connect(db) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        roots = [
            r[0]
            for r in conn.execute(
                "SELECT rootpage FROM sqlite_master WHERE type='index' AND tbl_name='metrics'"
            )
        ]
        total = conn.execute("SELECT COUNT(*) FROM metrics").fetchone()[0]
    raw = bytearray(db.read_bytes())
    for root in roots:  # scribble over the metrics indexes' root pages
        start = (root - 1) * page_size
        raw[start + 100 : start + page_size] = b"\x07" * (page_size - 100)
    db.write_bytes(bytes(raw))
    res = cli("import", db, "--json")
    out = res.json()  # type: ignore[attr-defined]
    text = json.dumps(out)
    assert "quick_check" in text and "damaged" in text
    points = sum(r["points"] for r in out["imported"])
    assert points > 0 and points <= total


def test_a_crc_valid_but_undecodable_tensorboard_record(tmp_path: Path, cli: Cli) -> None:
    src = next((DATA / "hf_run" / "output" / "runs").glob("*/events.out.tfevents.*"))
    raw = src.read_bytes()
    payload = b"\xff" * 40  # a valid frame around bytes that are no Event
    header = struct.pack("<Q", len(payload))
    record = (
        header
        + struct.pack("<I", masked_crc32c(header))
        + payload
        + struct.pack("<I", masked_crc32c(payload))
    )
    bad = tmp_path / "events.out.tfevents.2.host"
    bad.write_bytes(raw + record)
    res = cli("import", bad)
    line = _one_line_error(res, "undecodable record", "kept the")
    assert "Traceback" not in line


def test_one_empty_event_file_does_not_fail_the_folder(tmp_path: Path) -> None:
    src = next((DATA / "hf_run" / "output" / "runs").glob("*/events.out.tfevents.*"))
    folder = tmp_path / "tb"
    folder.mkdir()
    shutil.copy(src, folder / src.name)
    (folder / "events.out.tfevents.9.empty").write_bytes(b"")
    (run,) = load_into_memory(folder)
    assert run.series
    assert any("is empty: skipped" in w for w in run.info.summary["import_warnings"])


# -- 5. escape sequences in names from every importer -------------------------------------


def test_escape_sequences_in_names_never_reach_the_terminal(tmp_path: Path, cli: Cli) -> None:
    # a file name
    named = tmp_path / f"{ESC.replace('/', '_')}.csv"
    named.write_text("step,loss\n1,2.0\n2,1.5\n")
    # a console log naming its W&B run
    console = tmp_path / "console.txt"
    console.write_text(
        f"wandb: Syncing run {ESC.replace(' ', '')}\n"
        "{'loss': 2.0, 'grad_norm': 1.0, 'learning_rate': 1e-4, 'epoch': 0.5}\n"
        "{'loss': 1.5, 'grad_norm': 1.0, 'learning_rate': 1e-4, 'epoch': 1.0}\n"
    )
    # trackio run names and metric keys
    db = tmp_path / "trackio.db"
    shutil.copy(DATA / "hf_run" / "trackio" / "fixtures.db", db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE metrics SET run_name = ?", (ESC,))
    # a metric key in a JSONL log
    jsonl = tmp_path / "keys.jsonl"
    jsonl.write_text(json.dumps({"step": 1, f"loss{ESC}": 1.0}) + "\n")
    res = cli("import", tmp_path)
    assert_terminal_safe(res.out + res.err)  # type: ignore[attr-defined]
    runs = cli("runs")
    assert_terminal_safe(runs.out)  # type: ignore[attr-defined]
    assert "\\x1b" in runs.out  # type: ignore[attr-defined]
    store = str(tmp_path / "store.db")
    for r in cli("runs", "--json").json():  # type: ignore[attr-defined]
        for args in (
            ("show", r["id"]),
            ("analyze", r["id"], "--store", store),
            ("analyze", r["id"], "--store", store, "--format", "markdown"),
        ):
            res = cli(*args)
            assert res.code in (0, 1), res.err  # type: ignore[attr-defined]
            assert_terminal_safe(res.out + res.err)  # type: ignore[attr-defined]
    # an error message naming a hostile path
    res = cli("import", tmp_path / f"missing{ESC}.csv")
    _one_line_error(res, "missingevil\\x1b]0;pwned\\x07")
    assert_terminal_safe(res.err)  # type: ignore[attr-defined]
