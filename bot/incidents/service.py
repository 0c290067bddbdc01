"""Plain functions over a connection: read incidents, record what people do, close quiet ones.

Applying Alertmanager notifications is in `bot.alerts.apply` (the hot path); everything here
runs at human speed or from the quiet-period sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from bot.incidents.models import (
    AlertView,
    EventView,
    Incident,
    IncidentAlert,
    IncidentEvent,
    IncidentStatus,
    IncidentView,
    aware,
)

_INC = Incident.__table__
_ALERT = IncidentAlert.__table__
_EVENT = IncidentEvent.__table__


def _view(row: Any, alerts: list[AlertView], events: list[EventView]) -> IncidentView:
    return IncidentView(
        id=row.id,
        number=row.number,
        title=row.title,
        severity=row.severity,
        status=row.status,
        commander=row.commander,
        group_key=row.group_key,
        channel=row.channel,
        header_ts=row.header_ts,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        updated_at=aware(row.updated_at),  # type: ignore[arg-type]
        resolved_at=aware(row.resolved_at),
        model=row.model,
        production_version=row.production_version,
        runbook_id=row.runbook_id,
        last_alert_at=aware(row.last_alert_at),  # type: ignore[arg-type]
        published_event_id=row.published_event_id,
        summary=row.summary or "",
        alerts=alerts,
        events=events,
        impact=row.impact or "",
        participants=list(row.participants or []),
        drill=bool(getattr(row, "drill", False)),
        resolved_version=row.resolved_version,
    )


def _alerts(conn: Connection, incident_id: int) -> list[AlertView]:
    rows = conn.execute(
        select(_ALERT).where(_ALERT.c.incident_id == incident_id).order_by(_ALERT.c.id)
    )
    return [
        AlertView(
            fingerprint=r.fingerprint,
            alertname=r.alertname,
            status=r.status,
            labels=dict(r.labels or {}),
            annotations=dict(r.annotations or {}),
            starts_at=aware(r.starts_at),  # type: ignore[arg-type]
            ends_at=aware(r.ends_at),
        )
        for r in rows
    ]


def events(conn: Connection, *, incident_id: int, after: int = 0) -> list[EventView]:
    """The incident's timeline (only events with an id above `after`), oldest first."""
    rows = conn.execute(
        select(_EVENT)
        .where(_EVENT.c.incident_id == incident_id, _EVENT.c.id > after)
        .order_by(_EVENT.c.id)
    )
    return [
        EventView(
            id=r.id,
            kind=r.kind,
            text=r.text or "",
            actor=r.actor,
            at=aware(r.at),  # type: ignore[arg-type]
            data=dict(r.data or {}),
        )
        for r in rows
    ]


def get(
    conn: Connection, *, incident_id: int | None = None, number: int | None = None
) -> IncidentView | None:
    """One incident with its alerts and whole timeline, by id or by number."""
    query = select(_INC)
    if incident_id is not None:
        query = query.where(_INC.c.id == incident_id)
    elif number is not None:
        query = query.where(_INC.c.number == number)
    else:
        raise ValueError("give incident_id or number")
    row = conn.execute(query).first()
    if row is None:
        return None
    return _view(row, _alerts(conn, row.id), events(conn, incident_id=row.id))


def by_thread(conn: Connection, *, channel: str, ts: str) -> IncidentView | None:
    """The incident whose header message is `ts` in `channel`."""
    row = conn.execute(
        select(_INC.c.id).where(_INC.c.channel == channel, _INC.c.header_ts == ts)
    ).first()
    return get(conn, incident_id=row.id) if row else None


def listing(conn: Connection, *, open_only: bool = False, limit: int = 20) -> list[IncidentView]:
    """Open incidents first (newest first), then recently resolved ones; without alerts."""
    query = select(_INC).order_by(_INC.c.number.desc()).limit(limit)
    if open_only:
        query = query.where(_INC.c.status != IncidentStatus.RESOLVED.value)
    rows = list(conn.execute(query))
    views = [_view(r, _alerts(conn, r.id), []) for r in rows]
    return sorted(views, key=lambda v: (not v.is_open, -v.number))


