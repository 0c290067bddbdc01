"""Delivery of stakeholder updates: each (incident, subscriber, slot) posted once, crash or not.

Every send goes through the delivery ledger (`bot.updates.subscriptions`), one row per (incident,
subscriber, slot), whose state moves queued -> sending -> sent | failed; so a retried or doubled
job run never posts twice. What an update says is decided by `bot.updates.flows`; this module
only gets it to its audience.

A fan-out claims the whole audience in one statement (`queued`), then posts at most `concurrency`
at a time (Slack's rate limits, not the number of subscribers, set the pace) and moves the ledger
in batches: a row goes to `sending` with its batch, shortly before its post, and to `sent` or
`failed` after it.
`recover` settles what a crashed sender left behind. A `queued` row was never handed to Slack and
is simply posted. A `sending` row may or may not have been posted, and only Slack knows: so it is
looked up in the recipient's conversation by the message metadata every post carries, and
re-posted only if the message is not there. So after a restart no update is lost and none is sent
twice.
When Slack refuses the lookup for good (a scope the app lacks, a conversation gone or closed to the
bot), waiting would leave the row `sending` forever and re-posting might send it twice: the row
ends `failed` with Slack's reason, never posted again, and the incident's timeline says so
(`update_undelivered`, shown by `/iris incident show`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from bot.incidents import service
from bot.incidents.models import EventView, IncidentView
from bot.updates import subscriptions
from bot.updates.subscriptions import QUEUED, SENDING, Delivery, Subscriber, Unfinished

log = logging.getLogger(__name__)
T = TypeVar("T")
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


class LookupRefused(Exception):
    """Slack refused to search the conversation, and asking again will not change that (missing
    scope, channel gone, not in channel): whether the post landed cannot be known."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# The timeline event of a delivery whose outcome could not be known (see LookupRefused).
UNDELIVERED_EVENT = "update_undelivered"


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
        after `since` (the time its row went to `sending`); LookupRefused when Slack will not
        let it be searched."""
        ...


class DbCall(Protocol):
    """Runs `fn(conn, **kwargs)` on a database connection in a worker thread (the owner's `_db`)."""

    async def __call__(self, fn: Callable[..., T], /, **kwargs: Any) -> T: ...


@dataclass(frozen=True)
class SlotUpdate:
    """What one slot's update says, the same for every subscriber."""

    kind: str  # scheduled | manual | resolved
    text: str
    done: list[EventView]
    next_update: datetime | None


class UpdateDelivery:
    def __init__(
        self,
        *,
        db: DbCall,
        notifier: UpdateNotifier,
        compose: Callable[[IncidentView, str], Awaitable[SlotUpdate]],
        clock: Callable[[], datetime],
        concurrency: int = CONCURRENCY,
        recovery_grace: timedelta = RECOVERY_GRACE,
    ) -> None:
        self._db = db
        self.notifier = notifier
        # What a slot's update says, made again when a recovery posts it (IncidentUpdates).
        self.compose = compose
        self.clock = clock
        self.concurrency = max(1, concurrency)
        self.recovery_grace = recovery_grace
        # Ledger rows this process has claimed and not finished: a recovery pass leaves them be.
        self._mine: set[Delivery] = set()
        self._recovering = asyncio.Lock()

    # --- sending -------------------------------------------------------------------------------
    async def send(
        self, incident: IncidentView, slot: str, audience: list[Subscriber], update: SlotUpdate
    ) -> int:
        """`update` to everyone in `audience` who has not had this slot's; how many were sent."""
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

    async def _fan_out(
        self, incident: IncidentView, slot: str, targets: list[Subscriber], update: SlotUpdate
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
        update: SlotUpdate,
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
        many were settled (found in Slack, posted now, or failed because Slack refused the lookup).

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

    async def recover_quietly(self) -> None:
        """`recover`, with a failure logged rather than raised (before a scheduled send)."""
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

        async def look(row: Unfinished) -> bool | str | None:
            """Found, not found, Slack's reason for refusing the lookup, or None: unknown."""
            async with gate:
                try:
                    return await self.notifier.find(
                        _subscriber(row),
                        delivery=row.delivery,
                        since=row.since,
                    )
                except LookupRefused as exc:
                    log.warning("delivery %s cannot be looked up: %s", row.delivery, exc.reason)
                    return exc.reason
                except Exception as exc:  # unknown: the row stays for the next pass
                    log.warning("delivery %s not looked up: %s", row.delivery, exc)
                    return None

        seen = list(zip(sending, await asyncio.gather(*(look(r) for r in sending)), strict=True))
        found = [(r.delivery, r.since) for r, hit in seen if hit is True]
        missing = [(r.delivery, r.since) for r, hit in seen if hit is False]
        refused = [(r.delivery, r.since, hit) for r, hit in seen if isinstance(hit, str)]
        requeued: set[Delivery] = set()
        if found or missing:
            requeued = set(
                await self._db(subscriptions.settle, found=found, missing=missing, now=self.clock())
            )
        if found:
            log.info("%d update deliveries were posted before a crash: marked sent", len(found))
        failed = (
            await self._db(_fail_unknowable, failed=refused, now=self.clock()) if refused else 0
        )
        resend: dict[tuple[int, str], list[Subscriber]] = {}
        for r in rows:
            if r.state == QUEUED or r.delivery in requeued:
                key = (r.delivery.incident_id, r.delivery.slot)
                resend.setdefault(key, []).append(_subscriber(r))
        settled = len(found) + failed
        for (incident_id, slot), targets in resend.items():
            incident = await self._db(service.get, incident_id=incident_id)
            if incident is None:
                continue
            update = await self.compose(incident, slot)
            settled += await self._fan_out(incident, slot, targets, update)
        return settled


def _fail_unknowable(
    conn: Any, *, failed: list[tuple[Delivery, datetime, str]], now: datetime
) -> int:
    """The refused rows -> failed, each with a line on its incident's timeline; how many."""
    reasons = {d: reason for d, _, reason in failed}
    moved = subscriptions.fail_unknowable(conn, failed=failed, now=now)
    for delivery in moved:
        service.add_event(
            conn,
            incident_id=delivery.incident_id,
            kind=UNDELIVERED_EVENT,
            now=now,
            data={
                "subscriber": delivery.subscriber,
                "slot": delivery.slot,
                "error": reasons[delivery],
            },
        )
    return len(moved)


def _subscriber(row: Unfinished) -> Subscriber:
    return Subscriber(row.delivery.subscriber, row.kind, subscriptions.ALL)
