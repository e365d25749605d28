"""System metrics: CPU, memory and, where NVML is present, every GPU."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psutil

from losslens.model import MetricPoint


class _Nvml:
    def __init__(self) -> None:
        import importlib

        nv: Any = importlib.import_module("pynvml")
        nv.nvmlInit()
        self.nv = nv
        self.handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(nv.nvmlDeviceGetCount())]

    def sample(self) -> dict[str, float]:
        nv, out = self.nv, {}
        for i, h in enumerate(self.handles):
            p = f"system/gpu.{i}."
            for name, call, args, scale in (
                ("gpu", "nvmlDeviceGetUtilizationRates", (), 1.0),
                ("memory_used_mb", "nvmlDeviceGetMemoryInfo", (), 2.0**-20),
                ("temp_c", "nvmlDeviceGetTemperature", (0,), 1.0),
                ("power_w", "nvmlDeviceGetPowerUsage", (), 1e-3),
            ):
                try:
                    raw = getattr(nv, call)(h, *args)
                except Exception:
                    continue
                if name == "gpu":
                    raw = raw.gpu
                elif name == "memory_used_mb":
                    out[p + "memory_total_mb"] = float(raw.total) * scale
                    raw = raw.used
                out[p + name] = float(raw) * scale
        return out


def _nvml() -> _Nvml | None:
    try:
        return _Nvml()
    except Exception:
        return None


class SystemMonitor:
    """Samples every ``interval`` seconds on a daemon thread and hands points to ``sink``."""

    def __init__(self, sink: Callable[[list[MetricPoint]], None], interval: float = 5.0) -> None:
        self.sink = sink
        self.interval = interval
        self.proc = psutil.Process()
        self.proc.cpu_percent(None)
        psutil.cpu_percent(None)
        self.gpu = _nvml()
        self._stop = threading.Event()
        self._n = 0
        self._thread = threading.Thread(target=self._loop, name="losslens-system", daemon=True)
        self._thread.start()

    def sample(self) -> dict[str, float]:
        vm = psutil.virtual_memory()
        out = {
            "system/cpu_percent": float(psutil.cpu_percent(None)),
            "system/proc_cpu_percent": float(self.proc.cpu_percent(None)),
            "system/proc_rss_mb": self.proc.memory_info().rss / 2**20,
            "system/memory_percent": float(vm.percent),
            "system/memory_used_mb": (vm.total - vm.available) / 2**20,
        }
        if self.gpu is not None:
            out.update(self.gpu.sample())
        return out

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                now = time.time()
                self.sink([MetricPoint(k, self._n, v, now) for k, v in self.sample().items()])
                self._n += 1
            except Exception:
                continue

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
