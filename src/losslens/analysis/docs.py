"""``docs/rules.md``, generated from the rules' docstrings (``scripts/gen_docs.py``)."""

from __future__ import annotations

import inspect
import re

from losslens.analysis.rules import FAMILIES, RULES, Rule
from losslens.analysis.rules.base import SECTIONS, param_docs

_HEADER = re.compile(r"^({}):\s*$".format("|".join(re.escape(s) for s in SECTIONS)))


def rule_sections(r: Rule) -> tuple[str, dict[str, str]]:
    """The summary line and the four sections of a rule's docstring (text unwrapped)."""
    doc = inspect.cleandoc(r.doc)
    lines = doc.splitlines()
    summary = lines[0].strip() if lines else r.name
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in lines[1:]:
        m = _HEADER.match(line.strip())
        if m and not line.startswith(" "):
            current = m.group(1)
            sections[current] = []
        elif current is not None:
            sections[current].append(line.strip())
    return summary, {k: " ".join(x for x in v if x) for k, v in sections.items()}


def rules_markdown() -> str:
    out = [
        "# Diagnosis rules",
        "",
        "<!-- Generated from the rules' docstrings by scripts/gen_docs.py; do not edit. -->",
        "",
        "Each finding carries the id of the rule that made it, a `kind` from the shared "
        "vocabulary, a severity (`error` > `warning` > `info`), evidence (steps and numbers) "
        "and what to try, in English and Korean. Select rules with "
        "`losslens analyze --rules ID,...` or skip some with `--ignore ID,...` (ids, names, "
        "kinds or families).",
        "",
        "| id | name | kind | default severity | family | detects |",
        "|---|---|---|---|---|---|",
    ]
    for r in RULES.values():
        summary, _ = rule_sections(r)
        out.append(
            f"| [{r.id}](#{r.id.lower()}-{r.name}) | `{r.name}` | `{r.kind}` | {r.severity} "
            f"| {r.family} | {summary} |"
        )
    out.append("")
    for family in FAMILIES:
        rules = [r for r in RULES.values() if r.family == family]
        if not rules:
            continue
        out += [f"## {family.capitalize()}", ""]
        for r in rules:
            summary, sections = rule_sections(r)
            out += [
                f"### {r.id} {r.name}",
                "",
                f"**{summary}** Kind `{r.kind}`, default severity `{r.severity}`.",
                "",
            ]
            for name in SECTIONS:
                out += [f"- **{name}.** {sections.get(name, '')}"]
            if r.requires:
                out += [f"- **Reads the findings of.** {', '.join(r.requires)}"]
            params = param_docs(r.params)
            if params:
                out += ["", "| parameter | value | meaning |", "|---|---|---|"]
                out += [f"| `{n}` | {v!r} | {d} |" for n, v, d in params]
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
