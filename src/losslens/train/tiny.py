"""``--model tiny``: a small random Qwen2-architecture model and a tokenizer trained on the data.

Nothing is downloaded: the byte-level BPE tokenizer is trained with ``tokenizers`` on the
chats themselves (any UTF-8 text still encodes, byte by byte), and the model is built from a
``Qwen2Config`` with seeded random weights. Both are saved into ``OUTPUT_DIR/base_model`` and
then loaded through the ordinary ``from_pretrained`` path, so QLoRA, ``generate`` and reloads
work on them exactly as on a hub model.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from losslens.train.chat import load_template

SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
ROLE_WORDS = ("system", "user", "assistant")

#: Model shape: big enough to visibly learn 20 chats, small enough for 2 CPU cores.
TINY_SHAPE: dict[str, Any] = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 1024,
}


def build_tokenizer(texts: Iterable[str], vocab_size: int = 512) -> Any:
    """A ``PreTrainedTokenizerFast`` with ChatML specials and our generation-marked template."""
    import importlib

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    fast_cls: Any = importlib.import_module("transformers").PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [*texts, *ROLE_WORDS]
    tok.train_from_iterator(corpus, trainer)
    hf = fast_cls(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
        model_max_length=TINY_SHAPE["max_position_embeddings"],
    )
    hf.chat_template = load_template("chatml")
    return hf


def build_model(tokenizer: Any, seed: int) -> Any:
    """A seeded random ``Qwen2ForCausalLM`` sized by ``TINY_SHAPE``."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        **TINY_SHAPE,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(cfg)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def save_base(tok: Any, seed: int, directory: Path) -> Path:
    """Build the model for ``tok`` and save both to ``directory`` (the offline base)."""
    directory.mkdir(parents=True, exist_ok=True)
    model = build_model(tok, seed)
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory
