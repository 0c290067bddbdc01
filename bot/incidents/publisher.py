"""Publishing incidents to chat, coalesced, and telling the domains that follow incidents.

Intake marks an incident dirty; after a short debounce one flush renders everything that happened
since the last flush: the header is posted (or edited in place) and the new timeline events go
into the thread as one reply. So Slack calls grow with incidents and changes, never with the
number of notifications. What is published is tracked in the database (`published_event_id`),
so a restart publishes what was missed, and a failed flush is retried.

Every change a flush publishes is also a fact for the domains that follow incidents (stakeholder
updates): each `IncidentWatcher` is told before the header renders, so that what it adds to the
header (when the next update is due) is current. A watcher does its slow work (the fan-out to
subscribers) in its own tasks; the header and thread never wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol, TypeVar

from bot.incidents import service
from bot.incidents.header_facts import HeaderFacts
from bot.incidents.models import EventView, IncidentView

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_DELAYS = (1.0, 5.0, 30.0)


class IncidentReporter(Protocol):
    """The chat side (Slack in production): a header message and its thread."""

    async def post_header(self, incident: IncidentView, facts: HeaderFacts) -> tuple[str, str]:
        """Post the header; returns (channel id, message ts)."""
        ...

    async def update_header(self, incident: IncidentView, facts: HeaderFacts) -> None: ...

    async def post_timeline(
        self, incident: IncidentView, events: Sequence[EventView], facts: HeaderFacts
    ) -> None: ...

    async def post_file(
        self, incident: IncidentView, *, content: str, filename: str, title: str
    ) -> None:
        """Attach a file (the postmortem draft) to the incident's thread."""
        ...

    async def message_text(self, channel: str, ts: str) -> tuple[str, str, str | None] | None:
        """(text, author, thread root ts) of one message, or None if it is gone."""
        ...


class IncidentWatcher(Protocol):
    """A domain that follows incidents (stakeholder updates) without the incidents knowing it."""

    async def changed(self, incident: IncidentView) -> None:
        """The incident changed and its header is about to show it; return quickly."""
        ...

    def next_update(self, incident_id: int) -> datetime | None:
        """When the next stakeholder update is due, for the header (None: none scheduled)."""
        ...


class DbCall(Protocol):
    """Runs `fn(conn, **kwargs)` on a database connection in a worker thread."""

    async def __call__(self, fn: Callable[..., T], /, **kwargs: Any) -> T: ...


