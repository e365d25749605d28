"""``losslens analyze``: formats, languages, exit codes, rule selection, the store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from losslens.cli import main
from losslens.cli.analyze import default_lang
from losslens.model import MetricPoint
from losslens.store import Store


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    e = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "losslens", "analyze", *args],
        capture_output=True,
        text=True,
        env=e,
        timeout=120,
    )


def test_json_format_and_fail_on_exit_codes(corpus: Path) -> None:
    path = str(corpus / "qwen2_lora_23ex_console.txt")
    p = run_cli(path, "--format", "json", "--fail-on", "error")
    assert p.returncode == 1, p.stderr
    doc = json.loads(p.stdout)
    assert doc["schema_version"] == 1
    assert {f["rule_id"] for f in doc["findings"]} == {"LL153", "LL154", "LL156"}
    assert doc["findings"][0]["title"]["ko"]
    healthy = str(corpus / "real" / "files" / "029_console_trl-sft-llama2-const-lr.txt")
    p = run_cli(healthy, "--fail-on", "warning", "--lang", "en")
    assert p.returncode == 0, p.stderr
    assert "Verdict: Healthy" in p.stdout


def test_usage_and_input_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path / "nope.json"), "--store", str(tmp_path / "s.db")]) == 2
    assert "error" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["analyze", str(bad)]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(bad), "--fail-on", "sometimes"])
    assert exc.value.code == 2


def test_unknown_rule_is_a_usage_error(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(corpus / "qwen2_lora_23ex_console.txt")
    assert main(["analyze", path, "--rules", "LL999"]) == 2
    assert "unknown rule 'LL999'" in capsys.readouterr().err


def test_rules_and_ignore_select(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(corpus / "qwen2_lora_23ex_console.txt")
    assert main(["analyze", path, "--json", "--rules", "LL153"]) == 0
    assert [f["rule_id"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["LL153"]
    assert main(["analyze", path, "--json", "--rules", "memorization"]) == 0  # kind and family
    got = [f["rule_id"] for f in json.loads(capsys.readouterr().out)["findings"]]
    assert got == ["LL153", "LL154"]
    assert main(["analyze", path, "--json", "--ignore", "LL153,LL154", "--fail-on", "error"]) == 0
    assert [f["rule_id"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["LL156"]


def test_language_from_locale_and_markdown(corpus: Path) -> None:
    assert default_lang({"LANG": "ko_KR.UTF-8"}) == "ko"
    assert default_lang({"LC_ALL": "en_US.UTF-8", "LANG": "ko_KR.UTF-8"}) == "en"
    assert default_lang({}) == "en"
    path = str(corpus / "qwen2_lora_23ex_console.txt")
    p = run_cli(
        path, "--format", "markdown", env={"LANG": "ko_KR.UTF-8", "LC_ALL": "", "LOSSLENS_LANG": ""}
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("# losslens 진단 보고서")
    assert "모델이 학습 예제 23개를 암기했습니다" in p.stdout


def test_stored_run_findings_are_saved(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(store_path) as st:
        info = st.create_run("p", "diverging", config={"lora_r": 8})
        steps = np.arange(10, 301, 10)
        loss = np.concatenate([np.linspace(2.0, 1.0, 10), np.linspace(1.1, 3.0, 20)])
        st.write_points(
            info.id,
            [
                MetricPoint("train/loss", int(s), float(v))
                for s, v in zip(steps, loss, strict=False)
            ],
        )
    assert main(["analyze", "diverging", "--store", str(store_path), "--fail-on", "error"]) == 1
    out = capsys.readouterr().out
    assert "LL111" in out and "diverges" in out
    with Store(store_path) as st:
        saved = st.load_findings(info.id)
    assert [f["rule_id"] for f in saved] == ["LL111"]


def test_several_targets_give_one_json_document(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = corpus / "real" / "files"
    a, b = (
        files / "010_qlora-lr5e-3-diverge.json",
        files / "029_console_trl-sft-llama2-const-lr.txt",
    )
    assert main(["analyze", str(a), str(b), "--json", "--fail-on", "warning"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1
    assert [r["verdict"] for r in doc["reports"]] == ["failed", "healthy"]
