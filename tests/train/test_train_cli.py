"""``losslens train --model tiny`` end to end, as a user runs it (subprocesses, real files)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from train_helpers import FAST, CliRunner

from extras import needs
from losslens.model import RunStatus
from losslens.paths import default_store_path
from losslens.store import Store

pytestmark = pytest.mark.slow
needs("transformers", "train")  # every test here trains

STEPS = 12
PER_STEP = ("train/loss", "train/grad_norm", "train/learning_rate", "train/epoch")


def _only_run(store_path: Path | None = None) -> tuple[Store, str]:
    store = Store(store_path or default_store_path(), create=False)
    runs = store.list_runs()
    assert len(runs) == 1, runs
    return store, runs[0].id


def test_train_records_saves_reproduces_and_generates(
    cli: CliRunner, tmp_path: Path, example_data: Path
) -> None:
    out = tmp_path / "out"
    args = [
        "train",
        *FAST,
        "--data_path",
        str(example_data),
        "--output_dir",
        str(out),
        "--max_steps",
        str(STEPS),
        "--eval_steps",
        "4",
        "--lr",
        "2e-3",
        "--name",
        "e2e",
    ]
    proc = cli(args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr

    # -- the store: one finished run linked to the output dir, every metric per logged step
    store, run_id = _only_run()
    data = store.load(run_id)
    info = data.info
    assert info.status == RunStatus.FINISHED and info.exit_code == 0
    assert info.output_dir == str(out) and info.name == "e2e"
    for key in PER_STEP:
        assert data.series[key].steps.tolist() == list(range(1, STEPS + 1)), key
    assert data.series["eval/loss"].steps.tolist() == [4, 8, 12]
    state = json.loads((out / "trainer_state.json").read_text(encoding="utf-8"))
    logged = [e for e in state["log_history"] if "loss" in e]
    assert data.series["train/loss"].values.tolist() == pytest.approx([e["loss"] for e in logged])
    evals = [e["eval_loss"] for e in state["log_history"] if "eval_loss" in e]
    assert data.series["eval/loss"].values.tolist() == pytest.approx(evals)
    assert "train_runtime" in info.summary and "train_loss" in info.summary
    cfg = info.config
    assert cfg["precision"] == "fp32" and cfg["quantization"] == "none"
    assert "CPU" in cfg["precision_reason"]
    assert cfg["effective_batch_size"] == 2 and cfg["world_size"] == 1
    assert (cfg["examples"], cfg["train_examples"], cfg["eval_examples"]) == (23, 21, 2)
    assert cfg["assistant_only_loss"] is True
    assert cfg["training_args"]["logging_nan_inf_filter"] is False
    assert set(cfg["lora_target_modules_resolved"]) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }

    # -- the live view and the summary
    assert f"losslens show {run_id}" in proc.stdout
    assert "losslens analyze" in proc.stdout and "losslens ui" in proc.stdout
    assert "train/loss" in proc.stdout

    # -- what was saved
    for name in (
        "adapter_model.safetensors",
        "adapter_config.json",
        "tokenizer.json",
        "losslens_train.yaml",
        "trainer_state.json",
        "base_model/config.json",
        "base_model/model.safetensors",
    ):
        assert (out / name).is_file(), name

    # -- the saved config reproduces the same resolved config
    saved = yaml.safe_load((out / "losslens_train.yaml").read_text(encoding="utf-8"))
    again = cli(["train", "--config", str(out / "losslens_train.yaml"), "--dry_run"])
    assert again.returncode == 0, again.stderr
    assert yaml.safe_load(again.stdout) == saved
    override = cli(
        ["train", "--config", str(out / "losslens_train.yaml"), "--dry_run", "--max_steps", "5"]
    )
    changed = {k for k, v in yaml.safe_load(override.stdout).items() if saved[k] != v}
    assert changed == {"max_steps"}

    # -- generate: base from output_dir/base_model + the adapter, offline
    moved = tmp_path / "moved"
    shutil.copytree(out, moved)  # nothing points outside the folder except the saved config
    gen = cli(["generate", str(moved), "--prompt", "김치찌개 끓이는 법?", "--max_new_tokens", "8"])
    assert gen.returncode == 0, gen.stderr[-2000:]
    assert "Traceback" not in gen.stderr

    from losslens.train.generate import load

    model, _tokenizer = load(out)
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(float(p.abs().sum()) > 0 for p in lora_b)  # trained, not the zero init
    store.close()


def test_guard_stops_an_absurd_learning_rate(
    cli: CliRunner, tmp_path: Path, example_data: Path
) -> None:
    out = tmp_path / "out"
    proc = cli(
        [
            "train",
            *FAST,
            "--data_path",
            str(example_data),
            "--output_dir",
            str(out),
            "--max_steps",
            "20",
            "--lr",
            "1e20",
            "--guard",
        ]
    )
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()
    assert any(line.startswith("losslens: error: guard stopped the run:") for line in last)
    assert "nan" in proc.stderr.lower()
    store, run_id = _only_run()
    info = store.get_run(run_id)
    assert info.status == RunStatus.FAILED and info.exit_code == 3
    assert info.summary["guard_stop_kind"] == "nan_or_inf"
    assert info.summary["guard_stop_step"] < 20
    assert not (out / "adapter_model.safetensors").exists()
    assert (out / "trainer_state.json").is_file()
    store.close()


def test_torchrun_two_processes_record_one_run(
    cli: CliRunner, tmp_path: Path, example_data: Path
) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    if not torchrun.exists():
        pytest.skip("torchrun is not installed")
    out = tmp_path / "out"
    proc = cli(
        [
            "train",
            *FAST,
            "--data_path",
            str(example_data),
            "--output_dir",
            str(out),
            "--max_steps",
            "4",
            "--eval_steps",
            "2",
            "--gradient_accumulation_steps",
            "1",
        ],
        launcher=[str(torchrun), "--standalone", "--nproc_per_node", "2"],
        timeout=300,
    )
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-3000:])
    store, run_id = _only_run()
    data = store.load(run_id)
    assert data.info.status == RunStatus.FINISHED
    assert data.info.config["world_size"] == 2
    assert data.info.config["effective_batch_size"] == 2
    assert data.series["train/loss"].steps.tolist() == [1, 2, 3, 4]  # once, not once per rank
    assert data.series["eval/loss"].steps.tolist() == [2, 4]
    assert proc.stdout.count("losslens show") == 1
    assert (out / "adapter_model.safetensors").is_file()
    store.close()


def test_wandb_offline_writes_its_run_next_to_ours(
    cli: CliRunner, tmp_path: Path, example_data: Path
) -> None:
    needs("wandb", "wandb")
    assert os.environ["WANDB_MODE"] == "offline"
    out = tmp_path / "out"
    proc = cli(
        [
            "train",
            *FAST,
            "--data_path",
            str(example_data),
            "--output_dir",
            str(out),
            "--max_steps",
            "3",
            "--use_wandb",
            "--wandb_project",
            "ll-test",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    assert list(runs[0].glob("run-*.wandb"))
    store, run_id = _only_run()
    info = store.get_run(run_id)
    assert info.status == RunStatus.FINISHED
    assert info.config["training_args"]["report_to"] == ["wandb"]
    assert info.config["losslens_train"]["wandb_project"] == "ll-test"
    store.close()


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    """``scripts/demo`` minus the bootstrap, shortened by passing train flags through."""
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "losslens.cli.demo", "--max_steps", "3",
         "--gradient_accumulation_steps", "1", "--cutoff_len", "64", "--eval_steps", "3"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    store, run_id = _only_run()
    info = store.get_run(run_id)
    assert info.project == "demo" and info.status == RunStatus.FINISHED
    assert info.output_dir == str(default_store_path().parent / "runs" / "mini-instruct")
    assert f"losslens show {run_id}" in proc.stdout and "store:" in proc.stdout
    assert "dashboard:   .venv/bin/losslens ui --store" in proc.stdout  # no markup eaten
    store.close()


def test_early_stopping_keeps_the_best_adapter(
    cli: CliRunner, tmp_path: Path, example_data: Path
) -> None:
    out = tmp_path / "out"
    proc = cli(["train", *FAST, "--data_path", str(example_data), "--output_dir", str(out),
                "--max_steps", "40", "--lr", "5e-2", "--eval_steps", "2",
                "--early_stopping_patience", "2"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    store, run_id = _only_run()
    info = store.get_run(run_id)
    state = json.loads((out / "trainer_state.json").read_text(encoding="utf-8"))
    stopped = info.summary["early_stopped_at_step"]
    assert stopped < 40 and state["global_step"] == stopped
    evals = [(e["step"], e["eval_loss"]) for e in state["log_history"] if "eval_loss" in e]
    best_step = min(evals, key=lambda se: se[1])[0]
    assert state["best_model_checkpoint"].endswith(f"checkpoint-{best_step}")
    assert (out / "adapter_model.safetensors").is_file()
    assert "early stop" in proc.stdout
    store.close()
