"""Hardware plan (device, quantisation, precision) and model/tokenizer loading.

Precision is decided from the GPU's compute capability, never from
``torch.cuda.is_bf16_supported()`` (which says yes on pre-Ampere cards by emulation):

- sm_80 and newer: bf16 (native, safe for Qwen2);
- older GPUs: fp32 compute with NF4 weights. fp16 is fast but Qwen2 overflows to inf/NaN
  in fp16, so it is opt-in (``--precision fp16``);
- CPU: fp32, plain LoRA (``--quantization 4bit`` forces the QLoRA path, which
  bitsandbytes >= 0.50 runs on x86 CPUs too).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from losslens.errors import ConfigError, TrainError


@dataclass(frozen=True)
class HardwarePlan:
    device: str  # "cuda" | "cpu"
    gpu_name: str | None
    capability: str | None  # "8.6"
    quantization: str  # "4bit" | "none"
    precision: str  # "bf16" | "fp16" | "fp32"
    optim: str
    reason: str

    @property
    def bf16(self) -> bool:
        return self.precision == "bf16"

    @property
    def fp16(self) -> bool:
        return self.precision == "fp16"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def plan_hardware(quantization: str, precision: str) -> HardwarePlan:
    """Decide device, quantisation, compute precision and optimizer, with the reason."""
    import torch

    cuda = torch.cuda.is_available()
    if not cuda:
        if precision in ("fp16", "bf16"):
            raise ConfigError(
                f"--precision {precision} needs a CUDA GPU; this machine has none",
                "use --precision fp32 (the CPU default) or auto",
            )
        quant = "4bit" if quantization == "4bit" else "none"
        reason = "no CUDA GPU: fp32 on CPU"
        reason += (
            ", 4-bit NF4 weights (QLoRA path) as asked"
            if quant == "4bit"
            else ", plain LoRA without quantisation (--quantization 4bit forces QLoRA)"
        )
        return HardwarePlan("cpu", None, None, quant, "fp32", "adamw_torch", reason)
    idx = _local_rank() % max(1, torch.cuda.device_count())
    major, minor = torch.cuda.get_device_capability(idx)
    name = torch.cuda.get_device_name(idx)
    quant = "none" if quantization == "none" else "4bit"
    if precision == "auto":
        if major >= 8:
            chosen = "bf16"
            why = f"{name} (sm_{major}{minor}) has native bf16"
        else:
            chosen = "fp32"
            why = (
                f"{name} (sm_{major}{minor}) has no native bf16 and Qwen2 overflows in fp16: "
                "fp32 compute (--precision fp16 is faster but may give NaN)"
            )
    else:
        chosen = precision
        why = f"--precision {precision} as asked on {name} (sm_{major}{minor})"
        if precision == "bf16" and major < 8:
            why += "; this GPU only emulates bf16 (slow)"
    if quant == "4bit":
        why += "; 4-bit NF4 weights with double quantisation (QLoRA)"
    optim = "paged_adamw_8bit" if quant == "4bit" else "adamw_torch"
    return HardwarePlan("cuda", name, f"{major}.{minor}", quant, chosen, optim, why)


def avoid_triton_on_old_gpus(plan: HardwarePlan) -> bool:
    """TRL's fused LM-head loss uses Triton kernels on CUDA; Triton needs sm_70 or newer.

    On older GPUs (Pascal: GTX 10xx) route TRL to its plain-torch path, the one CPUs use.
    Returns True when the switch was made.
    """
    if plan.device != "cuda" or plan.capability is None:
        return False
    if int(plan.capability.split(".")[0]) >= 7:
        return False
    try:
        import importlib

        chunked: Any = importlib.import_module("trl.kernels.chunked_logprob")
    except ImportError:
        return False
    if hasattr(chunked, "_TRITON_AVAILABLE"):
        chunked._TRITON_AVAILABLE = False
        return True
    return False


def torch_dtype(precision: str) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)


def quantization_config(plan: HardwarePlan) -> Any:
    if plan.quantization != "4bit":
        return None
    import importlib

    try:
        transformers: Any = importlib.import_module("transformers")
    except ImportError:  # pragma: no cover - transformers is a hard dependency of train
        raise TrainError("transformers is not installed") from None
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        from losslens.errors import MissingExtraError

        raise MissingExtraError("bitsandbytes", "train") from None
    return transformers.BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch_dtype(plan.precision),
    )


def _not_available(model: str, exc: BaseException) -> ConfigError:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if Path(model).expanduser().exists():
        return ConfigError(
            f"--model {model}: cannot load the model or tokenizer from this folder ({first[:160]})",
            "it needs config.json, the weights and the tokenizer files (save_pretrained output)",
        )
    return ConfigError(
        f"--model {model}: not on disk and the Hugging Face Hub cannot be reached",
        f"download it first (hf download {model}), pass a local folder, "
        "or use --model tiny to try losslens offline",
    )


def load_tokenizer(model: str) -> Any:
    """The tokenizer of a hub name or local folder, as a one-line error when unavailable."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError) as exc:
        raise _not_available(model, exc) from None
    except Exception as exc:  # huggingface_hub errors that are not OSError
        if type(exc).__module__.startswith(("huggingface_hub", "requests", "httpx")):
            raise _not_available(model, exc) from None
        raise
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(model: str, plan: HardwarePlan) -> Any:
    """``AutoModelForCausalLM.from_pretrained`` with the plan's dtype and quantisation."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch_dtype(plan.precision)}
    quant = quantization_config(plan)
    if quant is not None:
        kwargs["quantization_config"] = quant
        kwargs["device_map"] = {"": _local_rank()} if plan.device == "cuda" else {"": "cpu"}
    try:
        loaded = AutoModelForCausalLM.from_pretrained(model, **kwargs)
    except OSError as exc:
        raise _not_available(model, exc) from None
    if quant is not None and plan.device == "cpu":
        keep_cpu_4bit_trainable(loaded)
    return loaded


def keep_cpu_4bit_trainable(model: Any) -> int:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference during evaluation.

    bitsandbytes 0.50 converts ``Linear4bit`` weights to an AVX512-BF16 inference layout the
    first time a layer runs in eval mode on such a CPU, and the next training step then fails
    ("a view of a leaf Variable that requires grad is being used in an in-place operation").
    Training with periodic eval needs the layout left alone.
    """
    n = 0
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False
            n += 1
    return n


def cast_trainable_to_fp32(model: Any) -> int:
    """Undo TRL's bf16 cast of QLoRA adapters for fp16/fp32 compute (GradScaler needs fp32)."""
    import torch

    n = 0
    for param in model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
            n += 1
    return n


def versions() -> dict[str, str]:
    """The library versions a run used (signatures changed a lot across them)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for pkg in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    try:
        import torch

        if torch.version.cuda:
            out["cuda"] = str(torch.version.cuda)
    except ImportError:  # pragma: no cover
        pass
    return out
