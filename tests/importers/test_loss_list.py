"""Files of bare loss values, named for them: written here the way training scripts write
them (``np.savetxt``, ``print(loss, file=f)``, one comma-separated line, ``Epoch N: value``)
from a real least-squares fit by gradient descent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from losslens import keys
from losslens.errors import ImportError_, UnknownFormatError
from losslens.importers import detect
from losslens.importers.loss_list import LossListImporter
from losslens.ingest import load_into_memory


def _fit(steps: int = 40) -> list[float]:
    """The mean squared error of each step of a gradient-descent fit."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + rng.normal(scale=0.1, size=64)
    w = np.zeros(3)
    losses = []
    for _ in range(steps):
        err = x @ w - y
        losses.append(float((err**2).mean()))
        w -= 0.05 * 2 * x.T @ err / len(y)
    return losses


def _series(path: Path, key: str = keys.LOSS) -> tuple[list[int], list[float]]:
    (run,) = load_into_memory(path)
    s = run.series[key]
    return [int(v) for v in s.steps], [float(v) for v in s.values]


def test_np_savetxt_of_the_losses_is_one_log_per_value(tmp_path: Path) -> None:
    losses = _fit()
    path = tmp_path / "train_loss.txt"
    np.savetxt(path, losses)
    assert detect(path).name == "loss_list"  # type: ignore[union-attr]
    steps, values = _series(path)
    assert steps == list(range(1, len(losses) + 1))
    assert values == pytest.approx(losses, rel=1e-12)


def test_an_array_printed_by_numpy_is_its_values(tmp_path: Path) -> None:
    losses = np.array(_fit(30))
    path = tmp_path / "loss.txt"
    with open(path, "w") as f:
        print(losses, file=f)  # several lines, the first opening with "[", the last "]"
    assert str(losses).count("\n") >= 2
    steps, values = _series(path)
    assert steps == list(range(1, 31))
    assert values == pytest.approx(losses, rel=1e-6)


def test_a_printed_two_dimensional_array_is_no_loss_list(tmp_path: Path) -> None:
    path = tmp_path / "loss.txt"
    with open(path, "w") as f:
        print(np.array(_fit(30)).reshape(10, 3), file=f)
    with pytest.raises(ImportError_):
        LossListImporter().read(path).__next__()


def test_a_held_out_split_in_the_name_makes_it_the_eval_loss(tmp_path: Path) -> None:
    path = tmp_path / "val_losses.txt"
    with open(path, "w") as f:
        for loss in _fit(8):
            print(loss, file=f)
    (run,) = load_into_memory(path)
    assert keys.EVAL_LOSS in run.series and keys.LOSS not in run.series


def test_values_on_one_comma_separated_line(tmp_path: Path) -> None:
    losses = _fit(30)
    path = tmp_path / "loss_log.txt"
    path.write_text(", ".join(f"{v:f}" for v in losses) + "\n")
    steps, values = _series(path)
    assert steps == list(range(1, 31))
    assert values == pytest.approx([float(f"{v:f}") for v in losses])


def test_epoch_lines_log_at_their_epoch(tmp_path: Path) -> None:
    losses = _fit(6)
    path = tmp_path / "loss_log.txt"
    path.write_text("".join(f"Epoch {e}: {v:.4f}\n" for e, v in enumerate(losses, start=1)))
    steps, values = _series(path)
    assert steps == [1, 2, 3, 4, 5, 6]
    assert values == pytest.approx([round(v, 4) for v in losses])
    assert _series(path, keys.EPOCH)[1] == [1, 2, 3, 4, 5, 6]


def test_space_separated_step_value_pairs_are_a_table(tmp_path: Path) -> None:
    losses = _fit(10)
    path = tmp_path / "losses.txt"
    np.savetxt(path, [(100 * (i + 1), v) for i, v in enumerate(losses)], fmt=["%d", "%.6f"])
    steps, values = _series(path)
    assert steps == [100 * (i + 1) for i in range(10)]
    assert values == pytest.approx([round(v, 6) for v in losses])


