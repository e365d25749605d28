"""``losslens train`` and ``losslens generate``."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from rich.console import Console

from losslens.cli.common import add_store_option
from losslens.train.options import ALIASES, SPECS, Spec

#: Blog-script switches (``--fp16``, ``--fp16 True``) that set one of our options.
SWITCHES: dict[str, tuple[str, str]] = {
    "fp16": ("precision", "fp16"),
    "bf16": ("precision", "bf16"),
    "load_in_4bit": ("quantization", "4bit"),
    "use_4bit": ("quantization", "4bit"),
}
#: Blog-script flags that losslens decides itself: accepted, and said once that they are ignored.
IGNORED: dict[str, str] = {
    "save_steps": "the adapter is saved once, at the end",
    "save_total_limit": "the adapter is saved once, at the end",
    "save_strategy": "the adapter is saved once, at the end",
    "logging_dir": "every metric goes to the losslens store",
    "overwrite_output_dir": "OUTPUT_DIR is always written",
    "gradient_checkpointing": "it is on for CUDA and off for CPU",
    "optim": "the optimizer follows the hardware plan",
}
_TRUE = ("true", "1", "yes", "y", "on")


class TrainArgumentParser(argparse.ArgumentParser):
    """``losslens train``'s parser: an unknown flag gets this usage and a "did you mean"."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        ns, extra = super().parse_known_args(args, namespace)
        if extra:
            self.unknown(extra)
        return ns, extra

    def unknown(self, extra: Sequence[str]) -> NoReturn:
        flags = [s for a in self._actions for s in a.option_strings if s.startswith("--")]
        first = next((e for e in extra if e.startswith("-")), extra[0])
        name = first.split("=", 1)[0]
        guess = difflib.get_close_matches(name.replace("-", "_"), flags, n=1, cutoff=0.6)
        if not guess:
            guess = difflib.get_close_matches(name, flags, n=1, cutoff=0.6)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        self.error(f"unrecognized arguments: {' '.join(extra)}{hint}")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser_class = sub._parser_class
    sub._parser_class = TrainArgumentParser
    try:
        _add_train_parser(sub)
    finally:
        sub._parser_class = parser_class
    _add_generate_parser(sub)


def _add_train_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
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
        flags = [f"--{spec.name}", *(f"--{a}" for a, n in ALIASES.items() if n == spec.name)]
        if spec.type is bool:
            p.add_argument(
                *flags, action=argparse.BooleanOptionalAction, default=None, help=spec.help
            )
        else:
            p.add_argument(
                *flags,
                dest=spec.name,
                type=str,
                default=None,
                metavar=_metavar(spec),
                help=spec.help,
            )
    blog = p.add_argument_group(
        "flags of a blog-style train_peft.py, accepted as written (docs/train.md)"
    )
    for name, (option, value) in SWITCHES.items():
        blog.add_argument(
            f"--{name}",
            dest=f"switch_{name}",
            nargs="?",
            const="true",
            default=None,
            metavar="BOOL",
            help=f"same as --{option} {value}",
        )
    blog.add_argument(
        "--report_to",
        default=None,
        metavar="NAME",
        help="'wandb' is --use_wandb; 'none' turns it off",
    )
    for name, why in IGNORED.items():
        blog.add_argument(
            f"--{name}",
            dest=f"ignored_{name}",
            nargs="?",
            const="true",
            default=None,
            metavar="X",
            help=f"ignored: {why}",
        )
    add_store_option(p)
    team = p.add_argument_group("team server (docs/team.md)")
    team.add_argument(
        "--server",
        metavar="URL",
        default=None,
        help="also send the run to this losslens server as it trains (default: $LOSSLENS_SERVER)",
    )
    team.add_argument(
        "--token",
        metavar="T",
        default=None,
        help="write token of the server's project (default: $LOSSLENS_TOKEN)",
    )
    p.set_defaults(func=cmd_train)
    return p


def _add_generate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def option_values(args: argparse.Namespace) -> tuple[dict[str, Any], list[str]]:
    """The option values from the parsed flags (blog flags folded in) and notes to print."""
    from losslens.errors import ConfigError

    values: dict[str, Any] = {spec.name: getattr(args, spec.name) for spec in SPECS}
    notes: list[str] = []
    for name, (option, value) in SWITCHES.items():
        given = getattr(args, f"switch_{name}", None)
        if given is None or str(given).lower() not in _TRUE:
            continue
        if values[option] not in (None, value):
            raise ConfigError(f"--{name} contradicts --{option} {values[option]}")
        if option == "precision" and not _has_cuda():
            notes.append(f"--{name}: no CUDA GPU here, so the precision stays auto (fp32 on CPU)")
            continue
        values[option] = value
    report_to = getattr(args, "report_to", None)
    if report_to is not None:
        targets = {t.strip().lower() for t in report_to.split(",") if t.strip()}
        if values["use_wandb"] is None:
            values["use_wandb"] = "wandb" in targets or "all" in targets
        other = sorted(targets - {"wandb", "all", "none"})
        if other:
            notes.append(
                f"--report_to {', '.join(other)}: ignored; every metric goes to the losslens store"
            )
    ignored = [n for n in IGNORED if getattr(args, f"ignored_{n}", None) is not None]
    if ignored:
        flags = ", ".join(f"--{n}" for n in ignored)
        notes.append(f"ignored {flags} ({'; '.join(IGNORED[n] for n in ignored)})")
    return values, notes


def _has_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def cmd_train(args: argparse.Namespace) -> int:
    from losslens.cli.train_summary import print_summary
    from losslens.train.runner import raise_if_stopped, train

    values, notes = option_values(args)
    for note in notes:
        print(f"losslens: note: {note}", file=sys.stderr)
    if args.dry_run:
        return _dry_run(values, args.config)
    console = Console(highlight=False)
    result = train(
        values,
        config_path=args.config,
        console=console,
        store=args.store,
        server=args.server,
        token=args.token,
    )
    print_summary(console, result)
    raise_if_stopped(result)
    return 0


def _dry_run(values: dict[str, object], config: str | None) -> int:
    import yaml

    from losslens.train.data import eval_count
    from losslens.train.runner import prepare

    o, examples, plan = prepare(values, config, announce=_note)
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
    from losslens.textsafe import safe

    # Generated text is untrusted: control characters are shown as escapes, lines kept.
    print("\n".join(safe(line) for line in text.split("\n")))
    return 0


def _note(message: str) -> None:
    print(f"losslens: note: {message}", file=sys.stderr)