class IncidentPublisher:
    def __init__(
        self,
        *,
        db: DbCall,
        reporter: IncidentReporter,
        opening_facts: Callable[[IncidentView], Awaitable[None]],
        header_facts: Callable[[IncidentView, datetime | None], Awaitable[HeaderFacts]],
        debounce: float = 0.5,
        max_concurrent_flushes: int = 4,
    ) -> None:
        self._db = db
        self.reporter = reporter
        # Looked up once, before the first header (production version, first diagnosis).
        self.opening_facts = opening_facts
        # What every render shows besides the incident (given the next update's due time).
        self.header_facts = header_facts
        self.debounce = debounce
        self.watchers: list[IncidentWatcher] = []
        self._dirty: set[int] = set()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        # What each header was last rendered from (see `flush`); unknown after a restart.
        self._shown: dict[int, IncidentView] = {}
        self._slots = asyncio.Semaphore(max_concurrent_flushes)

    def watch(self, watcher: IncidentWatcher) -> None:
        """Tell `watcher` of every change published from now on."""
        self.watchers.append(watcher)

    def mark_dirty(self, incident_id: int) -> None:
        """Publish this incident's changes soon (once, however many changes arrive meanwhile).

        Call it after the change is committed: a flush that starts after this call reads it.
        """
        self._dirty.add(incident_id)
        if incident_id not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._publisher(incident_id))
            self._tasks[incident_id] = task

    def pending(self, incident_id: int) -> asyncio.Task[None] | None:
        """The publication of this incident under way, if any."""
        return self._tasks.get(incident_id)

    def tasks(self) -> list[asyncio.Task[None]]:
        return list(self._tasks.values())

    async def _publisher(self, incident_id: int) -> None:
        # The hand-off is race-free because nothing awaits between the last look at `_dirty`
        # and the pop: a mark_dirty either lands before that look (one more round) or after
        # the pop (a new task). Keep it so: no await in the `finally` or after the loop.
        attempt = 0
        try:
            while incident_id in self._dirty:
                await asyncio.sleep(self.debounce)
                # Discarded before the flush reads: a change committed after this point marks
                # the incident dirty again, so it gets a flush of its own.
                self._dirty.discard(incident_id)
                try:
                    async with self._slots:
                        await self.flush(incident_id)
                    attempt = 0
                except Exception:
                    log.exception("could not publish incident %s", incident_id)
                    if attempt >= len(RETRY_DELAYS):
                        return  # the next change (or a restart) tries again
                    await asyncio.sleep(RETRY_DELAYS[attempt])
                    attempt += 1
                    self._dirty.add(incident_id)
        finally:
            if self._tasks.get(incident_id) is asyncio.current_task():
                del self._tasks[incident_id]

    async def flush(self, incident_id: int) -> None:
        """Post or edit the header if what it shows changed; reply with the events not yet in
        the thread.

        Whether the header is current is decided by comparing what it shows with what it was
        last rendered from, not by event ids: the reads of one flush are separate statements
        (each sees what is committed by then), so a change committed between the incident row
        and its events puts its events into the thread while the header is rendered from the
        row before it; the next flush then finds no new event, only a different state.
        """
        incident = await self._db(service.get, incident_id=incident_id)
        if incident is None:
            return
        if incident.header_ts is None:
            await self.opening_facts(incident)
            incident = await self._db(service.get, incident_id=incident_id)
            assert incident is not None
        new = [e for e in incident.events if e.id > incident.published_event_id]
        shows = _header_state(incident)
        if incident.header_ts is not None and not new and self._shown.get(incident_id) == shows:
            return
        await self._tell_watchers(incident)
        facts = await self.header_facts(incident, self._next_update(incident))
        if incident.header_ts is None:
            channel, ts = await self.reporter.post_header(incident, facts)
            # Remember the header at once: a failing reply must not post a second header.
            await self._db(
                service.mark_published,
                incident_id=incident_id,
                event_id=incident.published_event_id,
                channel=channel,
                header_ts=ts,
            )
            incident = replace(incident, channel=channel, header_ts=ts)
        else:
            await self.reporter.update_header(incident, facts)
        if incident.is_open:
            self._shown[incident_id] = shows
        else:  # resolved is final: an unknown header is simply edited once more if marked
            self._shown.pop(incident_id, None)
        if new:
            await self.reporter.post_timeline(incident, new, facts)
            await self._db(service.mark_published, incident_id=incident_id, event_id=new[-1].id)

    async def _tell_watchers(self, incident: IncidentView) -> None:
        for watcher in self.watchers:
            try:
                await watcher.changed(incident)
            except Exception:  # the header and thread must not wait for the watchers
                log.exception("%s not told that %s changed", type(watcher).__name__, incident.ref)

    def _next_update(self, incident: IncidentView) -> datetime | None:
        if not incident.is_open:
            return None
        due = (w.next_update(incident.id) for w in self.watchers)
        return next((d for d in due if d is not None), None)

    async def resume(self) -> None:
        """Publish what a previous process left unpublished."""
        for incident_id in await self._db(service.unpublished_ids):
            self.mark_dirty(incident_id)


def _header_state(incident: IncidentView) -> IncidentView:
    """The incident without what changes while its header stays the same (the timeline but
    its diagnosis, the publishing bookkeeping, timestamps the header does not show)."""
    return replace(
        incident,
        events=[e for e in incident.events if e.kind == "diagnosis"],
        published_event_id=0,
        channel=None,
        header_ts=None,
        updated_at=incident.created_at,
        last_alert_at=incident.created_at,
        participants=[],
    )
