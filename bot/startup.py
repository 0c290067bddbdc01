"""Start-up progress on the terminal: what is happening now and how long it took.

A first `make run` trains two models and starts a model server before the shell appears; without
a word on the screen that is most of a minute of silence.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

FIRST_START = (
    "oncall-bot: starting. The first start trains and registers two models (about a minute); "
    "later starts take a few seconds."
)


class Progress:
    """Prints `[n/total] step…` before each step and `done in X s` after it."""

    def __init__(self, total: int, *, out: IO[str] | None = None) -> None:
        self.total = total
        self.done = 0
        self.out = out or sys.stdout
        self.started = self._began = time.monotonic()

    def note(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def begin(self, what: str) -> None:
        self.done += 1
        self._began = time.monotonic()
        self.note(f"oncall-bot: [{self.done}/{self.total}] {what}…")

    def end(self) -> None:
        took = time.monotonic() - self._began
        self.note(f"oncall-bot: [{self.done}/{self.total}] done in {took:.1f} s")

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        self.begin(what)
        yield
        self.end()

    def finished(self) -> None:
        self.note(f"oncall-bot: ready in {time.monotonic() - self.started:.1f} s")