def unpublished_ids(conn: Connection) -> list[int]:
    """Incidents with timeline events that are not in Slack yet (after a restart, say)."""
    latest = (
        select(func.max(_EVENT.c.id)).where(_EVENT.c.incident_id == _INC.c.id).scalar_subquery()
    )
    rows = conn.execute(
        select(_INC.c.id).where(_INC.c.header_ts.is_(None) | (_INC.c.published_event_id < latest))
    )
    return [r.id for r in rows]


def add_event(
    conn: Connection,
    *,
    incident_id: int,
    kind: str,
    now: datetime,
    text: str = "",
    actor: str | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Append one line to the timeline and return its id."""
    # The incident row first: its lock, held to commit, makes the event ids of one incident
    # commit in the order they are allocated (on PostgreSQL; SQLite has one writer anyway), so
    # the publisher's "events above published_event_id" never misses one committed late.
    conn.execute(update(_INC).where(_INC.c.id == incident_id).values(updated_at=now))
    event_id = conn.execute(
        insert(_EVENT)
        .values(incident_id=incident_id, kind=kind, text=text, actor=actor, at=now, data=data or {})
        .returning(_EVENT.c.id)
    ).scalar_one()
    return int(event_id)


def set_commander(
    conn: Connection, *, incident_id: int, user: str, now: datetime, by: str | None = None
) -> bool:
    """Make `user` the incident commander (named by `by`, else self-taken); False if already."""
    result = conn.execute(
        update(_INC)
        .where(_INC.c.id == incident_id, (_INC.c.commander != user) | _INC.c.commander.is_(None))
        .values(commander=user, updated_at=now)
    )
    if not result.rowcount:
        return False
    data = {"by": by} if by and by != user else {}
    add_event(conn, incident_id=incident_id, kind="commander", now=now, actor=user, data=data)
    add_participant(conn, incident_id=incident_id, user=by or user)
    return True


def add_participant(conn: Connection, *, incident_id: int, user: str | None) -> None:
    """Remember that `user` acted on the incident (once)."""
    if not user:
        return
    row = conn.execute(select(_INC.c.participants).where(_INC.c.id == incident_id)).first()
    if row is None:
        return
    people = list(row.participants or [])
    if user not in people:
        conn.execute(
            update(_INC).where(_INC.c.id == incident_id).values(participants=[*people, user])
        )


def declare(
    conn: Connection,
    *,
    title: str,
    severity: str,
    actor: str,
    model: str,
    now: datetime,
    token: str,
) -> tuple[int, int]:
    """Open an incident by hand, `actor` its commander; (id, number). IntegrityError: retry."""
    number = conn.execute(select(func.coalesce(func.max(_INC.c.number), 0) + 1)).scalar_one()
    incident_id = conn.execute(
        insert(_INC)
        .values(
            number=number,
            title=title[:200],
            severity=severity,
            status=IncidentStatus.INVESTIGATING.value,
            commander=actor,
            group_key=f"declared:{token}",
            open_key=None,  # no alert group: alerts never attach to a declared incident
            created_at=now,
            updated_at=now,
            model=model[:128],
            last_alert_at=now,
            published_event_id=0,
            summary="",
            impact="",
            participants=[actor],
        )
        .returning(_INC.c.id)
    ).scalar_one()
    add_event(
        conn,
        incident_id=incident_id,
        kind="opened",
        now=now,
        actor=actor,
        text=title[:200],
        data={"declared": True, "severity": severity},
    )
    return int(incident_id), int(number)


def _current(conn: Connection, incident_id: int) -> Any:
    return conn.execute(select(_INC).where(_INC.c.id == incident_id)).first()


def set_status(
    conn: Connection, *, incident_id: int, status: str, now: datetime, actor: str, note: str = ""
) -> str | None:
    """Move an open incident to `status` (not resolved: see `resolve`); the old status or None."""
    row = _current(conn, incident_id)
    if row is None or row.status == IncidentStatus.RESOLVED or row.status == status:
        return None
    conn.execute(update(_INC).where(_INC.c.id == incident_id).values(status=status))
    add_event(
        conn,
        incident_id=incident_id,
        kind="status",
        now=now,
        actor=actor,
        text=note[:4000],
        data={"from": row.status, "to": status},
    )
    add_participant(conn, incident_id=incident_id, user=actor)
    return str(row.status)


def set_severity(
    conn: Connection, *, incident_id: int, severity: str, now: datetime, actor: str
) -> str | None:
    """Change the severity; the old one, or None if unchanged."""
    row = _current(conn, incident_id)
    if row is None or row.severity == severity:
        return None
    conn.execute(update(_INC).where(_INC.c.id == incident_id).values(severity=severity))
    add_event(
        conn,
        incident_id=incident_id,
        kind="severity",
        now=now,
        actor=actor,
        data={"from": row.severity, "to": severity},
    )
    add_participant(conn, incident_id=incident_id, user=actor)
    return str(row.severity)


def set_impact(
    conn: Connection, *, incident_id: int, impact: str, now: datetime, actor: str
) -> None:
    """Replace the impact statement."""
    conn.execute(update(_INC).where(_INC.c.id == incident_id).values(impact=impact[:4000]))
    add_event(
        conn, incident_id=incident_id, kind="impact", now=now, actor=actor, text=impact[:4000]
    )
    add_participant(conn, incident_id=incident_id, user=actor)


def set_resolved_version(conn: Connection, *, incident_id: int, version: int | None) -> None:
    """The production version when the incident was resolved."""
    conn.execute(update(_INC).where(_INC.c.id == incident_id).values(resolved_version=version))


def has_event(conn: Connection, *, incident_id: int, kind: str, key: str, value: Any) -> bool:
    """Whether the timeline already has a `kind` event whose data[key] == value (pins, runs)."""
    return any(
        e.data.get(key) == value for e in events(conn, incident_id=incident_id) if e.kind == kind
    )


def open_ids(conn: Connection) -> list[int]:
    """Ids of the incidents not resolved yet."""
    rows = conn.execute(select(_INC.c.id).where(_INC.c.status != IncidentStatus.RESOLVED.value))
    return [r.id for r in rows]


def resolved_since(conn: Connection, *, since: datetime) -> list[IncidentView]:
    """Incidents resolved at or after `since`, newest first, with their timelines."""
    rows = conn.execute(
        select(_INC.c.id)
        .where(_INC.c.status == IncidentStatus.RESOLVED.value, _INC.c.resolved_at >= since)
        .order_by(_INC.c.resolved_at.desc())
    )
    return [v for r in rows if (v := get(conn, incident_id=r.id)) is not None]


def resolve(
    conn: Connection,
    *,
    incident_id: int,
    now: datetime,
    actor: str | None,
    summary: str = "",
    reason: str = "human",
) -> bool:
    """Close an open incident (frees its group for a new one); False if it was closed already."""
    result = conn.execute(
        update(_INC)
        .where(_INC.c.id == incident_id, _INC.c.status != IncidentStatus.RESOLVED.value)
        .values(
            status=IncidentStatus.RESOLVED.value,
            open_key=None,
            resolved_at=now,
            updated_at=now,
            summary=summary[:4000],
        )
    )
    if not result.rowcount:
        return False
    add_participant(conn, incident_id=incident_id, user=actor)
    add_event(
        conn,
        incident_id=incident_id,
        kind="resolved",
        now=now,
        actor=actor,
        text=summary[:4000],
        data={"reason": reason},
    )
    return True


def quiet_incidents(conn: Connection, *, now: datetime, quiet: timedelta) -> list[int]:
    """Incidents in `monitoring` whose alerts have said nothing for `quiet`."""
    rows = conn.execute(
        select(_INC.c.id).where(
            _INC.c.status == IncidentStatus.MONITORING.value, _INC.c.last_alert_at <= now - quiet
        )
    )
    return [r.id for r in rows]


def set_opening_facts(
    conn: Connection, *, incident_id: int, production_version: int | None
) -> None:
    """What was true when the incident opened (looked up off the hot path)."""
    conn.execute(
        update(_INC).where(_INC.c.id == incident_id).values(production_version=production_version)
    )


def mark_published(
    conn: Connection,
    *,
    incident_id: int,
    event_id: int,
    channel: str | None = None,
    header_ts: str | None = None,
) -> None:
    """Events up to `event_id` are in Slack; remember where the header is."""
    values: dict[str, Any] = {"published_event_id": event_id}
    if header_ts is not None:
        values.update(channel=channel, header_ts=header_ts)
    conn.execute(update(_INC).where(_INC.c.id == incident_id).values(**values))
