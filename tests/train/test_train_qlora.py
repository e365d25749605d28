"""The QLoRA code path on CPU (bitsandbytes NF4), run in process with warnings captured."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from rich.console import Console

from extras import needs
from losslens.model import RunStatus
from losslens.store import Store

pytestmark = pytest.mark.slow

SRC = str(Path(__file__).resolve().parents[2] / "src" / "losslens")


def test_qlora_4bit_on_cpu_without_deprecated_calls(tmp_path: Path, example_data: Path) -> None:
    needs("bitsandbytes", "train")
    from losslens.train.runner import train

    out = tmp_path / "out"
    values = {
        "model": "tiny",
        "data_path": str(example_data),
        "output_dir": str(out),
        "max_steps": "4",
        "eval_steps": "2",
        "cutoff_len": "64",
        "gradient_accumulation_steps": "1",
        "quantization": "4bit",
        "lr": "1e-3",
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with (tmp_path / "live.txt").open("w", encoding="utf-8") as fh:
            result = train(values, console=Console(file=fh, width=120))
    ours = [
        w
        for w in caught
        if issubclass(w.category, DeprecationWarning | FutureWarning) and w.filename.startswith(SRC)
    ]
    assert not ours, [f"{w.filename}:{w.lineno} {w.message}" for w in ours]
    legacy = (
        "tokenizer=",
        "dataset_text_field",
        "max_seq_length",
        "evaluation_strategy",
        "warmup_ratio",
        "overwrite_output_dir",
        "no_cuda",
    )
    mentioned = [str(w.message) for w in caught if any(x in str(w.message) for x in legacy)]
    assert not mentioned

    assert result.plan["quantization"] == "4bit" and result.plan["precision"] == "fp32"
    assert result.stopped is None and result.run_id is not None
    with Store(result.store_path, create=False) as store:
        data = store.load(result.run_id)
    assert data.info.status == RunStatus.FINISHED
    assert data.info.config["quantization"] == "4bit"
    assert data.info.config["quantized_linear_layers"] == 14  # 7 per layer, 2 layers
    assert data.series["train/loss"].steps.tolist() == [1, 2, 3, 4]
    assert data.series["eval/loss"].steps.tolist() == [2, 4]  # eval between 4-bit train steps
    assert (out / "adapter_model.safetensors").is_file()
    live = (tmp_path / "live.txt").read_text(encoding="utf-8")
    assert "4-bit NF4" in live and "step 4/4" in live
