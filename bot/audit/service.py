"""Plain functions over a session for the audit trail."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.audit.models import AuditEntry, AuditRecord

MAX_ARGUMENTS = 4000


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    arguments: str = "",
    channel: str | None = None,
    result: str,
    detail: str = "",
) -> int:
    """Write one audit record and return its id."""
    row = AuditRecord(
        actor=actor,
        action=action[:128],
        arguments=arguments[:MAX_ARGUMENTS],
        channel=channel,
        result=result[:32],
        detail=detail[:MAX_ARGUMENTS],
    )
    session.add(row)
    session.flush()
    return row.id


def complete(session: Session, *, record_id: int, result: str, detail: str = "") -> None:
    """Set the final outcome of an action that finished after its ack."""
    row = session.get(AuditRecord, record_id)
    if row is not None:
        row.result = result[:32]
        if detail:
            row.detail = detail[:MAX_ARGUMENTS]


def recent(
    session: Session, *, limit: int = 50, actor: str | None = None, action: str | None = None
) -> list[AuditEntry]:
    """Newest audit records first."""
    query = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditRecord.actor == actor)
    if action:
        query = query.where(AuditRecord.action == action)
    return [AuditEntry.model_validate(row) for row in session.scalars(query)]
