"""Audit reads for the Slack layer (which never opens a database session itself)."""

from __future__ import annotations

from bot.audit import service
from bot.audit.buffer import AuditBuffer
from bot.audit.models import AuditEntry
from bot.db import Database


def recent_entries(
    db: Database, *, limit: int = 20, actor: str | None = None, buffer: AuditBuffer | None = None
) -> list[AuditEntry]:
    """The newest audit records, optionally for one person (batched rows included)."""
    if buffer is not None:
        buffer.flush()
    with db.session() as session:
        return service.recent(session, limit=limit, actor=actor)
