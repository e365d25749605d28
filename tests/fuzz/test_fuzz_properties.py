"""Property tests (hypothesis) of the pieces every hostile input goes through: the numeric
guard, the terminal-safety helper, the console parser, the CSV/JSONL reader, the store's
JSON and ``Run.log``."""

from __future__ import annotations

import math
import unicodedata
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import losslens
from losslens.errors import LosslensError
from losslens.importers.hf_console import _parse, parse_dict
from losslens.ingest import load_into_memory
from losslens.model import RunStatus
from losslens.numeric import STEP_MAX, STEP_MIN, as_step, as_value
from losslens.store import Store
from losslens.store.store import dumps, loads
from losslens.textsafe import is_safe, safe

FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
)


@FAST
@given(st.text(max_size=200))
def test_safe_text_never_holds_a_control_or_bidi_character(s: str) -> None:
    out = safe(s)
    assert is_safe(out)
    for ch in out:
        assert unicodedata.category(ch) != "Cc"
        assert ch not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    if is_safe(s):
        assert out == s  # Korean, emoji, punctuation: unchanged


@FAST
@given(anything)
def test_as_step_never_raises_and_only_gives_64_bit_integers(x: Any) -> None:
    s = as_step(x)
    assert s is None or (type(s) is int and STEP_MIN <= s <= STEP_MAX)


@FAST
@given(st.integers())
def test_as_step_keeps_every_integer_in_range_exactly(n: int) -> None:
    assert as_step(n) == (n if STEP_MIN <= n <= STEP_MAX else None)
    assert as_step(str(n)) == (n if STEP_MIN <= n <= STEP_MAX else None)


@FAST
@given(anything)
def test_as_value_never_raises(x: Any) -> None:
    v = as_value(x)
    assert v is None or isinstance(v, float)


@FAST
@given(st.text(max_size=400))
def test_console_parser_takes_any_text(text: str) -> None:
    _parse(text)
    if "{" in text:
        parse_dict(text[text.index("{") :])


@FAST
@given(
    st.lists(
        st.lists(
            st.one_of(st.text(max_size=12), st.sampled_from(["1e400", "Infinity", "nan"])),
            max_size=4,
        ),
        max_size=12,
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_csv_reader_gives_points_or_one_line(
    tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]], newline: str
) -> None:
    path = tmp_path_factory.mktemp("csv") / "log.csv"
    lines = ["step,loss,eval_loss"] + [",".join(r) for r in rows]
    path.write_text(newline.join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        runs = load_into_memory(path)
    except LosslensError as exc:
        assert "\n" not in str(exc) and is_safe(str(exc))
        return
    for run in runs:
        for s in run.series.values():
            assert s.steps.dtype.kind == "i"


@FAST
@given(
    st.recursive(
        st.one_of(st.floats(), st.integers(), st.text(max_size=8), st.none()),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=20,
    )
)
def test_store_json_takes_anything(obj: Any) -> None:
    back = loads(dumps({"x": obj}))
    assert "x" in back


def test_store_json_cuts_cycles() -> None:
    cfg: dict[str, Any] = {"lr": 1e-4}
    cfg["self"] = cfg
    assert loads(dumps(cfg)) == {"lr": 1e-4, "self": "<cycle>"}


def test_log_accepts_or_raises_type_or_value_error(store_path: Path) -> None:
    run = losslens.init(project="fuzz", dir=store_path, system_metrics=False)
    accepted = 0
    keys = st.one_of(st.text(max_size=10), st.integers(), st.tuples(st.text(max_size=3)))
    values = st.one_of(
        st.floats(), st.integers(min_value=-(2**80), max_value=2**80), st.text(max_size=4)
    )

    @FAST
    @given(
        st.dictionaries(keys, values, max_size=4),
        st.one_of(st.none(), st.integers(min_value=-(2**70), max_value=2**70), st.floats()),
    )
    def one(data: dict[Any, Any], step: Any) -> None:
        nonlocal accepted
        before = run.step
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # strings: skipped with a warning
                run.log(data, step=step)
        except (TypeError, ValueError):
            assert run.step == before  # a refused call changes nothing
            return
        accepted += sum(1 for v in data.values() if not isinstance(v, str))

    one()
    run.finish()
    with Store(store_path) as store:
        info = store.get_run(run.id)
        assert info.status is RunStatus.FINISHED
        assert store.count_points(run.id) == accepted
        for key in store.keys(run.id):
            s = store.series(run.id, key)
            assert all(math.isfinite(float(x)) for x in s.steps)
