"""pix2pix / CycleGAN-style ``loss_log.txt``: the lines written here as that code's visualizer
formats them (``(epoch: %d, iters: %d, time: %.3f, data: %.3f)`` then ``%s: %.3f`` per
term), from the losses of a real least-squares generator/critic pair trained by numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from losslens.analysis import analyze
from losslens.errors import ImportError_
from losslens.importers import detect
from losslens.importers.gan_log import GanLogImporter
from losslens.ingest import load_into_memory


def _terms(n: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(1)
    w, out = 0.0, []
    for _ in range(n):
        x = rng.normal(size=32)
        err = w * x - 2 * x
        out.append({"G_GAN": float(abs(err).mean()), "G_L1": float((err**2).mean()), "D_real": 0.5})
        w -= 0.1 * float((2 * err * x).mean())
    return out


def _write(path: Path, epochs: int, per_epoch: int, banner: bool = True) -> list[dict[str, float]]:
    terms = _terms(epochs * per_epoch)
    with open(path, "a") as f:
        if banner:
            f.write("================ Training Loss (Sat Jun 18 08:01:30 2022) ================\n")
        for i, t in enumerate(terms):
            epoch, it = i // per_epoch + 1, (i % per_epoch + 1) * 100
            msg = f"(epoch: {epoch:d}, iters: {it:d}, time: {0.095:.3f}, data: {0.2:.3f}) "
            for k, v in t.items():
                msg += f"{k}: {v:.3f} "
            f.write(msg + "\n")
    return terms


def test_each_term_is_a_component_loss_and_the_steps_run_across_epochs(tmp_path: Path) -> None:
    path = tmp_path / "loss_log.txt"
    terms = _write(path, epochs=3, per_epoch=4)
    assert detect(path).name == "gan_log"  # type: ignore[union-attr]
    (run,) = load_into_memory(path)
    g = run.series["train/G_L1_loss"]
    assert g.steps.tolist() == [100 * i for i in range(1, 13)]
    assert g.values.tolist() == pytest.approx([round(t["G_L1"], 3) for t in terms])
    assert run.series["train/epoch"].values.tolist()[-1] == 3
    rep = analyze(run)
    assert "No train loss" in rep.summary["en"]


def test_a_continued_training_runs_on_after_its_banner(tmp_path: Path) -> None:
    path = tmp_path / "loss_log.txt"
    _write(path, epochs=2, per_epoch=4)
    _write(path, epochs=1, per_epoch=2)  # --continue_train appends a banner and its lines
    (run,) = load_into_memory(path)
    assert run.series["train/D_real_loss"].steps.tolist() == [100 * i for i in range(1, 11)]


def test_forcing_the_format_on_another_log_says_what_it_expects(tmp_path: Path) -> None:
    path = tmp_path / "loss_log.txt"
    path.write_text("step 1 loss 2.0\nstep 2 loss 1.9\n")
    with pytest.raises(ImportError_, match="no GAN loss lines"):
        list(GanLogImporter().read(path))
