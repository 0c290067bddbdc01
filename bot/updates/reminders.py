"""Commander reminders: no human update went to stakeholders for one update interval.

At every update tick (and when a snooze ends) the bot asks `due_slot`; if the commander has been
silent for an interval, a reminder goes into the incident's thread with "Post update" (a modal
prefilled from the timeline) and "Snooze 30 min".

Reminders of one silence form a chain: the first after a human update has slot `u<event id>`
(`u0` before any), each later one `r<id of the reminder before it>`. The unique (incident, slot)
key is what makes the update tick and the end of a snooze, or two processes, that race for the
same reminder post it once. A human update starts a new chain.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from bot.db import Database, utcnow
from bot.incidents import service
from bot.incidents.models import EventView, IncidentView, aware
from bot.updates.facts import last_human_update
from bot.updates.models import IncidentReminder
from bot.updates.pace import MINUTE, UpdatePace

log = logging.getLogger(__name__)
T = TypeVar("T")

_REM = IncidentReminder.__table__
SNOOZE = timedelta(minutes=30)
# Job runs drift by seconds; a reminder due "one interval" after an update must not miss its tick.
TOLERANCE = timedelta(minutes=1)
# What does not count as "done since the last update" in the prefilled draft.
_NOT_NEWS = frozenset({"update", "update_sent", "update_undelivered", "diagnosis"})


@dataclass(frozen=True)
class ReminderView:
    id: int
    incident_id: int
    slot: str
    commander: str | None
    channel: str | None
    ts: str | None
    created_at: datetime
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None
    snoozed_until: datetime | None


# --- storage ---------------------------------------------------------------------------------
def _view(row: Any) -> ReminderView:
    return ReminderView(
        id=row.id,
        incident_id=row.incident_id,
        slot=row.slot,
        commander=row.commander,
        channel=row.channel,
        ts=row.ts,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        answer=row.answer,
        answered_by=row.answered_by,
        answered_at=aware(row.answered_at),
        snoozed_until=aware(row.snoozed_until),
    )


def get_reminder(conn: Connection, *, reminder_id: int) -> ReminderView | None:
    row = conn.execute(select(_REM).where(_REM.c.id == reminder_id)).first()
    return _view(row) if row else None


def latest(conn: Connection, *, incident_id: int) -> ReminderView | None:
    """The incident's most recent reminder."""
    row = conn.execute(
        select(_REM).where(_REM.c.incident_id == incident_id).order_by(_REM.c.id.desc()).limit(1)
    ).first()
    return _view(row) if row else None


