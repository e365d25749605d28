"""Real child processes that log and die: SIGKILL, SIGTERM, exceptions, plain exit, and
several processes writing one store at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from losslens.model import RunStatus
from losslens.store import Store

CHILD_HEAD = """
import os, sys, time
import losslens
run = losslens.init(project="dur", name=sys.argv[2], dir=sys.argv[1], flush_interval=0.2)
print(json.dumps({"run": run.id}), flush=True)
"""


def _spawn(tmp_path: Path, body: str, store: Path, name: str) -> subprocess.Popen[str]:
    script = tmp_path / f"{name}.py"
    script.write_text("import json\n" + CHILD_HEAD + textwrap.dedent(body))
    return subprocess.Popen(
        [sys.executable, str(script), str(store), name],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_json(proc: subprocess.Popen[str]) -> dict[str, object]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else "child printed nothing"
    data: dict[str, object] = json.loads(line)
    return data


def test_sigkill_mid_run_keeps_everything_up_to_the_last_flush(
    tmp_path: Path, store_path: Path
) -> None:
    proc = _spawn(
        tmp_path,
        """
        step = 0
        while True:
            run.log({"loss": 1.0 / (step + 1), "step_copy": step})
            if step == 3000:
                run.flush()  # everything up to here is committed
                print(json.dumps({"flushed": step}), flush=True)
            step += 1
            if step > 3000:
                time.sleep(0.0005)
        """,
        store_path,
        "killed",
    )
    run_id = _read_json(proc)["run"]
    flushed = _read_json(proc)["flushed"]
    assert isinstance(flushed, int)
    # Let background flushes (no explicit flush) commit more, then kill without warning.
    deadline = time.monotonic() + 60
    with Store(store_path, create=False) as store:
        while store.count_points(str(run_id)) < 2 * (flushed + 100):
            assert time.monotonic() < deadline, "no background flush after the explicit one"
            time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with Store(store_path, create=False) as store:
        assert store.integrity_check() == "ok"
        info = store.get_run(str(run_id))
        assert info.status is RunStatus.CRASHED  # its pid is gone
        s = store.series(info.id, "step_copy")
    steps = s.steps.tolist()
    assert steps[: flushed + 1] == list(range(flushed + 1))  # nothing up to the flush is lost
    assert steps == list(range(len(steps)))  # and what is there has no holes
    assert s.values.tolist() == [float(x) for x in steps]
    assert len(steps) > flushed + 1  # background flushes kept going after the explicit one


def test_sigterm_and_exceptions_and_plain_exit_close_the_run(
    tmp_path: Path, store_path: Path
) -> None:
    loop = "for step in range(500):\n    run.log({'x': float(step)})\n"
    term = _spawn(
        tmp_path,
        loop + "print(json.dumps({'ready': 1}), flush=True)\ntime.sleep(60)\n",
        store_path,
        "terminated",
    )
    crash = _spawn(tmp_path, loop + "raise ValueError('bad batch')\n", store_path, "crashed")
    plain = _spawn(tmp_path, loop, store_path, "no-finish")  # never calls finish()
    _read_json(term)
    assert _read_json(term) == {"ready": 1}
    term.send_signal(signal.SIGTERM)
    for p in (term, crash, plain):
        p.wait(timeout=60)
    assert term.returncode == -signal.SIGTERM
    assert crash.returncode == 1
    assert plain.returncode == 0
    assert crash.stderr is not None and "ValueError: bad batch" in crash.stderr.read()
    with Store(store_path) as store:
        expected = {
            "terminated": (RunStatus.KILLED, 128 + signal.SIGTERM),
            "crashed": (RunStatus.FAILED, 1),
            "no-finish": (RunStatus.FINISHED, 0),
        }
        for name, (status, code) in expected.items():
            info = store.get_run(name)
            assert (info.status, info.exit_code) == (status, code), name
            assert info.end_time is not None
            assert len(store.series(info.id, "x")) == 500, name


def test_four_processes_log_50000_steps_each_into_one_store(
    tmp_path: Path, store_path: Path
) -> None:
    # The store does not exist yet: the four also race to create and migrate it.
    body = """
        for step in range(50_000):
            run.log({"loss": step * 0.5, "lr": 1e-4, "tokens": step * 512})
        run.finish()
        print(json.dumps({"done": 1}), flush=True)
    """
    procs = [_spawn(tmp_path, body, store_path, f"proc-{i}") for i in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err
        assert out.strip().endswith('{"done": 1}')
    with Store(store_path) as store:
        assert store.integrity_check() == "ok"
        runs = store.list_runs("dur")
        assert sorted(r.name for r in runs) == [f"proc-{i}" for i in range(4)]
        for r in runs:
            assert r.status is RunStatus.FINISHED
            loss = store.series(r.id, "loss")
            assert loss.steps.tolist() == list(range(50_000))
            assert loss.values[-1] == 49_999 * 0.5
            assert store.count_points(r.id) == 150_000
            assert r.summary["tokens"] == 49_999 * 512


def test_a_run_whose_heartbeat_stops_is_shown_as_crashed(tmp_path: Path, store_path: Path) -> None:
    # A run recorded on another machine that went silent: only the heartbeat tells.
    with Store(store_path) as store:
        run = store.create_run("dur", "remote", host="another-host", pid=os.getpid())
        assert store.get_run(run.id).status is RunStatus.RUNNING
        store.update_run(run.id, heartbeat=time.time() - 3600)
        assert store.get_run(run.id).status is RunStatus.CRASHED
        assert [r.status for r in store.list_runs()] == [RunStatus.CRASHED]
