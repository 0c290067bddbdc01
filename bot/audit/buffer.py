"""Audit rows of read-only commands, written in small batches.

`help`, `status`, `models` and the like answer inside the Slack ack, many times a second when
people (or dashboards) ask. Their audit rows are queued and written together every few
milliseconds, in one transaction, instead of one transaction each on the ack path. Commands
that may change something (every command that needs a role) and denials are never buffered:
they are written before the ack. Reads of the audit trail flush first, and so does shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import insert

from bot.audit.models import AuditRecord
from bot.db import Database

log = logging.getLogger(__name__)

_INSERT = insert(AuditRecord.__table__)


class AuditBuffer:
    def __init__(self, db: Database, *, delay: float = 0.05, max_rows: int = 500) -> None:
        self.db = db
        self.delay = delay
        self.max_rows = max_rows
        self._rows: list[dict[str, Any]] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, row: dict[str, Any]) -> None:
        """Queue one row (the columns of `audit_records`); written within `delay` seconds."""
        self._rows.append(row)
        if len(self._rows) >= self.max_rows:
            self.flush()
        elif self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.delay, self.flush)
            except RuntimeError:  # no event loop (a script, a test): write at once
                self.flush()

    def flush(self) -> int:
        """Write every queued row now; returns how many."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        rows, self._rows = self._rows, []
        if not rows:
            return 0
        try:
            with self.db.connection() as conn:
                conn.execute(_INSERT, rows)
        except Exception:
            # Keep them for the next flush rather than lose the trail to a passing DB error.
            log.exception("could not write %d audit records; will retry", len(rows))
            self._rows[:0] = rows
            return 0
        return len(rows)

    def __len__(self) -> int:
        return len(self._rows)
