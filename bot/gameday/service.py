"""Plain functions over the drill runs table (bot/gameday/models.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.audit.models import AuditRecord
from bot.gameday.models import DrillOutcome, DrillStatus, GamedayRun
from bot.incidents.models import Incident, IncidentStatus
from bot.updates.models import IncidentReminder, IncidentUpdateDelivery

_RUNS = GamedayRun.__table__


@dataclass(frozen=True)
class DrillRow:
    id: int
    scenario: str
    status: str
    owner: str
    speed: float
    forced: bool
    channel: str | None
    thread_ts: str | None
    state: dict[str, Any]
    started_at: datetime
    outcome: str | None
    report: dict[str, Any] | None


def _row(r: Any) -> DrillRow:
    return DrillRow(
        r.id, r.scenario, r.status, r.owner, r.speed, bool(r.forced), r.channel, r.thread_ts,
        dict(r.state or {}), r.started_at, r.outcome, r.report,
    )  # fmt: skip


def create(
    conn: Connection, *, scenario: str, owner: str, speed: float, forced: bool, now: datetime
) -> int | None:
    """A new running drill; None when another drill runs (the `active` unique key)."""
    try:
        with conn.begin_nested():
            return int(
                conn.execute(
                    insert(_RUNS)
                    .values(
                        scenario=scenario, status=DrillStatus.RUNNING.value, active=1,
                        owner=owner, speed=speed, forced=forced, state={}, started_at=now,
                    )
                    .returning(_RUNS.c.id)
                ).scalar_one()
            )  # fmt: skip
    except IntegrityError:
        return None


def active(conn: Connection) -> DrillRow | None:
    """The drill that runs now, if any."""
    r = conn.execute(select(_RUNS).where(_RUNS.c.active.is_not(None))).first()
    return _row(r) if r is not None else None


def get(conn: Connection, *, run_id: int) -> DrillRow | None:
    r = conn.execute(select(_RUNS).where(_RUNS.c.id == run_id)).first()
    return _row(r) if r is not None else None


def save(conn: Connection, *, run_id: int, **values: Any) -> None:
    conn.execute(update(_RUNS).where(_RUNS.c.id == run_id).values(**values))


def finish(
    conn: Connection, *, run_id: int, outcome: DrillOutcome, report: dict[str, Any], now: datetime
) -> None:
    """The drill is over: frees the `active` key for the next one."""
    save(
        conn,
        run_id=run_id,
        status=DrillStatus.FINISHED.value,
        active=None,
        outcome=outcome.value,
        report=report,
        finished_at=now,
    )


def open_real_incidents(conn: Connection) -> list[int]:
    """Numbers of open incidents that are not drills (a drill is refused while one is open)."""
    inc = Incident.__table__
    rows = conn.execute(
        select(inc.c.number).where(
            inc.c.status != IncidentStatus.RESOLVED.value, inc.c.drill.is_(False)
        )
    )
    return [int(n) for (n,) in rows]


def drill_incidents(conn: Connection, *, since: datetime) -> list[int]:
    """Ids of the incidents tagged DRILL opened since `since`."""
    inc = Incident.__table__
    rows = conn.execute(
        select(inc.c.id).where(inc.c.drill.is_(True), inc.c.created_at >= since).order_by(inc.c.id)
    )
    return [int(i) for (i,) in rows]


def deliveries(conn: Connection, *, incident_ids: list[int]) -> dict[str, int]:
    """Ledger rows of these incidents by state (sent, failed, queued, sending)."""
    if not incident_ids:
        return {}
    led = IncidentUpdateDelivery.__table__
    rows = conn.execute(
        select(led.c.state, func.count())
        .where(led.c.incident_id.in_(incident_ids))
        .group_by(led.c.state)
    )
    return {str(state): int(n) for state, n in rows}


def scheduled_slots(conn: Connection, *, incident_id: int) -> dict[str, set[str]]:
    """Subscribers each scheduled update slot of an incident was sent to (the ledger)."""
    led = IncidentUpdateDelivery.__table__
    rows = conn.execute(
        select(led.c.slot, led.c.subscriber).where(
            led.c.incident_id == incident_id, led.c.state == "sent", led.c.slot.like("every%")
        )
    )
    found: dict[str, set[str]] = {}
    for slot, subscriber in rows:
        found.setdefault(str(slot), set()).add(str(subscriber))
    return found


def reminders_posted(conn: Connection, *, incident_ids: list[int]) -> int:
    """Commander reminders posted for these incidents."""
    if not incident_ids:
        return 0
    rem = IncidentReminder.__table__
    return int(
        conn.execute(
            select(func.count()).where(rem.c.incident_id.in_(incident_ids), rem.c.ts.is_not(None))
        ).scalar_one()
    )


def chat_actions(conn: Connection, *, since: datetime, until: datetime) -> int:
    """Commands and clicks people (or the scripted responder) made in this window, besides
    the game day's own commands."""
    audit = AuditRecord.__table__
    return int(
        conn.execute(
            select(func.count()).where(
                audit.c.at >= since,
                audit.c.at <= until,
                ~audit.c.action.like("%gameday%"),
                audit.c.result != "denied",
            )
        ).scalar_one()
    )
