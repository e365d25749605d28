"""Where ``--model`` comes from, decided before anything slow: a folder, the HF cache, or the Hub.

Without this check a hub name on a machine with no network fails after about a minute of
retries and a dozen lines of warnings. Here the Hub is probed once with a short timeout;
``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) skips the probe. A model in the local cache
is then used offline, and that is said once; a model that is nowhere is one error line.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from losslens.errors import ConfigError

#: Seconds to wait for a TCP connection to the Hub before calling it unreachable.
PROBE_TIMEOUT = 3.0
_TRUE = ("1", "true", "yes", "on")


def offline_env() -> str | None:
    """The variable that turns the Hub off, if one is set."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in _TRUE:
            return name
    return None


def hub_reachable(timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a TCP connection to the Hub (``HF_ENDPOINT``) opens within ``timeout``."""
    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def cached(model: str) -> bool:
    """Whether the model's ``config.json`` is in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - installed with transformers
        return False
    try:
        found = try_to_load_from_cache(model, "config.json")
    except Exception:  # an invalid repo id is simply not cached
        return False
    return isinstance(found, str)


def go_offline() -> None:
    """Make transformers and huggingface_hub stay off the network for the rest of the run."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from huggingface_hub import constants

        constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover
        pass


def check_model_source(model: str, *, probe: bool = True) -> str | None:
    """Raise ``ConfigError`` when ``model`` cannot be loaded; return a note to print, if any."""
    p = Path(model).expanduser()
    if p.exists():
        return None
    if model.startswith(("/", "./", "../", "~")) or model.count("/") > 1:
        raise ConfigError(
            f"--model {model}: no such folder",
            "pass a folder written by save_pretrained, a hub name (org/name), or tiny",
        )
    hint = (
        f"download it first (hf download {model}), pass a local folder, "
        "or use --model tiny to try losslens offline"
    )
    env = offline_env()
    if env is not None:
        if cached(model):
            go_offline()
            return f"{env} is set: using the cached copy of {model}"
        raise ConfigError(
            f"--model {model}: not on disk, not in the Hugging Face cache, and {env} is set",
            f"unset {env} to download it, pass a local folder, or use --model tiny",
        )
    if not probe or hub_reachable():
        return None
    if cached(model):
        go_offline()
        return f"the Hugging Face Hub cannot be reached: using the cached copy of {model} offline"
    raise ConfigError(
        f"--model {model}: not on disk and the Hugging Face Hub cannot be reached", hint
    )


__all__ = ["check_model_source", "go_offline", "hub_reachable", "offline_env"]
