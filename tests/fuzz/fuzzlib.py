"""A bounded mutation fuzzer for the importers, shared by tests/fuzz and bench/fuzz.py.

``make_corpus(out, per_format, seed)`` writes damaged and odd inputs, generated from the
repository's own fixtures (tests/data/importers): random byte damage (flips, cuts, inserted
and repeated chunks), well-framed odd values (``1e400``, ``Infinity``, ``2**70``, huge and
empty fields, deep nesting, very long lines, CR-only line ends, escape sequences in names),
SQL-level odd cells (NULL, text, BLOB) and damaged pages in SQLite sources, and special
files (a FIFO named like each format).

``run_corpus(inputs, limit_s)`` reads every input in a worker process the way
``losslens analyze PATH`` does (import into memory, read back, diagnose, render) with a
per-input time limit and a memory limit, and classifies each:

* ``ok`` - imported; ``refused`` - one clear line (a ``LosslensError``);
* ``traceback`` - any other exception; ``hang`` - over the time limit;
* ``multiline`` - refused, but with a message of more than one line or a control character;
* ``silent`` - silent damage: a run whose stored points differ from what the importer read,
  whose data cannot be read back, or a damaged SQLite source (``quick_check`` fails)
  imported without a word.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "importers"

#: format -> (seed path relative to DATA, kind): kind "text", "binary", "sqlite" or "dir".
SEEDS: dict[str, tuple[str, str]] = {
    "hf_trainer_state": ("hf_run/output/trainer_state.json", "text"),
    "hf_console": ("hf_run/console.txt", "text"),
    "hf_notebook": ("other/notebook_table.txt", "text"),
    "csv": ("other/wandb_export.csv", "text"),
    "jsonl": ("other/log_history.jsonl", "text"),
    "wandb": ("hf_run/wandb_dir/offline-run-20261128_025907-ht583dre/run-ht583dre.wandb", "binary"),
    "tensorboard": (
        "hf_run/output/runs/tiny-qwen2/events.out.tfevents.1795834747.vm.17067.0",
        "binary",
    ),
    "mlflow_file": (
        "other/mlflow_files/896667546884643478/19e7c935add2416a8fdb8e7e4cc85e59",
        "dir",
    ),
    "mlflow_sqlite": ("hf_run/mlflow.db", "sqlite"),
    "trackio": ("hf_run/trackio/fixtures.db", "sqlite"),
}

#: Odd values spliced in place of numbers (well-framed: the file still parses).
ODD_NUMBERS = [
    "1e400",
    "-1e400",
    "Infinity",
    "-Infinity",
    "NaN",
    "1e30",
    "-1e30",
    str(2**70),
    str(2**63),
    "9007199254740993",
    "9" * 5000,
    "0.0000001",
    "-0",
    "",
    "null",
    '"x"',
    "true",
    "1_000",
    "0x1F",
]
ESCAPE_NAME = "evil\x1b]0;pwned\x07\x1b[2J\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\u202e"


@dataclass
class Input:
    id: str
    fmt: str
    path: str
    mutation: str


def _rng_chunk(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def _byte_damage(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    if not data:
        return data, "empty"
    op = rng.choice(["flip", "flips", "cut", "insert", "repeat", "delete", "zero"])
    i = rng.randrange(len(data))
    if op == "flip":
        return data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :], op
    if op == "flips":
        b = bytearray(data)
        for _ in range(rng.randint(2, 40)):
            j = rng.randrange(len(b))
            b[j] = rng.getrandbits(8)
        return bytes(b), op
    if op == "cut":
        return data[:i], op
    if op == "insert":
        return data[:i] + _rng_chunk(rng, rng.randint(1, 64)) + data[i:], op
    if op == "repeat":
        j = min(len(data), i + rng.randint(1, 4096))
        return data[:j] + data[i:j] * rng.randint(1, 8) + data[j:], op
    if op == "delete":
        j = min(len(data), i + rng.randint(1, 256))
        return data[:i] + data[j:], op
    j = min(len(data), i + rng.randint(1, 512))
    return data[:i] + b"\0" * (j - i) + data[j:], op


def _numbers(text: str) -> list[tuple[int, int]]:
    """Spans of number-like tokens (linear scan, no regex)."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isdigit():
            j = i
            while j < n and (text[j].isdigit() or text[j] in ".eE+-"):
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    return spans


