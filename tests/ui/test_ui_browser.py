"""The dashboard and the report in real headless Chromium (Playwright)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import make_run

from losslens.model import Evidence, Finding, Report, Severity, Verdict
from losslens.render.html import write_report
from losslens.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
XSS = "<img src=x onerror=alert(1)>"


def chart_points(page: Any) -> dict[str, int]:
    return page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('.ll-chart'))"
        ".map(c => [c.dataset.group, parseInt(c.dataset.points, 10)]))"
    )


def test_run_page_draws_every_point_and_findings(
    store: Store, store_path: Path, serve: Callable[..., str], page: Any, tmp_path: Path
) -> None:
    info = make_run(store, "qwen2-0.5b-lora", steps=300, spike_at=150)
    base = serve(store_path)
    page.goto(f"{base}/runs/{info.id}")
    page.wait_for_selector("#ll-root[data-report-ready='1']", timeout=20_000)
    points = chart_points(page)
    assert points["loss"] == 300 + 10  # every train point and every eval point
    assert points["lr"] == 300 and points["grad"] == 300 and points["epoch"] == 300
    assert points["sys-util"] == 60 and points["sys-mem"] == 60
    # The uPlot instance holds the same data.
    n = page.evaluate("LL.view.charts['lr'].u.data[1].filter(v => v !== null).length")
    assert n == 300
    findings = page.locator(".ll-finding")
    assert findings.count() >= 1, "the real analysis finds the overfitting"
    verdict = page.locator(".ll-verdict").get_attribute("data-verdict")
    assert verdict in ("needs_attention", "failed")
    # Clicking a finding with a step range highlights that range on its chart.
    target = page.locator(".ll-finding").first
    fid = target.get_attribute("data-finding-id")
    finding = page.evaluate(f"LL.view.findings.filter(f => f.id === {fid})[0]")
    target.click()
    assert "ll-active" in (target.get_attribute("class") or "")
    chart = page.locator(f".ll-chart[data-group='{finding['group']}']")
    assert chart.get_attribute("data-active") == fid
    if finding["step_start"] is not None:
        end = finding["step_end"] if finding["step_end"] is not None else finding["step_start"]
        assert chart.get_attribute("data-highlight") == f"{finding['step_start']}:{end}"
    # Zooming asks the server for that step range at full resolution.
    page.evaluate("LL.view.charts['lr'].u.setScale('x', {min: 100, max: 120})")
    deadline = time.monotonic() + 5.0
    lr_chart = page.locator(".ll-chart[data-group='lr']")
    while lr_chart.get_attribute("data-detail") != "1" and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert lr_chart.get_attribute("data-detail") == "1"
    assert chart_points(page)["lr"] == 23  # steps 99..121
    page.locator(".ll-chart[data-group='lr'] .u-over").dblclick()
    assert chart_points(page)["lr"] == 300
    shot = tmp_path / "screenshot-run.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    if os.environ.get("LOSSLENS_SAVE_SCREENSHOT") == "1":
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "screenshot-run.png").write_bytes(shot.read_bytes())
    assert page.errors == []


def test_clicking_a_band_highlights_its_finding(page: Any, store: Store, tmp_path: Path) -> None:
    info = make_run(store, steps=200)
    run = store.load(info.id)
    f = Finding(
        rule_id="t",
        kind="loss_spike",
        severity=Severity.WARNING,
        title={"en": "Loss spike", "ko": "손실 급등"},
        explanation={"en": "The loss jumped."},
        suggestion={"en": "Lower the learning rate."},
        evidence=Evidence("train/loss", 90, 110, {}, {"en": "loss 4x its median"}),
        onset_step=95,
    )
    report = Report(run.info, Verdict.NEEDS_ATTENTION, {"en": "One spike."}, [f])
    out = write_report(run, tmp_path / "r.html", report)
    page.goto(out.as_uri())
    page.wait_for_selector(".ll-chart[data-group='loss'] canvas")
    over = page.locator(".ll-chart[data-group='loss'] .u-over")
    box = over.bounding_box()
    x = page.evaluate(
        "(() => { const u = LL.view.charts['loss'].u; return u.valToPos(100, 'x'); })()"
    )
    over.click(position={"x": x, "y": box["height"] / 2})
    item = page.locator(".ll-finding[data-finding-id='0']")
    assert "ll-active" in (item.get_attribute("class") or "")
    assert page.locator("#ll-root").get_attribute("data-active-finding") == "0"
    # The smoothing slider and log toggle redraw without losing points.
    page.locator(".ll-smoothing input").fill("0")
    page.locator(".ll-chart[data-group='loss'] .ll-log input").check()
    assert page.locator(".ll-chart[data-group='loss']").get_attribute("data-log") == "1"
    assert chart_points(page)["loss"] == 210
    assert page.errors == []


LOGGER = textwrap.dedent(
    """
    import sys, time, losslens
    run = losslens.init(project="live", name="live-run", dir=sys.argv[1],
                        flush_interval=0.2, system_metrics=False)
    print(run.id, flush=True)
    step = 0
    while step < 2000:
        step += 1
        run.log({"train/loss": 2.0 / (1 + step / 50)}, step=step)
        time.sleep(0.05)
    run.finish()
    """
)


def test_live_run_gains_points_within_five_seconds(
    store_path: Path, serve: Callable[..., str], page: Any, tmp_path: Path
) -> None:
    Store(store_path).close()
    script = tmp_path / "logger.py"
    script.write_text(LOGGER)
    child = subprocess.Popen(
        [sys.executable, str(script), str(store_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        with Store(store_path) as st:
            deadline = time.monotonic() + 20
            while st.count_points(run_id) < 5 and time.monotonic() < deadline:
                time.sleep(0.1)
        base = serve(store_path)
        page.goto(f"{base}/runs/{run_id}")
        page.wait_for_selector("#ll-root[data-ready='1']", timeout=20_000)
        assert page.locator("#ll-status").text_content() == "running"
        before = chart_points(page)["loss"]
        # Poll from Python: the page's CSP forbids the eval that wait_for_function needs.
        deadline = time.monotonic() + 5.0
        while chart_points(page)["loss"] <= before and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert chart_points(page)["loss"] > before
    finally:
        child.terminate()
        child.wait(timeout=20)


def test_hostile_run_name_is_text_and_runs_no_script(
    store: Store, store_path: Path, serve: Callable[..., str], page: Any
) -> None:
    info = make_run(store, XSS, config={XSS: XSS, "note": "<script>alert(2)</script>"})
    other = make_run(store, "plain", seed=4)
    base = serve(store_path)
    page.goto(f"{base}/")
    assert page.locator(".ll-run-link", has_text="onerror").text_content() == XSS
    page.goto(f"{base}/runs/{info.id}")
    page.wait_for_selector("#ll-root[data-report-ready='1']", timeout=20_000)
    assert page.locator(".ll-run-name").text_content() == XSS
    page.goto(f"{base}/compare?runs={info.id},{other.id}")
    page.wait_for_selector("#ll-root[data-ready='1']", timeout=20_000)
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.evaluate("document.querySelectorAll('img, script:not([src])').length") == 1
    assert page.errors == []


def test_compare_page_overlays_two_runs(
    store: Store, store_path: Path, serve: Callable[..., str], page: Any
) -> None:
    a = make_run(store, "lr-1e-4", steps=200, config={"lr": 1e-4, "r": 8})
    b = make_run(store, "lr-3e-4", steps=150, seed=5, config={"lr": 3e-4, "r": 8})
    base = serve(store_path)
    page.goto(f"{base}/")
    page.locator(f"input.ll-pick[value='{a.id}']").check()
    page.locator(f"input.ll-pick[value='{b.id}']").check()
    page.locator(".ll-compare").click()
    page.wait_for_selector("#ll-root[data-ready='1']", timeout=20_000)
    assert chart_points(page)["loss"] == (200 + 10) + (150 + 10)
    assert chart_points(page)["lr"] == 350
    legend = page.locator(".ll-chart[data-group='lr'] .u-legend").text_content() or ""
    assert "lr-1e-4" in legend and "lr-3e-4" in legend
    diff = page.locator("table.ll-diff tbody tr")
    assert diff.count() == 1 and "lr" in (diff.first.text_content() or "")
    assert page.errors == []
