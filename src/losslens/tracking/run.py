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
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import FrameType, TracebackType
from typing import Any

from losslens.errors import ConfigError
from losslens.model import RunInfo, RunStatus
from losslens.numeric import STEP_MAX, STEP_MIN, as_value
from losslens.paths import resolve_store_path
from losslens.store import Store
from losslens.store.open import is_url
from losslens.store.store import dumps
from losslens.textsafe import is_safe
from losslens.tracking.system import SystemMonitor
from losslens.tracking.writer import (
    MAX_QUEUE,
    BackgroundWriter,
    Meta,
    describe,
    raise_if_failed,
)

_PLAIN = frozenset((float, int))
#: Deepest nesting of dicts accepted by ``log()`` (``{"a": {"b": ...}}`` -> ``a/b``).
MAX_NESTING = 32
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
    return as_value(value, bools=True) if not isinstance(value, str) else None


def _resume_mode(run_id: str | None, resume: bool | str | None) -> str:
    """wandb's ``resume=`` as ``"allow"``, ``"must"`` or ``"never"`` (the default)."""
    if run_id is not None and (
        not isinstance(run_id, str) or not run_id or len(run_id) > 128 or not is_safe(run_id)
    ):
        raise ValueError(f"id must be a short printable string, not {run_id!r}")
    if resume in (None, False, "never"):
        return "never"
    if resume in (True, "allow", "auto", "must"):
        if run_id is None:
            raise ValueError(
                "losslens resumes a run by its id: pass id='...' with resume= "
                "(the id is shown by losslens runs)"
            )
        return "must" if resume == "must" else "allow"
    raise ValueError(f"resume must be 'allow', 'must', 'never' or True/False, not {resume!r}")