def _odd_text(text: str, rng: random.Random, fmt: str) -> tuple[str, str]:
    op = rng.choice(
        ["number", "numbers", "long_line", "cr_only", "deep", "escape", "big_field", "controls"]
    )
    spans = _numbers(text)
    if op in ("number", "numbers") and spans:
        out = text
        picks = rng.sample(spans, min(len(spans), 1 if op == "number" else rng.randint(2, 12)))
        for a, b in sorted(picks, reverse=True):
            out = out[:a] + rng.choice(ODD_NUMBERS) + out[b:]
        return out, op
    lines = text.split("\n")
    at = rng.randrange(len(lines))
    if op == "long_line":
        filler = rng.choice(["1", " ", "a", "{'loss': ", "1%|", "'", "\x1b]", "{'a"])
        lines.insert(at, filler * (100_000 // len(filler)))
        return "\n".join(lines), op
    if op == "cr_only":
        return text.replace("\r\n", "\n").replace("\n", "\r"), op
    if op == "deep":
        depth = rng.choice([1000, 100_000])
        lines.insert(at, "[" * depth + "]" * depth if rng.random() < 0.5 else "{" * depth)
        return "\n".join(lines), op
    if op == "escape":
        return text.replace("loss", ESCAPE_NAME + "loss", 1).replace("tiny", ESCAPE_NAME, 2), op
    if op == "big_field":
        lines.insert(at, "1," + "x" * 200_000 + ",3")
        return "\n".join(lines), op
    lines.insert(at, "".join(chr(rng.randrange(0, 32)) for _ in range(50)))
    return "\n".join(lines), op


def _mutate_sqlite(src: Path, dst: Path, rng: random.Random) -> str:
    shutil.copyfile(src, dst)
    op = rng.choice(["cells", "cells", "page", "index", "bytes"])
    if op == "bytes":
        data, how = _byte_damage(dst.read_bytes(), rng)
        dst.write_bytes(data)
        return f"bytes:{how}"
    conn = sqlite3.connect(dst)
    try:
        if op == "cells":
            tables = [
                r[0]
                for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                if not str(r[0]).startswith("sqlite_")
            ]
            for _ in range(rng.randint(1, 6)):
                table = rng.choice(tables)
                cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
                col = rng.choice(cols)
                value = rng.choice(
                    [None, "text", b"\x00\xffblob", 1e308 * 10, -(2**63), 2**63 - 1, ESCAPE_NAME]
                )
                with contextlib.suppress(sqlite3.Error):
                    conn.execute(
                        f'UPDATE "{table}" SET "{col}" = ? WHERE rowid IN '
                        f'(SELECT rowid FROM "{table}" ORDER BY random() LIMIT ?)',
                        (value, rng.randint(1, 5)),
                    )
            conn.commit()
            return "cells"
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        roots = [
            (str(r[0]), int(r[1]))
            for r in conn.execute("SELECT type, rootpage FROM sqlite_master WHERE rootpage > 1")
            if (op == "index") == (r[0] == "index")
        ]
    finally:
        conn.close()
    if not roots:
        return "none"
    _, page = rng.choice(roots)
    b = bytearray(dst.read_bytes())
    start = (page - 1) * page_size
    for _ in range(rng.randint(1, 16)):
        j = start + rng.randrange(8, page_size)
        if j < len(b):
            b[j] = rng.getrandbits(8)
    dst.write_bytes(bytes(b))
    return op


def make_corpus(out: Path, per_format: int, seed: int = 1) -> list[Input]:
    """``per_format`` mutated inputs per format, plus one FIFO per format, under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    inputs: list[Input] = []
    for fmt, (rel, kind) in SEEDS.items():
        src = DATA / rel
        rng = random.Random(f"{seed}:{fmt}")
        for n in range(per_format):
            ident = f"{fmt}-{n:04d}"
            folder = out / ident
            folder.mkdir(exist_ok=True)
            if kind == "dir":
                dst = folder / src.name
                shutil.copytree(src, dst)
                files = sorted(p for p in dst.rglob("*") if p.is_file())
                victim = rng.choice(files)
                text = victim.read_text(encoding="utf-8", errors="replace")
                if victim.name == "meta.yaml" and rng.random() < 0.4:
                    text = rng.choice(
                        [
                            text.replace("status: 3", "status: RUNNING"),
                            "a: &a ["
                            + ",".join(["*a"] * 9)
                            + "]\n"
                            + "".join(
                                f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n"
                                for p, c in zip("abcdefgh", "bcdefghi", strict=True)
                            ),
                            text + f'run_name: "{ESCAPE_NAME.encode("unicode_escape").decode()}"\n',
                        ]
                    )
                    how = "yaml"
                elif rng.random() < 0.5:
                    text, how = _odd_text(text, rng, fmt)
                else:
                    data, how = _byte_damage(victim.read_bytes(), rng)
                    victim.write_bytes(data)
                    inputs.append(Input(ident, fmt, str(dst), f"{victim.name}:{how}"))
                    continue
                victim.write_text(text, encoding="utf-8", errors="surrogateescape")
                inputs.append(Input(ident, fmt, str(dst), f"{victim.name}:{how}"))
                continue
            dst = folder / src.name
            if kind == "sqlite":
                how = _mutate_sqlite(src, dst, rng)
            elif kind == "text" and rng.random() < 0.5:
                text, how = _odd_text(src.read_text(encoding="utf-8"), rng, fmt)
                dst.write_text(text, encoding="utf-8")
            else:
                data, how = _byte_damage(src.read_bytes(), rng)
                dst.write_bytes(data)
            inputs.append(Input(ident, fmt, str(dst), how))
        fifo_dir = out / f"{fmt}-fifo"
        fifo_dir.mkdir(exist_ok=True)
        fifo = fifo_dir / (Path(rel).name if kind != "dir" else "meta.yaml")
        if not fifo.exists():
            os.mkfifo(fifo)
        inputs.append(Input(f"{fmt}-fifo", fmt, str(fifo if kind != "dir" else fifo_dir), "fifo"))
    return inputs


# -- the worker: one process reads many inputs ---------------------------------------------------


class _Timeout(BaseException):
    pass


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def _points_of(imported: Any) -> Any:
    """Wrap an ImportedRun's batches to count the points it yields."""
    counter = {"n": 0}
    inner = imported.batches

    def counting() -> Any:
        for batch in inner:
            counter["n"] += len(batch)
            yield batch

    imported.batches = counting()
    return counter


def check_one(path: str) -> dict[str, Any]:
    """Read one input as ``losslens analyze`` does; the outcome and its message."""
    from losslens.analysis import analyze
    from losslens.errors import LosslensError
    from losslens.importers import load_path
    from losslens.importers.base import PartialImportError
    from losslens.ingest import ingest
    from losslens.render.terminal import render_text
    from losslens.store import Store

    p = Path(path)
    damaged_sqlite = None
    if p.is_file() and not p.is_fifo() and p.read_bytes()[:16] == b"SQLite format 3\0":
        try:
            conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True)
            conn.text_factory = bytes
            rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
            damaged_sqlite = None if rows == [b"ok"] else repr(rows[:1])
            conn.close()
        except sqlite3.Error as exc:
            damaged_sqlite = str(exc)
    store = Store(":memory:")
    try:
        try:
            runs = load_path(p)
        except LosslensError as exc:
            return _refused(exc)
        warned = False
        errors: list[str] = []
        for imported in runs:
            counter = _points_of(imported)
            try:
                info, created = ingest(store, imported)
                if not created:
                    continue  # the same source twice in one file (a damaged GROUP BY)
            except PartialImportError as exc:
                info = store.get_run(exc.run_id)
                errors.append(exc.message)
            except LosslensError as exc:
                errors.append(exc.message)
                continue
            stored = store.count_points(info.id)
            if stored != counter["n"]:
                return {
                    "outcome": "silent",
                    "message": f"read {counter['n']} points, stored {stored}",
                }
            warned = warned or bool(imported.warnings)
            data = store.load(info.id)
            report = analyze(data)
            text = render_text(report, run=data)
            if "\x1b" in text or "\x07" in text:
                return {"outcome": "silent", "message": "an escape sequence reached the output"}
        if damaged_sqlite and not warned and not errors:
            return {
                "outcome": "silent",
                "message": f"damaged source imported without a word ({damaged_sqlite})",
            }
        for e in errors:
            if "\n" in e or "\x1b" in e:
                return {"outcome": "multiline", "message": e[:200]}
        return {"outcome": "partial" if errors else "ok", "message": "; ".join(errors)[:200]}
    finally:
        store.close()


def _refused(exc: BaseException) -> dict[str, Any]:
    msg = str(exc)
    bad = "\n" in msg or "\r" in msg or "\x1b" in msg or not msg.strip()
    return {"outcome": "multiline" if bad else "refused", "message": msg[:300]}


def worker(limit_s: float, mem_bytes: int) -> None:
    """Read input paths from stdin (one JSON per line), print one JSON result per line."""
    import losslens.analysis
    import losslens.importers  # noqa: F401

    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
    signal.signal(signal.SIGALRM, _on_alarm)
    for line in sys.stdin:
        job = json.loads(line)
        t0 = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, limit_s)
        try:
            result = check_one(job["path"])
        except _Timeout:
            result = {"outcome": "hang", "message": f"over {limit_s:g} s"}
        except MemoryError:
            result = {"outcome": "memory", "message": "MemoryError"}
        except BaseException as exc:  # everything else is a traceback a user would see
            tb = traceback.format_exception(exc)
            result = {"outcome": "traceback", "message": "".join(tb[-3:])[-600:]}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        result["id"] = job["id"]
        result["seconds"] = round(time.monotonic() - t0, 3)
        result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        print(json.dumps(result), flush=True)


