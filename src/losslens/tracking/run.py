"""The wandb-style logging API: ``init`` / ``log`` / ``finish``.

``import losslens as wandb`` works for the common calls. ``log()`` only appends to an
in-memory buffer; a background thread makes points durable at least every second, at
``finish()``, at interpreter exit and on SIGTERM/SIGINT.
"""

from __future__ import annotations

import atexit
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from types import FrameType, TracebackType
from typing import Any

from losslens.model import MetricPoint, RunInfo, RunStatus, as_float
from losslens.paths import resolve_store_path
from losslens.store import Store
from losslens.tracking.system import SystemMonitor
from losslens.tracking.writer import BackgroundWriter


class _Tracked(dict[str, Any]):
    """A dict with attribute access that tells its run when it changes."""

    def __init__(self, owner: Run | None, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(data or {})
        object.__setattr__(self, "_owner", owner)

    def _changed(self) -> None:
        owner: Run | None = object.__getattribute__(self, "_owner")
        if owner is not None:
            owner._meta_dirty = True

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._changed()

    def setdefaults(self, d: Mapping[str, Any]) -> None:
        for k, v in d.items():
            if k not in self:
                super().__setitem__(k, v)
        self._changed()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


class Config(_Tracked):
    """``run.config``: hyper-parameters, written to the store."""


class Summary(_Tracked):
    """``run.summary``: the last value of each metric unless set explicitly."""


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _flatten(prefix: str, value: Mapping[str, Any], out: dict[str, Any]) -> None:
    for k, v in value.items():
        key = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            _flatten(key, v, out)
        else:
            out[key] = v


class Run:
    """One run being recorded. Create it with :func:`losslens.init`."""

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        dir: str | os.PathLike[str] | None = None,
        *,
        system_metrics: bool | None = None,
        system_interval: float | None = None,
        flush_interval: float = 1.0,
        output_dir: str | None = None,
    ) -> None:
        self.store_path = resolve_store_path(dir or os.environ.get("LOSSLENS_STORE"))
        self.project = project or os.environ.get("LOSSLENS_PROJECT") or "default"
        store = Store(self.store_path)
        try:
            self.info: RunInfo = store.create_run(
                self.project,
                name or os.environ.get("LOSSLENS_RUN_NAME"),
                config=dict(config or {}),
                host=socket.gethostname(),
                pid=os.getpid(),
                command=" ".join([sys.executable, *sys.argv]),
                git_commit=_git_commit(),
                output_dir=output_dir,
            )
        finally:
            store.close()
        self.id = self.info.id
        self.name = self.info.name
        self.config = Config(self, config)
        self.summary = Summary(self)
        self._explicit_summary: set[str] = set()
        self._last: dict[str, float] = {}
        self._step = 0
        self._finished = False
        self._meta_dirty = False
        self._skipped: set[str] = set()
        self._writer = BackgroundWriter(self.store_path, self.id, flush_interval)
        if system_metrics is None:
            system_metrics = os.environ.get("LOSSLENS_SYSTEM_METRICS", "1") not in ("0", "false")
        interval = system_interval or float(os.environ.get("LOSSLENS_SYSTEM_INTERVAL", "5"))
        self._monitor = SystemMonitor(self._writer.add_system, interval) if system_metrics else None
        _register_exit_hooks(self)

    # -- logging ----------------------------------------------------------------------------

    @property
    def step(self) -> int:
        return self._step

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Record scalars at ``step`` (default: an internal counter, as in wandb)."""
        if self._finished:
            raise RuntimeError("this run is finished; call losslens.init() for a new one")
        s = self._step if step is None else int(step)
        now = time.time()
        points = []
        last = self._last
        for k, v in data.items():
            if type(v) is float or type(v) is int:
                f = float(v)
            elif isinstance(v, Mapping):
                flat: dict[str, Any] = {}
                _flatten(str(k), v, flat)
                self.log(flat, step=s, commit=False)
                continue
            else:
                fv = as_float(v) if not isinstance(v, str) else None
                if fv is None:
                    self._skip(str(k), v)
                    continue
                f = fv
            points.append(MetricPoint(k, s, f, now))
            last[k] = f
        self._writer.add(points)
        if step is None:
            if commit is not False:
                self._step = s + 1
        else:
            self._step = s + 1 if commit else max(self._step, s)

    def _skip(self, key: str, value: object) -> None:
        if key not in self._skipped:
            self._skipped.add(key)
            warnings.warn(
                f"losslens records scalars only; '{key}' ({type(value).__name__}) is not recorded",
                stacklevel=3,
            )

    def flush(self) -> None:
        """Block until every point logged so far is durable."""
        self._write_meta()
        self._writer.flush()

    def _write_meta(self) -> None:
        summary = {k: v for k, v in self._last.items() if math.isfinite(v)}
        summary.update({k: v for k, v in self.summary.items()})
        with Store(self.store_path) as store:
            store.update_run(self.id, config=dict(self.config), summary=summary)
        self._meta_dirty = False

    def finish(self, exit_code: int | None = None, *, status: RunStatus | None = None) -> None:
        """Flush everything and mark the run finished (``exit_code`` != 0: failed)."""
        if self._finished:
            return
        self._finished = True
        if self._monitor is not None:
            self._monitor.stop()
        self._writer.close()
        if status is None:
            status = RunStatus.FINISHED if not exit_code else RunStatus.FAILED
        summary = {k: v for k, v in self._last.items() if math.isfinite(v)}
        summary.update(dict(self.summary))
        with Store(self.store_path) as store:
            store.update_run(
                self.id,
                status=status,
                end_time=time.time(),
                heartbeat=time.time(),
                exit_code=exit_code,
                config=dict(self.config),
                summary=summary,
            )
        _unregister(self)
        if self._writer.error is not None:
            raise self._writer.error

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is KeyboardInterrupt:
            self.finish(130, status=RunStatus.KILLED)
        else:
            self.finish(0 if exc_type is None else 1)

    def __repr__(self) -> str:
        return f"<losslens.Run {self.id} {self.project}/{self.name}>"

    # wandb compatibility: accepted and ignored.
    def watch(self, *args: Any, **kwargs: Any) -> None:
        return None

    def define_metric(self, *args: Any, **kwargs: Any) -> None:
        return None


# -- process-wide hooks ------------------------------------------------------------------------

_active: list[Run] = []
_hooks_installed = False
_hooks_lock = threading.Lock()


def _unregister(run: Run) -> None:
    if run in _active:
        _active.remove(run)


def _finish_all(code: int, status: RunStatus | None = None) -> None:
    for run in list(_active):
        try:
            run.finish(code, status=status)
        except Exception:
            continue


def _on_signal(signum: int, frame: FrameType | None) -> None:
    _finish_all(128 + signum, RunStatus.KILLED)
    previous = _previous_handlers.get(signum)
    if callable(previous):
        previous(signum, frame)
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_previous_handlers: dict[int, Any] = {}


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    _finish_all(1, RunStatus.KILLED if exc_type is KeyboardInterrupt else RunStatus.FAILED)
    sys.__excepthook__(exc_type, exc, tb)


def _register_exit_hooks(run: Run) -> None:
    global _hooks_installed
    _active.append(run)
    with _hooks_lock:
        if _hooks_installed:
            return
        _hooks_installed = True
        atexit.register(_finish_all, 0)
        if sys.excepthook is sys.__excepthook__:
            sys.excepthook = _excepthook
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM,):
                prev = signal.getsignal(sig)
                if prev in (signal.SIG_DFL, None) or callable(prev):
                    _previous_handlers[sig] = prev if callable(prev) else None
                    signal.signal(sig, _on_signal)


def active_runs() -> Iterator[Run]:
    return iter(list(_active))
