"""Plain functions over a connection: the grants table and the access audit records.

Every change of state is one conditional UPDATE (`... WHERE id = ? AND state IN (...)`), so two
clicks on Approve, two bot processes or a job and a command racing each other change a grant
once: the loser sees False and does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.access.models import LIVE, OPEN, PENDING, AccessGrant, GrantView
from bot.audit import service as audit
from bot.audit.models import AuditRecord

_T = AccessGrant.__table__


def _view(row: Any) -> GrantView:
    return GrantView.model_validate(dict(row._mapping))


def create(
    conn: Connection,
    *,
    user_id: str,
    resource: str,
    level: str,
    reason: str,
    requested_by: str,
    duration_seconds: int,
    now: datetime,
    policy_version: int,
    state: str = PENDING,
    break_glass: bool = False,
    incident_id: int | None = None,
    extends_id: int | None = None,
) -> GrantView:
    """A new request (or a break-glass grant about to be made); its row."""
    values = {
        "user_id": user_id,
        "resource": resource,
        "level": level,
        "reason": reason,
        "requested_by": requested_by,
        "state": state,
        "deny_reason": "",
        "break_glass": break_glass,
        "incident_id": incident_id,
        "duration_seconds": duration_seconds,
        "requested_at": now,
        "end_reason": "",
        "attempts": 0,
        "last_error": "",
        "reminders": [],
        "drift": "",
        "policy_version": policy_version,
        "extends_id": extends_id,
    }
    if state != PENDING:
        values["approved_by"] = requested_by
    new_id = conn.execute(insert(_T).returning(_T.c.id), values).scalar_one()
    return get(conn, grant_id=new_id)  # type: ignore[return-value]


def get(conn: Connection, *, grant_id: int) -> GrantView | None:
    row = conn.execute(select(_T).where(_T.c.id == grant_id)).first()
    return _view(row) if row is not None else None


def move(
    conn: Connection, *, grant_id: int, from_states: Iterable[str], to_state: str, **values: Any
) -> bool:
    """Change the grant's state if it is in one of `from_states`; False if someone else did."""
    result = conn.execute(
        update(_T)
        .where(_T.c.id == grant_id, _T.c.state.in_(list(from_states)))
        .values(state=to_state, **values)
    )
    return result.rowcount == 1


def decide(
    conn: Connection, *, grant: GrantView, to_state: str, approver: str, **values: Any
) -> bool:
    """Move a pending request to `to_state` and audit the decision, in one transaction."""
    if not move(conn, grant_id=grant.id, from_states=[PENDING], to_state=to_state, **values):
        return False
    action = "approve" if to_state != "denied" else "deny"
    record(conn, actor=approver, action=action, grant=grant, result="ok")
    return True


def set_fields(conn: Connection, *, grant_id: int, **values: Any) -> None:
    """Bookkeeping that is not a change of state (card, attempts, reminders sent)."""
    conn.execute(update(_T).where(_T.c.id == grant_id).values(**values))


def of_user(
    conn: Connection, *, user_id: str | None, states: Iterable[str] = OPEN, limit: int = 50
) -> list[GrantView]:
    query = select(_T).where(_T.c.state.in_(list(states))).order_by(_T.c.id.desc()).limit(limit)
    if user_id is not None:
        query = query.where(_T.c.user_id == user_id)
    return [_view(r) for r in conn.execute(query)]


def live(conn: Connection) -> list[GrantView]:
    """Grants the provider may be enforcing right now (to reconcile)."""
    return [_view(r) for r in conn.execute(select(_T).where(_T.c.state.in_(LIVE)))]


def lapsed_requests(conn: Connection, *, older_than: datetime) -> list[GrantView]:
    query = select(_T).where(_T.c.state == PENDING, _T.c.requested_at < older_than)
    return [_view(r) for r in conn.execute(query)]


def since(conn: Connection, *, since: datetime) -> list[GrantView]:
    query = (
        select(_T)
        .where(or_(_T.c.requested_at >= since, _T.c.ended_at >= since, _T.c.state.in_(OPEN)))
        .order_by(_T.c.id)
    )
    return [_view(r) for r in conn.execute(query)]


def audit_since(conn: Connection, *, since: datetime) -> list[dict[str, Any]]:
    """The access audit records (requests, approvals, grants, revocations) since a time."""
    t = AuditRecord.__table__
    rows = conn.execute(
        select(t).where(t.c.at >= since, t.c.action.like("access.%")).order_by(t.c.at, t.c.id)
    )
    return [
        {
            "at": r.at.isoformat(),
            "actor": r.actor,
            "action": r.action,
            "arguments": r.arguments,
            "result": r.result,
            "detail": r.detail,
        }
        for r in rows
    ]


def record(
    conn: Connection, *, actor: str, action: str, grant: GrantView, result: str, detail: str = ""
) -> None:
    """One access audit record: `access.<action>` on a grant."""
    audit.record(
        conn,
        actor=actor,
        action=f"access.{action}",
        arguments=f"{grant.ref} {grant.user_id} {grant.resource} {grant.level}",
        result=result,
        detail=detail,
    )
