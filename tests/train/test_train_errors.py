"""Bad inputs to ``losslens train``: one line naming the line or option, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from train_helpers import CliRunner

GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}


def _data(tmp_path: Path, *rows: object) -> str:
    p = tmp_path / "data.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(p)


def _check(proc: object, needle: str) -> None:
    rc, err = proc.returncode, proc.stderr  # type: ignore[attr-defined]
    assert rc == 2, err
    assert "Traceback" not in err
    first = err.strip().splitlines()[0]
    assert first.startswith("losslens: error: "), err
    assert needle in first, err


def test_missing_file(cli: CliRunner, tmp_path: Path) -> None:
    _check(cli(["train", "--data_path", str(tmp_path / "nope.jsonl")]), "no such file")


def test_line_without_messages(cli: CliRunner, tmp_path: Path) -> None:
    path = _data(tmp_path, GOOD, {"text": "pre-rendered"})
    _check(cli(["train", "--model", "tiny", "--data_path", path]), "line 2: no 'messages'")


def test_empty_dataset(cli: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n\n", encoding="utf-8")
    _check(cli(["train", "--data_path", str(tmp_path / "empty.jsonl")]), "dataset is empty")


def test_zero_steps(cli: CliRunner, tmp_path: Path) -> None:
    _check(cli(["train", "--data_path", _data(tmp_path, GOOD), "--max_steps", "0"]), "--max_steps")


def test_unknown_config_key(cli: CliRunner, tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("learning_rate: 1e-4\n", encoding="utf-8")
    _check(cli(["train", "--config", str(cfg)]), "unknown option 'learning_rate'")


@pytest.mark.slow
def test_role_the_template_does_not_know(cli: CliRunner, tmp_path: Path) -> None:
    odd = {"messages": [{"role": "narrator", "content": "x"}, *GOOD["messages"]]}
    out = tmp_path / "out"
    proc = cli(
        [
            "train",
            "--model",
            "tiny",
            "--data_path",
            _data(tmp_path, GOOD, odd),
            "--output_dir",
            str(out),
        ]
    )
    _check(proc, "line 2: the chat template rejects this chat (unknown role 'narrator'")
    assert not out.exists()  # nothing written before the data is known to be good


@pytest.mark.slow
def test_hub_model_when_offline(cli: CliRunner, tmp_path: Path) -> None:
    proc = cli(["train", "--data_path", _data(tmp_path, GOOD), "--model", "nobody/not-a-model"])
    _check(proc, "--model nobody/not-a-model: not on disk")
