"""Regenerate ``other/trainer_run.ipynb``: a notebook run by a real Jupyter kernel.

    pip install --target /tmp/nbpkgs nbclient ipykernel nbformat nbconvert
    PYTHONPATH=/tmp/nbpkgs .venv/bin/python tests/data/importers/make_notebook.py

(nbclient, ipykernel and nbconvert are needed only here, so they are not in the project's
extras.)
The notebook trains the same tiny random Qwen2 twice with ``transformers.Trainer`` (24
steps, logging_steps=1, eval every 8 steps, CPU, same seed): first as in any notebook, where
the Trainer draws its HTML progress table, then with ``disable_tqdm=True``, where it prints
its ``{'loss': ...}`` lines. nbclient executes it in an ipykernel, as Jupyter does, and the
notebook is saved with its outputs. nbconvert then exports its first training cell to
Markdown (``other/trainer_run_table.md``), as people do to show a notebook on GitHub: the
table stays HTML there.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import MarkdownExporter

HERE = Path(__file__).resolve().parent

SETUP = """\
import torch
from datasets import Dataset
from transformers import Qwen2Config, Qwen2ForCausalLM, Trainer, TrainingArguments

def rows(n, g):
    ids = torch.randint(3, 96, (n, 16), generator=g)
    ids[:, 8:] = ids[:, :8]  # learnable: second half repeats the first
    return Dataset.from_dict({"input_ids": ids.tolist(), "labels": ids.tolist()})

def trainer(disable_tqdm):
    torch.manual_seed(0)
    cfg = Qwen2Config(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    g = torch.Generator().manual_seed(1)
    args = TrainingArguments(
        output_dir="nb_out", max_steps=24, per_device_train_batch_size=4,
        gradient_accumulation_steps=2, learning_rate=3e-3, lr_scheduler_type="cosine",
        warmup_steps=3, logging_steps=1, eval_strategy="steps", eval_steps=8, save_strategy="no",
        report_to=[], use_cpu=True, seed=0, dataloader_num_workers=0, disable_tqdm=disable_tqdm,
    )
    return Trainer(model=Qwen2ForCausalLM(cfg), args=args, train_dataset=rows(48, g),
                   eval_dataset=rows(8, g))
"""


def main() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("A tiny Qwen2 trained twice with the same seed."),
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell("trainer(disable_tqdm=False).train()"),
        nbformat.v4.new_code_cell("trainer(disable_tqdm=True).train()"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    work = HERE / "other" / "nb_work"
    work.mkdir(parents=True, exist_ok=True)
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": work}}
    ).execute()
    for child in sorted(work.rglob("*"), reverse=True):
        child.rmdir() if child.is_dir() else child.unlink()
    work.rmdir()
    nbformat.write(nb, HERE / "other" / "trainer_run.ipynb")
    first = nbformat.from_dict({**nb, "cells": nb.cells[:3]})
    markdown, _ = MarkdownExporter().from_notebook_node(first)
    (HERE / "other" / "trainer_run_table.md").write_text(markdown, encoding="utf-8")


if __name__ == "__main__":
    main()
