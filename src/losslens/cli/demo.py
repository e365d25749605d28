"""``scripts/demo`` (``python -m losslens.cli.demo``): the motivating scenario, offline, on CPU.

Fine-tune the tiny model (random Qwen2 architecture, tokenizer trained on the data) with
LoRA on ``examples/mini_instruct.jsonl`` (23 chats, Korean and English) through the same
code as ``losslens train``: the live view, every metric recorded, the summary with
sparklines and a diagnosis. The store goes to ``./out/demo`` unless ``LOSSLENS_HOME`` is
set. Extra arguments are ``losslens train`` flags and override the demo's (e.g.
``scripts/demo --max_steps 20``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path

from rich.console import Console

from losslens.errors import LosslensError

#: The scenario: 23 chats, batch 1 x accumulation 8, 100 steps, cosine with 3% warmup.
#: A random tiny model learns slowly at the 2e-4 meant for pretrained models, hence 2e-3.
DEMO_FLAGS = (
    "--model", "tiny",
    "--project", "demo",
    "--max_steps", "100",
    "--gradient_accumulation_steps", "8",
    "--lr", "2e-3",
    "--eval_steps", "10",
)  # fmt: skip


def example_data() -> Path:
    """``examples/mini_instruct.jsonl`` of the source tree (or of the current directory)."""
    for base in (Path(__file__).resolve().parents[3], Path.cwd()):
        path = base / "examples" / "mini_instruct.jsonl"
        if path.is_file():
            return path
    raise LosslensError(
        "examples/mini_instruct.jsonl was not found",
        "run the demo from a losslens source checkout (scripts/demo)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    store_dir = Path(os.environ.get("LOSSLENS_HOME") or Path.cwd() / "out" / "demo").absolute()
    os.environ["LOSSLENS_HOME"] = str(store_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the demo needs nothing from the hub
    console = Console(highlight=False)

    from losslens.analysis import analyze
    from losslens.cli import build_parser
    from losslens.cli.analyze import default_lang
    from losslens.cli.train import option_values
    from losslens.cli.train_summary import print_summary
    from losslens.render.html import write_report
    from losslens.store import Store
    from losslens.train.runner import raise_if_stopped, train

    extra = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(
            ["train", *DEMO_FLAGS, "--data_path", str(example_data()), *extra]
        )
        values, notes = option_values(args)
        for note in notes:
            print(f"losslens: note: {note}", file=sys.stderr)
        if values["output_dir"] is None:
            values["output_dir"] = str(store_dir / "runs" / "mini-instruct")
        result = train(values, config_path=args.config, console=console, store=args.store)
        print_summary(console, result)

        # -- step 2: the HTML report of the run, and where the dashboard is -------------------
        if result.run_id is not None:
            with Store(result.store_path) as store:
                data = store.load(result.run_id)
            html = write_report(data, store_dir / "report.html", analyze(data), lang=default_lang())
            console.print(
                f"\nHTML report: {html}  (one file: open it in any browser)",
                markup=False,
                soft_wrap=True,
            )
            ui = f".venv/bin/losslens ui --store {result.store_path}"
            if find_spec("starlette") is None:  # scripts/demo installs the demo extra only
                ui = f".venv/bin/pip install -e '.[ui]' && {ui}"
            console.print(f"dashboard:   {ui}", markup=False, soft_wrap=True)

        console.print(
            f"\nstore: {result.store_path}  (try: LOSSLENS_HOME={store_dir} losslens runs)",
            soft_wrap=True,
        )
        raise_if_stopped(result)
    except LosslensError as exc:
        print(f"losslens: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
