"""Stakeholder updates: to every subscriber of an incident, on a clock set by its severity.

The clock itself (APScheduler, persistent job store) is in `bot.incidents.scheduled`; this module
only needs the small `UpdateSchedule` protocol, and the chat side is an `UpdateNotifier`. Every
send goes through the delivery ledger (`bot.incidents.subscriptions`), one row per (incident,
subscriber, slot), so a retried or doubled job run never posts twice.

A fan-out claims the whole audience in one statement, then posts at most `concurrency` at a time
(Slack's rate limits, not the number of subscribers, set the pace) and moves the ledger in
batches. `recover` settles what a crashed sender left behind: a `sending` row is looked up in the
recipient's conversation by the message metadata every post carries, and re-posted only if the
message is not there; so after a restart no update is lost and none is sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError

from bot.db import Database, utcnow
from bot.incidents import service, subscriptions
from bot.incidents.apply import aware
from bot.incidents.models import EventView, IncidentView
from bot.incidents.reminders import CommanderReminders
from bot.incidents.subscriptions import QUEUED, SENDING, Delivery, Subscriber, Unfinished

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_DONE_LINES = 10
# Timeline lines an update does not report as "done since the last update".
NOT_NEWS = frozenset({"update", "update_sent"})
# Posts in flight at once. Slack's per-method limits set the pace; this only has to be enough to
# reach them (a post takes ~0.1-0.3 s) without a thousand tasks queueing on 429s.
CONCURRENCY = 8
# How old another process's unfinished row must be before a recovery takes it over. A row is
# `sending` from its batch's start to its post's end: at most two posts long, each at most ~2 min
# (slack_sdk's retries of 15 s timeouts, a minute of 429 waits). This process's own rows are
# known in memory and never taken, whatever their age.
RECOVERY_GRACE = timedelta(minutes=5)


class UncertainDelivery(Exception):
    """The post may or may not have reached the chat (timeout, connection lost, 5xx), or could not
    be made for now (rate limited for too long): the row stays `sending`, and a recovery looks for
    the message before posting it again."""


class UpdateNotifier(Protocol):
    """The chat side: one rendered update to one subscriber (a DM for users)."""

    async def send(
        self,
        subscriber: Subscriber,
        *,
        delivery: Delivery,
        kind: str,
        incident: IncidentView,
        done: list[EventView],
        text: str,
        next_update: datetime | None,
    ) -> None:
        """Post it, tagged with `delivery`; raise UncertainDelivery when the outcome is unknown."""
        ...

    async def find(self, subscriber: Subscriber, *, delivery: Delivery, since: datetime) -> bool:
        """Whether the subscriber's conversation holds the message of `delivery`, posted at or
        after `since` (the time its row went to `sending`)."""
        ...


@dataclass(frozen=True)
class _Update:
    """What one slot's update says, the same for every subscriber."""

    kind: str  # scheduled | manual | resolved
    text: str
    done: list[EventView]
    next_update: datetime | None


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
        concurrency: int = CONCURRENCY,
        recovery_grace: timedelta = RECOVERY_GRACE,
        record: Callable[..., Awaitable[int]] | None = None,
    ) -> None:
        self.db = db
        # Writes a line on the incident's timeline (IncidentFlows.record): every update sent.
        self.record = record
        self.notifier = notifier
        self.schedule = schedule
        self.cadence = cadence
        self.stakeholder_channel = stakeholder_channel
        self.clock = clock
        self.concurrency = max(1, concurrency)
        self.recovery_grace = recovery_grace
        # Ledger rows this process has claimed and not finished: a recovery pass leaves them be.
        self._mine: set[Delivery] = set()
        self._recovering = asyncio.Lock()
        # Commander reminders ride on the update ticks; wired by the composition root.
        self.reminders: CommanderReminders | None = None

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
            if self.reminders is not None:
                await self.reminders.closed(incident.id)
            sent = await self._send(incident, kind="resolved", slot="resolved")
            await self._on_timeline(incident.id, kind="resolved", slot="resolved", sent=sent)
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
        await self._recover_quietly()  # first what an earlier run left unfinished
        incident = await self._db(service.get, incident_id=incident_id)
        current = await asyncio.to_thread(self.schedule.current, incident_id)
        if incident is None or not incident.is_open or current is None:
            return 0
        first, minutes = current
        index = int((self.clock() - first) / timedelta(minutes=minutes))
        slot = f"every{minutes}m@{first.strftime('%Y%m%dT%H%M%S')}#{index}"
        sent = await self._send(incident, kind="scheduled", slot=slot)
        await self._on_timeline(incident_id, kind="scheduled", slot=slot, sent=sent)
        if self.reminders is not None:
            await self.reminders.check(incident_id)
        return sent

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
        if sent and self.record is not None:
            await self.record(
                incident_id=incident_id,
                kind="update_sent",
                data={"kind": kind, "slot": slot, "recipients": sent},
            )

    # --- sending -------------------------------------------------------------------------------
    async def _send(self, incident: IncidentView, *, kind: str, slot: str, text: str = "") -> int:
        """This slot's update to every subscriber who has not had it; how many were sent."""
        update = await self._update(incident, kind=kind, text=text)
        audience = await self.audience(incident.id)
        keys = {s.id: Delivery(incident.id, s.id, slot) for s in audience}
        self._mine.update(keys.values())  # from before the claim: no recovery pass may take them
        claimed: set[str] = set()
        try:
            claimed = await self._db(
                subscriptions.claim_all,
                incident_id=incident.id,
                slot=slot,
                subscribers=list(keys),
                now=self.clock(),
            )
        finally:
            self._mine.difference_update(d for s, d in keys.items() if s not in claimed)
        return await self._fan_out(incident, slot, [s for s in audience if s.id in claimed], update)

    async def _update(self, incident: IncidentView, *, kind: str, text: str) -> _Update:
        since = await self._db(subscriptions.last_sent_at, incident_id=incident.id)
        since = aware(since) or incident.created_at
        done = [e for e in incident.events if e.at > since and e.kind not in NOT_NEWS]
        next_update = self.next_update(incident.id) if incident.is_open else None
        return _Update(kind, text, done[-MAX_DONE_LINES:], next_update)

    async def _fan_out(
        self, incident: IncidentView, slot: str, targets: list[Subscriber], update: _Update
    ) -> int:
        """Post to `targets` (their rows `queued` for us), `concurrency` at a time; how many sent.

        Rows go to `sending` a batch at a time, at most two batches ahead of the posts (what a
        crash leaves for a recovery to look up), and one ledger round trip both records the
        finished posts and starts the next batch."""
        keys = {s.id: Delivery(incident.id, s.id, slot) for s in targets}
        self._mine.update(keys.values())
        gate = asyncio.Semaphore(self.concurrency)
        window = 2 * self.concurrency
        waiting = list(targets)
        running: set[asyncio.Task[tuple[str, bool, datetime] | None]] = set()
        finished: list[tuple[str, bool, datetime]] = []
        sent = 0
        facts = {"incident_id": incident.id, "slot": slot}
        try:
            while waiting or running:
                room = window - len(running)
                if waiting and room >= self.concurrency:
                    batch, waiting = waiting[:room], waiting[room:]
                    now = self.clock()
                    started = await self._db(
                        subscriptions.advance,
                        finished=finished,
                        start=[s.id for s in batch],
                        now=now,
                        **facts,
                    )
                    sent += sum(ok for _, ok, _ in finished)
                    finished = []
                    for s in batch:
                        if s.id in started:
                            post = self._post(gate, s, keys[s.id], incident, update, started_at=now)
                            running.add(asyncio.create_task(post))
                        else:  # someone else's now (a recovery pass of another process)
                            self._mine.discard(keys[s.id])
                    continue
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                finished.extend(r for task in done if (r := task.result()) is not None)
            if finished:
                await self._db(
                    subscriptions.finish_all, finished=finished, now=self.clock(), **facts
                )
                sent += sum(ok for _, ok, _ in finished)
        finally:
            for task in running:  # cancelled or failed: their rows stay for a recovery
                task.cancel()
            self._mine.difference_update(keys.values())
        return sent

    async def _post(
        self,
        gate: asyncio.Semaphore,
        subscriber: Subscriber,
        delivery: Delivery,
        incident: IncidentView,
        update: _Update,
        *,
        started_at: datetime,
    ) -> tuple[str, bool, datetime] | None:
        """(subscriber, sent, started_at) of one post; None when its outcome is unknown."""
        async with gate:
            try:
                await self.notifier.send(
                    subscriber,
                    delivery=delivery,
                    kind=update.kind,
                    incident=incident,
                    done=update.done,
                    text=update.text,
                    next_update=update.next_update,
                )
            except UncertainDelivery as exc:
                log.warning(
                    "update of %s to %s may not have arrived (%s); a recovery will look",
                    incident.ref,
                    subscriber.id,
                    exc,
                )
                return None
            except Exception:
                log.exception("update of %s to %s failed", incident.ref, subscriber.id)
                return subscriber.id, False, started_at
        return subscriber.id, True, started_at

    # --- recovery ------------------------------------------------------------------------------
    async def recover(self, *, wait_for_fresh: bool = False) -> int:
        """Settle the deliveries that a stopped or crashed sender left `queued` or `sending`; how
        many were settled (found in Slack, or posted now).

        A `sending` row may have been posted: the recipient's conversation is searched for the
        message's metadata; found -> `sent`, not found -> posted now. A `queued` row never was.
        Rows this process is working on are left alone, and so are other senders' younger than
        `recovery_grace` (they may be alive); `wait_for_fresh` waits for those and looks again
        (at start-up: a crash just before a restart leaves only fresh rows)."""
        settled, fresh = await self._recover_once()
        if wait_for_fresh and fresh is not None:
            wait = (fresh + self.recovery_grace - self.clock()).total_seconds()
            await asyncio.sleep(min(max(wait, 0.0), self.recovery_grace.total_seconds()) + 1.0)
            settled += (await self._recover_once())[0]
        return settled

    async def _recover_quietly(self) -> None:
        try:
            await self.recover()
        except Exception:
            log.exception("unfinished update deliveries not recovered")

    async def _recover_once(self) -> tuple[int, datetime | None]:
        """(how many settled, `since` of the youngest row skipped as too fresh)."""
        async with self._recovering:
            rows = [
                r for r in await self._db(subscriptions.unfinished) if r.delivery not in self._mine
            ]
            cutoff = self.clock() - self.recovery_grace
            todo = [r for r in rows if r.since <= cutoff]
            fresh = max((r.since for r in rows if r.since > cutoff), default=None)
            if not todo:
                return 0, fresh
            keys = {r.delivery for r in todo}
            self._mine.update(keys)
            try:
                return await self._settle(todo), fresh
            finally:
                self._mine.difference_update(keys)

    async def _settle(self, rows: list[Unfinished]) -> int:
        sending = [r for r in rows if r.state == SENDING]
        gate = asyncio.Semaphore(self.concurrency)

        async def look(row: Unfinished) -> bool | None:
            async with gate:
                try:
                    return await self.notifier.find(
                        _subscriber(row),
                        delivery=row.delivery,
                        since=row.since,
                    )
                except Exception as exc:  # unknown: the row stays for the next pass
                    log.warning("delivery %s not looked up: %s", row.delivery, exc)
                    return None

        seen = await asyncio.gather(*(look(r) for r in sending))
        found = [(r.delivery, r.since) for r, hit in zip(sending, seen, strict=True) if hit]
        missing = [
            (r.delivery, r.since) for r, hit in zip(sending, seen, strict=True) if hit is False
        ]
        requeued: set[Delivery] = set()
        if found or missing:
            requeued = set(
                await self._db(subscriptions.settle, found=found, missing=missing, now=self.clock())
            )
        if found:
            log.info("%d update deliveries were posted before a crash: marked sent", len(found))
        resend: dict[tuple[int, str], list[Subscriber]] = {}
        for r in rows:
            if r.state == QUEUED or r.delivery in requeued:
                key = (r.delivery.incident_id, r.delivery.slot)
                resend.setdefault(key, []).append(_subscriber(r))
        settled = len(found)
        for (incident_id, slot), targets in resend.items():
            incident = await self._db(service.get, incident_id=incident_id)
            if incident is None:
                continue
            kind, text = _slot_update(incident, slot)
            update = await self._update(incident, kind=kind, text=text)
            settled += await self._fan_out(incident, slot, targets, update)
        return settled


def _subscriber(row: Unfinished) -> Subscriber:
    return Subscriber(row.delivery.subscriber, row.kind, subscriptions.ALL)


def _slot_update(incident: IncidentView, slot: str) -> tuple[str, str]:
    """(kind, text) of the update a slot stands for: the slot names of `sync`, `send_due` and
    `send_now`."""
    if slot == "resolved":
        return "resolved", ""
    if slot.startswith("update#"):
        event_id = slot.removeprefix("update#")
        return "manual", next((e.text for e in incident.events if str(e.id) == event_id), "")
    return "scheduled", ""
