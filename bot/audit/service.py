"""Plain functions for the audit trail.

Writes use SQLAlchemy Core on a connection, not the ORM unit of work: an audit row is written on
the Slack ack path, where the ORM's bookkeeping cost more than the INSERT itself.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.audit.models import AuditEntry, AuditRecord
from bot.db.base import utcnow

MAX_ARGUMENTS = 4000
_TABLE = AuditRecord.__table__
_INSERT = insert(_TABLE).returning(_TABLE.c.id)


def row(
    *,
    actor: str,
    action: str,
    arguments: str = "",
    channel: str | None = None,
    result: str,
    detail: str = "",
) -> dict[str, object]:
    """The column values of one audit record, cut to the column sizes."""
    return {
        "at": utcnow(),
        "actor": actor[:64],
        "action": action[:128],
        "arguments": arguments[:MAX_ARGUMENTS],
        "channel": channel,
        "result": result[:32],
        "detail": detail[:MAX_ARGUMENTS],
    }


def record(
    conn: Connection | Session,
    *,
    actor: str,
    action: str,
    arguments: str = "",
    channel: str | None = None,
    result: str,
    detail: str = "",
) -> int:
    """Write one audit record and return its id."""
    values = row(
        actor=actor,
        action=action,
        arguments=arguments,
        channel=channel,
        result=result,
        detail=detail,
    )
    inserted = conn.execute(_INSERT, values).first()
    assert inserted is not None
    return int(inserted[0])


def complete(conn: Connection | Session, *, record_id: int, result: str, detail: str = "") -> None:
    """Set the final outcome of an action that finished after its ack."""
    values: dict[str, str] = {"result": result[:32]}
    if detail:
        values["detail"] = detail[:MAX_ARGUMENTS]
    conn.execute(update(_TABLE).where(_TABLE.c.id == record_id).values(**values))


def recent(
    session: Session, *, limit: int = 50, actor: str | None = None, action: str | None = None
) -> list[AuditEntry]:
    """Newest audit records first."""
    # By time, not id: read-only commands' rows are written in batches, after later ones.
    query = select(AuditRecord).order_by(AuditRecord.at.desc(), AuditRecord.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditRecord.actor == actor)
    if action:
        query = query.where(AuditRecord.action == action)
    return [AuditEntry.model_validate(row) for row in session.scalars(query)]
