"""The JSONL chat checks: each problem is one error that names the file line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from losslens.errors import ConfigError
from losslens.train.data import check_rendering, eval_count, load_examples, split

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def _write(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "d.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_example_file_is_valid_and_bilingual() -> None:
    examples = load_examples(ROOT / "examples" / "mini_instruct.jsonl")
    assert len(examples) == 23
    text = " ".join(m["content"] for e in examples for m in e.messages)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in text)  # Hangul
    assert "the" in text
    roles = {m["role"] for e in examples for m in e.messages}
    assert roles == {"system", "user", "assistant"}


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ('{"conversations": []}', "no 'messages' field (keys: conversations)"),
        ("{not json", "not valid JSON"),
        ('{"messages": []}', "non-empty list"),
        ('{"messages": [{"role": "user"}]}', "needs 'role' and 'content'"),
        ('{"messages": [{"role": "user", "content": "q"}]}', "no assistant message"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_line_names_its_number(tmp_path: Path, line: str, needle: str) -> None:
    p = _write(tmp_path, [json.dumps(GOOD), "", line])
    with pytest.raises(ConfigError) as err:
        load_examples(p)
    assert f"{p} line 3:" in err.value.message
    assert needle in err.value.message


def test_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_examples(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="empty"):
        load_examples(_write(tmp_path, ["", "  "]))


def test_split_is_seeded_and_disjoint(tmp_path: Path) -> None:
    rows = [
        json.dumps({"messages": [*GOOD["messages"][:1], {"role": "assistant", "content": str(i)}]})
        for i in range(23)
    ]
    examples = load_examples(_write(tmp_path, rows))
    train, evals = split(examples, 0.1, seed=1)
    assert len(evals) == eval_count(23, 0.1) == 2
    assert {e.line for e in train} | {e.line for e in evals} == set(range(1, 24))
    assert [e.line for e in split(examples, 0.1, seed=1)[1]] == [e.line for e in evals]
    assert split(examples, 0.0, seed=1) == (examples, [])


def test_rendering_failure_names_line(tmp_path: Path) -> None:
    examples = load_examples(_write(tmp_path, [json.dumps(GOOD), json.dumps(GOOD)]))

    def render(messages: list[dict[str, str]]) -> str:
        if render.calls == 1:  # type: ignore[attr-defined]
            raise ValueError("unknown role 'narrator'")
        render.calls += 1  # type: ignore[attr-defined]
        return ""

    render.calls = 0  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=r"line 2: the chat template rejects .*narrator"):
        check_rendering(examples, render, "d.jsonl")
