"""``losslens train``: QLoRA/LoRA fine-tuning with TRL's current API, recorded by losslens.

Modules: ``options`` (flags = YAML keys), ``data`` (JSONL chats, checked by line),
``chat`` (templates with generation markers), ``tiny`` (offline tiny model), ``modeling``
(hardware plan, loading, QLoRA), ``hub`` (where ``--model`` comes from, checked early),
``progress`` (terminal view), ``runner`` (the training itself) and ``generate``. The live
checks are ``losslens.analysis.live``; the end-of-run summary and the demo are in
``losslens.cli``. Heavy libraries (torch, transformers, TRL, PEFT) are imported only when
training or generating starts.
"""

from __future__ import annotations

from losslens.train.options import TrainOptions

__all__ = ["TrainOptions"]
