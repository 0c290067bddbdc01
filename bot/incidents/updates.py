"""Stakeholder updates: to every subscriber of an incident, on a clock set by its severity.

The clock itself (APScheduler, persistent job store) is in `bot.incidents.scheduled`; this module
only needs the small `UpdateSchedule` protocol, and the chat side is an `UpdateNotifier`. Every
send goes through the delivery ledger (`subscriptions.claim`), one row per (incident, subscriber,
slot), so a retried or doubled job run never posts twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from bot.db import Database, utcnow
from bot.incidents import service, subscriptions
from bot.incidents.apply import aware
from bot.incidents.models import EventView, IncidentView
from bot.incidents.subscriptions import Subscriber

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_DONE_LINES = 10


class UpdateNotifier(Protocol):
    """The chat side: one rendered update to one subscriber (a DM for users)."""

    async def send(
        self,
        subscriber: Subscriber,
        *,
        kind: str,
        incident: IncidentView,
        done: list[EventView],
        text: str,
        next_update: datetime | None,
    ) -> None: ...


class UpdateSchedule(Protocol):
    """One repeating timer per open incident."""

    def start(self, incident_id: int, minutes: int, now: datetime) -> None:
        """Add the timer, or restart it from `now` with this cadence."""
        ...

    def stop(self, incident_id: int) -> None: ...

    def current(self, incident_id: int) -> tuple[datetime, int] | None:
        """(first due time, cadence in minutes) of the timer, or None."""
        ...


def next_due(first: datetime, minutes: int, now: datetime) -> datetime:
    """The first time of the series first, first + minutes, ... that is after `now`."""
    if now < first:
        return first
    step = timedelta(minutes=minutes)
    return first + step * (int((now - first) / step) + 1)


class IncidentUpdates:
    def __init__(
        self,
        *,
        db: Database,
        notifier: UpdateNotifier,
        schedule: UpdateSchedule,
        cadence: dict[str, int],
        stakeholder_channel: str | None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.notifier = notifier
        self.schedule = schedule
        self.cadence = cadence
        self.stakeholder_channel = stakeholder_channel
        self.clock = clock

    async def _db(self, fn: Callable[..., T], **kwargs: Any) -> T:
        def run() -> T:
            with self.db.connection() as conn:
                return fn(conn, **kwargs)

        return await asyncio.to_thread(run)

    # --- subscriptions -------------------------------------------------------------------------
    async def subscribe(self, *, subscriber: str, kind: str, incident_id: int | None) -> bool:
        scope = subscriptions.ALL if incident_id is None else str(incident_id)
        try:
            return await self._db(
                subscriptions.subscribe,
                subscriber=subscriber,
                kind=kind,
                scope=scope,
                now=self.clock(),
            )
        except IntegrityError:  # the same subscription, at the same moment
            return False

    async def unsubscribe(self, *, subscriber: str, incident_id: int | None) -> int:
        scope = None if incident_id is None else str(incident_id)
        return await self._db(subscriptions.unsubscribe, subscriber=subscriber, scope=scope)

    async def subscriptions_of(self, subscriber: str) -> list[Subscriber]:
        return await self._db(subscriptions.of_subscriber, subscriber=subscriber)

    async def audience(self, incident_id: int) -> list[Subscriber]:
        """The subscribers of an incident, with STAKEHOLDER_CHANNEL always among them."""
        found = await self._db(subscriptions.for_incident, incident_id=incident_id)
        channel = self.stakeholder_channel
        if channel and all(s.id != channel for s in found):
            found.insert(0, Subscriber(channel, "channel", subscriptions.ALL))
        return found

    # --- the clock -----------------------------------------------------------------------------
    def minutes_for(self, severity: str) -> int:
        return max(0, int(self.cadence.get(severity, 0)))

    def next_update(self, incident_id: int) -> datetime | None:
        """When the next scheduled update is due (None: no timer)."""
        try:
            current = self.schedule.current(incident_id)
        except Exception as exc:  # job store unreachable: the header says "no scheduled updates"
            log.warning("no update schedule for incident %s: %s", incident_id, exc)
            return None
        return next_due(current[0], current[1], self.clock()) if current else None

    async def sync(self, incident: IncidentView) -> None:
        """Make the timer match the incident (called whenever it changes); resolution closes it."""
        if not incident.is_open:
            await asyncio.to_thread(self.schedule.stop, incident.id)
            await self._send(incident, kind="resolved", slot="resolved")
            return
        minutes = self.minutes_for(incident.severity)
        current = await asyncio.to_thread(self.schedule.current, incident.id)
        if minutes <= 0:
            if current is not None:
                await asyncio.to_thread(self.schedule.stop, incident.id)
        elif current is None or current[1] != minutes:
            await asyncio.to_thread(self.schedule.start, incident.id, minutes, self.clock())

    async def send_due(self, incident_id: int) -> int:
        """The timer fired: send this slot's update to everyone who has not had it; how many."""
        incident = await self._db(service.get, incident_id=incident_id)
        current = await asyncio.to_thread(self.schedule.current, incident_id)
        if incident is None or not incident.is_open or current is None:
            return 0
        first, minutes = current
        index = int((self.clock() - first) / timedelta(minutes=minutes))
        slot = f"every{minutes}m@{first.strftime('%Y%m%dT%H%M%S')}#{index}"
        return await self._send(incident, kind="scheduled", slot=slot)

    async def send_now(self, *, incident_id: int, event_id: int, text: str) -> int:
        """`/iris incident update`: to every subscriber now, and the clock starts again."""
        incident = await self._db(service.get, incident_id=incident_id)
        if incident is None:
            return 0
        minutes = self.minutes_for(incident.severity)
        if incident.is_open and minutes > 0:
            await asyncio.to_thread(self.schedule.start, incident_id, minutes, self.clock())
        return await self._send(incident, kind="manual", slot=f"update#{event_id}", text=text)

    # --- sending -------------------------------------------------------------------------------
    async def _send(self, incident: IncidentView, *, kind: str, slot: str, text: str = "") -> int:
        since = await self._db(subscriptions.last_sent_at, incident_id=incident.id)
        since = aware(since) or incident.created_at
        done = [e for e in incident.events if e.at > since and e.kind != "update"]
        next_update = self.next_update(incident.id) if incident.is_open else None
        audience = await self.audience(incident.id)
        results = await asyncio.gather(
            *(
                self._deliver(
                    s,
                    incident=incident,
                    slot=slot,
                    kind=kind,
                    text=text,
                    done=done[-MAX_DONE_LINES:],
                    next_update=next_update,
                )
                for s in audience
            )
        )
        return sum(results)

    async def _claim(self, incident_id: int, subscriber: str, slot: str) -> bool:
        facts = {"incident_id": incident_id, "subscriber": subscriber, "slot": slot}
        try:
            return await self._db(subscriptions.claim, now=self.clock(), **facts)
        except IntegrityError:  # sent, in flight, or failed earlier
            return await self._db(subscriptions.reclaim_failed, now=self.clock(), **facts)

    async def _deliver(
        self, subscriber: Subscriber, *, incident: IncidentView, slot: str, **message: Any
    ) -> int:
        if not await self._claim(incident.id, subscriber.id, slot):
            return 0
        try:
            await self.notifier.send(subscriber, incident=incident, **message)
        except Exception:
            log.exception("update of %s to %s failed", incident.ref, subscriber.id)
            sent = False
        else:
            sent = True
        await self._db(
            subscriptions.finish,
            incident_id=incident.id,
            subscriber=subscriber.id,
            slot=slot,
            sent=sent,
            now=self.clock(),
        )
        return int(sent)
