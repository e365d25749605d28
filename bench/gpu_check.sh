#!/usr/bin/env bash
# The real QLoRA path of `losslens train` on a lent GPU: a random-initialised model with
# Qwen2-0.5B's shapes (no hub), 50 steps on examples/mini_instruct.jsonl with the default
# options (cutoff 256, batch 1 x accumulation 8, LoRA r=8 on all linear layers, 4-bit NF4
# with double quantisation, paged_adamw_8bit). Prints one JSON line: the precision losslens
# chose and why, tokens/s, step time, peak GPU memory, first/last loss.
#
# Two halves, because the GPU machine has no network:
#   1. here (pip can reach PyPI):   bench/gpu_check.sh prepare
#      downloads what the GPU image lacks (trl, datasets, bitsandbytes, ...) into .whl/
#      (add `.whl/` to .git/info/exclude so it travels only when carried);
#   2. there (device tool: run, carry [".whl"]):   bench/gpu_check.sh
#      installs those wheels into /tmp/site and runs the check; results go to $OUT.
# Knobs: STEPS (default 50), SHAPE=small (a 2-layer model, to try the script on a CPU with
# ALLOW_CPU=1).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = prepare ]; then
  mkdir -p .whl
  plat=(--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64
        --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64)
  # transformers comes from the image (5.17 there): its wheel would push the carried tree
  # past the device tool's 64 MiB.
  for pkg in trl==1.16.0 datasets==5.2.0 bitsandbytes==0.50.2 \
             platformdirs dill multiprocess; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --implementation cp "${plat[@]}" -d .whl "$pkg"
  done
  du -sh .whl
  exit 0
fi

if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
OUT=${OUT:-$(mktemp -d)}
export OUT LOSSLENS_HOME="$OUT/losslens" HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
export TOKENIZERS_PARALLELISM=false WANDB_MODE=disabled
export STEPS=${STEPS:-50} SHAPE=${SHAPE:-qwen2-0.5b}
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && ! command -v nvidia-smi >/dev/null && PY=.venv/bin/python
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv

"$PY" - <<'EOF' 2>&1 | tee "$OUT/gpu_check.log"
import json, os, time
from pathlib import Path

import torch
from rich.console import Console

if not torch.cuda.is_available() and os.environ.get("ALLOW_CPU") != "1":
    raise SystemExit("no CUDA GPU here (set ALLOW_CPU=1 to try the script on a CPU)")

from transformers import Qwen2Config, Qwen2ForCausalLM

from losslens.store import Store
from losslens.train.data import corpus_texts, load_examples
from losslens.train.runner import train
from losslens.train.tiny import build_tokenizer

data = Path("examples/mini_instruct.jsonl")
model_dir = Path("/tmp/qwen2-0.5b-random")
tok = build_tokenizer(corpus_texts(load_examples(data)))
shape = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
             num_attention_heads=14, num_key_value_heads=2, vocab_size=151936)
if os.environ["SHAPE"] == "small":
    shape.update(num_hidden_layers=2, vocab_size=4096)
cfg = Qwen2Config(**shape, max_position_embeddings=32768, rope_theta=1e6, rms_norm_eps=1e-6,
                  tie_word_embeddings=True, eos_token_id=tok.eos_token_id,
                  pad_token_id=tok.pad_token_id, bos_token_id=None)
torch.manual_seed(0)
t0 = time.time()
model = Qwen2ForCausalLM(cfg).to(torch.bfloat16)
model.save_pretrained(model_dir)
tok.save_pretrained(model_dir)
params = sum(p.numel() for p in model.parameters())
del model
print(f"random model: {params / 1e6:.1f}M params, built in {time.time() - t0:.1f}s", flush=True)

if torch.cuda.is_available():
    torch.cuda.reset_peak_memory_stats()
values = {"model": str(model_dir), "data_path": str(data), "output_dir": "/tmp/gpu-check-out",
          "max_steps": os.environ["STEPS"], "project": "gpu-check", "name": "qlora-0.5b-shape"}
if not torch.cuda.is_available():
    values["quantization"] = "4bit"
result = train(values, console=Console(width=120))
with Store(result.store_path, create=False) as store:
    run = store.load(result.run_id)
tokens = run.series.get("train/num_tokens")
tps = None
if tokens is not None and len(tokens) > 2:
    dt = float(tokens.wall_times[-1] - tokens.wall_times[0])
    tps = float(tokens.values[-1] - tokens.values[0]) / dt if dt > 0 else None
loss = run.series["train/loss"].values
report = {
    "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    "capability": result.plan["capability"],
    "precision": result.plan["precision"],
    "precision_reason": result.plan["reason"],
    "quantization": result.plan["quantization"],
    "optim": result.plan["optim"],
    "quantized_linear_layers": run.info.config.get("quantized_linear_layers"),
    "params_millions": round(params / 1e6, 1),
    "steps": len(loss),
    "tokens_per_s": round(tps, 1) if tps else None,
    "train_runtime_s": run.info.summary.get("train_runtime"),
    "peak_gpu_mem_allocated_gib": round(torch.cuda.max_memory_allocated() / 2**30, 3)
    if torch.cuda.is_available() else None,
    "peak_gpu_mem_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 3)
    if torch.cuda.is_available() else None,
    "loss_first": float(loss[0]), "loss_last": float(loss[-1]),
    "all_finite": bool(torch.isfinite(torch.tensor(loss)).all()),
    "versions": run.info.config.get("versions"),
}
print("GPU_CHECK " + json.dumps(report))
Path(os.environ["OUT"], "gpu_check.json").write_text(json.dumps(report, indent=2))
EOF
