"""``losslens generate OUTPUT_DIR --prompt ...``: load base + adapter from a train output dir.

The base comes from the saved ``losslens_train.yaml`` (``model:``); for ``--model tiny``
runs it is ``OUTPUT_DIR/base_model``, so this works with no model hub at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from losslens.errors import ConfigError
from losslens.train.options import CONFIG_FILENAME, TINY, load_config_file
from losslens.train.runner import BASE_DIRNAME, quiet_third_party


def base_model_path(output_dir: Path) -> str:
    """Where the base model of a ``losslens train`` output dir lives."""
    cfg_file = output_dir / CONFIG_FILENAME
    if cfg_file.is_file():
        model = str(load_config_file(cfg_file).get("model") or "")
        if model == TINY:
            return str(output_dir / BASE_DIRNAME)
        if model:
            return model
    adapter_cfg = output_dir / "adapter_config.json"
    if adapter_cfg.is_file():
        import json

        base = json.loads(adapter_cfg.read_text(encoding="utf-8")).get("base_model_name_or_path")
        if base:
            return str(base)
    raise ConfigError(
        f"{output_dir}: no {CONFIG_FILENAME} or adapter_config.json here",
        "pass the --output_dir of a finished 'losslens train' run",
    )


def load(output_dir: str | Path) -> tuple[Any, Any]:
    """(model with the adapter applied, tokenizer), on CUDA when there is one."""
    out = Path(output_dir)
    if not out.is_dir():
        raise ConfigError(f"OUTPUT_DIR: no such folder: {out}")
    if not (out / "adapter_config.json").is_file():
        raise ConfigError(
            f"{out}: no adapter here (adapter_config.json is missing)",
            "the run may have been stopped by the guard before saving; pick a finished run",
        )
    quiet_third_party()
    import torch
    from peft import PeftModel

    from losslens.train import modeling

    tokenizer = modeling.load_tokenizer(str(out))
    base_path = base_model_path(out)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    plan = modeling.plan_hardware("none", "auto")
    base = modeling.load_model(base_path, plan)
    model = PeftModel.from_pretrained(base, str(out))
    model.to(device)
    model.eval()
    return model, tokenizer


def generate(
    output_dir: str | Path,
    prompt: str,
    *,
    system: str | None = None,
    max_new_tokens: int = 128,
    temperature: float = 0.0,
    seed: int = 0,
) -> str:
    """Answer one prompt with the fine-tuned model (greedy unless ``temperature`` > 0)."""
    if max_new_tokens < 1:
        raise ConfigError(f"--max_new_tokens must be at least 1, got {max_new_tokens}")
    if temperature < 0:
        raise ConfigError(f"--temperature must be 0 or more, got {temperature}")
    model, tokenizer = load(output_dir)
    import torch

    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    enc = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    enc = {k: v.to(model.device) for k, v in enc.items()}
    torch.manual_seed(seed)
    kwargs: dict[str, Any] = {
        "max_new_tokens": max_new_tokens,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=temperature)
    else:
        kwargs.update(do_sample=False)
    with torch.no_grad():
        out = model.generate(**enc, **kwargs)
    new_tokens = out[0, enc["input_ids"].shape[1] :]
    text: str = tokenizer.decode(new_tokens, skip_special_tokens=True)
    return text.strip()
