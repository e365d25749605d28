"""The ``loss_log.txt`` of pix2pix / CycleGAN-style code: a banner per training start, then
one line per print with the epoch, the iteration within it, the times and each loss term::

    ================ Training Loss (Sat Jun 18 08:01:30 2022) ================
    (epoch: 1, iters: 100, time: 0.095, data: 0.200) G_GAN: 0.353 G_L1: 17.785 D_real: 0.105

Each term is a component loss of its own (``G_GAN_loss``, ``D_real_loss``): the generator
and the discriminator have opposing objectives, so no single train loss is made from them
(the analysis reads each part and says so). The iteration restarts each epoch; the step runs
on across epochs (the counts of the epochs before added), also across the banner of a
continued training (``--continue_train`` appends to the same file).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from losslens.errors import ImportError_
from losslens.importers.base import (
    check_readable,
    file_run,
    read_regular,
    text_log_head,
)
from losslens.model import ImportedRun

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
_LINE = re.compile(
    r"^\s*\(epoch:\s*(?P<epoch>\d+),\s*iters:\s*(?P<iters>\d+)(?P<rest>[^)]*)\)\s*(?P<terms>.*)$"
)
_TERM = re.compile(rf"(?P<name>[A-Za-z][\w.\-]*):\s*(?P<value>{_NUM})(?=\s|$)", re.IGNORECASE)
_MIN_LOGS = 3


def _rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    """``(step, row)`` per loss line with at least one term, in order."""
    logs: dict[int, dict[str, Any]] = {}  # a step printed twice keeps its last line
    offset, last = 0, 0
    for line in text.splitlines():
        m = _LINE.match(line)
        if m is None:
            continue
        terms = {t["name"]: float(t["value"]) for t in _TERM.finditer(m["terms"])}
        if not terms:
            continue
        iters = int(m["iters"])
        if iters < last:
            offset += last  # the count restarted: a new epoch
        last = iters
        logs[offset + iters] = {f"{n}_loss": v for n, v in terms.items()} | {
            "epoch": float(m["epoch"])
        }
    return sorted(logs.items())


class GanLogImporter:
    name = "gan_log"
    description = "the loss_log.txt of pix2pix / CycleGAN-style code ((epoch: 1, iters: 100, ...))"

    def sniff(self, path: Path) -> bool:
        head = text_log_head(path, 1 << 14)
        if not head:
            return False
        lines = head.decode("utf-8", "replace").splitlines()[:50]
        return sum(1 for line in lines if _LINE.match(line)) >= _MIN_LOGS

    def claims(self, path: Path) -> bool:
        return False

    def read(self, path: Path) -> Iterator[ImportedRun]:
        check_readable(path)
        text = read_regular(path).decode("utf-8", errors="replace")
        rows = _rows(text)
        if len(rows) < _MIN_LOGS:
            raise ImportError_(
                f"no GAN loss lines found ({len(rows)} of the 3 needed)",
                "expected lines like '(epoch: 1, iters: 100, time: 0.1, data: 0.2) G_GAN: 0.35'",
                path=str(path),
            )
        yield file_run(path, self.name, rows, name=path.parent.name or path.stem)
