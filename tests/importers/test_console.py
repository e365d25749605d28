"""Console pastes in the shapes people post them: colours, node prefixes, \\r bars, cut lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from losslens import keys
from losslens.errors import ImportError_
from losslens.importers import detect, load_path
from losslens.ingest import load_into_memory


def _write(tmp_path: Path, text: str, name: str = "train.log") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode("utf-8"))
    return p


def test_transformers5_string_values_with_ansi_and_carriage_returns(tmp_path: Path) -> None:
    bar = "\r 10%|\x1b[32m█\x1b[0m         | {n}/20 [00:01<00:09,  2.00it/s]"
    lines = []
    for step in range(2, 21, 2):
        lines.append(bar.format(n=step - 1) + bar.format(n=step) + "\r" + " " * 40 + "\r")
        lines.append(
            f"{{'loss': '{3.0 / step:.4g}', 'grad_norm': '0.5', 'epoch': '{step / 20:.4g}'}}\n"
        )
        lines.append(bar.format(n=step))
    p = _write(tmp_path, "".join(lines))
    run = load_into_memory(p)[0]
    loss = run.series[keys.LOSS]
    assert list(loss.steps) == list(range(2, 21, 2))
    assert loss.values[0] == pytest.approx(1.5)
    assert run.info.config["logging_steps"] == 2
    assert run.info.config["max_steps"] == 20


def test_node_prefixes_deduplicated(tmp_path: Path) -> None:
    text = "".join(
        f"10.0.0.{node}: {{'loss': {1.0 / i:.4f}, 'learning_rate': 1e-05, 'epoch': {i / 10}}}\n"
        for i in range(1, 6)
        for node in (1, 2)
    )
    run = load_into_memory(_write(tmp_path, text))[0]
    assert len(run.series[keys.LOSS]) == 5


def test_printed_training_arguments_give_logging_steps(tmp_path: Path) -> None:
    text = (
        "TrainingArguments(\n_n_gpu=1,\nlogging_steps=5,\nmax_steps=30,\n"
        "lr_scheduler_type=SchedulerType.COSINE,\nper_device_train_batch_size=2,\n)\n"
        + "".join(f"{{'loss': {2.0 - i / 10}, 'epoch': 0.{i}}}\n" for i in range(1, 7))
    )
    run = load_into_memory(_write(tmp_path, text))[0]
    assert list(run.series[keys.LOSS].steps) == [5, 10, 15, 20, 25, 30]
    cfg = run.info.config
    assert cfg["lr_scheduler_type"] == "cosine"
    assert cfg["per_device_train_batch_size"] == 2


def test_no_step_information_warns(tmp_path: Path) -> None:
    text = "{'loss': 2.0, 'epoch': 0.01}\n{'loss': 1.9, 'epoch': 0.02}\n"
    run = load_into_memory(_write(tmp_path, text))[0]
    assert list(run.series[keys.LOSS].steps) == [1, 2]
    assert any("order of the log lines" in w for w in run.info.summary["import_warnings"])


def test_eval_lines_take_the_step_of_training(tmp_path: Path) -> None:
    text = (
        "***** Running training *****\n  Num examples = 40\n  Total train batch size "
        "(w. parallel, distributed & accumulation) = 4\n  Total optimization steps = 20\n"
        + "".join(
            f"{{'loss': {1.0 / i}, 'learning_rate': 0.001, 'epoch': {i * 5 / 10}}}\n"
            + (f"{{'eval_loss': {1.5 / i}, 'epoch': {i * 5 / 10}}}\n" if i % 2 == 0 else "")
            for i in range(1, 5)
        )
        + "{'train_runtime': 10.0, 'train_loss': 0.5, 'epoch': 2.0}\n"
    )
    run = load_into_memory(_write(tmp_path, text))[0]
    assert list(run.series[keys.LOSS].steps) == [5, 10, 15, 20]
    assert list(run.series[keys.EVAL_LOSS].steps) == [10, 20]
    assert run.info.summary["train_loss"] == 0.5
    assert len(run.series[keys.EPOCH]) == 4


def test_invalid_utf8_in_a_console_log_is_replaced_with_a_warning(tmp_path: Path) -> None:
    p = tmp_path / "log.txt"
    p.write_bytes(b"caf\xe9 warning\n{'loss': 1.0, 'epoch': 0.5}\n{'loss': 0.9, 'epoch': 1.0}\n")
    run = load_into_memory(p)[0]
    assert len(run.series[keys.LOSS]) == 2
    assert any("byte 3" in w for w in run.info.summary["import_warnings"])


def test_text_without_trainer_lines_is_not_a_console_log(tmp_path: Path) -> None:
    p = _write(tmp_path, "print({'a': 1})\nx = {'loss': loss}\n", name="script.py")
    assert detect(p) is None
    txt = _write(tmp_path, "just some notes\n", name="notes.txt")
    with pytest.raises(ImportError_, match="no Trainer log lines"):
        load_path(txt)


def test_nan_and_inf_tokens(tmp_path: Path) -> None:
    text = "{'loss': nan, 'grad_norm': inf, 'epoch': 0.1}\n{'loss': '-inf', 'grad_norm': 'nan'}\n"
    run = load_into_memory(_write(tmp_path, text))[0]
    v = run.series[keys.LOSS].values
    assert np.isnan(v[0]) and np.isneginf(v[1])
    assert np.isposinf(run.series[keys.GRAD_NORM].values[0])


def test_evals_pasted_after_all_the_train_lines_go_back_to_their_epochs(tmp_path: Path) -> None:
    # people paste the train lines, then the eval results: each eval belongs to its epoch
    train = [
        f"{{'loss': {1.0 / e:.4f}, 'learning_rate': 1e-05, 'epoch': {e}.0}}" for e in (1, 2, 3)
    ]
    evals = [f"{{'eval_loss': {0.3 + 0.05 * e:.4f}, 'epoch': {e}.0}}" for e in (1, 2, 3)]
    run = load_into_memory(_write(tmp_path, "\n".join(train + evals) + "\n"))[0]
    assert list(run.series[keys.LOSS].steps) == [1, 2, 3]
    assert list(run.series[keys.EVAL_LOSS].steps) == [1, 2, 3]


def test_evals_interleaved_with_the_train_lines_keep_their_place(tmp_path: Path) -> None:
    lines = []
    for e in (1, 2, 3):
        lines.append(f"{{'loss': {1.0 / e:.4f}, 'learning_rate': 1e-05, 'epoch': {e}.0}}")
        lines.append(f"{{'eval_loss': {0.3 + 0.05 * e:.4f}, 'epoch': {e}.0}}")
    run = load_into_memory(_write(tmp_path, "\n".join(lines) + "\n"))[0]
    assert list(run.series[keys.EVAL_LOSS].steps) == [1, 2, 3]


def test_numpy_and_tensor_scalars_are_numbers(tmp_path: Path) -> None:
    """numpy 2 prints a metric as ``np.float64(0.83)``; a grad norm can print as a tensor."""
    lines = []
    for step in range(1, 11):
        lines.append(
            f"{{'loss': {2.0 - step / 10:.3f}, 'grad_norm': tensor({0.5 + step / 100:.3f}, "
            f"device='cuda:0'), 'learning_rate': 5e-05, 'epoch': {step / 10:.1f}}}"
        )
        if step % 5 == 0:
            lines.append(
                f"{{'eval_loss': np.float32({1.9 - step / 20:.3f}), "
                f"'eval_accuracy': np.float64({0.5 + step / 100:.2f}), 'epoch': {step / 10:.1f}}}"
            )
    (run,) = load_into_memory(_write(tmp_path, "\n".join(lines) + "\n"))
    assert list(run.series["eval/accuracy"].values) == [0.55, 0.6]
    assert list(run.series[keys.EVAL_LOSS].values) == pytest.approx([1.65, 1.4])
    assert len(run.series[keys.GRAD_NORM].values) == 10


def test_a_first_step_log_keeps_its_step_when_steps_come_from_epochs(tmp_path: Path) -> None:
    # logging_first_step: a log at step 1, then every 10 of 150 (25 steps per epoch); no bar,
    # the step count from the end-of-run line (18.43 s x 8.141 steps/s)
    epochs = [0.04] + [s / 25 for s in range(10, 151, 10)]
    text = "".join(
        f"{{'loss': '{2.0 / (i + 1):.4g}', 'epoch': '{e:.4g}'}}\n" for i, e in enumerate(epochs)
    )
    text += (
        "{'train_runtime': '18.43', 'train_samples_per_second': '65.13', "
        "'train_steps_per_second': '8.141', 'train_loss': '0.5', 'epoch': '6'}\n"
    )
    run = load_into_memory(_write(tmp_path, text))[0]
    assert list(run.series[keys.LOSS].steps) == [1, *range(10, 151, 10)]
    assert run.info.config["logging_steps"] == 10


def test_a_first_step_log_at_half_the_logging_interval_keeps_its_step(tmp_path: Path) -> None:
    # logging_first_step with logging_steps 2: step 1 is half a grid step, not a second log
    # at step 2 (v61g's g3064 lost its whole step axis to it); 100 steps per epoch, an eval
    # at each epoch end, 150 steps in 4.817 s x 31.14 steps/s
    epochs = [0.01] + [s / 100 for s in range(2, 151, 2)]
    text = ""
    for i, e in enumerate(epochs):
        text += f"{{'loss': '{9.0 / (i + 1):.4g}', 'epoch': '{e:.4g}'}}\n"
        if e in (1.0, 1.5):
            text += f"{{'eval_loss': '{1.0 + e:.4g}', 'epoch': '{e:.4g}'}}\n"
    text += (
        "{'train_runtime': '4.817', 'train_samples_per_second': '249.1', "
        "'train_steps_per_second': '31.14', 'train_loss': '3.0', 'epoch': '1.5'}\n"
    )
    run = load_into_memory(_write(tmp_path, text))[0]
    assert list(run.series[keys.LOSS].steps) == [1, *range(2, 151, 2)]
    assert list(run.series[keys.EVAL_LOSS].steps) == [100, 150]
    assert run.info.config["logging_steps"] == 2


def test_console_lines_that_carry_a_running_train_runtime_stay_train_logs(tmp_path: Path) -> None:
    # a Trainer with token throughput on prints train_runtime on every log line (v37's
    # qd001): each is a log, and only the end-of-training line (train_loss, no loss) is
    # the summary, as in trainer_state.json
    lines = [
        f"{{'loss': {12.0 / s:.4f}, 'grad_norm': 2.5, 'learning_rate': 0.0035, "
        f"'epoch': {s / 600}, 'num_input_tokens_seen': {92160 * s}, "
        f"'train_runtime': {14.0 * s:.4f}, 'train_tokens_per_second': 5119.183}}"
        for s in range(1, 8)
    ]
    lines.append(
        "{'train_runtime': 100.5, 'train_samples_per_second': 9.1, "
        "'train_steps_per_second': 0.07, 'train_loss': 5.2174, 'epoch': 0.0117}"
    )
    run = load_into_memory(_write(tmp_path, "\n".join(lines) + "\n"))[0]
    assert run.series[keys.LOSS].values.size == 7
    assert "train/train_runtime" not in run.series
    assert run.info.summary["train_loss"] == 5.2174


def test_a_bar_drawn_on_the_line_of_a_log_gives_its_step(tmp_path: Path) -> None:
    # ms-swift and scripts that print after a bar without a newline: the counter before the
    # dict on its line is the step of that log (not a counter after the one before)
    lines = [
        f"Train: {s}%|#         | {s}/100 [00:47<07:06,  4.74s/it]"
        f"{{'loss': {2.0 / s**0.3:.5f}, 'grad_norm': 1.2, 'learning_rate': 9.9e-05, "
        f"'epoch': {s / 100:.2f}, 'global_step/max_steps': '{s}/100'}}"
        for s in range(10, 101, 10)
    ]
    run = load_into_memory(_write(tmp_path, "\n".join(lines) + "\n"))[0]
    assert list(run.series[keys.LOSS].steps) == list(range(10, 101, 10))
    assert run.info.config["max_steps"] == 100


def test_a_printed_sample_of_chat_messages_leaves_a_console_log_a_console_log(
    tmp_path: Path,
) -> None:
    # lists of objects printed before training (a dataset sample, as JSON or as Python
    # prints it) are no log history, even with a "step" and "loss" later in the text
    head = (
        '[{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]\n'
        "[{'role': 'user', 'content': 'hi'}]\n"
        '{"logging_steps": 10, "step": "see below", "loss": "causal_lm", "epoch": 3}\n'
    )
    lines = "".join(
        f"{{'loss': {2.0 - 0.1 * i:.2f}, 'learning_rate': 0.0001, 'epoch': {0.1 * i:.1f}}}\n"
        for i in range(1, 7)
    )
    p = _write(tmp_path, head + lines)
    assert detect(p).name == "hf_console"
    assert load_into_memory(p)[0].series[keys.LOSS].values.size == 6
