"""The grid: as many healthy cells as faulty ones, every axis varied with a seeded choice.

Each family fixes what its fault needs (a huge LR, a tiny train set, a corrupted step...) and
draws the rest (task, trainer, model size, optimizer, scheduler, warmup, batch x accumulation,
logging_steps, eval cadence, dataset size) from ``random.Random(f"{family}/{i}")``, so the
grid is the same on every machine.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from bench.faultgen.data import SIZES
from bench.faultgen.spec import RunSpec

#: The sizes of the dev grid (drawn from in this order: adding one would change every draw).
SIZE_NAMES = ["qwen2-h32-l1", "qwen2-h64-l2", "llama-h48-l2"]
#: The sealed blocks in the order they were drawn: name (seeds and test version) -> the sizes
#: only that block uses, so every one of its sources is new. A new block goes last.
SEALED_BLOCKS = {
    "v7g": ["qwen2-h48-l3", "llama-h96-l2"],
    "v8g": ["llama-h64-l3", "qwen2-h80-l1"],
    "v9g": ["qwen2-h40-l2", "llama-h32-l4"],
    "v10g": ["llama-h72-l2", "qwen2-h56-l3"],
    "v11g": ["qwen2-h88-l2", "llama-h40-l3"],
    "v12g": ["llama-h56-l2", "qwen2-h24-l3"],
    "v13g": ["qwen2-h72-l1", "llama-h80-l2"],
    "v14g": ["llama-h88-l1", "qwen2-h64-l3"],
    "v15g": ["qwen2-h80-l2", "llama-h24-l2"],
    "v16g": ["llama-h72-l1", "qwen2-h56-l1"],
    "v17g": ["qwen2-h96-l1", "llama-h40-l1"],
    "v18g": ["llama-h64-l1", "qwen2-h48-l1"],
    "v19g": ["qwen2-h32-l2", "llama-h56-l1"],
    "v20g": ["llama-h32-l3", "qwen2-h40-l1"],
    "v21g": ["qwen2-h72-l2", "llama-h48-l3"],
    "v22g": ["llama-h80-l1", "qwen2-h96-l2"],
    "v23g": ["qwen2-h88-l1", "llama-h96-l1"],
    "v24g": ["llama-h88-l2", "qwen2-h32-l3"],
    "v25g": ["qwen2-h24-l2", "llama-h56-l3"],
    "v26g": ["llama-h24-l3", "qwen2-h64-l1"],
    "v27g": ["llama-h48-l1", "qwen2-h80-l3"],
    "v28g": ["qwen2-h72-l3", "llama-h64-l2"],
    "v29g": ["llama-h72-l3", "qwen2-h88-l3"],
    "v30g": ["llama-h80-l3", "qwen2-h40-l3"],
    "v31g": ["qwen2-h56-l2", "llama-h96-l3"],
    "v32g": ["llama-h40-l2", "qwen2-h48-l2"],
    "v33g": ["qwen2-h96-l3", "llama-h88-l3"],
    "v34g": ["llama-h32-l2", "qwen2-h24-l1"],
    "v35g": ["llama-h32-l1", "qwen2-h104-l1"],
    "v36g": ["llama-h24-l1", "qwen2-h104-l2"],
    "v37g": ["qwen2-h112-l1", "llama-h104-l1"],
    "v38g": ["llama-h112-l1", "qwen2-h104-l3"],
    "v39g": ["qwen2-h120-l1", "llama-h104-l2"],
    "v40g": ["llama-h120-l1", "qwen2-h112-l2"],
    "v41g": ["llama-h112-l2", "qwen2-h120-l2"],
    "v42g": ["qwen2-h120-l3", "llama-h120-l2"],
    "v43g": ["llama-h112-l3", "qwen2-h112-l3"],
    "v44g": ["llama-h120-l3", "qwen2-h128-l1"],
    "v45g": ["llama-h104-l3", "qwen2-h128-l2"],
    "v46g": ["llama-h128-l1", "qwen2-h128-l3"],
    "v47g": ["llama-h128-l2", "qwen2-h136-l1"],
    "v48g": ["llama-h128-l3", "qwen2-h136-l2"],
    "v49g": ["llama-h136-l1", "qwen2-h136-l3"],
    "v50g": ["llama-h136-l2", "qwen2-h144-l1"],
    "v51g": ["llama-h136-l3", "qwen2-h144-l2"],
    "v52g": ["llama-h144-l1", "qwen2-h144-l3"],
    "v53g": ["llama-h144-l2", "qwen2-h152-l1"],
    "v54g": ["llama-h152-l1", "qwen2-h152-l2"],
    "v55g": ["llama-h152-l2", "qwen2-h152-l3"],
    "v56g": ["llama-h152-l3", "qwen2-h160-l1"],
    "v57g": ["llama-h160-l1", "qwen2-h160-l2"],
    "v58g": ["llama-h160-l2", "qwen2-h160-l3"],
    "v59g": ["llama-h160-l3", "qwen2-h168-l1"],
    "v60g": ["llama-h168-l1", "qwen2-h168-l2"],
    "v61g": ["llama-h168-l2", "qwen2-h168-l3"],
    "v62g": ["llama-h168-l3", "qwen2-h176-l1"],
    "v63g": ["llama-h176-l1", "qwen2-h176-l2"],
    "v64g": ["llama-h176-l2", "qwen2-h176-l3"],
    "v65g": ["llama-h176-l3", "qwen2-h184-l1"],
    "v66g": ["llama-h184-l1", "qwen2-h184-l2"],
}
#: Cells per family in a sealed block.
SEALED_PER_FAMILY = 2
assert set(SIZE_NAMES).union(*SEALED_BLOCKS.values()) == set(SIZES)
TASKS = ["lm", "chat_sft", "cls"]
SCHEDULERS = ["cosine", "linear", "constant", "constant_with_warmup"]

#: A good learning rate for each optimizer on these tiny from-scratch models.
GOOD_LR = {"adamw_torch": [1e-3, 2e-3, 3e-3], "adafactor": [2e-3, 3e-3], "sgd": [1.0]}


def _base(family: str, i: int, rng: random.Random, **over: Any) -> RunSpec:
    """A healthy-looking cell drawn from the grid; ``over`` fixes what the fault needs."""
    task = over.pop("task", rng.choice(TASKS))
    trainer = "trl_sft" if task == "chat_sft" else "hf_trainer"
    if task == "lm" and rng.random() < 0.4:
        trainer = "trl_sft"
    # plain SGD (no momentum) trains these transformers too slowly to be a healthy cell; the
    # fault families that need it ask for it
    optim = over.pop("optim", rng.choice(["adamw_torch"] * 3 + ["adafactor"] * 2))
    batch, ga = rng.choice([(8, 1), (8, 1), (4, 2), (2, 4), (16, 1)])
    eval_kind = rng.choice(["none", "steps", "epoch"])
    n_train = rng.choice([200, 400, 800])
    max_steps = rng.choice([100, 150, 200])
    epochs = 0
    if task == "cls" or batch * ga >= 16:
        n_train = 800  # a healthy cell sees each example at most a few times
    per_epoch = max(1, n_train // (batch * ga))
    max_steps = min(max_steps, 4 * per_epoch)
    if eval_kind == "epoch":  # 2-4 epochs
        epochs = min(4, max(2, -(-120 // per_epoch)))
    lr = rng.choice(GOOD_LR[optim])
    warmup: float = rng.choice([0, 0, 10, 0.05, 0.1])
    spec = RunSpec(
        name=f"{family}_{i:02d}",
        family=family,
        task=task,
        trainer=trainer,
        size=rng.choice(SIZE_NAMES),
        optim=optim,
        lr=lr,
        scheduler=rng.choice(SCHEDULERS),
        warmup=warmup,
        batch=batch,
        grad_accum=ga,
        logging_steps=rng.choice([1, 2, 5, 5, 10]),
        eval="none" if eval_kind == "none" else ("epoch" if eval_kind == "epoch" else "steps:20"),
        n_train=n_train,
        n_eval=0 if eval_kind == "none" else 64,
        epochs=epochs,
        max_steps=max_steps,
        weight_decay=rng.choice([0.0, 0.0, 0.01]),
        nan_inf_filter=rng.random() < 0.7,
        seed=rng.randrange(4),
    )
    if spec.scheduler == "constant":
        spec.warmup = 0
    if spec.scheduler == "constant_with_warmup" and not spec.warmup:
        spec.warmup = 10
    if spec.eval == "steps:20" and spec.epochs == 0:
        spec.eval = f"steps:{rng.choice([10, 20, 25])}"
    if task == "cls":
        spec.n_eval = 128  # eval loss of 64 noisy-labelled examples is too jumpy to label
    for k, v in over.items():
        setattr(spec, k, v)
    spec.n_eval = 0 if spec.eval == "none" else (spec.n_eval or 64)
    if spec.logging_steps > 5 and spec.total_steps_guess() < 120:
        spec.logging_steps = 5
    if spec.task == "cls" and "logging_steps" not in over:
        # per-step cls losses are too noisy to label
        spec.logging_steps = max(spec.logging_steps, 5)
    return spec


def _healthy(i: int, rng: random.Random) -> RunSpec:
    return _base("healthy", i, rng)


def _lr_blowup(i: int, rng: random.Random) -> RunSpec:
    sgd = i % 3 == 2
    return _base(
        "lr_blowup",
        i,
        rng,
        task=rng.choice(["lm", "chat_sft"]),
        optim="sgd" if sgd else "adamw_torch",
        lr=rng.choice([30.0, 60.0]) if sgd else rng.choice([2.0, 3.0, 5.0]),
        max_grad_norm=0.0,
        scheduler=rng.choice(["constant", "linear"]),
        warmup=0,
        epochs=0,
        eval=rng.choice(["none", "steps:20"]),
        logging_first_step=True,
        max_steps=100,
    )


def _lr_high_schedule(i: int, rng: random.Random) -> RunSpec:
    sgd = i % 3 == 2
    return _base(
        "lr_high_schedule",
        i,
        rng,
        task=rng.choice(["lm", "chat_sft", "lm"]),
        optim="sgd" if sgd else "adamw_torch",
        lr=30.0 if sgd else rng.choice([0.5, 1.0]),
        max_grad_norm=0.0,
        scheduler=rng.choice(["linear", "cosine"]),
        warmup=rng.choice([0.3, 0.4, 60]),
        epochs=0,
        max_steps=200,
        eval="steps:20",
        n_eval=64,
        logging_steps=5,
    )


def _lr_low(i: int, rng: random.Random) -> RunSpec:
    sgd = i % 4 == 3
    return _base(
        "lr_low",
        i,
        rng,
        optim="sgd" if sgd else rng.choice(["adamw_torch", "adafactor"]),
        lr=1e-3 if sgd else rng.choice([1e-7, 1e-6, 3e-6, 1e-5]),
    )


def _memorize_no_eval(i: int, rng: random.Random) -> RunSpec:
    task = TASKS[i % 3]
    n = rng.choice([12, 16, 24])
    return _base(
        "memorize_no_eval",
        i,
        rng,
        task=task,
        optim="adamw_torch",
        lr=3e-3,
        n_train=n,
        chat_pool=n if task == "chat_sft" else None,
        label_noise=0.3,
        batch=8,
        grad_accum=1,
        epochs=rng.choice([80, 100]),
        eval="none",
        n_eval=0,
        scheduler=rng.choice(["constant", "linear", "cosine"]),
        size=rng.choice(["qwen2-h64-l2", "llama-h48-l2"]),
        logging_steps=5,
    )


def _memorize_eval(i: int, rng: random.Random) -> RunSpec:
    task = TASKS[(i + 1) % 3]
    n = rng.choice([16, 24])
    return _base(
        "memorize_eval",
        i,
        rng,
        task=task,
        optim="adamw_torch",
        lr=3e-3,
        n_train=n,
        chat_pool=n if task == "chat_sft" else None,
        label_noise=0.3,
        batch=8,
        grad_accum=1,
        epochs=rng.choice([80, 100]),
        eval=rng.choice(["epoch", "steps:10"]),
        n_eval=64,
        scheduler=rng.choice(["constant", "linear"]),
        size=rng.choice(["qwen2-h64-l2", "llama-h48-l2"]),
        logging_steps=5,
    )


def _overfit_eval(i: int, rng: random.Random) -> RunSpec:
    task = TASKS[(i + 2) % 3]
    n = rng.choice([48, 64, 96])
    return _base(
        "overfit_eval",
        i,
        rng,
        task=task,
        optim=rng.choice(["adamw_torch", "adafactor"]),
        lr=2e-3,
        n_train=n,
        chat_pool=min(n, 40) if task == "chat_sft" else None,
        label_noise=0.2,
        batch=8,
        grad_accum=1,
        epochs=rng.choice([25, 30, 40]),
        eval="epoch",
        n_eval=64,
        size=rng.choice(SIZE_NAMES),
        logging_steps=rng.choice([4, 5, 10]),
    )


def _warmup_long(i: int, rng: random.Random) -> RunSpec:
    return _base(
        "warmup_long",
        i,
        rng,
        optim=rng.choice(["adamw_torch", "adafactor"]),
        lr=1e-3,
        epochs=0,
        max_steps=rng.choice([100, 150]),
        warmup=rng.choice([500, 1000, 2000]),
        scheduler=rng.choice(["linear", "cosine", "constant_with_warmup"]),
    )


def _clip_saturated(i: int, rng: random.Random) -> RunSpec:
    adam = i % 3 == 1
    return _base(
        "clip_saturated",
        i,
        rng,
        task="lm" if not adam else rng.choice(TASKS),
        optim="adamw_torch" if adam else "sgd",
        lr=2e-3 if adam else 1.0,
        max_grad_norm=rng.choice([0.001, 0.01]),
    )


def _corrupt(i: int, rng: random.Random) -> RunSpec:
    spec = _base(
        "corrupt_batches",
        i,
        rng,
        task=rng.choice(["lm", "chat_sft"]),
        epochs=0,
        max_steps=150,
        logging_steps=[1, 1, 2, 5][i % 4],
    )
    k = rng.randrange(2, 4)
    spec.corrupt_steps = tuple(sorted(rng.sample(range(60, 146), k)))
    if spec.optim == "sgd":
        spec.optim, spec.lr = "adamw_torch", 2e-3
    return spec


def _nan(i: int, rng: random.Random, mode: str) -> RunSpec:
    spec = _base(f"nan_{mode}", i, rng, epochs=0, max_steps=120, nan_mode=mode)
    spec.logging_steps = rng.choice([1, 2, 5])
    spec.nan_step = spec.logging_steps * rng.randrange(
        50 // spec.logging_steps, 90 // spec.logging_steps
    )
    spec.nan_inf_filter = i % 2 == 0
    return spec


def _ga_scale(i: int, rng: random.Random) -> RunSpec:
    ga = rng.choice([4, 8])
    return _base(
        "ga_loss_scale",
        i,
        rng,
        task=rng.choice(["lm", "chat_sft"]),
        optim=rng.choice(["adamw_torch", "adafactor"]),
        batch=2 if ga == 8 else 4,
        grad_accum=ga,
        ga_loss_scale=True,
        epochs=0,
        max_steps=100,
        eval=rng.choice(["steps:10", "steps:20", "none"] if i % 4 == 3 else ["steps:20"]),
        n_eval=64,
    )


def _bad_start(i: int, rng: random.Random) -> RunSpec:
    return _base(
        "bad_start",
        i,
        rng,
        task=rng.choice(["lm", "chat_sft"]),
        optim="adamw_torch",
        lr=3e-3,
        init_scale=rng.choice([30.0, 40.0, 60.0]),
        logging_first_step=True,
        epochs=0,
        max_steps=150,
    )


FAMILIES: dict[str, tuple[int, Callable[[int, random.Random], RunSpec]]] = {
    "lr_blowup": (6, _lr_blowup),
    "lr_high_schedule": (5, _lr_high_schedule),
    "lr_low": (6, _lr_low),
    "memorize_no_eval": (5, _memorize_no_eval),
    "memorize_eval": (5, _memorize_eval),
    "overfit_eval": (5, _overfit_eval),
    "warmup_long": (5, _warmup_long),
    "clip_saturated": (5, _clip_saturated),
    "corrupt_batches": (6, _corrupt),
    "nan_transient": (4, lambda i, r: _nan(i, r, "transient")),
    "nan_persistent": (4, lambda i, r: _nan(i, r, "persistent")),
    "ga_loss_scale": (4, _ga_scale),
    "bad_start": (4, _bad_start),
}


#: The tasks each family's fault makes sense on (every model size is allowed).
ALLOWED_TASKS: dict[str, list[str]] = {
    "lr_blowup": ["lm", "chat_sft"],
    "lr_high_schedule": ["lm", "chat_sft"],
    "corrupt_batches": ["lm", "chat_sft"],  # per-step cls losses are too noisy for spikes
    "ga_loss_scale": ["lm", "chat_sft"],
    "bad_start": ["lm", "chat_sft"],
}


def _force(spec: RunSpec, task: str, size: str) -> RunSpec:
    """Put a drawn cell on ``task`` and ``size`` (the coverage cells)."""
    spec.task, spec.size = task, size
    if task == "chat_sft":
        spec.trainer = "trl_sft"
        if spec.family.startswith("memorize"):
            spec.chat_pool = spec.n_train
        elif spec.family == "overfit_eval":
            spec.chat_pool = min(spec.n_train, 40)
    elif task == "cls":
        spec.trainer = "hf_trainer"
        spec.chat_pool = None
        spec.logging_steps = max(spec.logging_steps, 5)
        spec.n_eval = 128 if spec.n_eval else 0
    else:
        spec.chat_pool = None
    return spec


def grid() -> list[RunSpec]:
    """Every cell: the drawn faulty cells, as many healthy ones, then coverage cells that put
    every fault family on every (task, model size) it allows, and as many healthy ones again.

    The order is fixed (ids and output formats follow it), so cells added later go last.
    """
    drawn: list[RunSpec] = []
    cover: list[RunSpec] = []
    for fam, (n, make) in FAMILIES.items():
        cells = [make(i, random.Random(f"{fam}/{i}")) for i in range(n)]
        drawn += cells
        have = {(c.task, c.size) for c in cells}
        i = n
        for task in ALLOWED_TASKS.get(fam, TASKS):
            for size in SIZE_NAMES:
                if (task, size) not in have:
                    cover.append(_force(make(i, random.Random(f"{fam}/{i}")), task, size))
                    i += 1
    n1, n2 = len(drawn), len(drawn) + len(cover)
    specs = drawn + [_healthy(i, random.Random(f"healthy/{i}")) for i in range(n1)]
    specs += cover + [_healthy(i, random.Random(f"healthy/{i}")) for i in range(n1, n2)]
    for name, sizes in SEALED_BLOCKS.items():
        specs += sealed_block(name, sizes)
    for k, spec in enumerate(specs):  # output formats, spread over every family
        spec.console = k % 3 == 0
        spec.tqdm = spec.console and k % 2 == 0
        spec.table = {1: "csv", 4: "jsonl"}.get(k % 6, "")
    return specs


def sealed_block(name: str, sizes: list[str]) -> list[RunSpec]:
    """A sealed generated split (test ``name``), drawn after every dev cell with seeds of its
    own: ``SEALED_PER_FAMILY`` cells of each fault family, each on a task it allows and on a
    model size no other run has (``sizes``), then as many healthy cells on those sizes."""
    faulty: list[RunSpec] = []
    for fam, (_, make) in FAMILIES.items():
        for i in range(SEALED_PER_FAMILY):
            spec = make(i, random.Random(f"{name}/{fam}/{i}"))
            task = spec.task if spec.task in ALLOWED_TASKS.get(fam, TASKS) else "lm"
            spec = _force(spec, task, sizes[i % len(sizes)])
            spec.name = f"{fam}_{name}_{i:02d}"
            faulty.append(spec)
    healthy = []
    for i in range(len(faulty)):
        spec = _healthy(i, random.Random(f"{name}/healthy/{i}"))
        spec = _force(spec, spec.task, sizes[i % len(sizes)])
        spec.name = f"healthy_{name}_{i:02d}"
        healthy.append(spec)
    return faulty + healthy
