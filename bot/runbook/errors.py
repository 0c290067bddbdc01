"""Errors of the runbook package, grouped by who has to act on them.

- `RunbookError`: a runbook file is wrong; the author fixes it (start-up stops).
- `RunbookInputError`: the parameters a user typed are wrong; the user retypes them.
- `RunError` and subclasses: an operation on a run is not possible right now (finished,
  already confirmed, not allowed); the Slack layer words its kind and facts ephemerally.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class RunbookError(Exception):
    """A runbook file is invalid; the message names the file and the line."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None):
        self.path = Path(path) if path is not None else None
        self.line = line
        self.reason = message
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}")


class RunbookInputError(ValueError):
    """The parameters given to start a runbook are missing, unknown or of the wrong type."""

    def __init__(self, message: str, *, param: str | None = None):
        self.param = param
        super().__init__(message)


class RunError(Exception):
    """An operation on a run cannot be done in the run's current state.

    No sentence: `kind` and `facts` are what `templates/run_not_waiting.j2` words for the person
    who clicked; the exception's own text (for logs) is the kind and the facts.
    """

    def __init__(self, kind: str, **facts: Any) -> None:
        self.kind = kind
        self.facts = facts
        super().__init__(f"{kind} {facts}" if facts else kind)


class RunNotFoundError(RunError):
    """No run has that id."""


class RunStateError(RunError):
    """The run or step is not in a state that allows the operation (finished, not waiting...)."""


class AlreadyConfirmedError(RunStateError):
    """The step was already confirmed (a double click); callers may ignore it."""


class ConfirmDeniedError(RunError):
    """The caller's `authorize` callback refused the user."""
