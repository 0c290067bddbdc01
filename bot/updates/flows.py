"""Stakeholder updates: to every subscriber of an incident, on a clock set by its severity.

This module decides who gets an update (subscriptions, STAKEHOLDER_CHANNEL), when (the update
clock: a timer per open incident, restarted by a human update, stopped by the resolution) and what
it says (what was done since the last update, when the next is due); each update sent is written
on the incident's timeline. It follows incidents as an `IncidentWatcher` of their publisher:
told of each change before the header shows it, it moves the clock at once and sends the
resolution in its own task, so the header and thread never wait for the subscribers. The clock
itself (APScheduler, persistent job store) is in `bot.updates.scheduled`; this module only needs the small `UpdateSchedule` protocol. Getting an
update to its audience exactly once, crash or not, is `bot.updates.delivery`'s part.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from bot.db import Database, utcnow
from bot.incidents import service
from bot.incidents.models import IncidentView, aware
from bot.updates import subscriptions
from bot.updates.delivery import (
    CONCURRENCY,
    RECOVERY_GRACE,
    SlotUpdate,
    UpdateDelivery,
    UpdateNotifier,
)
from bot.updates.pace import MINUTE, UpdatePace
from bot.updates.reminders import CommanderReminders
from bot.updates.subscriptions import Subscriber

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_DONE_LINES = 10
# Timeline lines an update does not report as "done since the last update".
NOT_NEWS = frozenset({"update", "update_sent", "update_undelivered"})


class UpdateSchedule(Protocol):
    """One repeating timer per open incident."""

    def start(self, incident_id: int, minutes: int, now: datetime) -> None:
        """Add the timer, or restart it from `now` with this cadence."""
        ...

    def stop(self, incident_id: int) -> None: ...

    def current(self, incident_id: int) -> tuple[datetime, int] | None:
        """(first due time, cadence in minutes) of the timer, or None."""
        ...


def cadence_minutes(cadence: Mapping[str, int], severity: str) -> int:
    """Minutes between scheduled updates at this severity (0: none)."""
    return max(0, int(cadence.get(severity, 0)))


def next_due(
    first: datetime, minutes: int, now: datetime, *, minute: timedelta = MINUTE
) -> datetime:
    """The first time of the series first, first + minutes, ... that is after `now`."""
    if now < first:
        return first
    step = minute * minutes
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
        concurrency: int = CONCURRENCY,
        recovery_grace: timedelta = RECOVERY_GRACE,
        record: Callable[..., Awaitable[int]],
        reminders: CommanderReminders | None = None,
        pace: UpdatePace | None = None,
    ) -> None:
        self.db = db
        # The length of a cadence minute (shorter while a drill compresses waiting).
        self.pace = pace or UpdatePace()
        # Writes a line on the incident's timeline (IncidentFlows.record): every update sent.
        self.record = record
        self._tasks: set[asyncio.Task[Any]] = set()
        self.schedule = schedule
        self.cadence = cadence
        self.stakeholder_channel = stakeholder_channel
        self.clock = clock
        self.delivery = UpdateDelivery(
            db=self._db,
            notifier=notifier,
            compose=self._update_of_slot,
            # Read at each call, so that a clock put in place of ours (tests) is the delivery's too.
            clock=lambda: self.clock(),
            concurrency=concurrency,
            recovery_grace=recovery_grace,
        )
        # Commander reminders ride on the update ticks.
        self.reminders = reminders

    async def _db(self, fn: Callable[..., T], **kwargs: Any) -> T:
        return await self.db.call(fn, **kwargs)

    # --- subscriptions -------------------------------------------------------------------------
    async def subscribe(
        self,
        *,
        subscriber: str,
        kind: str,
        incident_id: int | None,
        min_severity: str | None = None,
    ) -> str:
        """Add or change a subscription: "subscribed", "changed" (another severity) or "already"."""
        scope = subscriptions.ALL if incident_id is None else str(incident_id)
        try:
            return await self._db(
                subscriptions.subscribe,
                subscriber=subscriber,
                kind=kind,
                scope=scope,
                min_severity=min_severity,
                now=self.clock(),
            )
        except IntegrityError:  # the same subscription, at the same moment
            return "already"

    async def unsubscribe(self, *, subscriber: str, incident_id: int | None) -> int:
        scope = None if incident_id is None else str(incident_id)
        return await self._db(subscriptions.unsubscribe, subscriber=subscriber, scope=scope)

    async def subscriptions_of(self, subscriber: str) -> list[Subscriber]:
        return await self._db(subscriptions.of_subscriber, subscriber=subscriber)

    async def audience(self, incident: IncidentView) -> list[Subscriber]:
        """The subscribers of an incident who want it at its current severity, with
        STAKEHOLDER_CHANNEL (every severity) always among them."""
        found = await self._db(
            subscriptions.for_incident,
            incident_id=incident.id,
            severity=incident.severity,
            drill=incident.drill,
        )
        channel = self.stakeholder_channel
        if channel and all(s.id != channel for s in found):
            found.insert(0, Subscriber(channel, "channel", subscriptions.ALL))
        return found

    # --- the clock -----------------------------------------------------------------------------
    def minutes_for(self, severity: str) -> int:
        return cadence_minutes(self.cadence, severity)

    def next_update(self, incident_id: int) -> datetime | None:
        """When the next scheduled update is due (None: no timer)."""
        try:
            current = self.schedule.current(incident_id)
        except Exception as exc:  # job store unreachable: the header says "no scheduled updates"
            log.warning("no update schedule for incident %s: %s", incident_id, exc)
            return None
        if not current:
            return None
        return next_due(current[0], current[1], self.clock(), minute=self.pace.minute)

    async def changed(self, incident: IncidentView) -> None:
        """Make the timer match the incident (`IncidentWatcher`: whenever it changes); the
        resolution stops it and goes to the subscribers in the background."""
        if not incident.is_open:
            await asyncio.to_thread(self.schedule.stop, incident.id)
            if self.reminders is not None:
                await self.reminders.closed(incident.id)
            self._spawn(self._resolved(incident), f"resolution of {incident.ref}")
            return
        minutes = self.minutes_for(incident.severity)
        current = await asyncio.to_thread(self.schedule.current, incident.id)
        if minutes <= 0:
            if current is not None:
                await asyncio.to_thread(self.schedule.stop, incident.id)
        elif current is None or current[1] != minutes:
            await asyncio.to_thread(self.schedule.start, incident.id, minutes, self.clock())

    async def _resolved(self, incident: IncidentView) -> None:
        sent = await self._send(incident, kind="resolved", slot="resolved")
        await self._on_timeline(incident.id, kind="resolved", slot="resolved", sent=sent)

    async def send_due(self, incident_id: int) -> int:
        """The timer fired: send this slot's update to everyone who has not had it; how many."""
        await self.delivery.recover_quietly()  # first what an earlier run left unfinished
        incident = await self._db(service.get, incident_id=incident_id)
        current = await asyncio.to_thread(self.schedule.current, incident_id)
        if incident is None or not incident.is_open or current is None:
            return 0
        first, minutes = current
        index = int((self.clock() - first) / self.pace.minutes(minutes))
        slot = f"every{minutes}m@{first.strftime('%Y%m%dT%H%M%S')}#{index}"
        sent = await self._send(incident, kind="scheduled", slot=slot)
        await self._on_timeline(incident_id, kind="scheduled", slot=slot, sent=sent)
        if self.reminders is not None:
            await self.reminders.remind_if_due(incident)
        return sent

    async def send_update(self, *, incident_id: int, text: str, actor: str) -> None:
        """A stakeholder update: posted in the thread (the incident's next flush) and sent to
        every subscriber at once, in the background so that the command's ack does not wait."""
        incident = await self._db(service.get, incident_id=incident_id)
        assert incident is not None
        event_id = await self.record(
            incident_id=incident_id,
            kind="update",
            actor=actor,
            text=text,
            data={
                "status": incident.status,
                "severity": incident.severity,
                "impact": incident.impact,
                "sent_to": [],  # who got it: the delivery ledger (incident_update_deliveries)
            },
        )
        sending = self.send_now(incident_id=incident_id, event_id=event_id, text=text)
        self._spawn(sending, f"update {event_id} of incident {incident_id}")

    async def send_now(self, *, incident_id: int, event_id: int, text: str) -> int:
        """`/iris incident update`: to every subscriber now, and the clock starts again."""
        incident = await self._db(service.get, incident_id=incident_id)
        if incident is None:
            return 0
        minutes = self.minutes_for(incident.severity)
        if incident.is_open and minutes > 0:
            await asyncio.to_thread(self.schedule.start, incident_id, minutes, self.clock())
        return await self._send(incident, kind="manual", slot=f"update#{event_id}", text=text)

    async def _on_timeline(self, incident_id: int, *, kind: str, slot: str, sent: int) -> None:
        """A scheduled update or the resolution went out: say so on the timeline (a human update
        is there already, as the `update` event it was sent for)."""
        if sent:
            await self.record(
                incident_id=incident_id,
                kind="update_sent",
                data={"kind": kind, "slot": slot, "recipients": sent},
            )

    # --- sending -------------------------------------------------------------------------------
    async def _send(self, incident: IncidentView, *, kind: str, slot: str, text: str = "") -> int:
        """This slot's update to every subscriber who has not had it; how many were sent."""
        update = await self._update(incident, kind=kind, text=text)
        audience = await self.audience(incident)
        return await self.delivery.send(incident, slot, audience, update)

    async def _update(self, incident: IncidentView, *, kind: str, text: str) -> SlotUpdate:
        since = await self._db(subscriptions.last_sent_at, incident_id=incident.id)
        since = aware(since) or incident.created_at
        done = [e for e in incident.events if e.at > since and e.kind not in NOT_NEWS]
        next_update = self.next_update(incident.id) if incident.is_open else None
        return SlotUpdate(kind, text, done[-MAX_DONE_LINES:], next_update)

    # --- background work -----------------------------------------------------------------------
    def _spawn(self, work: Coroutine[Any, Any, Any], what: str) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.exception("%s not sent", what)

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def busy(self) -> bool:
        """Whether an update is being sent in the background."""
        return bool(self._tasks)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until the updates sent in the background are out (tests, shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def aclose(self) -> None:
        """Let the background sends finish (a cancelled one leaves its rows for a recovery)."""
        await self.idle(timeout=5.0)
        for task in list(self._tasks):
            task.cancel()

    # --- recovery ------------------------------------------------------------------------------
    async def recover(self, *, wait_for_fresh: bool = False) -> int:
        """Settle what a stopped or crashed sender left unfinished (`UpdateDelivery.recover`)."""
        return await self.delivery.recover(wait_for_fresh=wait_for_fresh)

    async def _update_of_slot(self, incident: IncidentView, slot: str) -> SlotUpdate:
        """What a slot's update says, made again when a recovery posts it."""
        kind, text = _slot_update(incident, slot)
        return await self._update(incident, kind=kind, text=text)


def _slot_update(incident: IncidentView, slot: str) -> tuple[str, str]:
    """(kind, text) of the update a slot stands for: the slot names of `changed`, `send_due` and
    `send_now`."""
    if slot == "resolved":
        return "resolved", ""
    if slot.startswith("update#"):
        event_id = slot.removeprefix("update#")
        return "manual", next((e.text for e in incident.events if str(e.id) == event_id), "")
    return "scheduled", ""
