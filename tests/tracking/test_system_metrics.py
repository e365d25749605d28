"""System metrics: CPU and memory here; GPU keys through a stand-in NVML library, since
this machine has no GPU (the mapping from NVML calls to keys and units is what is tested)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

import losslens
from losslens.model import MetricPoint
from losslens.store import Store
from losslens.tracking.system import SystemMonitor

FAKE_PYNVML = """
class _Util:
    gpu = 87
class _Mem:
    used = 3 * 2**30
    total = 80 * 2**30
def nvmlInit(): pass
def nvmlDeviceGetCount(): return 2
def nvmlDeviceGetHandleByIndex(i): return i
def nvmlDeviceGetUtilizationRates(h): return _Util()
def nvmlDeviceGetMemoryInfo(h): return _Mem()
def nvmlDeviceGetTemperature(h, sensor): return 61 + h
def nvmlDeviceGetPowerUsage(h):
    if h == 1:
        raise RuntimeError("not supported on this board")
    return 250_500  # milliwatts
"""


def test_sample_has_cpu_and_memory_without_a_gpu() -> None:
    got: list[list[MetricPoint]] = []
    mon = SystemMonitor(got.append, interval=0.05)
    try:
        sample = mon.sample()
        deadline = time.monotonic() + 30
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        mon.stop()
    assert 0 < sample["system/proc_rss_mb"] < psutil.virtual_memory().total / 2**20
    assert 0 <= sample["system/cpu_percent"] <= 100
    assert 0 < sample["system/memory_percent"] < 100
    assert sample["system/memory_used_mb"] > 0
    if mon.gpu is None:
        assert not any("gpu" in k for k in sample)
    assert [p[0].step for p in got[:2]] == [0, 1]  # samples are numbered
    assert all(p.key.startswith("system/") for p in got[0])


def test_gpu_keys_and_units_from_nvml(tmp_path: Path) -> None:
    (tmp_path / "pynvml.py").write_text(FAKE_PYNVML)
    code = textwrap.dedent(
        """
        import json
        from losslens.tracking.system import SystemMonitor
        mon = SystemMonitor(lambda points: None, interval=60)
        print(json.dumps(mon.sample()))
        mon.stop()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    sample = json.loads(out.stdout)
    for i in (0, 1):
        assert sample[f"system/gpu.{i}.gpu"] == 87.0
        assert sample[f"system/gpu.{i}.memory_used_mb"] == 3072.0
        assert sample[f"system/gpu.{i}.memory_total_mb"] == 81920.0
        assert sample[f"system/gpu.{i}.temp_c"] == 61.0 + i
    assert sample["system/gpu.0.power_w"] == pytest.approx(250.5)
    assert "system/gpu.1.power_w" not in sample  # an unsupported reading is left out


def test_run_records_system_metrics_apart_from_metrics(store_path: Path) -> None:
    run = losslens.init(project="sys", dir=store_path, system_interval=0.05)
    run.log({"loss": 1.0})
    with Store(store_path) as store:
        deadline = time.monotonic() + 30
        while len(store.keys(run.id, "system")) == 0 and time.monotonic() < deadline:
            run.flush()
            time.sleep(0.05)
    run.finish()
    with Store(store_path) as store:
        data = store.load(run.id)
    assert list(data.series) == ["loss"]
    assert "system/proc_rss_mb" in data.system
    assert data.system["system/proc_rss_mb"].values[0] > 0


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_system_metrics_off_switch(
    store_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "environment":
        monkeypatch.setenv("LOSSLENS_SYSTEM_METRICS", "0")
        run = losslens.init(project="sys", dir=store_path, system_interval=0.05)
    else:
        run = losslens.init(project="sys", dir=store_path, system_metrics=False)
    assert run._monitor is None
    time.sleep(0.2)
    run.finish()
    with Store(store_path) as store:
        assert store.keys(run.id, "system") == {}
