"""Subscriptions to incident updates and the delivery ledger that makes each send happen once.

One ledger row per (incident, subscriber, slot), unique. Its state moves

    queued  -> sending -> sent | failed
    (claimed)  (handed to Slack)

`claim_all` queues a whole audience in one statement (rows that exist are skipped, `failed` ones are
queued again), so a second run of the same slot claims nothing. A sender moves a row to `sending`
just before its post and to `sent`/`failed` after, each move a compare-and-set on (state,
created_at): of two senders, or a sender and the recovery, only one wins a row. `created_at` is
when the row entered its current state.

A crash leaves `queued` rows (never posted: the recovery sends them) or `sending` rows (maybe
posted: the recovery looks for the message in the conversation first; see
`UpdateDelivery.recover` in bot/updates/delivery.py). A post that failed for sure is `failed`
and may be claimed again; a `sending` row whose lookup Slack refused for good (missing scope,
conversation gone) is `failed` with that `error` and is never claimed again, since its post may
have landed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.incidents.models import Severity
from bot.updates.models import IncidentSubscription, IncidentUpdateDelivery

_SUB = IncidentSubscription.__table__
_DEL = IncidentUpdateDelivery.__table__
ALL = "all"
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
_KEY = ("incident_id", "subscriber", "slot")


@dataclass(frozen=True)
class Subscriber:
    id: str
    kind: str  # user | channel
    scope: str  # "all" or an incident id
    min_severity: str | None = None  # only incidents at this severity or worse; None: every one


@dataclass(frozen=True)
class Delivery:
    """The key of one ledger row: this slot's update of this incident to this subscriber."""

    incident_id: int
    subscriber: str
    slot: str


@dataclass(frozen=True)
class Unfinished:
    """A ledger row still `queued` or `sending`, and since when."""

    delivery: Delivery
    kind: str  # user | channel
    state: str
    since: datetime  # when it got there (aware)


def subscribe(
    conn: Connection,
    *,
    subscriber: str,
    kind: str,
    scope: str,
    min_severity: str | None = None,
    now: datetime,
) -> str:
    """Add a subscription or change its severity: "subscribed", "changed" or "already"
    (IntegrityError on a race: it exists)."""
    found = conn.execute(
        select(_SUB.c.id, _SUB.c.min_severity).where(
            _SUB.c.subscriber == subscriber, _SUB.c.scope == scope
        )
    ).first()
    if found is None:
        conn.execute(
            insert(_SUB).values(
                subscriber=subscriber,
                kind=kind,
                scope=scope,
                min_severity=min_severity,
                created_at=now,
            )
        )
        return "subscribed"
    if found.min_severity == min_severity:
        return "already"
    conn.execute(update(_SUB).where(_SUB.c.id == found.id).values(min_severity=min_severity))
    return "changed"


def unsubscribe(conn: Connection, *, subscriber: str, scope: str | None = None) -> int:
    """Remove one subscription (or all of the subscriber's when `scope` is None); how many."""
    query = delete(_SUB).where(_SUB.c.subscriber == subscriber)
    if scope is not None:
        query = query.where(_SUB.c.scope == scope)
    return int(conn.execute(query).rowcount or 0)


def of_subscriber(conn: Connection, *, subscriber: str) -> list[Subscriber]:
    """The subscriptions of one user or channel."""
    rows = conn.execute(select(_SUB).where(_SUB.c.subscriber == subscriber).order_by(_SUB.c.id))
    return [Subscriber(r.subscriber, r.kind, r.scope, r.min_severity) for r in rows]


