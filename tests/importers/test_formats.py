"""MLflow file store, trackio, CSV/JSONL: the smaller formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from importer_data import OTHER

from losslens import keys
from losslens.errors import ImportError_, UnknownFormatError
from losslens.importers import FORMATS, detect, load_path
from losslens.importers.base import PartialImportError
from losslens.ingest import ingest, load_into_memory
from losslens.store import Store


def test_mlflow_file_store_with_nan_and_params() -> None:
    (run,) = load_into_memory(OTHER / "mlflow_files")
    assert run.info.name == "file-run"
    assert run.info.project == "file-store"
    assert run.info.status == "finished"
    loss = run.series[keys.LOSS]
    assert list(loss.steps) == list(range(1, 21))
    assert np.isnan(loss.values[14]) and loss.values[0] == 3.0
    assert list(run.series[keys.EVAL_LOSS].steps) == [10, 20]
    assert run.info.config == {"learning_rate": 2e-4, "per_device_train_batch_size": 2}
    assert run.original_keys[keys.LOSS] == "loss"


def test_trackio_project_uses_global_step() -> None:
    (run,) = load_into_memory(OTHER / "trackio" / "tr-project.db")
    assert (run.info.name, run.info.project) == ("tr-run", "tr-project")
    assert list(run.series[keys.LOSS].steps) == [s * 5 for s in range(12)]
    assert list(run.series[keys.EVAL_LOSS].steps) == [55]
    assert run.info.config == {"learning_rate": 1e-3}


def test_csv_with_step_and_blanks(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_text("step,loss,eval_loss,note\n1,2.0,,a\n2,1.5,1.7,b\n3,nan,,c\n")
    (run,) = load_into_memory(p)
    assert list(run.series[keys.LOSS].steps) == [1, 2, 3]
    assert np.isnan(run.series[keys.LOSS].values[2])
    assert list(run.series[keys.EVAL_LOSS].steps) == [2]
    assert "train/note" not in run.series


def test_tensorboard_csv_download(tmp_path: Path) -> None:
    p = tmp_path / "run-myrun-tag-train_loss.csv"
    p.write_text("Wall time,Step,Value\n1700000000.5,10,2.5\n1700000001.5,20,2.25\n")
    (run,) = load_into_memory(p)
    assert run.info.name == "myrun"
    s = run.series[keys.LOSS]
    assert list(s.steps) == [10, 20]
    assert s.wall_times[0] == 1700000000.5


def test_wandb_export_with_two_runs(tmp_path: Path) -> None:
    p = tmp_path / "export.csv"
    p.write_text(
        "Step,a - train/loss,a - train/loss__MIN,b - train/loss\n1,2.0,2.0,3.0\n2,1.0,1.0,\n"
    )
    runs = {r.info.name: r for r in load_into_memory(p)}
    assert set(runs) == {"a", "b"}
    assert list(runs["a"].series[keys.LOSS].values) == [2.0, 1.0]
    assert list(runs["b"].series[keys.LOSS].steps) == [1]


def test_csv_without_step_column(tmp_path: Path) -> None:
    p = tmp_path / "table.csv"
    p.write_text("run,score\nA,2.0\n")
    with pytest.raises(ImportError_, match=r"no step column.*line 1|line 1.*no step column"):
        list(load_path(p)[0].points())


def test_invalid_utf8_in_csv_names_line_and_byte(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_bytes(b"step,loss\n1,2.0\n2,\xff\xfe\n")
    (imported,) = load_path(p)
    with pytest.raises(ImportError_, match=r"line 3, byte 18"):
        list(imported.points())


def test_forced_format_and_unknown_format(tmp_path: Path) -> None:
    p = tmp_path / "log.dat"
    p.write_text("{'loss': 1.0, 'epoch': 0.1}\n")
    (run,) = load_into_memory(p, fmt="console")
    assert len(run.series[keys.LOSS]) == 1
    with pytest.raises(ImportError_, match="unknown format"):
        load_path(p, fmt="nope")
    assert {
        "hf_trainer_state",
        "hf_console",
        "wandb",
        "tensorboard",
        "mlflow",
        "trackio",
        "csv",
    } <= set(FORMATS)


def test_mlflow_bad_metric_line_keeps_the_points_before_it(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    shutil.copytree(OTHER / "mlflow_files", root)
    (loss_file,) = root.glob("*/*/metrics/loss")
    with open(loss_file, "a") as f:
        f.write("not a metric line\n")
    (run,) = load_into_memory(root)
    assert "bad MLflow metric line" in run.info.summary["import_error"]
    assert list(run.series[keys.LOSS].steps) == list(range(1, 21))


def test_jsonl_without_step_column_leaves_no_empty_run(tmp_path: Path) -> None:
    p = tmp_path / "log.jsonl"
    p.write_text('{"accuracy": 0.5}\n')
    store = Store(tmp_path / "s.db")
    (imported,) = load_path(p)
    with pytest.raises(ImportError_, match="no step column") as err:
        ingest(store, imported)
    assert not isinstance(err.value, PartialImportError)
    assert store.list_runs() == []
    store.close()


def test_trainer_state_rows_that_carry_a_running_train_runtime_stay_train_logs(
    tmp_path: Path,
) -> None:
    # some Trainers (token throughput on) log train_runtime on every train row; only the
    # end-of-training entry (train_loss, no loss) is the summary
    rows = [
        {"step": s, "epoch": s / 10, "loss": 2.0 / s, "train_runtime": 0.5 * s} for s in (1, 2, 3)
    ]
    rows.append({"step": 3, "epoch": 0.3, "train_loss": 1.2, "train_runtime": 1.6})
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"global_step": 3, "log_history": rows}))
    run = load_into_memory(p)[0]
    assert list(run.series[keys.LOSS].steps) == [1, 2, 3]
    assert run.info.summary["train_loss"] == 1.2
    assert run.info.summary["train_runtime"] == 1.6


def test_jsonl_train_logs_with_a_running_runtime_are_series(tmp_path: Path) -> None:
    # throughput logged on every train line: only the line without a loss is the summary
    p = tmp_path / "log.jsonl"
    lines = [{"step": s, "loss": 2.0 / s, "train_runtime": 0.5 * s} for s in (1, 2, 3)]
    lines.append({"step": 3, "train_loss": 1.2, "train_runtime": 1.6})
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    run = load_into_memory(p)[0]
    assert list(run.series[keys.LOSS].steps) == [1, 2, 3]
    assert not any("runtime" in k for k in run.series)
    assert run.info.summary == {"train_loss": 1.2, "train_runtime": 1.6}


def test_llama_factory_trainer_log_jsonl(tmp_path: Path) -> None:
    # LLaMA-Factory writes trainer_log.jsonl: current_steps is the step, total_steps the plan
    p = tmp_path / "trainer_log.jsonl"
    lines = [
        {
            "current_steps": s,
            "total_steps": 30,
            "loss": 2.0 / s,
            "lr": 5e-5,
            "epoch": s / 30,
            "percentage": 100 * s / 30,
            "elapsed_time": f"0:00:{s:02d}",
            "remaining_time": "0:00:30",
        }
        for s in (10, 20, 30)
    ]
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    run = load_into_memory(p)[0]
    assert list(run.series[keys.LOSS].steps) == [10, 20, 30]
    assert keys.LR in run.series
    assert not any("percentage" in k or "total_steps" in k for k in run.series)
    assert run.info.config["max_steps"] == 30


def test_a_csv_with_the_notebook_tables_column_names(tmp_path: Path) -> None:
    # the notebook table saved as CSV: "Training Loss" and "Validation Loss" are the losses
    p = tmp_path / "table.csv"
    p.write_text("Step,Training Loss,Validation Loss\n10,2.0,2.1\n20,1.5,1.9\n")
    run = load_into_memory(p)[0]
    assert list(run.series[keys.LOSS].values) == [2.0, 1.5]
    assert list(run.series[keys.EVAL_LOSS].values) == [2.1, 1.9]


def test_a_trainer_log_total_steps_that_is_no_step_is_not_a_plan(tmp_path: Path) -> None:
    p = tmp_path / "trainer_log.jsonl"
    rows = [{"current_steps": s, "total_steps": "1e400", "loss": 1.0 / s} for s in (10, 20)]
    p.write_text("".join(json.dumps(x) + "\n" for x in rows))
    run = load_into_memory(p)[0]
    assert list(run.series[keys.LOSS].steps) == [10, 20]
    assert "max_steps" not in run.info.config


def test_a_json_list_is_a_log_history_only_when_its_entries_are_trainer_logs(
    tmp_path: Path,
) -> None:
    # json.dump(trainer.state.log_history, f) on one line: read as the trainer_state it came from
    entries = json.loads((OTHER / "log_history.json").read_text())
    one_line = tmp_path / "history.json"
    one_line.write_text(json.dumps(entries))
    (imported,) = load_path(one_line)
    assert imported.format == "hf_trainer_state"
    (run,) = load_into_memory(one_line)
    assert len(run.series[keys.LOSS]) == 24
    # the same dump filtered to the keys its author wanted, the epoch dropped: still the
    # Trainer's entries (step, loss, learning rate, grad norm), read with the same losses
    kept = ("step", "loss", "grad_norm", "learning_rate", "eval_loss")
    filtered = tmp_path / "training_metrics.json"
    filtered.write_text(json.dumps([{k: e[k] for k in kept if k in e} for e in entries], indent=2))
    assert load_path(filtered)[0].format == "hf_trainer_state"
    (run_f,) = load_into_memory(filtered)
    assert list(run_f.series[keys.LOSS].values) == list(run.series[keys.LOSS].values)
    assert keys.EPOCH not in run_f.series
    # a JSON list of data records is not a training log
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"text": "a b", "label": 1, "step": 3}] * 5))
    with pytest.raises(UnknownFormatError):
        load_path(records)


def test_a_report_that_keeps_the_log_history_under_a_key_of_its_own(tmp_path: Path) -> None:
    # an author's JSON report: the Trainer's entries under "loss_history", the run's
    # TrainingArguments in a nested object, other results beside them
    entries = json.loads((OTHER / "log_history.json").read_text())
    report = {
        "phase": 3,
        "model": "some/model",
        "training": {"num_train_epochs": 2, "learning_rate": 2e-4, "max_grad_norm": 0.3},
        "final_train_loss": 0.03,
        "loss_history": entries,
        "smoke_test": {"n": 5, "examples": [{"step": 1, "text": "a"}]},
    }
    p = tmp_path / "phase3_training.json"
    p.write_text(json.dumps(report, indent=2))
    (imported,) = load_path(p)
    assert imported.format == "hf_trainer_state"
    (run,) = load_into_memory(p)
    assert len(run.series[keys.LOSS]) == 24
    assert run.info.config["max_grad_norm"] == 0.3
    # an object whose lists hold no Trainer entries is still no training log
    p.write_text(json.dumps({"results": [{"step": 1, "text": "a"}] * 3}))
    with pytest.raises(UnknownFormatError):
        load_path(p)


def test_a_log_history_as_python_prints_it(tmp_path: Path) -> None:
    # print(trainer.state.log_history) on one line, or a notebook's pretty-printed output
    # pasted into an issue with text around it: single quotes, bare nan and inf
    import pprint

    hist: list[dict[str, object]] = [
        {"loss": 2.0 / s, "grad_norm": 1.5, "learning_rate": 1e-4, "epoch": s / 50, "step": s}
        for s in range(10, 101, 10)
    ]
    hist[3]["grad_norm"] = float("nan")
    hist[4]["grad_norm"] = float("inf")
    hist.append({"eval_loss": 1.2, "eval_runtime": 1.0, "epoch": 2.0, "step": 100})
    hist.append({"train_runtime": 99.0, "train_loss": 0.9, "epoch": 2.0, "step": 100})
    for name, text in (
        ("printed.txt", repr(hist)),
        ("issue.md", "My log_history:\n\n```\n" + pprint.pformat(hist) + "\n```\nthanks\n"),
    ):
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        run = load_into_memory(p)[0]
        assert detect(p).name == "hf_trainer_state"
        assert list(run.series[keys.LOSS].steps) == list(range(10, 101, 10))
        grad = run.series[keys.GRAD_NORM].values
        assert np.isnan(grad[3]) and np.isinf(grad[4])
        assert list(run.series[keys.EVAL_LOSS].steps) == [100]
        assert run.info.summary["train_loss"] == 0.9


def test_a_trainer_state_pasted_with_text_around_it(tmp_path: Path) -> None:
    # a trainer_state.json pasted into an issue between a sentence and a code fence, and a
    # bare log_history the same way; a paste cut short stays an error (test_import_cli)
    rows = [
        {"loss": 2.0 / s, "grad_norm": 1.5, "learning_rate": 1e-4, "epoch": s / 50, "step": s}
        for s in range(10, 101, 10)
    ]
    rows[0]["grad_norm"] = None  # JSON's null: the first entry is read as JSON, not Python
    state = json.dumps({"global_step": 100, "max_steps": 100, "log_history": rows}, indent=2)
    for name, text in (("issue.txt", state), ("list.md", json.dumps(rows))):
        pasted = tmp_path / name
        pasted.write_text(f"My log:\n```json\n{text}\n```\nWhy?\n", encoding="utf-8")
        assert detect(pasted).name == "hf_trainer_state"
        run = load_into_memory(pasted)[0]
        assert list(run.series[keys.LOSS].steps) == list(range(10, 101, 10))
    assert load_into_memory(tmp_path / "issue.txt")[0].info.config["max_steps"] == 100


def test_a_pasted_log_history_cut_short_says_so(tmp_path: Path) -> None:
    # not a JSON parse error at "line 1, column 1" of the sentence before it
    cuts = {
        "printed.txt": "[{'loss': 2.0, 'learning_rate': 1e-4, 'epoch': 0.1, 'step': 10}, {'lo",
        "issue.md": 'see:\n{"log_history": [{"loss": 2.0, "learning_rate": 1e-4, "epoch": 0.1, '
        '"step": 10}, {"lo\n',
    }
    for name, text in cuts.items():
        p = tmp_path / name
        p.write_text(text, encoding="utf-8")
        with pytest.raises(ImportError_, match="that is not whole: the paste is cut short"):
            list(load_path(p))
