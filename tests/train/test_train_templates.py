"""Chat-template choice, the shipped templates, and the hardware plan (no training)."""

from __future__ import annotations

from typing import Any

import pytest

from extras import needs
from losslens.errors import ConfigError
from losslens.train.chat import choose_template, has_generation_markers, load_template

CHAT = [
    {"role": "user", "content": "안녕?"},
    {"role": "assistant", "content": "안녕하세요!"},
]


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    from losslens.train.tiny import build_tokenizer

    return build_tokenizer(["안녕? 안녕하세요! hello there", "system user assistant"])


def test_qwen2_layout_with_default_system_prompt(tokenizer: Any) -> None:
    text = tokenizer.apply_chat_template(CHAT, chat_template=load_template("qwen2"), tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n안녕?<|im_end|>\n"
        "<|im_start|>assistant\n안녕하세요!<|im_end|>\n"
    )
    prompt = tokenizer.apply_chat_template(
        CHAT[:1], chat_template=load_template("qwen2"), tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>user\n안녕?<|im_end|>\n<|im_start|>assistant\n")


def test_assistant_mask_covers_answer_and_end_token(tokenizer: Any) -> None:
    out = tokenizer.apply_chat_template(
        CHAT, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    masked = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
    assert masked == "안녕하세요!<|im_end|>"


def test_unknown_role_is_rejected(tokenizer: Any) -> None:
    with pytest.raises(Exception, match="unknown role 'tool'"):
        tokenizer.apply_chat_template([{"role": "tool", "content": "x"}, *CHAT], tokenize=False)


def test_choice_order(tokenizer: Any) -> None:
    tokenizer.chat_template = load_template("chatml")
    assert choose_template(tokenizer, True).source == "model"
    plain_qwen2 = (
        load_template("qwen2")
        .replace("{%- generation -%}", "")
        .replace("{%- endgeneration -%}", "")
    )
    assert not has_generation_markers(plain_qwen2)
    tokenizer.chat_template = plain_qwen2
    choice = choose_template(tokenizer, True)
    assert choice.source == "losslens-qwen2" and choice.assistant_only_loss
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    )
    choice = choose_template(tokenizer, True)
    assert choice.source == "model" and not choice.assistant_only_loss
    assert "whole chat" in choice.note
    tokenizer.chat_template = load_template("chatml")


def test_cpu_plan_and_old_gpu_plans() -> None:
    import torch

    from losslens.train.modeling import HardwarePlan, avoid_triton_on_old_gpus, plan_hardware

    if torch.cuda.is_available():
        pytest.skip("checks the CPU plan")
    plan = plan_hardware("auto", "auto")
    assert (plan.device, plan.precision, plan.quantization) == ("cpu", "fp32", "none")
    assert plan_hardware("4bit", "auto").quantization == "4bit"
    with pytest.raises(ConfigError, match="--precision bf16 needs a CUDA GPU"):
        plan_hardware("auto", "bf16")
    assert not avoid_triton_on_old_gpus(plan)
    chunked = needs("trl.kernels.chunked_logprob", "train")
    before = chunked._TRITON_AVAILABLE
    pascal = HardwarePlan("cuda", "GTX 1050 Ti", "6.1", "4bit", "fp32", "paged_adamw_8bit", "")
    try:
        assert avoid_triton_on_old_gpus(pascal)
        assert chunked._TRITON_AVAILABLE is False
    finally:
        chunked._TRITON_AVAILABLE = before
    ampere = HardwarePlan("cuda", "RTX 3060", "8.6", "4bit", "bf16", "paged_adamw_8bit", "")
    assert not avoid_triton_on_old_gpus(ampere)
