"""The dashboard and the report in real headless Chromium (Playwright): what a person sees.

Set LOSSLENS_SAVE_SCREENSHOT=1 to refresh the screenshots in docs/ (run, compare, runs).
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import make_lr_pair, make_run

from losslens.model import Evidence, Finding, MetricPoint, Report, RunStatus, Severity, Verdict
from losslens.render.html import write_report
from losslens.store import Store

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
XSS = "<img src=x onerror=alert(1)>"
SAVE = os.environ.get("LOSSLENS_SAVE_SCREENSHOT") == "1"


def chart_points(page: Any) -> dict[str, int]:
    return page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('.ll-chart'))"
        ".map(c => [c.dataset.group, parseInt(c.dataset.points, 10)]))"
    )


def plotted(page: Any, group: str) -> list[dict[str, Any]]:
    """Per drawn line of a chart: its key, role (data or EMA), whether it is the bold line,
    and the (x, y) points uPlot holds for it."""
    return page.evaluate(
        """(g) => { const c = LL.view.charts[g]; const u = c.u;
        return c.meta.map((m, i) => ({key: m.key, role: m.role, bold: m.bold,
          width: u.series[i + 1].width,
          pts: u.data[0].map((x, j) => [x, u.data[i + 1][j]]).filter(p => p[1] !== null)})); }""",
        group,
    )


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def wait_until(page: Any, check: Callable[[], bool], limit: float = 60.0) -> bool:
    """Poll ``check`` from Python (the pages' CSP forbids the eval wait_for_function needs).
    The limit only stops a broken page from hanging the suite; nothing asserts how fast."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            return False
        page.wait_for_timeout(100)
    return True


# The motivating run: 10 logged points, loss 2.80 -> 0.09 at step 50 -> 0.06, a cosine LR
# that ends near 0 and 34.8 epochs.
STEPS = list(range(10, 101, 10))
LOSS = [2.80, 1.41, 0.62, 0.25, 0.0948, 0.0801, 0.0712, 0.0655, 0.0621, 0.0599]
LR = [1.98e-4 * 0.5 * (1 + math.cos(math.pi * (s - 10) / 90)) + 5.24e-8 for s in STEPS]
EPOCH = [round(0.348 * s, 2) for s in STEPS]


def ten_point_run(store: Store) -> Any:
    info = store.create_run(
        "default", "qwen2-23ex", status=RunStatus.FINISHED, start_time=1_700_000_000.0,
        end_time=1_700_000_100.0, config={"learning_rate": 2e-4, "num_train_epochs": 35},
    )  # fmt: skip
    pts = []
    for i, s in enumerate(STEPS):
        t = 1_700_000_000.0 + s
        pts += [
            MetricPoint("train/loss", s, LOSS[i], t),
            MetricPoint("train/learning_rate", s, LR[i], t),
            MetricPoint("train/epoch", s, EPOCH[i], t),
            MetricPoint("train/tokens_per_second", s, 100_000.0 + 37 * i, t),
        ]
    store.write_points(info.id, pts)
    return info


def test_charts_plot_the_data_itself(page: Any, store: Store, tmp_path: Path) -> None:
    """LR and epoch are never smoothed; 10 points are never smoothed; the bold line is the data."""
    info = ten_point_run(store)
    out = write_report(store.load(info.id), tmp_path / "r.html")
    page.goto(out.as_uri())
    page.evaluate("localStorage.clear()")
    page.reload()
    page.wait_for_selector(".ll-chart[data-group='lr'] canvas")
    lr = plotted(page, "lr")
    assert [m["role"] for m in lr] == ["data"] and lr[0]["bold"]
    assert [p[0] for p in lr[0]["pts"]] == STEPS
    assert lr[0]["pts"][-1][1] == pytest.approx(LR[-1], rel=1e-6)  # ends at ~0, not 2.5e-5
    assert [p[1] for p in lr[0]["pts"]] == pytest.approx(LR, rel=1e-6)
    loss = plotted(page, "loss")
    bold = max(loss, key=lambda m: m["width"])
    assert bold["role"] == "data" and bold["bold"]
    assert [p[1] for p in bold["pts"]] == pytest.approx(LOSS, rel=1e-6)  # 0.0948 at step 50
    # A monotone epoch is the x axis, not a chart; on that axis x is the logged epoch.
    assert "epoch" not in chart_points(page)
    page.select_option(".ll-xaxis select", "epoch")
    assert page.locator(".ll-chart[data-group='lr']").get_attribute("data-xmode") == "epoch"
    xs = [p[0] for p in plotted(page, "lr")[0]["pts"]]
    assert xs == pytest.approx(EPOCH, rel=1e-6) and xs[-1] == pytest.approx(34.8)
    # Every y label fits its axis: none is clipped on the left ("100000", not "00000").
    fits = page.evaluate(
        """Object.values(LL.view.charts).map(c => { const a = c.u.axes[1];
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = a.font[0];
            const w = Math.max(...a._values.map(v => ctx.measureText(String(v)).width));
            return [c.group.id, a._values.join(" "), w + 15 <= a._size]; })"""
    )
    assert all(ok for _, _, ok in fits), fits
    assert any("100000" in labels for _, labels, _ in fits)
    # Printed, the side panel (findings, config, summary) is whole, not a clipped box.
    page.emulate_media(media="print")
    side = page.evaluate(
        "(() => { const s = document.querySelector('.ll-side'); const c = getComputedStyle(s);"
        " return [s.scrollHeight <= s.clientHeight, c.position, c.overflow]; })()"
    )
    assert side == [True, "static", "visible"]
    page.emulate_media(media="screen")
    page.select_option(".ll-xaxis select", "step")
    assert page.errors == []


def test_run_page_reads_like_a_pro(
    store: Store, store_path: Path, serve: Callable[..., str], page: Any
) -> None:
    info = make_run(store, "qwen2-0.5b-lora", steps=300, spike_at=150)
    base = serve(store_path)
    page.goto(f"{base}/runs/{info.id}")
    page.evaluate("localStorage.clear()")
    page.reload()
    page.wait_for_selector("#ll-root[data-report-ready='1']", timeout=30_000)
    points = chart_points(page)
    assert points["loss"] == 300 + 10  # every train point and every eval point
    assert points["lr"] == 300 and points["grad"] == 300
    assert points["sys-util"] == 60 and points["sys-mem"] == 60
    assert page.locator("#ll-root").get_attribute("data-epoch-axis") == "1"
    # 300 noisy loss points are smoothed; at the default (light) smoothing the data is bold.
    loss = plotted(page, "loss")
    roles = {(m["key"], m["role"]): m for m in loss}
    assert ("train/loss", "ema") in roles and roles[("train/loss", "data")]["bold"]
    assert ("eval/loss", "ema") not in roles  # 10 points: never smoothed
    assert page.locator(".ll-finding").count() >= 1
    assert page.locator(".ll-verdict").first.get_attribute("data-verdict") in (
        "needs_attention",
        "failed",
    )

    # Hover between two eval points: the legend shows the nearest eval value, not "-".
    over = page.locator(".ll-chart[data-group='loss'] .u-over")
    box = over.bounding_box()
    x = page.evaluate("LL.view.charts['loss'].u.valToPos(41, 'x')")
    over.hover(position={"x": x, "y": box["height"] / 2})
    legend = page.locator(".ll-chart[data-group='loss'] .u-legend .u-series", has_text="eval/loss")
    ev30 = store.series(info.id, "eval/loss")
    want = page.evaluate(f"LL.fmtNum({float(ev30.values[0])})")
    assert want and want in (legend.first.text_content() or "")

    # Switching the x axis to epoch moves the points, and is remembered.
    before = plotted(page, "lr")[0]["pts"]
    page.select_option(".ll-xaxis select", "epoch")
    after = plotted(page, "lr")[0]["pts"]
    assert [p[1] for p in after] == [p[1] for p in before]
    assert [p[0] for p in after] == pytest.approx([3.0 * p[0] / 300 for p in before], rel=1e-6)
    page.reload()
    page.wait_for_selector("#ll-root[data-ready='1']", timeout=30_000)
    assert page.locator(".ll-chart[data-group='lr']").get_attribute("data-xmode") == "epoch"
    # Relative time: step s was logged s seconds after the start.
    page.select_option(".ll-xaxis select", "relative")
    rel = plotted(page, "lr")[0]["pts"]
    assert [p[0] for p in rel] == pytest.approx([p[0] for p in before], abs=0.01)
    page.select_option(".ll-xaxis select", "step")

    # Clicking a finding highlights its chart; zoom asks for full resolution; a double
    # click resets the zoom and selects nothing.
    target = page.locator(".ll-finding").first
    fid = target.get_attribute("data-finding-id")
    finding = page.evaluate(f"LL.view.findings.filter(f => f.id === {fid})[0]")
    target.click()
    chart = page.locator(f".ll-chart[data-group='{finding['group']}']")
    assert chart.get_attribute("data-active") == fid
    page.evaluate("LL.view.charts['lr'].u.setScale('x', {min: 100, max: 120})")
    lr_chart = page.locator(".ll-chart[data-group='lr']")
    assert wait_until(page, lambda: lr_chart.get_attribute("data-detail") == "1")
    assert chart_points(page)["lr"] == 23  # steps 99..121
    page.evaluate("LL.view.select(null)")
    page.locator(".ll-chart[data-group='loss'] .u-over").dblclick(
        position={"x": page.evaluate("LL.view.charts['loss'].u.valToPos(150, 'x')"), "y": 60}
    )
    page.locator(".ll-chart[data-group='lr'] .u-over").dblclick()
    page.wait_for_timeout(400)  # longer than the click delay: a single click would now select
    assert chart_points(page)["lr"] == 300
    assert page.locator("#ll-root").get_attribute("data-active-finding") == "null"
    if SAVE:
        page.screenshot(path=str(ROOT / "docs" / "screenshot-run.png"))
    assert page.errors == []


def test_clicking_a_spike_mark_highlights_its_finding(
    page: Any, store: Store, tmp_path: Path
) -> None:
    info = make_run(store, steps=200)
    run = store.load(info.id)
    spikes = Finding(
        rule_id="t1", kind="loss_spike", severity=Severity.WARNING,
        title={"en": "Loss spikes", "ko": "손실 급등"}, explanation={"en": "The loss jumped."},
        suggestion={"en": "Lower the learning rate."},
        evidence=Evidence("train/loss", 20, 180, {"steps": "20,100,180"}, {"en": "3 spikes"}),
        onset_step=20,
    )  # fmt: skip
    band = Finding(
        rule_id="t2", kind="overfitting", severity=Severity.ERROR,
        title={"en": "Overfits", "ko": "과적합"}, explanation={"en": "Eval rises."},
        suggestion={"en": "Stop earlier."},
        evidence=Evidence("train/loss", 120, 200, {}, {"en": "eval up"}), onset_step=120,
    )  # fmt: skip
    report = Report(run.info, Verdict.NEEDS_ATTENTION, {"en": "Spikes."}, [spikes, band])
    out = write_report(run, tmp_path / "r.html", report)
    page.goto(out.as_uri())
    page.wait_for_selector(".ll-chart[data-group='loss'] canvas")
    found = page.evaluate("LL.view.findings.map(f => [f.marks, f.band])")
    assert found == [[[20, 100, 180], False], [[], True]]  # one mark per spike; one band
    over = page.locator(".ll-chart[data-group='loss'] .u-over")
    box = over.bounding_box()
    x = page.evaluate("LL.view.charts['loss'].u.valToPos(100, 'x')")
    over.click(position={"x": x, "y": box["height"] / 2})
    page.wait_for_timeout(400)
    assert page.locator("#ll-root").get_attribute("data-active-finding") == "0"
    x2 = page.evaluate("LL.view.charts['loss'].u.valToPos(160, 'x')")
    over.click(position={"x": x2, "y": box["height"] / 2})
    page.wait_for_timeout(400)
    assert page.locator("#ll-root").get_attribute("data-active-finding") == "1"
    # Smoothing off and log scale: every point still drawn; no "-" labels on the log axis.
    page.locator(".ll-smoothing input").fill("0")
    page.locator(".ll-chart[data-group='loss'] .ll-log input").check()
    assert page.locator(".ll-chart[data-group='loss']").get_attribute("data-log") == "1"
    assert chart_points(page)["loss"] == 210
    labels = page.evaluate(
        "LL.view.charts['loss'].u.axes[1]._values.filter(v => v !== '' && v !== null)"
    )
    assert labels and "-" not in labels
    assert page.errors == []


LOGGER = textwrap.dedent(
    """
    import sys, time, losslens
    run = losslens.init(project="live", name="live-run", dir=sys.argv[1],
                        flush_interval=0.2, system_metrics=False)
    print(run.id, flush=True)
    step = 0
    while step < 4000:
        step += 1
        loss = 2.0 / (1 + step / 50)
        run.log({"train/loss": loss}, step=step)
        if step % 20 == 0:
            run.summary["best_loss"] = loss
        time.sleep(0.05)
    run.finish()
    """
)


def test_live_run_page_follows_the_run(
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
            deadline = time.monotonic() + 60
            while st.count_points(run_id) < 5 and time.monotonic() < deadline:
                time.sleep(0.1)
        base = serve(store_path, poll_ms=300)
        page.goto(f"{base}/runs/{run_id}")
        page.wait_for_selector("#ll-root[data-ready='1']", timeout=30_000)
        status = page.locator("#ll-status")
        assert status.get_attribute("data-status") == "running"
        before = chart_points(page)["loss"]
        duration = page.locator("#ll-duration").text_content()
        # New points, a new summary value and a longer duration appear without a reload.
        assert wait_until(page, lambda: chart_points(page)["loss"] > before)
        assert wait_until(page, lambda: page.locator("#ll-duration").text_content() != duration)
        assert wait_until(
            page, lambda: "best_loss" in (page.locator(".ll-summary").text_content() or "")
        )
        assert page.locator(".ll-summary-box").is_visible()
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
    page.wait_for_selector("#ll-root[data-report-ready='1']", timeout=30_000)
    assert page.locator(".ll-run-name").text_content() == XSS
    page.goto(f"{base}/compare?runs={info.id},{other.id}")
    page.wait_for_selector("#ll-root[data-ready='1']", timeout=30_000)
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.evaluate("document.querySelectorAll('img, script:not([src])').length") == 1
    assert page.errors == []


def test_compare_verdict_names_the_better_run(
    store: Store, store_path: Path, serve: Callable[..., str], page: Any
) -> None:
    good, bad = make_lr_pair(store)
    base = serve(store_path)
    page.goto(f"{base}/")
    table_colors = [
        page.locator(f"#ll-runs tr[data-id='{r.id}']").get_attribute("data-color")
        for r in (bad, good)
    ]
    assert table_colors[0] != table_colors[1]
    page.locator(f"input.ll-pick[value='{bad.id}']").check()
    page.locator(f"input.ll-pick[value='{good.id}']").check()
    page.locator(".ll-compare").click()
    page.wait_for_selector("#ll-root[data-findings]", timeout=30_000)
    # Each run keeps its colour from the runs table: on its card and on every chart.
    cards = page.locator(".ll-compare-run")
    assert [cards.nth(i).get_attribute("data-color") for i in range(2)] == table_colors
    verdict = page.locator("#ll-compare-verdict")
    assert verdict.get_attribute("data-better") == good.id
    text = verdict.text_content() or ""
    assert "lr-2e-4 is better" in text and "learning_rate" in text and "Only lr-5e-3" in text
    # One colour per run on every chart; the spikes of lr-5e-3 drawn on the loss chart.
    colors = page.evaluate(
        """Object.values(LL.view.charts).map(c => c.meta.map((m, i) =>
            [m.run, c.u.series[i + 1].stroke()]).filter(p => !p[1].startsWith('rgba')))"""
    )
    by_run: dict[int, set[str]] = {}
    for chart in colors:
        for run, stroke in chart:
            by_run.setdefault(run, set()).add(stroke)
    assert all(len(v) == 1 for v in by_run.values()) and len(by_run) == 2
    assert [next(iter(by_run[i])) for i in (0, 1)] == table_colors
    marks = page.evaluate("LL.view.findings.filter(f => f.group === 'loss').map(f => f.marks)")
    assert [40, 90, 140] in marks
    legend = page.locator(".ll-chart[data-group='loss'] .u-legend").text_content() or ""
    assert "lr-5e-3 · train" in legend and "train/loss" not in legend
    if SAVE:
        page.screenshot(path=str(ROOT / "docs" / "screenshot-compare.png"))
    page.goto(f"{base}/?lang=ko")
    if SAVE:
        page.set_viewport_size({"width": 1400, "height": 700})
        page.goto(f"{base}/")
        page.screenshot(path=str(ROOT / "docs" / "screenshot-runs.png"))
    assert page.errors == []


def test_every_page_fits_a_phone(
    browser: Any, store: Store, store_path: Path, serve: Callable[..., str], tmp_path: Path
) -> None:
    good, bad = make_lr_pair(store)
    long = make_run(
        store,
        "a-very-long-run-name-without-any-space-" * 3,
        config={"output_dir": "/home/someone/" + "deeply/nested/" * 12, "note": "x" * 300},
    )
    store.update_run(long.id, output_dir="/srv/" + "a" * 200, command="python " + "b" * 300)
    report = write_report(store.load(long.id), tmp_path / "r.html")
    base = serve(store_path)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        pages = [
            ("/", "table"),
            (f"/runs/{long.id}", "#ll-root[data-ready='1']"),
            (f"/runs/{good.id}?lang=ko", "#ll-root[data-ready='1']"),
            (f"/compare?runs={bad.id},{good.id},{long.id}", "#ll-root[data-ready='1']"),
            (f"/compare?runs={bad.id},{good.id}&lang=ko", "#ll-root[data-ready='1']"),
            ("/runs/nope", "h1"),
        ]
        for url, ready in pages:
            page.goto(base + url)
            page.wait_for_selector(ready, timeout=30_000)
            page.wait_for_timeout(200)
            assert no_horizontal_scroll(page), url
        page.goto(f"{base}/compare?runs={bad.id},{good.id}")
        page.wait_for_selector("#ll-root[data-ready='1']", timeout=30_000)
        box = page.locator("#ll-compare-verdict").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert "lr-2e-4" in (page.locator("#ll-compare-verdict .ll-winner").text_content() or "")
        page.goto(report.as_uri())
        page.wait_for_selector(".ll-chart canvas")
        assert no_horizontal_scroll(page)
        assert errors == []
    finally:
        context.close()


def test_korean_pages_speak_korean(
    store: Store, store_path: Path, serve: Callable[..., str], page: Any
) -> None:
    info = make_run(store, "ko-run", steps=200, spike_at=100)
    base = serve(store_path)
    page.goto(f"{base}/runs/{info.id}?lang=ko")
    page.wait_for_selector("#ll-root[data-report-ready='1']", timeout=30_000)
    side = page.locator(".ll-findings").text_content() or ""
    shown = (page.locator(".ll-sub").text_content() or "") + side
    for word in ("ERROR", "WARNING", "error", "warning", "finished", "steps?", r"LL\d{3}"):
        assert not re.search(rf"\b{word}\b", shown), word  # flags such as max_steps are fine
    assert "완료" in shown and "스텝" in side
    sev = page.locator(".ll-finding .ll-sev").first.text_content()
    assert sev in ("오류", "경고", "참고")
    assert page.evaluate("LL.view.charts['loss'].u.axes[0].label") == "스텝"  # the axis title
    page.goto(f"{base}/?lang=ko")
    assert "완료" in (page.locator("#ll-runs").text_content() or "")


def test_markdown_report_is_inert_in_a_browser(page: Any, store_path: Path, tmp_path: Path) -> None:
    from markdown_it import MarkdownIt

    with Store(store_path) as st:
        info = make_run(st, XSS, project=XSS, steps=120, spike_at=60, system=False)
        st.write_points(
            info.id, [MetricPoint(f"{XSS}/acc", s, s / 120, None) for s in range(1, 121)]
        )
    md = tmp_path / "r.md"
    res = subprocess.run(
        [sys.executable, "-m", "losslens", "report", info.id, "--store", str(store_path),
         "--md", str(md)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    # As MkDocs, Jekyll or a wiki would: raw HTML allowed in the Markdown.
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(md.read_text())
    page_file = tmp_path / "r.html"
    page_file.write_text(f"<!doctype html><meta charset=utf-8><body>{html}</body>")
    page.goto(page_file.as_uri())
    page.wait_for_timeout(500)
    assert page.dialogs == []
    # The only images are the charts, each loaded from its own file.
    srcs = page.evaluate(
        "Array.from(document.images).map(i => [i.getAttribute('src'), i.naturalWidth])"
    )
    assert srcs and all(src.startswith("r-charts/") and w > 0 for src, w in srcs)
    assert XSS in (page.locator("h1").text_content() or "")
