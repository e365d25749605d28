"""The training data: a JSONL file of chats, checked line by line before anything heavy loads.

Each line is ``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}``.
Errors name the file and the line, so a bad row in a 10k-line file is found at once.
The chats are passed to TRL as they are (no pre-rendered text): TRL applies the chat
template itself and appends no second end token.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from losslens.errors import ConfigError

_SHAPE_HINT = 'each line must look like {"messages": [{"role": "user", "content": "..."}, ...]}'


@dataclass(frozen=True)
class Example:
    """One chat and the line of the file it came from (1-based)."""

    messages: list[dict[str, str]]
    line: int


def _check_messages(path: Path, lineno: int, row: Any) -> list[dict[str, str]]:
    where = f"{path} line {lineno}"
    if not isinstance(row, dict):
        raise ConfigError(f"{where}: expected a JSON object, got {type(row).__name__}", _SHAPE_HINT)
    if "messages" not in row:
        keys = ", ".join(sorted(map(str, row))) or "none"
        raise ConfigError(f"{where}: no 'messages' field (keys: {keys})", _SHAPE_HINT)
    messages = row["messages"]
    if not isinstance(messages, list) or not messages:
        raise ConfigError(f"{where}: 'messages' must be a non-empty list", _SHAPE_HINT)
    out: list[dict[str, str]] = []
    for i, m in enumerate(messages, 1):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise ConfigError(f"{where}: message {i} needs 'role' and 'content'", _SHAPE_HINT)
        role, content = m["role"], m["content"]
        if not isinstance(role, str) or not role.strip():
            raise ConfigError(f"{where}: message {i} has an empty or non-text role")
        if not isinstance(content, str):
            raise ConfigError(f"{where}: message {i} content must be text")
        out.append({"role": role, "content": content})
    if not any(m["role"] == "assistant" for m in out):
        raise ConfigError(
            f"{where}: no assistant message, so there is nothing to learn from this chat",
            "add the assistant's answer or remove the line",
        )
    return out


def load_examples(path: str | Path) -> list[Example]:
    """Read and check every line; blank lines are skipped."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"--data_path: no such file: {p}")
    if not p.is_file():
        raise ConfigError(f"--data_path: not a file: {p}")
    examples: list[Example] = []
    try:
        with p.open(encoding="utf-8") as fh:
            for lineno, raw in enumerate(fh, 1):
                text = raw.strip()
                if not text:
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ConfigError(
                        f"{p} line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})",
                        _SHAPE_HINT,
                    ) from None
                examples.append(Example(_check_messages(p, lineno, row), lineno))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not examples:
        raise ConfigError(f"{p}: the dataset is empty (no examples)", _SHAPE_HINT)
    return examples


def eval_count(n: int, ratio: float) -> int:
    """How many of ``n`` examples are held out for ``ratio`` (at least 1 when ratio > 0)."""
    if ratio <= 0:
        return 0
    return max(1, round(n * ratio))


def split(
    examples: Sequence[Example], ratio: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """A seeded shuffle, then the first ``eval_count`` examples become the eval set."""
    k = eval_count(len(examples), ratio)
    if k == 0:
        return list(examples), []
    if len(examples) - k < 1:
        raise ConfigError(
            f"--eval_ratio {ratio} leaves no training examples out of {len(examples)}",
            "lower --eval_ratio or set it to 0",
        )
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held = set(order[:k])
    train = [e for i, e in enumerate(examples) if i not in held]
    evals = [e for i, e in enumerate(examples) if i in held]
    return train, evals


def check_rendering(
    examples: Sequence[Example], render: Callable[[list[dict[str, str]]], object], path: str
) -> None:
    """Render every chat with the tokenizer's template; a failure names the line.

    ``render`` is ``tokenizer.apply_chat_template`` (bound). Templates raise on roles they
    do not know (ours do: system, user, assistant) or on an order they do not accept.
    """
    for ex in examples:
        try:
            render(ex.messages)
        except Exception as exc:  # jinja2 TemplateError and friends, from any template
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            roles = ", ".join(dict.fromkeys(m["role"] for m in ex.messages))
            raise ConfigError(
                f"{path} line {ex.line}: the chat template rejects this chat ({detail}; "
                f"roles: {roles})",
                "use the roles system, user and assistant",
            ) from None


def corpus_texts(examples: Sequence[Example]) -> list[str]:
    """Every message text, for training the tiny model's tokenizer."""
    return [m["content"] for ex in examples for m in ex.messages]
