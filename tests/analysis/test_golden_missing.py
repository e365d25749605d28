"""A golden test must not pass by writing the file it compares against."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_analysis_golden as golden


def test_a_missing_golden_file_fails_and_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(golden, "GOLDEN", tmp_path)
    monkeypatch.setattr(golden, "UPDATE", False)
    with pytest.raises(pytest.fail.Exception, match="was missing"):
        golden.check("new.txt", "text")
    assert (tmp_path / "new.txt").read_text(encoding="utf-8") == "text"
    golden.check("new.txt", "text")  # once reviewed, it compares
    with pytest.raises(AssertionError):
        golden.check("new.txt", "other")