def test_epoch_headers_mark_the_values_below(tmp_path: Path) -> None:
    losses = _fit(12)
    path = tmp_path / "batch_losses.txt"
    with open(path, "w") as f:
        for i, v in enumerate(losses):
            if i % 4 == 0:
                print(f"Epoch {i // 4}", file=f)
            print(v, file=f)
    steps, values = _series(path)
    assert steps == list(range(1, 13))
    assert values == pytest.approx(losses)


def test_numbers_in_a_file_not_named_for_a_loss_are_not_read_as_losses(tmp_path: Path) -> None:
    path = tmp_path / "accuracy.txt"
    np.savetxt(path, [0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    assert detect(path) is None or detect(path).name != "loss_list"  # type: ignore[union-attr]
    with pytest.raises(ImportError_):
        load_into_memory(path)


def test_a_loss_named_file_with_prose_is_not_a_loss_list(tmp_path: Path) -> None:
    path = tmp_path / "loss_notes.txt"
    path.write_text("the loss went down\n0.5\n0.4\n0.3\n0.2\n0.1\n")
    assert not LossListImporter().sniff(path)


def test_forcing_the_format_on_another_file_says_what_it_expects(tmp_path: Path) -> None:
    path = tmp_path / "loss_log.txt"
    path.write_text("epoch 1 done\nsaved checkpoint\n")
    with pytest.raises(ImportError_, match="not a list of loss values") as exc:
        list(LossListImporter().read(path))
    assert "name says 'loss'" in (exc.value.hint or "")
    assert not isinstance(exc.value, UnknownFormatError)


def test_step_value_pairs_joined_by_an_underscore(tmp_path: Path) -> None:
    losses = _fit(8)
    path = tmp_path / "train_loss.txt"
    path.write_text("".join(f"{e}_{v}\n" for e, v in enumerate(losses, start=1)))
    steps, values = _series(path)
    assert steps == list(range(1, 9))
    assert values == pytest.approx(losses)


def test_a_table_under_a_commented_header_is_read_by_its_column_names(tmp_path: Path) -> None:
    train = _fit(12)
    val = [v * 1.1 for v in train]
    table = np.column_stack([np.arange(12), train, val])
    path = tmp_path / "history.txt"  # the header names the losses, not the file
    np.savetxt(path, table, header="epoch train_loss val_loss", fmt=["%d", "%.6f", "%.6f"])
    assert detect(path).name == "loss_list"  # type: ignore[union-attr]
    steps, values = _series(path)
    assert steps == list(range(1, 13))  # epoch 0 is done at step 1
    assert values == pytest.approx([round(v, 6) for v in train])
    assert _series(path, keys.EVAL_LOSS)[1] == pytest.approx([round(v, 6) for v in val])


def test_a_commented_header_naming_no_loss_is_no_loss_table(tmp_path: Path) -> None:
    path = tmp_path / "scores.txt"
    np.savetxt(path, np.column_stack([np.arange(6), np.linspace(0.5, 0.9, 6)]), header="epoch acc")
    assert not LossListImporter().sniff(path)


def test_a_table_step_that_is_no_integer_is_dropped_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "history.txt"
    path.write_text("# epoch train_loss\n1e400 0.5\nnan 0.4\n3 0.3\n4 0.2\n5 0.1\n6 0.1\n")
    (imported,) = list(LossListImporter().read(path))
    points = [p for batch in imported.batches for p in batch]
    assert sorted({p.step for p in points}) == [3, 4, 5, 6]
    assert any("dropped 2 records" in w for w in imported.warnings)


def test_an_epoch_and_its_value_apart_by_a_tab(tmp_path: Path) -> None:
    path = tmp_path / "train_loss.txt"
    path.write_text("".join(f"epoch{e}\t{1 / e:.12f}\n" for e in range(1, 6)))
    assert detect(path).name == "loss_list"  # type: ignore[union-attr]
    steps, values = _series(path)
    assert steps == [1, 2, 3, 4, 5]
    assert values == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2])
