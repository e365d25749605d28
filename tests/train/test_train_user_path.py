"""The blog user's path through ``losslens train``: their flags, their habits, their machine.

Every test runs the CLI in a subprocess, as the user does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from train_helpers import FAST, CliRunner

from extras import needs
from losslens.paths import default_store_path
from losslens.store import Store

#: The flags of a blog-style ``train_peft.py`` run on the motivating data (docs/train.md).
BLOG_FLAGS = [
    "--model_name_or_path", "tiny",
    "--learning_rate", "2e-4",
    "--num_train_epochs", "3",
    "--per_device_train_batch_size", "1",
    "--gradient_accumulation_steps", "8",
    "--logging_steps", "10",
    "--lr_scheduler_type", "cosine",
    "--warmup_ratio", "0.03",
    "--max_seq_length", "256",
    "--lora_r", "8",
    "--lora_alpha", "16",
    "--lora_dropout", "0.05",
    "--target_modules", "all-linear",
    "--run_name", "blog",
    "--fp16",
    "--save_steps", "50",
    "--gradient_checkpointing",
    "--report_to", "none",
    "--seed", "42",
]  # fmt: skip


def _one_line_error(proc: object, needle: str) -> str:
    rc, err = proc.returncode, proc.stderr  # type: ignore[attr-defined]
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("losslens: error: "), err
    assert needle in lines[0], err
    assert len(lines) <= 2, err  # the error and at most one hint
    return str(lines[0])


def test_the_blog_flags_are_accepted_as_written(
    cli: CliRunner, tmp_path: Path, example_data: Path
) -> None:
    needs("torch", "train")
    proc = cli(
        ["train", *BLOG_FLAGS, "--data_path", str(example_data), "--eval_ratio", "0", "--dry_run"]
    )
    assert proc.returncode == 0, proc.stderr
    o = yaml.safe_load(proc.stdout)
    assert o["model"] == "tiny" and o["lr"] == 2e-4 and o["cutoff_len"] == 256
    assert o["name"] == "blog" and o["lora_target_modules"] == "all-linear"
    # 3 epochs of 23 chats at batch 1 x accumulation 8: 3 steps per epoch
    assert o["max_steps"] == 9 and o["num_train_epochs"] is None
    assert o["use_wandb"] is False and o["precision"] == "fp32"  # no GPU here: --fp16 noted
    err = proc.stderr
    assert "--fp16: no CUDA GPU" in err
    assert "ignored --save_steps, --gradient_checkpointing" in err
    assert "--logging_steps 10 with 9 steps records the first step only" in err
    assert "--logging_steps 1" in err


def test_max_steps_wins_over_epochs_as_in_the_trainer(
    cli: CliRunner, tmp_path: Path, example_data: Path
) -> None:
    needs("torch", "train")
    args = ["train", "--model", "tiny", "--data_path", str(example_data), "--dry_run"]
    proc = cli([*args, "--num_train_epochs", "3", "--max_steps", "40"])
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout)["max_steps"] == 40


def test_an_unknown_flag_gets_train_usage_and_a_guess(cli: CliRunner, tmp_path: Path) -> None:
    proc = cli(["train", "--learnig_rate", "1e-4", "--data_path", "x.jsonl"])
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: losslens train ")
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("losslens train: error: unrecognized arguments: --learnig_rate")
    assert "did you mean --learning_rate?" in last


def test_output_dir_that_is_a_file(cli: CliRunner, tmp_path: Path, example_data: Path) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("mine\n", encoding="utf-8")
    args = ["train", "--model", "tiny", "--data_path", str(example_data)]
    _one_line_error(cli([*args, "--output_dir", str(existing)]), "this is a file, not a folder")
    _one_line_error(cli([*args, "--output_dir", str(existing / "sub")]), "is a file, not a folder")
    assert existing.read_text(encoding="utf-8") == "mine\n"


def test_hub_model_with_hf_hub_offline_is_one_line_at_once(
    cli: CliRunner, tmp_path: Path, example_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for extra in ([], ["--dry_run"]):
        args = ["train", "--model", "nobody/not-a-model", "--data_path", str(example_data)]
        line = _one_line_error(cli([*args, *extra]), "--model nobody/not-a-model: not on disk")
        assert "HF_HUB_OFFLINE is set" in line


def test_unreachable_hub_is_detected_early(
    cli: CliRunner, tmp_path: Path, example_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on port 9
    args = ["train", "--model", "nobody/not-a-model", "--data_path", str(example_data)]
    proc = cli([*args, "--dry_run"])
    _one_line_error(proc, "the Hugging Face Hub cannot be reached")
    assert "Retrying" not in proc.stderr and "retry" not in proc.stderr.lower()


def test_a_cached_hub_model_is_used_offline_and_said_once(
    cli: CliRunner, tmp_path: Path, example_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    needs("torch", "train")
    hf = tmp_path / "hf"
    repo = hf / "hub" / "models--someone--cached-model"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123", encoding="utf-8")
    (repo / "snapshots" / "abc123").mkdir(parents=True)
    (repo / "snapshots" / "abc123" / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.setenv("HF_HOME", str(hf))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    args = ["train", "--model", "someone/cached-model", "--data_path", str(example_data)]
    proc = cli([*args, "--dry_run"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("HF_HUB_OFFLINE is set: using the cached copy") == 1


@pytest.mark.slow
def test_wandb_without_login_falls_back_offline_then_import_and_generate(
    cli: CliRunner, tmp_path: Path, example_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One tiny run covers three steps of the path: W&B habits, re-import, generate."""
    needs("transformers", "train")
    needs("wandb", "wandb")
    home = tmp_path / "home"
    home.mkdir()
    for var in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_SILENT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(home / ".netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(home / ".config" / "wandb"))
    out = tmp_path / "out"
    proc = cli(
        ["train", *FAST, "--data_path", str(example_data), "--output_dir", str(out),
         "--max_steps", "3", "--use_wandb", "--name", "wb"]
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "UsageError" not in proc.stderr
    said = [ln for ln in proc.stdout.splitlines() if "W&B is not logged in" in ln]
    assert len(said) == 1, proc.stdout
    assert list((out / "wandb").glob("offline-run-*"))

    # -- importing the output folder finds the run losslens recorded, no copy is added
    marker = json.loads((out / "losslens_run.json").read_text(encoding="utf-8"))
    imp = cli(["import", str(out), "--json"])
    assert imp.returncode == 0, imp.stderr
    data = json.loads(imp.stdout)
    assert data["imported"] == []
    assert any(marker["run_id"] in s["reason"] for s in data["skipped"]), data["skipped"]
    with Store(default_store_path(), create=False) as store:
        assert [r.id for r in store.list_runs()] == [marker["run_id"]]
        assert store.get_run(marker["run_id"]).config["vocab_size"] == 512

    # -- generated text from a random tiny model is printed safely
    gen = cli(["generate", str(out), "--prompt", "안녕", "--max_new_tokens", "48"])
    assert gen.returncode == 0, gen.stderr
    assert re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", gen.stdout) is None
