"""Chat templates: make sure the loss can be put on the assistant turns only.

TRL's ``assistant_only_loss`` needs ``{% generation %}`` markers in the template. Many
instruct models ship without them (Qwen2-Instruct among them). The decision, in order:

1. the template already has markers: use it;
2. TRL knows a training version of it (Qwen2.5, Qwen3, Llama 3, Gemma, ...): use that;
3. it is ChatML (``<|im_start|>``): use our ChatML template with markers, in the Qwen2
   layout (default system prompt) when the original has one;
4. otherwise: train on the whole sequence and say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

_MARKERS = re.compile(r"\{%-?\s*generation\s*-?%\}")


def load_template(name: str) -> str:
    """A template shipped in ``losslens/train/templates`` (``chatml`` or ``qwen2``)."""
    return (resources.files("losslens.train") / "templates" / f"{name}.jinja").read_text(
        encoding="utf-8"
    )


def has_generation_markers(template: str | None) -> bool:
    return bool(template) and _MARKERS.search(template or "") is not None


@dataclass(frozen=True)
class TemplateChoice:
    template: str | None
    assistant_only_loss: bool
    source: str  # "model", "trl", "losslens-chatml", "losslens-qwen2", "none"
    note: str


def choose_template(tokenizer: Any, want_assistant_only: bool) -> TemplateChoice:
    """Which template to train with, and whether the loss can be on assistant turns only."""
    current = getattr(tokenizer, "chat_template", None)
    if isinstance(current, dict):
        current = current.get("default")
    if not current:
        return TemplateChoice(
            load_template("chatml"),
            want_assistant_only,
            "losslens-chatml",
            "the tokenizer has no chat template; using ChatML",
        )
    if not want_assistant_only:
        return TemplateChoice(current, False, "model", "loss on the whole sequence (as asked)")
    if has_generation_markers(current):
        return TemplateChoice(current, True, "model", "the model's template marks assistant turns")
    try:
        from trl.chat_template_utils import get_training_chat_template

        patched = get_training_chat_template(tokenizer)
    except Exception:
        patched = None
    if patched:
        return TemplateChoice(patched, True, "trl", "TRL's training version of the model template")
    if "<|im_start|>" in current:
        if "You are a helpful assistant" in current:
            return TemplateChoice(
                load_template("qwen2"),
                True,
                "losslens-qwen2",
                "the model's ChatML template has no generation markers; "
                "using losslens' Qwen2 layout with markers",
            )
        return TemplateChoice(
            load_template("chatml"),
            True,
            "losslens-chatml",
            "the model's ChatML template has no generation markers; using losslens' ChatML",
        )
    return TemplateChoice(
        current,
        False,
        "model",
        "the model's template has no generation markers and no known training version: "
        "the loss covers the whole chat, prompts included",
    )
