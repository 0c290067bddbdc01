"""Audit reads for the Slack layer (which never opens a database session itself)."""

from __future__ import annotations

from bot.audit import service
from bot.audit.models import AuditEntry
from bot.db import Database


def recent_entries(db: Database, *, limit: int = 20, actor: str | None = None) -> list[AuditEntry]:
    """The newest audit records, optionally for one person."""
    with db.session() as session:
        return service.recent(session, limit=limit, actor=actor)
