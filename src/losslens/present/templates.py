"""The Jinja environment and the packaged static files, shared by the dashboard and the report.

Autoescape is on for every template: run names, config values, metric keys and file
names are user text. Data for scripts goes through :func:`json_script`, which escapes
``<``, ``>`` and ``&`` so that no value can close the ``<script>`` element.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from markupsafe import Markup

from losslens.present.config import show as show_config
from losslens.present.format import fmt_duration, fmt_time, fmt_value

UPLOT_VERSION = "1.6.32"

#: Every file the dashboard serves, by its public name; nothing else is reachable.
STATIC_FILES: dict[str, str] = {
    f"uPlot-{UPLOT_VERSION}.iife.min.js": "application/javascript; charset=utf-8",
    f"uPlot-{UPLOT_VERSION}.min.css": "text/css; charset=utf-8",
    "uPlot-LICENSE.txt": "text/plain; charset=utf-8",
    "losslens.js": "application/javascript; charset=utf-8",
    "ui.js": "application/javascript; charset=utf-8",
    "losslens.css": "text/css; charset=utf-8",
}


@cache
def static_bytes(name: str) -> bytes:
    """A packaged static file (``name`` must be one of :data:`STATIC_FILES`)."""
    if name not in STATIC_FILES:
        raise KeyError(name)
    return resources.files("losslens.present").joinpath("static", name).read_bytes()


def static_text(name: str) -> str:
    return static_bytes(name).decode("utf-8")


def json_script(data: Any) -> Markup:
    """JSON that is safe inside ``<script type="application/json">``."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def inline_script(code: str) -> Markup:
    """JavaScript source to inline in a ``<script>`` element."""
    return Markup(code.replace("</script", "<\\/script").replace("<!--", "<\\!--"))


def config_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return fmt_value(value)


@cache
def environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("losslens.present", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fmt_time"] = fmt_time
    env.filters["fmt_duration"] = fmt_duration
    env.filters["fmt_value"] = config_text
    env.filters["json_script"] = json_script
    env.filters["fmt_cfg"] = show_config
    return env


def render(name: str, **context: Any) -> str:
    return str(environment().get_template(name).render(**context))
