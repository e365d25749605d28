"""``losslens train`` and ``losslens generate``."""

from __future__ import annotations

import argparse

from rich.console import Console

from losslens.cli.common import add_store_option
from losslens.train.options import SPECS, Spec


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train",
        help="fine-tune a causal LM with LoRA/QLoRA on a chat JSONL file, recording every metric",
        description=(
            "Fine-tune with TRL's SFTTrainer (current API) and record the run. Options can also "
            "come from --config FILE.yaml with the same keys; flags override the file. The "
            "resolved config is saved as OUTPUT_DIR/losslens_train.yaml."
        ),
    )
    p.add_argument("--config", metavar="FILE.yaml", help="options from a YAML file")
    p.add_argument(
        "--dry_run",
        action="store_true",
        help="check the options and the data, print the resolved config as YAML, and stop",
    )
    for spec in SPECS:
        flag = f"--{spec.name}"
        if spec.type is bool:
            p.add_argument(
                flag, action=argparse.BooleanOptionalAction, default=None, help=spec.help
            )
        else:
            p.add_argument(
                flag,
                type=str,
                default=None,
                metavar=_metavar(spec),
                help=spec.help,
            )
    add_store_option(p)
    p.set_defaults(func=cmd_train)

    g = sub.add_parser(
        "generate",
        help="answer a prompt with a model fine-tuned by 'losslens train'",
        description="Load the base model and the adapter from OUTPUT_DIR and answer one prompt.",
    )
    g.add_argument("output_dir", metavar="OUTPUT_DIR", help="the --output_dir of a train run")
    g.add_argument("--prompt", required=True, help="the user message")
    g.add_argument("--system", default=None, help="an optional system message")
    g.add_argument("--max_new_tokens", type=int, default=128, help="(default 128)")
    g.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    g.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    g.set_defaults(func=cmd_generate)


def _metavar(spec: Spec) -> str:
    if spec.metavar:
        return spec.metavar
    if spec.choices:
        return "{" + ",".join(spec.choices) + "}"
    return {int: "N", float: "X"}.get(spec.type, "TEXT")


def cmd_train(args: argparse.Namespace) -> int:
    from losslens.train.runner import raise_if_stopped, train
    from losslens.train.summary import print_summary

    values = {spec.name: getattr(args, spec.name) for spec in SPECS}
    if args.dry_run:
        return _dry_run(values, args.config)
    console = Console(highlight=False)
    result = train(values, config_path=args.config, console=console, store=args.store)
    print_summary(console, result)
    raise_if_stopped(result)
    return 0


def _dry_run(values: dict[str, object], config: str | None) -> int:
    import sys

    import yaml

    from losslens.train.data import eval_count
    from losslens.train.runner import prepare

    o, examples, plan = prepare(values, config)
    n_eval = eval_count(len(examples), o.eval_ratio or 0.0)
    print(f"# {plan.reason}", file=sys.stderr)
    print(
        f"# {len(examples)} examples: {len(examples) - n_eval} train, {n_eval} eval",
        file=sys.stderr,
    )
    sys.stdout.write(yaml.safe_dump(o.to_dict(), sort_keys=False, allow_unicode=True))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from losslens.train.generate import generate

    text = generate(
        args.output_dir,
        args.prompt,
        system=args.system,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        seed=args.seed,
    )
    print(text)
    return 0