def _check_step(step: Any) -> int:
    """``step`` as an int, or the ``TypeError``/``ValueError`` wandb would raise."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise TypeError(
            f"step must be an integer, not {type(step).__name__} ({step!r}); "
            "pass int(step) to log at that step"
        )
    s = int(step)
    if not STEP_MIN <= s <= STEP_MAX:
        raise ValueError(f"step {s} is outside the range a store can hold (64-bit integers)")
    return s


def _bad_key(key: Any) -> TypeError:
    return TypeError(
        f"metric names passed to log() must be strings, not {type(key).__name__} ({key!r})"
    )


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
        id: str | None = None,
        resume: bool | str | None = None,
        max_queue: int | None = None,
        server: str | None = None,
        token: str | None = None,
    ) -> None:
        from losslens.tracking.sync import from_env

        target = from_env(server, token)  # a bad server URL fails before anything is made
        self.store_path = resolve_store_path(_local_store(dir))
        self.project = project or os.environ.get("LOSSLENS_PROJECT") or "default"
        initial = _as_mapping(config)
        mode = _resume_mode(id, resume)
        last: dict[str, Any] = {}
        first_step = 0
        self.info: RunInfo
        store = Store(self.store_path)
        try:
            old = store.find_run_id(id) if id is not None else None
            if old is not None and mode in ("allow", "must"):
                # wandb's resume: the same run continues, its step counter after its last step
                initial = {**old.config, **initial}
                store.update_run(
                    old.id,
                    status=RunStatus.RUNNING,
                    end_time=None,
                    exit_code=None,
                    heartbeat=time.time(),
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    command=" ".join([sys.executable, *sys.argv]),
                    config=initial,
                )
                self.info = store.get_run(old.id)
                last = dict(old.summary)
                top = store.last_step(old.id)
                first_step = 0 if top is None else top + 1
            elif old is not None:
                raise ValueError(
                    f"a run with id '{id}' exists in {self.store_path}; pass resume='allow' "
                    "to continue it, or another id"
                )
            elif mode == "must":
                raise ValueError(
                    f"resume='must': there is no run with id '{id}' in {self.store_path}"
                )
            else:
                self.info = store.create_run(
                    self.project,
                    name or os.environ.get("LOSSLENS_RUN_NAME"),
                    run_id=id,
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
        self._last: dict[str, Any] = dict(last)
        self._step = first_step
        self._finished = False
        self._skipped: set[str] = set()
        self._writer = BackgroundWriter(
            self.store_path,
            self.id,
            flush_interval,
            max_queue=max_queue or MAX_QUEUE,
            explicit=last,
        )
        self._queue = self._writer.queue
        self._max_queue = self._writer.max_queue
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
        self._sync = _start_sync(self.store_path, self.id, target)
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
        nxt = self._step
        if step is None:
            s = nxt
            if s > STEP_MAX:
                raise ValueError("the step counter is past the largest step a store can hold")
            if commit is not False:
                nxt = s + 1
        else:
            s = step if type(step) is int and STEP_MIN <= step <= STEP_MAX else _check_step(step)
            if commit:
                if s >= nxt:
                    nxt = s + 1
            elif s > nxt:
                nxt = s
        try:
            for k, v in data.items():
                if v.__class__ not in _PLAIN or k.__class__ is not str:
                    data = self._coerce(data, "", {})
                    break
            else:
                data = dict(data)
        except AttributeError:
            raise TypeError(
                f"log() takes a dict of metric name -> value, not {type(data).__name__}"
            ) from None
        self._step = nxt  # only once the call is known to be valid
        if data:
            self._last.update(data)
            if len(self._queue) >= self._max_queue and not self._writer.wait_for_room():
                self._writer.dropped += len(data)  # the store is failing: counted, reported
                return
            self._append((s, _time(), data))

    def _coerce(
        self, data: Mapping[str, Any], prefix: str, out: dict[str, Any], depth: int = 0
    ) -> dict[str, Any]:
        if depth > MAX_NESTING:
            raise ValueError(
                f"log() data nested more than {MAX_NESTING} levels deep (at '{prefix}'); "
                "does a dict contain itself?"
            )
        for k, v in data.items():
            if not isinstance(k, str):
                raise _bad_key(k)
            key = f"{prefix}/{k}" if prefix else str(k)
            if v.__class__ in _PLAIN:
                out[key] = v
            elif isinstance(v, Mapping):
                self._coerce(v, key, out, depth + 1)
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
        writer = self._writer
        writer.flush()
        summary = dict(self.summary)
        if writer.points_lost or writer.failing:
            # Never 'finished' when points are missing: the run is marked failed, and why.
            if status is RunStatus.FINISHED:
                status = RunStatus.FAILED
            cause = writer.gone or writer.error or writer.first_error
            summary["losslens_record_error"] = f"{writer.points_lost:,} points not recorded" + (
                f": {describe(cause)}" if cause is not None else ""
            )
        end = time.time()
        meta = Meta(
            config=dumps(dict(self.config)),
            summary=summary,
            status=str(status),
            end_time=end,
            exit_code=exit_code,
        )
        writer.add_meta(meta)
        writer.close()
        # The writer failed (or hangs): still try to close the run's record (not when the
        # store file is gone: that would make a new, empty store).
        if (writer.error is not None or writer.alive) and writer.gone is None:
            try:
                with Store(self.store_path, create=False) as store:
                    store.update_run(self.id, status=status, end_time=end, exit_code=exit_code)
            except Exception:
                pass
        if self._sync is not None:
            self._sync.finish(_env_seconds("LOSSLENS_SYNC_TIMEOUT", 10.0))
        raise_if_failed(writer, final=True)

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


def _local_store(dir: str | os.PathLike[str] | None) -> str | os.PathLike[str] | None:
    """Where this process records: ``dir``, else ``$LOSSLENS_STORE``. Recording is always into
    a local SQLite file first; a ``postgresql://`` URL there is for the read commands, so the
    default local store is used (runs reach a team server through ``LOSSLENS_SERVER``)."""
    if dir is not None and is_url(os.fspath(dir)):
        raise ConfigError(
            "init(dir=) takes a local folder, not a postgresql:// URL",
            hint="record locally and send runs to a team server with server=URL "
            "(or LOSSLENS_SERVER and LOSSLENS_TOKEN)",
        )
    env = os.environ.get("LOSSLENS_STORE")
    return dir or (None if env is None or is_url(env) else env)


def _start_sync(path: Any, run_id: str, target: tuple[str, str] | None) -> Any:
    """A :class:`~losslens.tracking.sync.RunSync` when a server is configured, else None."""
    from losslens.tracking.sync import RunSync

    if target is None:
        return None
    return RunSync(path, run_id, *target, findings=_findings_source)


#: What a synced run sends as its findings once its end is on the server: a function of
#: ``(local store path, run id)`` returning the findings body. Recording does not diagnose:
#: ``losslens.api`` registers it (None: no findings are sent).
_findings_source: Callable[[Any, str], dict[str, Any]] | None = None


def use_findings_source(source: Callable[[Any, str], dict[str, Any]] | None) -> None:
    """Set what every run synced to a server from now on sends as its findings."""
    global _findings_source
    _findings_source = source


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