def for_incident(
    conn: Connection, *, incident_id: int, severity: str | None, drill: bool = False
) -> list[Subscriber]:
    """Everyone subscribed to this incident (directly, or to all at a `severity` preference it
    meets), once each. An unknown severity filters no one out: better one update too many.
    A `drill` incident skips whoever opted out of drills."""
    query = select(_SUB).where(_SUB.c.scope.in_([ALL, str(incident_id)]))
    if drill:
        query = query.where(_SUB.c.skip_drills.is_(False))
    order = [s.value for s in Severity]  # the worst first
    if severity in order:
        # A SEV2 incident reaches the preferences SEV2, SEV3, SEV4 and none.
        wanting = order[order.index(severity) :]
        query = query.where(or_(_SUB.c.min_severity.is_(None), _SUB.c.min_severity.in_(wanting)))
    seen: dict[str, Subscriber] = {}
    for r in conn.execute(query.order_by(_SUB.c.id)):
        seen.setdefault(r.subscriber, Subscriber(r.subscriber, r.kind, r.scope, r.min_severity))
    return list(seen.values())


def claim_all(
    conn: Connection, *, incident_id: int, slot: str, subscribers: list[str], now: datetime
) -> set[str]:
    """Queue this slot for every subscriber without a row or whose post failed; those queued now."""
    if not subscribers:
        return set()
    rows = [
        {
            "incident_id": incident_id,
            "subscriber": s,
            "slot": slot,
            "state": QUEUED,
            "created_at": now,
        }
        for s in subscribers
    ]
    claimed = set(_insert_missing(conn, rows))
    facts = {"incident_id": incident_id, "slot": slot, "subscribers": subscribers, "now": now}
    return claimed | _move(conn, **facts, source=FAILED, target=QUEUED)


def _insert_missing(conn: Connection, rows: list[dict[str, object]]) -> list[str]:
    """Insert the rows whose key is free (one statement on SQLite and PostgreSQL); whose they are."""
    dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(conn.dialect.name)
    if dialect is not None:
        statement = (
            dialect.insert(_DEL)
            .on_conflict_do_nothing(index_elements=list(_KEY))
            .returning(_DEL.c.subscriber)
        )
        return list(conn.execute(statement, rows).scalars())
    inserted = []
    for row in rows:  # any other database: a savepoint per row
        try:
            with conn.begin_nested():
                conn.execute(insert(_DEL).values(**row))
        except IntegrityError:
            continue
        inserted.append(str(row["subscriber"]))
    return inserted


def start_all(
    conn: Connection, *, incident_id: int, slot: str, subscribers: list[str], now: datetime
) -> set[str]:
    """queued -> sending, just before the posts; the subscribers this call moved (not the others')."""
    if not subscribers:
        return set()
    facts = {"incident_id": incident_id, "slot": slot, "subscribers": subscribers, "now": now}
    return _move(conn, **facts, source=QUEUED, target=SENDING)


def _move(
    conn: Connection,
    *,
    incident_id: int,
    slot: str,
    subscribers: list[str],
    source: str,
    target: str,
    now: datetime,
) -> set[str]:
    """source -> target for these subscribers' rows of one slot (the state's time is `now`);
    the subscribers whose row this call moved."""
    query = update(_DEL).where(
        _DEL.c.incident_id == incident_id,
        _DEL.c.slot == slot,
        _DEL.c.subscriber.in_(subscribers),
        _DEL.c.state == source,
    )
    if source == FAILED:  # one whose post may have landed (its error says why) stays failed
        query = query.where(_DEL.c.error.is_(None))
    moved = conn.execute(query.values(state=target, created_at=now).returning(_DEL.c.subscriber))
    return set(moved.scalars())


def finish_all(
    conn: Connection,
    *,
    incident_id: int,
    slot: str,
    finished: Iterable[tuple[str, bool, datetime]],
    now: datetime,
) -> int:
    """(subscriber, sent, started at) of finished posts: sending -> sent | failed; how many moved.

    A row that another sender took over since (its `created_at` moved on) is left alone."""
    params = [
        {
            "b_sub": sub,
            "b_since": since,
            "b_state": SENT if ok else FAILED,
            "b_at": now if ok else None,
        }
        for sub, ok, since in finished
    ]
    if not params:
        return 0
    statement = (
        update(_DEL)
        .where(
            _DEL.c.incident_id == incident_id,
            _DEL.c.slot == slot,
            _DEL.c.subscriber == bindparam("b_sub"),
            _DEL.c.state == SENDING,
            _DEL.c.created_at == bindparam("b_since"),
        )
        .values(state=bindparam("b_state"), sent_at=bindparam("b_at"))
    )
    return int(conn.execute(statement, params).rowcount or 0)


