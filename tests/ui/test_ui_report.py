"""``losslens report`` and ``losslens ui`` as a user runs them (real subprocesses)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from ui_helpers import make_run

from losslens.store import Store

XSS = "<img src=x onerror=alert(1)>"


def losslens(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "losslens", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def test_html_and_markdown_report_of_a_stored_run(store_path: Path, tmp_path: Path) -> None:
    with Store(store_path) as st:
        info = make_run(st, XSS, steps=200)
    html, md = tmp_path / "out" / "r.html", tmp_path / "out" / "r.md"
    html.parent.mkdir()
    res = losslens(
        "report", info.id, "--store", str(store_path), "--html", str(html), "--md", str(md)
    )
    assert res.returncode == 0, res.stderr
    text = html.read_text()
    # Self-contained: no external script, style, image or font.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert "uPlot" in text and 'id="ll-data"' in text
    assert XSS not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "needs attention" in text or "needs_attention" in text
    body = md.read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", body)
    assert images and all((md.parent / p).is_file() for p in images)
    assert (md.parent / "r-charts" / "loss.png").read_bytes()[:4] == b"\x89PNG"
    # The run name is text in the Markdown, never HTML.
    assert XSS not in body and "&lt;img src=x onerror=alert(1)&gt;" in body


def test_config_section_leads_with_the_choices_that_matter(
    store_path: Path, tmp_path: Path
) -> None:
    config = {
        "model": "Qwen/Qwen2-0.5B",
        "learning_rate": 2e-4,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 4,
        "max_steps": 200,
        "seed": 42,
        "training_args": {f"arg_{i}": i for i in range(90)},
    }
    with Store(store_path) as st:
        info = make_run(st, "cfg-run", steps=60, config=config)
    out = tmp_path / "c.html"
    res = losslens("report", info.id, "--store", str(store_path), "--html", str(out))
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    lead = re.findall(r'<tr class="ll-lead"><td>([^<]+)</td><td>([^<]+)</td></tr>', text)
    assert lead[:4] == [
        ("model", "Qwen/Qwen2-0.5B"),
        ("learning rate", "2e-4"),
        ("batch × accum", "8 × 4"),
        ("steps", "200"),
    ]
    # The raw training_args are folded (inside a closed <details>), not 90 table rows.
    raw = text.index('<details class="ll-raw"><summary>training_args</summary>')
    assert text.count("<tr><td>arg_") == 0 and raw > 0
    assert "@media print" in text
    # `losslens show` leads the same way and folds training_args into one line.
    show = losslens("show", info.id, "--store", str(store_path))
    assert show.returncode == 0, show.stderr
    config = show.stdout.split("Config", 1)[1]
    assert config.index("learning rate") < config.index("seed")
    assert "training_args  {90 settings}" in config and "arg_1" not in config


def test_non_ascii_metrics_get_distinct_pngs(store_path: Path, tmp_path: Path) -> None:
    from losslens.model import MetricPoint

    with Store(store_path) as st:
        info = make_run(st, "한글-run", steps=60, system=False)
        st.write_points(
            info.id,
            [MetricPoint("정확도", s, 0.5 + s / 200, None) for s in range(1, 61)]
            + [MetricPoint("보상", s, 1.0 - s / 100, None) for s in range(1, 61)],
        )
    md = tmp_path / "k.md"
    res = losslens("report", info.id, "--store", str(store_path), "--md", str(md), "--lang", "ko")
    assert res.returncode == 0, res.stderr
    pngs = sorted(p.name for p in (tmp_path / "k-charts").glob("*.png"))
    others = [p for p in pngs if p.startswith("other")]
    assert len(others) == 2 and len(set(others)) == 2, pngs
    body = md.read_text()
    assert all(f"k-charts/{name}" in body for name in others)


def test_cjk_font_is_chosen_when_installed() -> None:
    from losslens.render.charts import cjk_font

    installed = (
        list(Path("/usr/share/fonts").rglob("NotoSansCJK*"))
        if Path("/usr/share/fonts").exists()
        else []
    )
    if not installed:
        pytest.skip("fonts-noto-cjk is not installed (the test setup installs it)")
    name = cjk_font()
    assert name is not None and "CJK" in name


def test_korean_report_and_json(store_path: Path, tmp_path: Path) -> None:
    with Store(store_path) as st:
        info = make_run(st, "ko-run", steps=120)
    out = tmp_path / "ko.html"
    res = losslens(
        "report", "ko-run", "--store", str(store_path), "--html", str(out), "--lang", "ko", "--json"
    )
    assert res.returncode == 0, res.stderr
    assert '"html"' in res.stdout and info.id in res.stdout
    text = out.read_text()
    assert 'lang="ko"' in text and "발견 사항" in text


def test_report_of_a_log_path(corpus: Path, tmp_path: Path) -> None:
    log = corpus / "qwen2_lora_23ex_console.txt"
    res = losslens("report", str(log), "--html", "qwen.html", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "qwen.html").read_text()
    assert '"id":"loss"' in text


def test_report_errors_are_one_line(store_path: Path, tmp_path: Path) -> None:
    Store(store_path).close()
    res = losslens("report", "no-such-run", "--store", str(store_path))
    assert res.returncode == 2
    assert res.stderr.startswith(
        "losslens: error: 'no-such-run' is not a file or folder, and no run 'no-such-run'"
    )
    assert "Traceback" not in res.stderr


def _start_ui(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "losslens", "ui", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"(http://\S+)", line)
    assert m, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
    return proc, m.group(1)


def test_ui_command_serves_the_store(store_path: Path) -> None:
    with Store(store_path) as st:
        make_run(st, "served")
    proc, url = _start_ui("--store", str(store_path))
    try:
        assert url.startswith("http://127.0.0.1:")
        runs = httpx.get(url + "api/runs", timeout=30).json()
        assert [r["name"] for r in runs] == ["served"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_ui_on_all_interfaces_requires_a_generated_token(store_path: Path) -> None:
    with Store(store_path) as st:
        make_run(st, "remote")
    proc, url = _start_ui("--store", str(store_path), "--host", "0.0.0.0")
    try:
        token = url.split("?token=")[1]
        port = re.search(r":(\d+)/", url).group(1)  # type: ignore[union-attr]
        local = f"http://127.0.0.1:{port}/api/runs"
        assert httpx.get(local, timeout=30).status_code == 401
        ok = httpx.get(local, headers={"X-Losslens-Token": token}, timeout=30)
        assert ok.status_code == 200 and ok.json()[0]["name"] == "remote"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_ui_without_a_store_is_one_clear_error(tmp_path: Path) -> None:
    res = losslens("ui", "--store", str(tmp_path / "none.db"), "--port", "0")
    assert res.returncode == 2 and res.stderr.startswith("losslens: error: no store")


@pytest.mark.parametrize("port", ["-5", "99999", "http"])
def test_ui_bad_port(port: str, store_path: Path) -> None:
    Store(store_path).close()
    res = losslens("ui", "--store", str(store_path), "--port", port)
    assert res.returncode == 2 and "is not a port number (0-65535)" in res.stderr
    assert "Traceback" not in res.stderr