def claim(
    conn: Connection, *, incident_id: int, slot: str, commander: str | None, now: datetime
) -> int:
    """Take the right to post this reminder; its id (IntegrityError: someone has it)."""
    result = conn.execute(
        insert(_REM).values(incident_id=incident_id, slot=slot, commander=commander, created_at=now)
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def mark_posted(conn: Connection, *, reminder_id: int, channel: str, ts: str) -> None:
    conn.execute(update(_REM).where(_REM.c.id == reminder_id).values(channel=channel, ts=ts))


def drop(conn: Connection, *, reminder_id: int) -> None:
    """Forget a reminder whose post failed, so that the next tick may try again."""
    conn.execute(_REM.delete().where(_REM.c.id == reminder_id))


def answer(
    conn: Connection,
    *,
    reminder_id: int,
    kind: str,
    user: str,
    now: datetime,
    snoozed_until: datetime | None = None,
) -> bool:
    """Record the first answer to a reminder (snoozed | updated); False if it had one."""
    done = conn.execute(
        update(_REM)
        .where(_REM.c.id == reminder_id, _REM.c.answer.is_(None))
        .values(answer=kind, answered_by=user, answered_at=now, snoozed_until=snoozed_until)
    )
    return bool(done.rowcount)


# --- the decision ----------------------------------------------------------------------------
def silent_since(incident: IncidentView) -> datetime:
    found = last_human_update(incident)
    return found.at if found is not None else incident.created_at


def due_slot(
    incident: IncidentView,
    previous: ReminderView | None,
    *,
    interval: timedelta,
    now: datetime,
    tolerance: timedelta = TOLERANCE,
) -> str | None:
    """The slot of the reminder due now, or None when none is."""
    since = silent_since(incident)
    if now - since < interval - tolerance:
        return None  # someone gave an update within the interval
    if previous is None or previous.created_at < since:
        update_event = last_human_update(incident)
        return f"u{update_event.id if update_event else 0}"  # first reminder of this silence
    if previous.snoozed_until is not None and previous.snoozed_until > now:
        return None
    if previous.answer is None and now - previous.created_at < interval - tolerance:
        return None  # reminded during this interval already
    return f"r{previous.id}"


def news_since_update(incident: IncidentView) -> list[EventView]:
    """Timeline events since the last human update: what the prefilled draft reports."""
    since = silent_since(incident)
    return [e for e in incident.events if e.at > since and e.kind not in _NOT_NEWS]


# --- the flow --------------------------------------------------------------------------------
class ReminderPoster(Protocol):
    """The chat side: the reminder in the incident's thread, and its edit once answered."""

    async def post_reminder(
        self, incident: IncidentView, reminder: ReminderView, *, silent_for: timedelta
    ) -> tuple[str, str]:
        """Post it; returns (channel, ts)."""
        ...

    async def show_answer(self, incident: IncidentView, reminder: ReminderView) -> None: ...


class SnoozeClock(Protocol):
    """One one-shot timer per incident: the end of a snooze."""

    def start(self, incident_id: int, at: datetime) -> None: ...

    def stop(self, incident_id: int) -> None: ...


class CommanderReminders:
    def __init__(
        self,
        *,
        db: Database,
        poster: ReminderPoster,
        snoozes: SnoozeClock,
        cadence: Callable[[str], int],
        clock: Callable[[], datetime] = utcnow,
        snooze: timedelta = SNOOZE,
        pace: UpdatePace | None = None,
    ) -> None:
        self.db = db
        self.poster = poster
        self.snoozes = snoozes
        self.cadence = cadence  # severity → update interval in minutes (0: none)
        self.clock = clock
        self.snooze_for = snooze
        self.pace = pace or UpdatePace()  # a drill's --speed shortens the cadence minute

    async def _db(self, fn: Callable[..., T], **kwargs: Any) -> T:
        return await self.db.call(fn, **kwargs)

    async def check(self, incident_id: int) -> ReminderView | None:
        """Remind the commander if due (the end of a snooze); the reminder posted."""
        incident = await self._db(service.get, incident_id=incident_id)
        return await self.remind_if_due(incident) if incident is not None else None

    async def remind_if_due(self, incident: IncidentView) -> ReminderView | None:
        """`check` for an incident already read (the update tick); the reminder posted."""
        incident_id = incident.id
        if not incident.is_open or not incident.header_ts:
            return None
        minutes = self.cadence(incident.severity)
        if minutes <= 0:
            return None
        now = self.clock()
        previous = await self._db(latest, incident_id=incident_id)
        slot = due_slot(
            incident,
            previous,
            interval=self.pace.minutes(minutes),
            now=now,
            tolerance=self.pace.minutes(TOLERANCE / MINUTE),
        )
        if slot is None:
            return None
        try:
            reminder_id = await self._db(
                claim, incident_id=incident_id, slot=slot, commander=incident.commander, now=now
            )
        except IntegrityError:
            return None  # the other tick (or process) posts it
        reminder = await self._db(get_reminder, reminder_id=reminder_id)
        assert reminder is not None
        try:
            channel, ts = await self.poster.post_reminder(
                incident, reminder, silent_for=now - silent_since(incident)
            )
        except Exception:
            log.exception("reminder for %s not posted", incident.ref)
            await self._db(drop, reminder_id=reminder_id)
            return None
        await self._db(mark_posted, reminder_id=reminder_id, channel=channel, ts=ts)
        return await self._db(get_reminder, reminder_id=reminder_id)

    async def snooze(self, *, reminder_id: int, user: str) -> tuple[bool, ReminderView | None]:
        """Quiet the reminders for 30 min: (snoozed now, the reminder as it is after)."""
        now = self.clock()
        until = now + self.pace.minutes(self.snooze_for / MINUTE)
        done = await self._db(
            answer, reminder_id=reminder_id, kind="snoozed", user=user, now=now, snoozed_until=until
        )
        reminder = await self._db(get_reminder, reminder_id=reminder_id)
        if done and reminder is not None:
            await asyncio.to_thread(self.snoozes.start, reminder.incident_id, until)
            await self._show(reminder)
        return done, reminder

    async def updated(self, *, reminder_id: int, user: str) -> None:
        """Someone answered the reminder with an update (the modal)."""
        done = await self._db(
            answer, reminder_id=reminder_id, kind="updated", user=user, now=self.clock()
        )
        reminder = await self._db(get_reminder, reminder_id=reminder_id)
        if done and reminder is not None:
            await self._show(reminder)

    async def closed(self, incident_id: int) -> None:
        """The incident is resolved: no snooze may bring a reminder back."""
        await asyncio.to_thread(self.snoozes.stop, incident_id)

    async def reminder(self, reminder_id: int) -> ReminderView | None:
        return await self._db(get_reminder, reminder_id=reminder_id)

    async def _show(self, reminder: ReminderView) -> None:
        incident = await self._db(service.get, incident_id=reminder.incident_id)
        if incident is None or not reminder.ts:
            return
        try:
            await self.poster.show_answer(incident, reminder)
        except Exception:  # the answer is stored; the edit is cosmetic
            log.exception("reminder %s of %s not edited", reminder.id, incident.ref)
