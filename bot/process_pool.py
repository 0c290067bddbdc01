"""The pool of worker processes CPU-bound work (training, evaluation) runs in."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor


class ProcessPool:
    """One per bot, built by the composition root and handed to whoever needs workers.

    The executor is created on first use, so a bot that never trains starts no processes, and
    created again when a worker died (killed, out of memory) and broke it, so one lost fit does
    not fail every later one.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor: ProcessPoolExecutor | None = None

    @property
    def current(self) -> ProcessPoolExecutor | None:
        """The executor if one was created, for shutdown and inspection; None before first use."""
        return self._executor

    def executor(self) -> Executor:
        """The executor, created now if there is none or the last one broke."""
        pool = self._executor
        if pool is None or getattr(pool, "_broken", False):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            # forkserver: forking a process that runs threads (the event loop's helpers) is unsafe.
            pool = self._executor = ProcessPoolExecutor(
                max_workers=self.size, mp_context=multiprocessing.get_context("forkserver")
            )
        return pool

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
