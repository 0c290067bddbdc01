"""The terminal side of the shell: line editing and history, output that keeps the prompt,
logs sent to a file, edits shown as what changed, Web API error codes in words.

Kept apart from `shell.py`, which is about Slack (messages, handles, buttons); this module is
about the terminal.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import IO

readline: ModuleType | None
try:  # line editing and history where the platform has it
    import readline
except ImportError:  # pragma: no cover - Windows without pyreadline
    readline = None

HISTORY = "shell_history"
LOG_FILE = "oncall-bot.log"
HISTORY_KEEP = 1000

# Web API error codes the shell can hit, in words (anything else: the code with spaces).
API_ERROR_WORDS = {
    "channel_not_found": "there is no such channel; `channels` lists them",
    "user_not_found": "there is no such user; `users` lists them",
    "message_not_found": "that message is gone",
    "not_in_channel": "you are not in that channel",
    "is_archived": "that channel is archived",
}


def api_error_words(code: str) -> str:
    """A Web API error code as a sentence a person can act on."""
    return API_ERROR_WORDS.get(code, code.replace("_", " "))


def changed_lines(before: list[str], after: list[str], head: str) -> list[str]:
    """An edited message as what changed: `head`, then its new or changed body lines.

    The first line of each (author, time, handle) is left out: it changes with every edit.
    """
    old, new = before[1:], after[1:]
    shown: list[str] = []
    removed = 0
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "insert"):
            shown.extend(new[j1:j2])
        if tag in ("replace", "delete"):
            removed += max(0, (i2 - i1) - (j2 - j1))
    if removed and not shown:
        shown.append(f"    ({removed} line{'s' if removed != 1 else ''} removed)")
    return [head, *shown] if shown else []


class LineInput:
    """Reads the user's lines (readline on a terminal) and writes output without breaking the
    line being typed: the prompt and the typed text are redrawn under whatever was printed."""

    def __init__(self, stdin: IO[str], stdout: IO[str], *, history: Path | None = None) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.history_file = history
        self.typed: list[str] = []
        self.terminal = (
            readline is not None
            and stdin is sys.stdin
            and bool(getattr(stdin, "isatty", lambda: False)())
            and bool(getattr(stdout, "isatty", lambda: False)())
        )
        self._prompt: str | None = None
        self._lock = threading.Lock()
        if self.terminal and readline is not None and history is not None and history.exists():
            with contextlib.suppress(OSError):
                readline.read_history_file(history)

    def read(self, prompt: Callable[[], str]) -> str | None:
        """One line (None at end of input); on a terminal with editing and history."""
        if self.terminal:
            self._prompt = prompt()
            try:
                return input(self._prompt)
            except EOFError:
                return None
            finally:
                self._prompt = None
        line = self.stdin.readline()
        return line.rstrip("\n") if line else None

    def show(self, text: str) -> None:
        """Print `text`; on a terminal, above the prompt and what the user has typed so far."""
        with self._lock:
            if self.terminal and self._prompt is not None and readline is not None:
                typed = readline.get_line_buffer()
                self.stdout.write(f"\r\x1b[K{text}\n{self._prompt}{typed}")
            else:
                self.stdout.write(text + "\n")
            self.stdout.flush()

    def remember(self, line: str) -> None:
        self.typed.append(line)

    def close(self) -> None:
        """Keep what was typed for the next session (Ctrl-R finds it)."""
        if self.history_file is None or not self.typed:
            return
        with contextlib.suppress(OSError):
            self.history_file.parent.mkdir(parents=True, exist_ok=True)
            if self.terminal and readline is not None:
                readline.set_history_length(HISTORY_KEEP)
                readline.write_history_file(self.history_file)
            else:
                with self.history_file.open("a", encoding="utf-8") as out:
                    out.writelines(line + "\n" for line in self.typed)
        self.typed = []


def log_to_file(data_dir: Path) -> Path:
    """Send the process's log lines (scheduler, servers) to a file in the data dir, so they do
    not land between the prompt and what the user types. Returns the file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOG_FILE
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for old in list(logger.handlers):
            if isinstance(old, logging.StreamHandler) and not isinstance(old, logging.FileHandler):
                logger.removeHandler(old)
                if logger is logging.root or not logger.propagate:
                    logger.addHandler(handler)
    if handler not in logging.getLogger().handlers:
        logging.getLogger().addHandler(handler)
    return path