def run_corpus(
    inputs: list[Input], limit_s: float = 10.0, mem_mb: int = 3072, src: Path | None = None
) -> list[dict[str, Any]]:
    """Run every input through a worker; a worker that stops answering is killed after
    ``limit_s`` + 20 s (the input counts as a hang) and a new one takes the rest. ``src``:
    another losslens source tree to test (e.g. an older release, for comparison)."""
    results: list[dict[str, Any]] = []
    todo = list(inputs)
    paths = [str(Path(__file__).resolve().parent)] + ([str(src)] if src else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    while todo:
        proc = subprocess.Popen(
            [sys.executable, "-c", f"import fuzzlib; fuzzlib.worker({limit_s}, {mem_mb << 20})"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert proc.stdin is not None and proc.stdout is not None
        current = None
        try:
            while todo:
                current = todo[0]
                proc.stdin.write(json.dumps({"id": current.id, "path": current.path}) + "\n")
                proc.stdin.flush()
                ready, _, _ = select.select([proc.stdout], [], [], limit_s + 20.0)
                line = proc.stdout.readline() if ready else ""
                if not line:
                    break
                res = json.loads(line)
                res.update(fmt=current.fmt, mutation=current.mutation)
                results.append(res)
                todo.pop(0)
                current = None
        except BrokenPipeError:
            pass
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if current is not None and todo and todo[0] is current:
            outcome = "hang" if proc.returncode in (-9, None) else "traceback"
            results.append(
                {
                    "id": current.id,
                    "fmt": current.fmt,
                    "mutation": current.mutation,
                    "outcome": outcome,
                    "message": f"worker ended (exit {proc.returncode})",
                }
            )
            todo.pop(0)
    return results


def tally(results: list[dict[str, Any]]) -> dict[str, Counter[str]]:
    """Outcome counts per format (and ``all``)."""
    out: dict[str, Counter[str]] = {"all": Counter()}
    for r in results:
        out.setdefault(r["fmt"], Counter())[r["outcome"]] += 1
        out["all"][r["outcome"]] += 1
    return out


#: Outcomes that are failures of losslens.
FAILURES = ("traceback", "hang", "memory", "multiline", "silent")
