"""Subscriptions to incident updates and the delivery ledger that makes each send happen once.

A delivery row is claimed (`sending`) before the message is posted and marked `sent` after, under
a unique (incident, subscriber, slot) key: a second run of the same slot finds the row and posts
nothing. A crash between post and mark leaves `sending`, which is never re-sent blindly (a
duplicate is worse than a missed status update); a post that failed for sure is `failed` and may
be claimed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from bot.incidents.models import IncidentSubscription, IncidentUpdateDelivery

_SUB = IncidentSubscription.__table__
_DEL = IncidentUpdateDelivery.__table__
ALL = "all"


@dataclass(frozen=True)
class Subscriber:
    id: str
    kind: str  # user | channel
    scope: str  # "all" or an incident id


def subscribe(conn: Connection, *, subscriber: str, kind: str, scope: str, now: datetime) -> bool:
    """Add a subscription; False if it existed already (IntegrityError on a race: it exists)."""
    found = conn.execute(
        select(_SUB.c.id).where(_SUB.c.subscriber == subscriber, _SUB.c.scope == scope)
    ).first()
    if found is not None:
        return False
    conn.execute(insert(_SUB).values(subscriber=subscriber, kind=kind, scope=scope, created_at=now))
    return True


def unsubscribe(conn: Connection, *, subscriber: str, scope: str | None = None) -> int:
    """Remove one subscription (or all of the subscriber's when `scope` is None); how many."""
    query = delete(_SUB).where(_SUB.c.subscriber == subscriber)
    if scope is not None:
        query = query.where(_SUB.c.scope == scope)
    return int(conn.execute(query).rowcount or 0)


def of_subscriber(conn: Connection, *, subscriber: str) -> list[Subscriber]:
    """The subscriptions of one user or channel."""
    rows = conn.execute(select(_SUB).where(_SUB.c.subscriber == subscriber).order_by(_SUB.c.id))
    return [Subscriber(r.subscriber, r.kind, r.scope) for r in rows]


def for_incident(conn: Connection, *, incident_id: int) -> list[Subscriber]:
    """Everyone subscribed to this incident (directly or to all), once each."""
    rows = conn.execute(
        select(_SUB).where(_SUB.c.scope.in_([ALL, str(incident_id)])).order_by(_SUB.c.id)
    )
    seen: dict[str, Subscriber] = {}
    for r in rows:
        seen.setdefault(r.subscriber, Subscriber(r.subscriber, r.kind, r.scope))
    return list(seen.values())


def claim(conn: Connection, *, incident_id: int, subscriber: str, slot: str, now: datetime) -> bool:
    """Take the right to send this slot to this subscriber (IntegrityError: someone has it)."""
    conn.execute(
        insert(_DEL).values(
            incident_id=incident_id,
            subscriber=subscriber,
            slot=slot,
            state="sending",
            created_at=now,
        )
    )
    return True


def reclaim_failed(
    conn: Connection, *, incident_id: int, subscriber: str, slot: str, now: datetime
) -> bool:
    """Take a delivery whose earlier post failed for sure; False if it is sent or in flight."""
    retried = conn.execute(
        update(_DEL)
        .where(
            _DEL.c.incident_id == incident_id,
            _DEL.c.subscriber == subscriber,
            _DEL.c.slot == slot,
            _DEL.c.state == "failed",
        )
        .values(state="sending", created_at=now)
    )
    return bool(retried.rowcount)


def finish(
    conn: Connection, *, incident_id: int, subscriber: str, slot: str, sent: bool, now: datetime
) -> None:
    """Mark a claimed delivery sent (or failed, so that a later run may try again)."""
    conn.execute(
        update(_DEL)
        .where(
            _DEL.c.incident_id == incident_id,
            _DEL.c.subscriber == subscriber,
            _DEL.c.slot == slot,
        )
        .values(state="sent" if sent else "failed", sent_at=now if sent else None)
    )


def delivered(conn: Connection, *, incident_id: int) -> list[tuple[str, str, str]]:
    """(subscriber, slot, state) of every delivery of an incident (tests, the timeline)."""
    rows = conn.execute(
        select(_DEL.c.subscriber, _DEL.c.slot, _DEL.c.state)
        .where(_DEL.c.incident_id == incident_id)
        .order_by(_DEL.c.id)
    )
    return [(r.subscriber, r.slot, r.state) for r in rows]


def last_sent_at(conn: Connection, *, incident_id: int) -> datetime | None:
    """When this incident's subscribers last got an update (None: never)."""
    return conn.execute(
        select(func.max(_DEL.c.sent_at)).where(
            _DEL.c.incident_id == incident_id, _DEL.c.state == "sent"
        )
    ).scalar_one_or_none()
