"""Progress lines of custom training loops (``step 10 | loss 2.3 | lr 1e-4``)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers import detect
from losslens.importers.text_log import read_text_log
from losslens.ingest import load_into_memory


def _write(tmp_path: Path, text: str, name: str = "train.log") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_pipe_separated_counter_lines_with_samples_between(tmp_path: Path) -> None:
    text = 'Device: cuda\nArgs: {\n  "max_steps": 300\n}\n'
    for step in (1, 100, 200, 300):
        loss = 9.0 - step / 100
        text += f"step {step:5d}/300 | lr {step * 1e-6:.3e} | loss {loss:.4f} | tok/s 3585.9\n"
        text += f"[sample @ step {step}] the cat sat on\n"
    path = _write(tmp_path, text)
    assert detect(path).name == "text_log"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [1, 100, 200, 300]
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([8.99, 8.0, 7.0, 6.0])
    assert run.series[keys.LR].values.tolist() == pytest.approx([1e-6, 1e-4, 2e-4, 3e-4])
    assert run.series["tok/s"].values.tolist() == [3585.9] * 4
    assert run.info.config["max_steps"] == 300


def test_markdown_rows_with_thousands_and_an_epoch_index(tmp_path: Path) -> None:
    text = "| Step | Loss | Learning Rate |\n|------|------|------|\n"
    for step in (500, 1000, 1500):
        loss = 8 - step / 1000
        text += (
            f"| Step {step:,}/50,000 | Epoch 0 | Loss: {loss:.4f} | LR: 2.00e-05 | GPU: 6.1GB |\n"
        )
    (run,) = load_into_memory(_write(tmp_path, text, "training_log.md"))
    assert run.series[keys.LOSS].steps.tolist() == [500, 1000, 1500]
    assert run.info.config["max_steps"] == 50_000
    # ``Epoch 0`` for the whole first pass is an index, not the Trainer's progress
    assert (
        keys.EPOCH not in run.series and run.series["train/epoch_index"].values.tolist() == [0] * 3
    )
    assert "train/gpu" not in run.series  # 6.1GB: a number with a unit is no metric


def test_a_batch_counter_that_restarts_each_epoch_runs_on(tmp_path: Path) -> None:
    text = ""
    for ep in (0, 1):
        for batch in (20, 40, 60):
            loss = 10 - ep - batch / 100
            text += f"ep: {ep}, batch: {batch}, time: 8.5, ntokens: 485.20/513, loss: {loss:.6f}\n"
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [20, 40, 60, 80, 100, 120]
    assert run.series["train/ntokens"].values.tolist() == [485.2] * 6
    assert "max_steps" not in run.info.config  # a batch's total is its tokens, not the run's


def test_validation_loss_on_the_same_line_is_the_eval_loss(tmp_path: Path) -> None:
    text = "".join(
        f"iter {it}: loss {3 - it / 1000:.4f}, val loss {3.1 - it / 2000:.4f}, lr 6.0e-04\n"
        for it in (100, 200, 300)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([3.05, 3.0, 2.95])
    assert run.series[keys.LOSS].steps.tolist() == [100, 200, 300]


def test_trainer_console_output_stays_the_trainer_readers(tmp_path: Path) -> None:
    text = "".join(
        f"{{'loss': {2 - s / 10}, 'epoch': {s / 10}}}\nstep {s} loss 1.0\n" for s in range(1, 6)
    )
    assert detect(_write(tmp_path, text)).name == "hf_console"  # type: ignore[union-attr]


def test_a_log_without_progress_lines_is_not_this_format(tmp_path: Path) -> None:
    path = _write(tmp_path, "loading model\nloss function: cross entropy\nstep size 3\n")
    assert detect(path) is None or detect(path).name != "text_log"  # type: ignore[union-attr]
    with pytest.raises(ImportError_, match="no progress lines"):
        read_text_log(path)


def test_a_nan_loss_is_kept(tmp_path: Path) -> None:
    text = "step 0: train loss 4.2367, val loss 4.2475\n" + "".join(
        f"iter {i}: loss {'nan' if i >= 15 else f'{4 - i / 10:.4f}'}, time 1431.27ms, mfu 0.01%\n"
        for i in range(0, 25, 5)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    values = run.series[keys.LOSS].values.tolist()
    assert values[:3] == pytest.approx([4.2367, 3.5, 3.0]) and math.isnan(values[-1])
    assert run.series[keys.EVAL_LOSS].values.tolist() == [4.2475]
    assert "train/time" not in run.series  # 1431.27ms: a number with a unit


def test_an_epoch_counter_opens_a_log_the_lines_below_fill(tmp_path: Path) -> None:
    # ``epoch 1`` alone, then the loss and a held-out accuracy on lines of their own; the
    # run resumed from epoch 2 after epoch 3: the later lines replace epochs 2-3
    text = ""
    for ep, loss in ((1, 6.6), (2, 5.5), (3, 4.9), (2, 5.0), (3, 4.1), (4, 3.8)):
        text += f"epoch {ep:3d}\nloss: {loss}\ntest accuracy: {20 + ep}.5%, (5/9)\n"
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3, 4]
    assert run.series[keys.LOSS].values.tolist() == [6.6, 5.0, 4.1, 3.8]
    assert run.series[keys.EPOCH].values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert run.series["eval/accuracy"].values.tolist() == [21.5, 22.5, 23.5, 24.5]
    assert any("starts again at step 2" in w for w in run.info.summary["import_warnings"])


def test_per_epoch_lines_with_the_epoch_as_their_only_counter(tmp_path: Path) -> None:
    text = "".join(
        f"Epoch {ep}, loss {0.7 - ep / 100}, train accuracy: {50 + ep}.00%\n"
        f"Validation accuracy: {49 + ep}.00%\nBest Valid accuracy: {49 + ep}.00%\n"
        for ep in range(1, 6)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3, 4, 5]
    assert run.series["eval/accuracy"].values.tolist() == [50.0, 51.0, 52.0, 53.0, 54.0]


def test_an_accumulation_step_under_an_epoch_header_runs_on(tmp_path: Path) -> None:
    text = ""
    for ep in (0, 1):
        text += f"[Epoch {ep}] Training ====\n"
        for acc in (1, 5, 9):
            text += (
                f"Epoch Step: {acc * 10 - 9:6d} | Accumulation Step: {acc:3d} | "
                f"Loss: {7 - ep - acc / 10:.2f} | Learning Rate: 1.1e-06\n"
            )
        text += f"[Epoch {ep}] Validation ====\n"
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [1, 5, 9, 10, 14, 18]
    assert run.series["train/epoch_index"].values.tolist() == [0, 0, 0, 1, 1, 1]


def test_counters_that_are_no_numbers_are_skipped_not_a_traceback(tmp_path: Path) -> None:
    text = "step nan | loss 1.0\nstep inf/inf | loss 2.0\nepoch nan\n" + "".join(
        f"step {s}/1e400 | loss {3 - s / 10}\n" for s in (1, 2, 3)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3]
    assert "max_steps" not in run.info.config


def test_the_counters_are_no_metrics(tmp_path: Path) -> None:
    text = "".join(
        f"iteration {i} | global_step {i} | it {i} | loss {3 - i / 10}\n" for i in (1, 2, 3)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert sorted(run.series) == [keys.LOSS]
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3]


def test_loss_names_with_qualifiers_and_camel_case(tmp_path: Path) -> None:
    text = "".join(
        f"2025-06-30 20:14:0{ep},000 [INFO]: Epoch {ep}: Average Loss = {9 - ep:.4f}\n"
        for ep in range(1, 6)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].values.tolist() == [8.0, 7.0, 6.0, 5.0, 4.0]
    text = "".join(
        f"INFO | Epoch [{ep:03d}/30] TrainLoss={1 - ep / 10:.4f} TrainAcc={50 + ep}.00% | "
        f"ValLoss={1.1 - ep / 20:.4f} ValAcc={49 + ep}.00% | LR=1.00e-04\n"
        for ep in range(1, 5)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3, 4]
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([1.05, 1.0, 0.95, 0.9])
    assert run.series["eval/acc"].values.tolist() == [50.0, 51.0, 52.0, 53.0]
    assert run.info.config["max_steps"] == 30  # ``[001/30]``: 30 epochs planned


def test_a_step_within_a_bracketed_epoch_counter(tmp_path: Path) -> None:
    # ``Epoch:[e/E](s/S)``: the step within the epoch, which starts again each epoch
    text = "".join(
        f"Epoch:[{ep}/2]({s}/300) loss:{5 - ep - s / 1000:.3f} lr:0.0000100 epoch_Time:80.0min:\n"
        for ep in (0, 1)
        for s in (0, 100, 200)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [0, 100, 200, 300, 400, 500]  # 300 an epoch
    assert run.series[keys.LR].values.tolist() == pytest.approx([1e-5] * 6)


def test_opennmt_lines_read_xent_as_the_loss(tmp_path: Path) -> None:
    text = ""
    for step in (50, 100, 150, 200):
        text += (
            f"[2024-05-08 04:06:17,722 INFO] Step {step}/100000; acc:  {step / 5:.2f}; "
            f"ppl: {40 - step / 10:.2f}; xent: {3.3 - step / 100:.2f}; lr: 1.00000; "
            "11270/8704 tok/s;      4 sec\n"
        )
    text += "[2024-05-08 04:06:28,463 INFO] Validation perplexity: 5.45281\n"
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([2.8, 2.3, 1.8, 1.3])
    assert run.series["eval/perplexity"].steps.tolist() == [200]


def test_a_note_naming_an_earlier_epoch_is_no_restart(tmp_path: Path) -> None:
    # the best checkpoint loaded for a test after the run: its epoch and val_loss are a note
    text = "".join(
        f"Epoch [{ep}/5] TrainLoss={1 - ep / 10:.2f} ValLoss=1.0\n" for ep in range(1, 6)
    )
    text += "[Checkpoint] Loaded best_model.pth  (epoch=3, val_loss=0.9500)\nTest acc: 71.0\n"
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3, 4, 5]
    assert "import_warnings" not in run.info.summary


def test_a_phase_name_before_the_step_counter(tmp_path: Path) -> None:
    # ``SFT Step 0010 | Loss: 46.5``: the phase's name is not part of the counter's
    text = "PHASE 1.5: SFT\n" + "".join(
        f"SFT Step {s:04d} | Loss: {50 - s / 10:.4f} | Time: 0.24s\n" for s in (10, 20, 30, 40)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [10, 20, 30, 40]
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([49.0, 48.0, 47.0, 46.0])


def test_tqdm_bars_are_read_as_the_logs_their_postfixes_are(tmp_path: Path) -> None:
    # a bar redrawn every step (``\r``), its postfix set every 5 steps and drawn again at once
    text, loss = "", 4.0
    for n in range(1, 21):
        text += f"SFT:  {n * 5}%|#   | {n}/20 [00:{n:02d}<00:10, 1.00it/s, loss {loss:.4f}]\r"
        if n % 5 == 0:
            loss /= 2
            text += f"SFT:  {n * 5}%|#   | {n}/20 [00:{n:02d}<00:10, 1.00it/s, loss {loss:.4f}]\r"
    (run,) = load_into_memory(_write(tmp_path, text + "\n"))
    assert run.series[keys.LOSS].steps.tolist() == [1, 5, 10, 15, 20]
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([4.0, 2.0, 1.0, 0.5, 0.25])
    assert run.info.config["max_steps"] == 20


def test_lines_that_report_one_split_each_with_its_epoch(tmp_path: Path) -> None:
    # Python logging's ``file[line:N]`` prefix, then a train line and a test line per epoch
    text = ""
    for e in (1, 2, 3):
        text += f"2022-10-17 20:16:36,492 - train.py[line:123] - INFO: Train Epoch {e} --- "
        text += f"train loss : {1 / e:.4f} --- train accuracy:0.8\n"
        text += f"2022-10-17 20:16:37,746 - train.py[line:145] - INFO: Test Epoch {e} --- "
        text += f"test loss : {1.2 / e:.4f} --- test accuracy:0.9\n"
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([1.0, 0.5, 0.3333])
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([1.2, 0.6, 0.4])
    assert "train/line" not in run.series


def test_a_splits_name_alone_before_a_fraction_is_its_loss(tmp_path: Path) -> None:
    text = "".join(
        f"[INFO] [Step {s:6d}/159210] Train {9.7 - s / 1e5:.4f} | Val {9.71 - s / 1e5:.4f}\n"
        for s in (500, 1000, 1500, 2000)
    )
    text += "Train: [10/391] time 0.2\n"  # a counter of the split's batches, no loss
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [500, 1000, 1500, 2000]
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([9.705, 9.70, 9.695, 9.69])


def test_lines_with_no_counter_at_all_are_one_log_each_in_order(tmp_path: Path) -> None:
    text = "Namespace(lr=0.0002, max_epoch=200)\n"
    for i, (tr, va) in enumerate([(0.382, 0.361), (0.361, 0.362), (0.359, 0.360)]):
        text += f"TP:1783, TN:171, FP:23, FN:17\n[ ({i} ) Loss:  {tr}, valid_Loss: {va}]\n"
    path = _write(tmp_path, text)
    assert detect(path).name == "text_log"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [1, 2, 3]
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([0.361, 0.362, 0.360])
    assert keys.EPOCH not in run.series  # one log per line: its epoch is unknown


def test_an_epochs_loss_and_a_cost_are_the_train_loss(tmp_path: Path) -> None:
    epochs = "".join(
        f"2024-05-26 - INFO - train.py - 65 - \nEPOCH {e} of 30\n"
        f"2024-05-26 - INFO - train.py - 128 - \nEPOCH loss: {0.6 - e / 100:.4f}\n"
        for e in range(1, 5)
    )
    (run,) = load_into_memory(_write(tmp_path, epochs, "a.log"))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([0.59, 0.58, 0.57, 0.56])
    batches = "".join(
        f"Epoch: 002/200 | Batch {b:04d}/1017 | Cost: {20 - b / 100:.4f}\n"
        for b in range(0, 400, 50)
    )
    (run,) = load_into_memory(_write(tmp_path, batches, "b.log"))
    assert len(run.series[keys.LOSS]) == 8


def test_the_step_within_the_epoch_in_square_brackets(tmp_path: Path) -> None:
    # the PyTorch ImageNet example's and many Kaggle notebooks' ``Epoch: [e][i/N]``
    text = "".join(
        f"Epoch: [{e}][{i:4d}/476] Elapsed 2m 41s Loss: {3 - e / 2 - i / 1000:.4f}(1.0) LR: 3e-05\n"
        for e in (1, 2)
        for i in (0, 200, 400)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].steps.tolist() == [0, 200, 400, 476, 676, 876]


def test_a_counter_line_with_split_tagged_losses_below_it(tmp_path: Path) -> None:
    # the counter on its own line, each split's loss on a line tagged with its name below
    blocks = [
        f"epoch: 0, iteration: {i * 100}, step: {i * 100}\n"
        f"[Train] loss: {2.4 / (i + 1):.6f}, score: 0.5\n"
        f"[Dev] loss: {2.2 / (i + 1):.6f}, score: 0.6\n"
        for i in range(5)
    ]
    (run,) = load_into_memory(_write(tmp_path, "Start training: mlp\n" + "".join(blocks)))
    assert list(run.series[keys.LOSS].steps) == [0, 100, 200, 300, 400]
    assert run.series[keys.LOSS].values[1] == pytest.approx(1.2)
    assert run.series[keys.EVAL_LOSS].values[1] == pytest.approx(1.1)


def test_a_tagged_line_whose_fields_name_their_splits_keeps_them(tmp_path: Path) -> None:
    text = "".join(
        f"iter {it}: loss {3 - it / 1000:.4f}\n[eval] iter {it}: train {2.9 - it / 1000:.4f} "
        f"val {3.0 - it / 1000:.4f} lr 3.00e-04\n"
        for it in (100, 200, 300)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([2.9, 2.8, 2.7])
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([2.9, 2.8, 2.7])
    assert "eval/lr" not in run.series


def test_the_same_count_within_each_epoch_runs_on_across_epochs(tmp_path: Path) -> None:
    import logging

    path = tmp_path / "train.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-8s: %(message)s"))
    log = logging.getLogger("test_same_count")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    for epoch in range(5):  # one print per epoch, at batch 300 of 320
        loss = 0.7 - 0.05 * epoch
        log.info("Epoch: [%d][300/320]\t Loss [ %.8f] Accuracy %.3f", epoch, loss, 0.6 + epoch / 50)
    handler.close()
    log.removeHandler(handler)
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [300, 620, 940, 1260, 1580]


def test_a_finished_bar_per_epoch_then_its_summary_line(tmp_path: Path) -> None:
    from tqdm import tqdm

    path = tmp_path / "train_log.txt"
    with open(path, "w", encoding="utf-8") as f:
        for epoch in range(1, 5):
            for _ in tqdm(range(50), desc=f"Epoch {epoch}/4", file=f, ascii=False):
                pass
            print(f"Epoch {epoch} | Train Loss: {1.2 - epoch / 20:.4f} | Val Loss: 1.1", file=f)
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [50, 100, 150, 200]
    assert run.series[keys.EVAL_LOSS].values.tolist() == [1.1] * 4


def test_a_split_s_batch_counter_restarting_each_epoch_and_its_summary(tmp_path: Path) -> None:
    """PaddleVideo's log: ``train step:N`` restarts each epoch, ``val step:N`` lines report
    single held-out batches, ``END epoch:N val loss_avg`` the held-out loss."""
    lines = []
    for e in range(1, 4):
        for st in (0, 100):
            lines.append(f"epoch:[{e:3d}/3 ] train step:{st:<4d} loss: {4 - e / 2 - st / 1000:.5f}")
        lines.append(f"END epoch:{e}   train loss_avg: {3.9 - e / 2:.5f}  top1_avg: 0.1")
        lines.append(f"epoch:[{e:3d}/3 ] val step:0    loss: {3.0 + e / 10:.5f} top1: 0.125")
        lines.append(f"END epoch:{e}   val loss_avg: {3.6 - e / 10:.5f} top1_avg: 0.14")
    path = _write(tmp_path, "\n".join(f"[12/25 14:22:40] {x}" for x in lines) + "\n")
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [0, 100, 101, 201, 202, 302]
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([3.5, 3.4, 3.3])
    assert "eval/batch_loss" in run.series


def test_comma_separated_key_value_fields_are_a_log_not_a_table(tmp_path: Path) -> None:
    # ``print(f"iter:{i},loss:{loss}")``: the first line holds values, no column names
    losses = [2.2952, 1.5741, 1.4937, 1.5059, 1.5237]
    text = "".join(f"iter:{i * 1000},loss:{v}\n" for i, v in enumerate(losses))
    path = _write(tmp_path, text, "training_log.txt")
    assert detect(path).name == "text_log"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [0, 1000, 2000, 3000, 4000]
    assert run.series[keys.LOSS].values.tolist() == pytest.approx(losses)


def test_a_header_with_one_name_holding_a_colon_stays_a_table(tmp_path: Path) -> None:
    text = (
        "epoch,train/box_loss,metrics/mAP_0.5:0.95\n0,0.0675,0.23\n1,0.0601,0.25\n2,0.0552,0.27\n"
    )
    path = _write(tmp_path, text, "results.csv")
    assert detect(path).name == "csv"  # type: ignore[union-attr]


def test_a_step_counter_restarting_after_each_epoch_summary_runs_on(tmp_path: Path) -> None:
    # the steps of an epoch count from 20 again after the epoch's summary line, which names
    # the epoch on a line of its own; a note's "epoch=3" (a checkpoint loaded) is no epoch line
    text = "Resuming from ckpt.pt\n  Checkpoint: epoch=3  val_loss=0.6101\n"
    for epoch in (1, 2, 3):
        for step in (20, 40, 60):
            text += f"    step {step:4d}/64  loss {0.6 - epoch * 0.01 - step / 10000:.4f}\n"
        text += f"[Unfrozen] Epoch {epoch}/500 -- train: {0.6 - epoch * 0.01:.4f}  val: 0.62\n"
    path = _write(tmp_path, text)
    assert detect(path).name == "text_log"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [20, 40, 60, 84, 104, 124, 148, 168, 188]
    assert run.series[keys.EVAL_LOSS].steps.tolist() == [60, 124, 188]
    assert "import_warnings" not in run.info.summary  # no resumed run


def test_the_same_count_in_the_next_epoch_is_the_next_epochs(tmp_path: Path) -> None:
    # one finished bar per epoch (step 12/12), the epoch advancing on the line, then the
    # epoch's summary below it
    text = ""
    for epoch in (1, 2, 3, 4):
        text += f"INFO | Epoch {epoch}/30 | step 12/12 | batch_loss={1 / epoch:.4f}\n"
        text += (
            f"INFO | Epoch {epoch:02d}/30 | train={0.9 / epoch:.4f} | val_loss={1.1 / epoch:.4f}\n"
        )
    path = _write(tmp_path, text)
    (run,) = load_into_memory(path)
    assert run.series[keys.LOSS].steps.tolist() == [12, 24, 36, 48]
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([1.1, 0.55, 0.3667, 0.275])


def test_a_loss_named_by_its_function_is_the_loss_unless_the_line_names_the_loss(
    tmp_path: Path,
) -> None:
    # "Train MSE Loss" is the train loss of a regression; "val_mse_loss" the held-out loss
    text = "INFO: Loaded encoder\n"
    for epoch in (1, 2, 3, 4):
        text += f"INFO: Epoch {epoch}: Train MSE Loss: {1 / epoch:.6f} val_mse_loss: {2 / epoch}\n"
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([1, 0.5, 0.333333, 0.25])
    assert run.series[keys.EVAL_LOSS].values.tolist() == pytest.approx([2, 1, 0.666667, 0.5])
    # where a field names the loss itself, the function's term is one part of it
    text = "".join(
        f"step {s} | MSE Loss {0.2 / s:.4f} | KL Loss 0.05 | Total Loss {1 / s:.4f}\n"
        for s in (1, 2, 3, 4)
    )
    (run,) = load_into_memory(_write(tmp_path, text, "vae.log"))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([1, 0.5, 0.3333, 0.25])


def test_finished_bars_of_successive_epochs_are_one_log_each(tmp_path: Path) -> None:
    # each epoch's finished bar (3516/3516) names its epoch in the description ("Processing
    # Epoch 30"), with sample translations printed between; a banner's "from epoch 0" is none
    text = "Training from epoch 0 to 34...\n"
    for epoch, loss in zip(range(30, 34), (2.316, 2.323, 2.36, 2.167), strict=True):
        text += (
            f"Processing Epoch {epoch}: 100%|##########| 3516/3516 [15:07<00:00,  3.88it/s, "
            f"loss={loss:.3f},   lr=[0.00025]]\n    SOURCE: a sentence\n PREDICTED: une phrase\n"
        )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].values.tolist() == [2.316, 2.323, 2.36, 2.167]
    assert run.series[keys.LOSS].steps.tolist() == [3516, 7032, 10548, 14064]


def test_a_split_alone_before_a_percentage_is_a_score_not_its_loss(tmp_path: Path) -> None:
    text = ""
    for epoch in (1, 2, 3):
        for batch in (0, 50, 100):
            text += f"Epoch: {epoch:03d}/010 | Batch {batch:04d}/0100 | Loss: {1 / epoch:.4f}\n"
        text += f"Epoch: {epoch:03d}/010 | Train: {90 + epoch}.36% | Validation: {91 + epoch}.77%\n"
    (run,) = load_into_memory(_write(tmp_path, text))
    assert keys.EVAL_LOSS not in run.series  # 92.77% is no held-out loss
    assert max(run.series[keys.LOSS].values) == 1.0


def test_is_joins_a_key_and_its_value(tmp_path: Path) -> None:
    text = "".join(
        f"epoch: {e},  loss is: {1 / (e + 1):.4f}, acc is: {0.5 + e / 10}\n" for e in range(4)
    )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].values.tolist() == pytest.approx([1, 0.5, 0.3333, 0.25])
    assert run.series["train/acc"].values.tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8])


def test_pytorch_mnist_example_bars_and_its_test_set_lines(tmp_path: Path) -> None:
    # the epoch on a line of its own, a finished bar per epoch at the same count, and the
    # held-out set's line ("Test set: Average loss") below it
    text = ""
    for epoch, (loss, test) in enumerate(((0.278, 0.0851), (0.163, 0.0417), (0.324, 0.045)), 1):
        text += (
            f" Epoch: {epoch} : \n"
            f"loss={loss} batch_id=468: 100%|##########| 469/469 [00:56<00:00,  8.36it/s]\n"
            f"Test set: Average loss: {test:.4f}, Accuracy: 9724/10000 (97.24%)\n\n"
        )
    (run,) = load_into_memory(_write(tmp_path, text))
    assert run.series[keys.LOSS].values.tolist() == [0.278, 0.163, 0.324]
    assert run.series[keys.LOSS].steps.tolist() == [469, 938, 1407]
    assert run.series[keys.EVAL_LOSS].values.tolist() == [0.0851, 0.0417, 0.045]
