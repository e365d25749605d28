"""The wandb-style logging API: ``init`` / ``log`` / ``finish``.

``import losslens as wandb`` works for the common calls. ``log()`` only appends to an
in-memory queue; a background thread (``writer.py``) makes points durable at least every
second, at ``flush()``/``finish()``, at interpreter exit, on an uncaught exception (Ctrl-C
included) and on SIGTERM/SIGHUP. docs/logging.md states the guarantees.
"""

from __future__ import annotations

import atexit
import numbers
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from types import FrameType, TracebackType
from typing import Any

from losslens.errors import ConfigError
from losslens.model import RunInfo, RunStatus
from losslens.paths import resolve_store_path
from losslens.store import Store
from losslens.store.store import dumps
from losslens.tracking.system import SystemMonitor
from losslens.tracking.writer import BackgroundWriter, Meta, raise_if_failed

_PLAIN = frozenset((float, int))
_time = time.time


class _Tracked(dict[str, Any]):
    """A dict with attribute access that tells its run when it changes."""

    def __init__(self, owner: Run | None, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(data or {})
        object.__setattr__(self, "_owner", owner)

    def _changed(self) -> None:
        owner: Run | None = object.__getattribute__(self, "_owner")
        if owner is not None:
            owner._meta_changed(self)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        if len(args) == 1 and not kwargs and not isinstance(args[0], Mapping | Iterable):
            args = (vars(args[0]),)  # an argparse.Namespace, as wandb.config.update accepts
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
    """``run.config``: hyper-parameters, written to the store when they change."""


class Summary(_Tracked):
    """``run.summary``: values set here win; any other key reads the last logged value."""

    def __missing__(self, key: str) -> Any:
        owner: Run | None = object.__getattribute__(self, "_owner")
        if owner is None:
            raise KeyError(key)
        return owner._last[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds", f"e.g. {name}=5") from None


def _as_mapping(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    if hasattr(config, "__dict__"):
        return dict(vars(config))  # argparse.Namespace, simple objects
    raise TypeError(f"config must be a dict, not {type(config).__name__}")


def _scalar(value: Any) -> int | float | None:
    """A number to record for ``value``, or None when it is not a scalar."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        try:
            out = item()
        except Exception:
            return None
        if isinstance(out, bool):
            return int(out)
        return out if isinstance(out, int | float) else None
    return None


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
        initial = _as_mapping(config)
        store = Store(self.store_path)
        try:
            self.info: RunInfo = store.create_run(
                self.project,
                name or os.environ.get("LOSSLENS_RUN_NAME"),
                config=initial,
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
        self._pid = os.getpid()
        self._last: dict[str, Any] = {}
        self._step = 0
        self._finished = False
        self._skipped: set[str] = set()
        self._writer = BackgroundWriter(self.store_path, self.id, flush_interval)
        self._append = self._writer.queue.append
        self.config = Config(self, initial)
        self.summary = Summary(self)
        if system_metrics is None:
            system_metrics = os.environ.get("LOSSLENS_SYSTEM_METRICS", "1").lower() not in (
                "0",
                "false",
                "no",
                "off",
            )
        interval = system_interval or _env_seconds("LOSSLENS_SYSTEM_INTERVAL", 5.0)
        self._monitor = (
            SystemMonitor(self._writer.add_system, max(0.05, interval)) if system_metrics else None
        )
        _register_exit_hooks(self)

    # -- logging ----------------------------------------------------------------------------

    @property
    def step(self) -> int:
        """The step the next ``log()`` without ``step=`` records at."""
        return self._step

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Record scalars at ``step`` (default: the run's step counter), as ``wandb.log``.

        Without ``step`` the counter moves on after the call unless ``commit=False``. With
        ``step`` the counter moves to it (never back) and on past it with ``commit=True``.
        Nested dicts become ``outer/inner`` keys; values that are not scalars are skipped
        with one warning per key. The call only queues the values: see :meth:`flush`.
        """
        if self._finished:
            raise RuntimeError("this run is finished; call losslens.init() for a new one")
        if step is None:
            s = self._step
            if commit is not False:
                self._step = s + 1
        else:
            s = step if type(step) is int else int(step)
            if commit:
                if s >= self._step:
                    self._step = s + 1
            elif s > self._step:
                self._step = s
        try:
            for v in data.values():
                if v.__class__ not in _PLAIN:
                    data = self._coerce(data, "", {})
                    break
            else:
                data = dict(data)
        except AttributeError:
            raise TypeError(
                f"log() takes a dict of metric name -> value, not {type(data).__name__}"
            ) from None
        if data:
            self._last.update(data)
            self._append((s, _time(), data))

    def _coerce(self, data: Mapping[str, Any], prefix: str, out: dict[str, Any]) -> dict[str, Any]:
        for k, v in data.items():
            key = f"{prefix}/{k}" if prefix else (k if type(k) is str else str(k))
            if v.__class__ in _PLAIN:
                out[key] = v
            elif isinstance(v, Mapping):
                self._coerce(v, key, out)
            else:
                f = _scalar(v)
                if f is None:
                    self._skip(key, v)
                else:
                    out[key] = f
        return out

    def _skip(self, key: str, value: object) -> None:
        if key not in self._skipped:
            self._skipped.add(key)
            warnings.warn(
                f"losslens records scalars only; '{key}' ({type(value).__name__}) is not recorded",
                stacklevel=4,
            )

    def flush(self, timeout: float = 120.0) -> None:
        """Block until every point logged so far is committed to the store."""
        self._writer.flush(timeout)
        raise_if_failed(self._writer)

    def _meta_changed(self, which: _Tracked) -> None:
        if self._finished:
            return
        if which is self.config:
            self._writer.add_meta(Meta(config=dumps(dict(self.config))))
        else:
            self._writer.add_meta(Meta(summary=dict(self.summary)))

    def finish(self, exit_code: int | None = None, *, status: RunStatus | None = None) -> None:
        """Write everything, then mark the run finished (``exit_code`` other than 0: failed)."""
        if self._finished:
            return
        self._finished = True
        _unregister(self)
        if self._monitor is not None:
            self._monitor.stop()
        if status is None:
            status = RunStatus.FINISHED if not exit_code else RunStatus.FAILED
        end = time.time()
        meta = Meta(
            config=dumps(dict(self.config)),
            summary=dict(self.summary),
            status=str(status),
            end_time=end,
            exit_code=exit_code,
        )
        self._writer.add_meta(meta)
        self._writer.close()
        if self._writer.error is not None or self._writer.alive:
            # The writer failed (or hangs): still try to close the run's record.
            try:
                with Store(self.store_path) as store:
                    store.update_run(self.id, status=status, end_time=end, exit_code=exit_code)
            except Exception:
                pass
            raise_if_failed(self._writer)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
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
_signals_installed = False
_hooks_lock = threading.Lock()


def _unregister(run: Run) -> None:
    if run in _active:
        _active.remove(run)


def _finish_all(code: int, status: RunStatus | None = None) -> None:
    for run in list(_active):
        if run._pid != os.getpid():
            continue  # a forked child: the run belongs to the parent
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
    if issubclass(exc_type, KeyboardInterrupt):
        _finish_all(130, RunStatus.KILLED)
    else:
        _finish_all(1, RunStatus.FAILED)
    sys.__excepthook__(exc_type, exc, tb)


def _register_exit_hooks(run: Run) -> None:
    global _hooks_installed, _signals_installed
    _active.append(run)
    with _hooks_lock:
        if not _hooks_installed:
            _hooks_installed = True
            atexit.register(_finish_all, 0)
            if sys.excepthook is sys.__excepthook__:
                sys.excepthook = _excepthook
        # Signal handlers can only be set from the main thread: maybe on a later init().
        if not _signals_installed and threading.current_thread() is threading.main_thread():
            _signals_installed = True
            for sig in (signal.SIGTERM, signal.SIGHUP):
                prev = signal.getsignal(sig)
                if prev in (signal.SIG_DFL, None) or callable(prev):
                    _previous_handlers[sig] = prev if callable(prev) else None
                    signal.signal(sig, _on_signal)


def active_runs() -> Iterator[Run]:
    return iter(list(_active))
