"""The one exception tree of losslens.

::

    LosslensError                 base; ``message`` says what went wrong, ``hint`` what to do
    ├── StoreError                the run store cannot be opened or used
    │   ├── StoreVersionError     the store was written by a newer losslens
    │   └── RunNotFoundError      no run matches the id or name given
    ├── ImportError_              a log file cannot be read (``path``, ``location``)
    │   └── UnknownFormatError    no importer recognises the path
    ├── TrainError                the fine-tune cannot start or was stopped
    │   └── GuardStop             the guard stopped a run (NaN, divergence, overfitting)
    ├── ConfigError               a bad option, config file or data file
    └── MissingExtraError         an optional dependency is not installed

Library code raises these and never exits; ``losslens.cli`` turns them into one-line
messages and exit codes. Nothing else should reach a user as a traceback. The message and
hint are made terminal-safe and one line (:func:`losslens.textsafe.safe`): a file name or
run name with escape sequences or newlines in it is shown escaped.
"""

from __future__ import annotations

from losslens.textsafe import safe


class LosslensError(Exception):
    """Base of every error losslens raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        message = safe(message)
        super().__init__(message)
        self.message = message
        self.hint = safe(hint) if hint is not None else None

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class StoreError(LosslensError):
    """The run store cannot be opened, read or written."""


class StoreVersionError(StoreError):
    """The store's schema is newer than this version of losslens understands."""


class RunNotFoundError(StoreError):
    """No run in the store matches the given id or name."""


class ImportError_(LosslensError):
    """A log file cannot be read; ``path`` and ``location`` (byte or line) say where."""

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        path: str | None = None,
        location: str | None = None,
    ) -> None:
        where = path or ""
        if location:
            where = f"{where} ({location})" if where else location
        super().__init__(f"{where}: {message}" if where else message, hint)
        self.path = path
        self.location = location


LogReadError = ImportError_


class UnknownFormatError(ImportError_):
    """No importer recognises the path."""


class TrainError(LosslensError):
    """The fine-tune cannot start, or failed."""


class GuardStop(TrainError):
    """The training guard stopped the run on purpose."""

    exit_code = 3


class ConfigError(LosslensError):
    """A bad option value, config file or data file."""


class MissingExtraError(LosslensError):
    """An optional dependency is missing; the hint names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the '{package}' package, which is not installed",
            f"install it with: pip install 'losslens[{extra}]'",
        )
        self.package = package
        self.extra = extra
