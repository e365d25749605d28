"""Every real log in the shared corpus imports, with sensible steps and values."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from importer_data import CORPUS

from losslens import keys
from losslens.ingest import load_into_memory

FILES = [*sorted((CORPUS / "real" / "files").glob("*")), CORPUS / "qwen2_lora_23ex_console.txt"]
INDEX = {}
if (CORPUS / "real" / "index.jsonl").exists():
    for line in (CORPUS / "real" / "index.jsonl").read_text().splitlines():
        d = json.loads(line)
        INDEX[Path(d["file"]).name] = d


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:40])
def test_corpus_file_imports(path: Path, corpus: Path) -> None:
    runs = load_into_memory(path)
    assert len(runs) == 1
    run = runs[0]
    loss = run.series.get(keys.LOSS)
    ev = run.series.get(keys.EVAL_LOSS)
    assert (loss is not None and len(loss)) or (ev is not None and len(ev))
    for s in run.series.values():
        assert np.all(np.diff(s.steps) >= 0)
    meta = INDEX.get(path.name)
    if meta and loss is not None and meta.get("loss_start") is not None:
        assert loss.values[0] == pytest.approx(meta["loss_start"], rel=1e-6)
    if meta and meta["format"] == "hf_trainer_state":
        n_train = meta.get("n_train_entries") or meta["n_log_entries"]
        assert loss is not None and len(loss) == n_train


def test_qwen_console_steps_inferred(corpus: Path) -> None:
    run = load_into_memory(corpus / "qwen2_lora_23ex_console.txt")[0]
    loss = run.series[keys.LOSS]
    assert list(loss.steps) == list(range(10, 101, 10))
    assert run.info.config["max_steps"] == 100
    assert run.info.config["logging_steps"] == 10
    assert run.info.name == "Qwen2-0.5B-Instruct-lora-1755134635"
    assert run.info.summary["train_runtime"] == pytest.approx(345.2677)
    # W&B's end-of-run summary block is read too
    assert run.info.summary["train/global_step"] == 100


def test_tqdm_counters_give_steps(corpus: Path) -> None:
    run = load_into_memory(corpus / "real" / "files" / "024_console_llava-lora-loss-spike.txt")[0]
    assert list(run.series[keys.LOSS].steps) == [2564, 2565, 2566, 2567, 2568, 2569]
    assert run.info.config["max_steps"] == 10485


def test_nan_tokens_in_trainer_state(corpus: Path) -> None:
    run = load_into_memory(corpus / "real" / "files" / "046_dpo-per-step-json-nan-gradnorm.json")[0]
    assert np.isnan(run.series[keys.GRAD_NORM].values).any()


def test_cut_line_and_inf_nan_in_console(corpus: Path) -> None:
    run = load_into_memory(corpus / "real" / "files" / "026_console_vicuna-lora-loss-inf-nan.txt")[
        0
    ]
    v = run.series[keys.LOSS].values
    assert v[0] == pytest.approx(240023.775) and np.isinf(v[1]) and np.isnan(v[2])
    cut = load_into_memory(
        corpus / "real" / "files" / "031_console_sentence-transformers-train-eval.txt"
    )[0]
    assert any("cut off" in w for w in cut.info.summary["import_warnings"])
    assert len(cut.series[keys.EVAL_LOSS]) == 1
