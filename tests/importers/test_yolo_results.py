"""YOLOv5's (before v6.0) results.txt: one line per epoch, 15 columns, no header."""

from __future__ import annotations

from pathlib import Path

import pytest

from losslens.analysis import analyze
from losslens.importers import detect
from losslens.ingest import load_into_memory

#: (box, obj, cls) train losses, (precision, recall, mAP@0.5, mAP@0.5:0.95), (box, obj, cls)
#: validation losses, per epoch: the validation losses fall to epoch 3 and then climb
_EPOCHS = [
    ((0.0985, 0.0932, 0.0), (0.0, 0.0, 0.0049, 0.0010), (0.0918, 0.0553, 0.0)),
    ((0.0930, 0.1009, 0.0), (0.0482, 0.0151, 0.0076, 0.0014), (0.0922, 0.0553, 0.0)),
    ((0.0850, 0.0900, 0.0), (0.3000, 0.2500, 0.2000, 0.0800), (0.0800, 0.0500, 0.0)),
    ((0.0700, 0.0800, 0.0), (0.5000, 0.4500, 0.4000, 0.1500), (0.0700, 0.0450, 0.0)),
    ((0.0600, 0.0700, 0.0), (0.5200, 0.4600, 0.4100, 0.1550), (0.0750, 0.0480, 0.0)),
    ((0.0500, 0.0600, 0.0), (0.5100, 0.4500, 0.4000, 0.1500), (0.0820, 0.0520, 0.0)),
    ((0.0400, 0.0500, 0.0), (0.5000, 0.4400, 0.3900, 0.1450), (0.0900, 0.0560, 0.0)),
    ((0.0300, 0.0400, 0.0), (0.4900, 0.4300, 0.3800, 0.1400), (0.0980, 0.0600, 0.0)),
]


def _txt(tmp_path: Path) -> Path:
    # the line YOLOv5's train.py writes: ('%10s' * 2 + '%10.4g' * 6) % (epoch/last, mem,
    # *mloss, targets, img_size), then '%10.4g' * 7 % results
    lines = []
    for e, (tr, metrics, val) in enumerate(_EPOCHS):
        head = ("%10s" * 2 + "%10.4g" * 6) % (
            f"{e}/{len(_EPOCHS) - 1}",
            "1.86G",
            *tr,
            sum(tr),
            24,
            416,
        )
        lines.append(head + "%10.4g" * 7 % (*metrics, *val) + "\n")
    path = tmp_path / "results.txt"
    path.write_text("".join(lines))
    return path


def _csv(tmp_path: Path) -> Path:
    # the same run as results.csv of YOLOv5 v6.0 and later names its columns
    head = (
        "epoch,train/box_loss,train/obj_loss,train/cls_loss,metrics/precision,metrics/recall,"
        "metrics/mAP_0.5,metrics/mAP_0.5:0.95,val/box_loss,val/obj_loss,val/cls_loss\n"
    )
    rows = [
        ",".join(str(x) for x in (e, *tr, *metrics, *val)) + "\n"
        for e, (tr, metrics, val) in enumerate(_EPOCHS)
    ]
    path = tmp_path / "results.csv"
    path.write_text(head + "".join(rows))
    return path


def test_a_results_txt_is_read_by_the_names_results_csv_gives_its_columns(
    tmp_path: Path,
) -> None:
    path = _txt(tmp_path)
    assert detect(path).name == "yolo_results"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    box = run.series["train/box_loss"]
    assert box.steps.tolist() == list(range(1, 9))  # epoch 0 is done at step 1
    assert box.values.tolist() == pytest.approx([t[0][0] for t in _EPOCHS])
    assert run.series["val/obj_loss"].values[-1] == pytest.approx(0.06)
    assert run.series["metrics/mAP_0.5"].values[3] == pytest.approx(0.4)
    assert not any("targets" in k or "img" in k for k in run.series)


def test_the_same_run_reads_the_same_from_results_txt_and_results_csv(tmp_path: Path) -> None:
    def found(path: Path) -> list[tuple[str, str, int | None]]:
        (run,) = load_into_memory(path)
        return [(f.rule_id, str(f.severity), f.onset_step) for f in analyze(run).findings]

    from_txt = found(_txt(tmp_path))
    assert ("LL151", "error", 4) in from_txt  # the validation losses climb 37% from epoch 4
    assert from_txt == found(_csv(tmp_path))


def test_a_text_table_with_a_header_is_not_a_results_txt(tmp_path: Path) -> None:
    path = _txt(tmp_path)
    path.write_text(
        "epoch mem box obj cls total targets size P R mAP mAP2 vbox vobj vcls\n" + path.read_text()
    )
    assert detect(path) is None or detect(path).name != "yolo_results"  # type: ignore[union-attr]