def advance(
    conn: Connection,
    *,
    incident_id: int,
    slot: str,
    finished: list[tuple[str, bool, datetime]],
    start: list[str],
    now: datetime,
) -> set[str]:
    """`finish_all` and `start_all` in one transaction: a fan-out's one round trip per batch."""
    facts = {"incident_id": incident_id, "slot": slot, "now": now}
    finish_all(conn, finished=finished, **facts)
    return start_all(conn, subscribers=start, **facts)


def unfinished(conn: Connection) -> list[Unfinished]:
    """Every delivery still `queued` or `sending`, oldest first (what a recovery pass looks at)."""
    kind = (
        select(func.min(_SUB.c.kind)).where(_SUB.c.subscriber == _DEL.c.subscriber)
    ).scalar_subquery()
    rows = conn.execute(
        select(_DEL.c.incident_id, _DEL.c.subscriber, _DEL.c.slot, _DEL.c.state, _DEL.c.created_at)
        .add_columns(kind.label("kind"))
        .where(_DEL.c.state.in_([QUEUED, SENDING]))
        .order_by(_DEL.c.id)
    )
    return [
        Unfinished(
            Delivery(r.incident_id, r.subscriber, r.slot),
            # STAKEHOLDER_CHANNEL has no subscription row; Slack ids say what they name.
            r.kind or ("user" if r.subscriber[:1] in ("U", "W") else "channel"),
            r.state,
            # SQLite hands back naive datetimes; everything stored is UTC.
            r.created_at if r.created_at.tzinfo else r.created_at.replace(tzinfo=UTC),
        )
        for r in rows
    ]


def settle(
    conn: Connection,
    *,
    found: list[tuple[Delivery, datetime]],
    missing: list[tuple[Delivery, datetime]],
    now: datetime,
) -> list[Delivery]:
    """After a recovery looked in Slack: `sending` rows found there -> sent, the missing ones ->
    queued (to be posted again); each only if still as seen (`created_at`). The re-queued ones."""
    requeued = []
    for delivery, since, values in [
        *((d, t, {"state": SENT, "sent_at": now}) for d, t in found),
        *((d, t, {"state": QUEUED, "created_at": now}) for d, t in missing),
    ]:
        moved = conn.execute(
            update(_DEL)
            .where(_is(delivery), _DEL.c.state == SENDING, _DEL.c.created_at == since)
            .values(**values)
        )
        if moved.rowcount and values["state"] == QUEUED:
            requeued.append(delivery)
    return requeued


def fail_unknowable(
    conn: Connection, *, failed: list[tuple[Delivery, datetime, str]], now: datetime
) -> list[Delivery]:
    """`sending` rows whose lookup Slack refused for good (missing scope, conversation gone):
    -> failed with that error, each only if still as seen; the ones this call moved. Their
    post may have landed, so no later claim posts them again."""
    moved_rows = []
    for delivery, since, error in failed:
        moved = conn.execute(
            update(_DEL)
            .where(_is(delivery), _DEL.c.state == SENDING, _DEL.c.created_at == since)
            .values(state=FAILED, created_at=now, error=error[:200])
        )
        if moved.rowcount:
            moved_rows.append(delivery)
    return moved_rows


def _is(delivery: Delivery) -> ColumnElement[bool]:
    return and_(
        _DEL.c.incident_id == delivery.incident_id,
        _DEL.c.subscriber == delivery.subscriber,
        _DEL.c.slot == delivery.slot,
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
            _DEL.c.incident_id == incident_id, _DEL.c.state == SENT
        )
    ).scalar_one_or_none()


def set_skip_drills(conn: Connection, *, subscriber: str, skip: bool) -> int:
    """Opt a subscriber's subscriptions out of (or back into) drill updates; how many changed."""
    result = conn.execute(
        update(_SUB).where(_SUB.c.subscriber == subscriber).values(skip_drills=skip)
    )
    return int(result.rowcount or 0)
