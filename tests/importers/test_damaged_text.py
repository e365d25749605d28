"""Text logs as they reach a user's disk: saved by Windows PowerShell (UTF-16 with a byte-order
mark) or cut short inside the log history (a copy stopped early, a crash while writing)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers import detect
from losslens.ingest import load_into_memory

DATA = Path(__file__).resolve().parents[1] / "data" / "importers"
RUN = DATA / "hf_run"


def _losses(path: Path) -> list[float]:
    return [float(x) for x in load_into_memory(path)[0].series[keys.LOSS].values]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
@pytest.mark.parametrize(
    "source",
    [
        "hf_run/console.txt",
        "hf_run/output/trainer_state.json",
        "other/log_history.jsonl",
        "other/wandb_export.csv",
        "other/trainer_run.ipynb",
    ],
)
def test_a_log_saved_as_utf16_or_utf32_with_a_bom_reads_as_its_utf8_original(
    tmp_path: Path, codec: str, source: str
) -> None:
    # PowerShell 5's `python train.py > train.log` writes UTF-16LE with a BOM; Python's
    # "utf-16" codec writes that mark, "utf-16-be" does not, so it is added by hand
    original = DATA / source
    text = original.read_text(encoding="utf-8")
    raw = text.encode(codec)
    if codec == "utf-16-be":
        raw = b"\xfe\xff" + raw
    wide = tmp_path / original.name
    wide.write_bytes(raw)
    assert detect(wide).name == detect(original).name
    assert _losses(wide) == _losses(original)


def test_binary_data_behind_a_utf16_mark_stays_binary(tmp_path: Path) -> None:
    blob = tmp_path / "train.log"
    blob.write_bytes(b"\xff\xfe" + bytes(range(256)) * 8)
    with pytest.raises(ImportError_, match=r"not a training log|binary"):
        load_into_memory(blob)


def _cut_inside_history(tmp_path: Path, keep: int) -> tuple[Path, list[dict[str, object]]]:
    """The fixture's trainer_state.json cut in the middle of its entry ``keep``."""
    original = RUN / "output" / "trainer_state.json"
    text = original.read_text(encoding="utf-8")
    history = json.loads(text)["log_history"]
    at = text.index("{", text.index('"log_history"'))
    for _ in range(keep):
        at = text.index("{", at + 1)
    cut = tmp_path / "trainer_state.json"
    cut.write_text(text[: at + 12], encoding="utf-8")  # inside entry `keep`
    return cut, history[:keep]


def test_a_trainer_state_cut_inside_its_history_gives_the_entries_before_the_break(
    tmp_path: Path,
) -> None:
    cut, kept = _cut_inside_history(tmp_path, 5)
    run = load_into_memory(cut)[0]
    want = [int(e["step"]) for e in kept if "loss" in e]  # type: ignore[call-overload]
    assert want and list(run.series[keys.LOSS].steps) == want
    notes = run.info.summary["import_warnings"]
    assert any("not valid JSON" in n and "read the 5 complete log entries" in n for n in notes)
    # the file and the place its JSON breaks are named once
    assert all(n.count("(line ") == 1 for n in notes if "complete log entries" in n)
    # the fields written before the history are kept
    assert run.info.summary.get("global_step") is not None


def test_a_bare_log_history_cut_short_is_read_up_to_the_break(tmp_path: Path) -> None:
    history = json.loads((RUN / "output" / "trainer_state.json").read_text())["log_history"]
    text = json.dumps(history, indent=1)
    cut = tmp_path / "log_history.json"
    cut.write_text(text[: len(text) * 2 // 3], encoding="utf-8")
    run = load_into_memory(cut)[0]
    losses = run.series[keys.LOSS].values
    assert 0 < len(losses) < sum("loss" in e for e in history)
    assert any("complete log entries" in n for n in run.info.summary["import_warnings"])


def test_a_trainer_state_cut_before_its_first_entry_is_whole_stays_an_error(
    tmp_path: Path, cli: object
) -> None:
    cut, _ = _cut_inside_history(tmp_path, 0)
    with pytest.raises(ImportError_, match="not valid JSON"):
        load_into_memory(cut)
    res = cli("import", str(cut))  # type: ignore[operator]
    assert res.code != 0 and "Traceback" not in res.err
