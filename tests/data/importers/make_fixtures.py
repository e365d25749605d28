"""Regenerate the importer fixtures in this folder with the real tools.

    .venv/bin/python tests/data/importers/make_fixtures.py

One tiny ``transformers.Trainer`` run (random 2-layer Qwen2 built from a config, 24 steps,
logging_steps=1, eval every 8 steps, CPU) reports to TensorBoard, W&B (offline), MLflow
(SQLite store) and trackio at once; its console output is captured and its
``trainer_state.json`` files kept (two checkpoints and the final ``save_state()``). Then
small stand-alone fixtures: an MLflow file store, a trackio project, a W&B-style CSV
export and a JSONL written from ``log_history``. Everything lands in ``hf_run/`` and
``other/`` next to this script (old copies are replaced). The W&B folder is renamed
``wandb_dir/`` and the MLflow file store is ``mlflow_files/`` because the repository's
.gitignore ignores every ``wandb/`` and ``mlruns/``. README.md describes the result.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

TRAIN = textwrap.dedent(
    """
    import math, os, sys
    import torch
    from datasets import Dataset
    from transformers import Qwen2Config, Qwen2ForCausalLM, Trainer, TrainingArguments

    out = sys.argv[1]
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = Qwen2ForCausalLM(cfg)
    g = torch.Generator().manual_seed(1)
    def rows(n):
        ids = torch.randint(3, 96, (n, 16), generator=g)
        ids[:, 8:] = ids[:, :8]  # learnable: second half repeats the first
        return Dataset.from_dict({"input_ids": ids.tolist(), "labels": ids.tolist()})
    args = TrainingArguments(
        output_dir=out, max_steps=24, per_device_train_batch_size=4, gradient_accumulation_steps=2,
        learning_rate=3e-3, lr_scheduler_type="cosine", warmup_steps=3, logging_steps=1,
        eval_strategy="steps", eval_steps=8, save_steps=12, save_total_limit=2,
        report_to=["tensorboard", "wandb", "mlflow", "trackio"], run_name="tiny-qwen2",
        use_cpu=True, seed=0, dataloader_num_workers=0, disable_tqdm=False, project="fixtures",
        log_level="info",
    )
    trainer = Trainer(model=model, args=args, train_dataset=rows(48), eval_dataset=rows(8))
    trainer.train()
    trainer.save_state()  # output/trainer_state.json, with the end-of-run record
    """
)


def main() -> None:
    run_dir = HERE / "hf_run"
    other = HERE / "other"
    for d in (run_dir, other):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    env = dict(
        os.environ,
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_DIR=str(run_dir),
        WANDB_PROJECT="fixtures",
        MLFLOW_TRACKING_URI=f"sqlite:///{run_dir / 'mlflow.db'}",
        MLFLOW_EXPERIMENT_NAME="fixtures",
        TRACKIO_DIR=str(run_dir / "trackio"),
        TENSORBOARD_LOGGING_DIR=str(run_dir / "output" / "runs" / "tiny-qwen2"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
    )
    env.pop("TRACKIO_SPACE_ID", None)
    with open(run_dir / "console.txt", "wb") as console:
        subprocess.run(
            [sys.executable, "-c", TRAIN, str(run_dir / "output")],
            check=True,
            env=env,
            stdout=console,
            stderr=subprocess.STDOUT,
            cwd=run_dir,
        )
    # keep the logs, drop the weights (the fixtures must stay small)
    for p in sorted((run_dir / "output").rglob("*")):
        if p.is_file() and p.suffix in (".safetensors", ".bin", ".pt", ".pth"):
            p.unlink()
    for p in (run_dir / "wandb").rglob("*"):
        if p.is_symlink():
            p.unlink()
    # the repository's .gitignore ignores every wandb/ and mlruns/ folder
    (run_dir / "wandb").rename(run_dir / "wandb_dir")
    # the MLflow SQLite store also holds the Trainer's artifacts folder: not needed
    shutil.rmtree(run_dir / "mlartifacts", ignore_errors=True)
    shutil.rmtree(run_dir / "mlruns", ignore_errors=True)
    compact(run_dir)
    make_other(other)


OTHER = textwrap.dedent(
    """
    import json, math, os, sys
    from pathlib import Path
    out = Path(sys.argv[1])

    # MLflow file store, logged through the MLflow client
    import mlflow
    mlflow.set_tracking_uri((out / "mlflow_files").as_uri())
    mlflow.set_experiment("file-store")
    with mlflow.start_run(run_name="file-run"):
        mlflow.log_params({"learning_rate": 2e-4, "per_device_train_batch_size": 2})
        for step in range(1, 21):
            loss = float("nan") if step == 15 else 3.0 / step
            mlflow.log_metrics({"loss": loss, "learning_rate": 2e-4 * (1 - step / 20)}, step=step)
            if step % 10 == 0:
                mlflow.log_metric("eval_loss", 2.5 / step, step=step)

    # trackio project database
    os.environ["TRACKIO_DIR"] = str(out / "trackio")
    import trackio
    trackio.init(project="tr-project", name="tr-run", config={"learning_rate": 1e-3})
    for step in range(12):
        trackio.log({"train/loss": 2.0 - 0.1 * step, "train/global_step": step * 5})
    trackio.log({"eval/loss": 1.5, "train/global_step": 55})
    trackio.finish()
    """
)


def make_other(other: Path) -> None:
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        MLFLOW_ENABLE_ASYNC_LOGGING="false",
        MLFLOW_ALLOW_FILE_STORE="true",
    )
    env.pop("MLFLOW_TRACKING_URI", None)
    subprocess.run([sys.executable, "-c", OTHER, str(other)], check=True, env=env, cwd=other)
    shutil.rmtree(other / "trackio" / "media", ignore_errors=True)
    # JSONL of log_history (what people write from a callback) and a W&B-style CSV export,
    # both from the Trainer run above
    state_file = HERE / "hf_run" / "output" / "trainer_state.json"
    state = json.loads(state_file.read_text())
    with open(other / "log_history.jsonl", "w") as f:
        for entry in state["log_history"]:
            f.write(json.dumps(entry) + "\n")
    # ... and the whole list in one file, as json.dump(trainer.state.log_history, f) writes it
    with open(other / "log_history.json", "w") as f:
        json.dump(state["log_history"], f, indent=2)
    import pandas as pd

    train = [e for e in state["log_history"] if "loss" in e]
    df = pd.DataFrame(
        {
            "Step": [e["step"] for e in train],
            "tiny-qwen2 - train/loss": [e["loss"] for e in train],
            "tiny-qwen2 - train/loss__MIN": [e["loss"] for e in train],
            "tiny-qwen2 - train/loss__MAX": [e["loss"] for e in train],
            "tiny-qwen2 - train/learning_rate": [e["learning_rate"] for e in train],
        }
    )
    df.to_csv(other / "wandb_export.csv", index=False)
    compact(other)


def compact(root: Path) -> None:
    """VACUUM the SQLite files and drop lock files, so the fixtures stay small and clean."""
    import sqlite3

    for p in root.rglob("*.lock"):
        p.unlink()
    for p in root.rglob("*.db"):
        conn = sqlite3.connect(p)
        # rollback journal, not WAL: reading the fixture must not create -wal/-shm files
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("VACUUM")
        conn.close()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "other":
        shutil.rmtree(HERE / "other", ignore_errors=True)
        (HERE / "other").mkdir()
        make_other(HERE / "other")
    else:
        main()
