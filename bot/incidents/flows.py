"""Incident orchestration: publish changes to chat (coalesced), close quiet incidents, human actions.

Intake marks an incident dirty; after a short debounce one flush renders everything that happened
since the last flush: the header is posted (or edited in place) and the new timeline events go
into the thread as one reply. So Slack calls grow with incidents and changes, never with the
number of notifications. What is published is tracked in the database (`published_event_id`),
so a restart publishes what was missed, and a failed flush is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bot.db import Database, utcnow
from bot.incidents import service
from bot.incidents.diagnosis import DiagnosisProvider
from bot.incidents.header_facts import HeaderFacts, current_facts, look_up_opening_facts
from bot.incidents.lifecycle import LifecycleCommands
from bot.incidents.models import EventView, IncidentView
from bot.incidents.postmortem import PostmortemWriter
from bot.registry.service import ModelService
from bot.updates.flows import IncidentUpdates

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


class IncidentFlows(LifecycleCommands):
    def __init__(
        self,
        *,
        db: Database,
        reporter: IncidentReporter,
        models: ModelService | None = None,
        diagnosis: Callable[[], DiagnosisProvider | None] = lambda: None,
        runbook_title: Callable[[str], str | None] = lambda _id: None,
        quiet: timedelta = timedelta(minutes=30),
        debounce: float = 0.5,
        clock: Callable[[], datetime] = utcnow,
        max_concurrent_flushes: int = 4,
        postmortems: PostmortemWriter | None = None,
        model_name: str = "",
    ) -> None:
        self.db = db
        self.reporter = reporter
        self.models = models
        self.diagnosis = diagnosis
        self.runbook_title = runbook_title
        self.quiet = quiet
        self.debounce = debounce
        self.clock = clock
        self._dirty: set[int] = set()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        # What each header was last rendered from (see `flush`); unknown after a restart.
        self._shown: dict[int, IncidentView] = {}
        self._slots = asyncio.Semaphore(max_concurrent_flushes)
        self._sweeper: asyncio.Task[None] | None = None
        self.postmortems = postmortems
        self.model_name = model_name
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._pin_lock = asyncio.Lock()
        # Stakeholder updates (subscribers, the update clock); wired by the composition root.
        self.updates: IncidentUpdates | None = None

    # --- database helpers ------------------------------------------------------------------
    async def _db(self, fn: Callable[..., T], **kwargs: Any) -> T:
        return await self.db.call(fn, **kwargs)

    async def get(
        self, *, incident_id: int | None = None, number: int | None = None
    ) -> IncidentView | None:
        return await self._db(service.get, incident_id=incident_id, number=number)

    async def by_thread(self, *, channel: str, ts: str) -> IncidentView | None:
        return await self._db(service.by_thread, channel=channel, ts=ts)

    async def listing(self, *, open_only: bool = False, limit: int = 20) -> list[IncidentView]:
        return await self._db(service.listing, open_only=open_only, limit=limit)

    # --- what people do ----------------------------------------------------------------------
    async def acknowledge(self, *, incident_id: int, user: str) -> bool:
        """`user` takes the commander role; the header shows it."""
        changed = await self._db(
            service.set_commander, incident_id=incident_id, user=user, now=self.clock()
        )
        if changed:
            self.mark_dirty(incident_id)
        return changed

    async def resolve(self, *, incident_id: int, actor: str | None, summary: str = "") -> bool:
        changed = await self._db(
            service.resolve, incident_id=incident_id, now=self.clock(), actor=actor, summary=summary
        )
        if changed:
            self._resolved(incident_id)
        return changed

    def _resolved(self, incident_id: int) -> None:
        """Publish the resolution, then write the postmortem draft into the thread."""
        self.mark_dirty(incident_id)
        if self.postmortems is not None:
            task = asyncio.get_running_loop().create_task(self._after_resolve(incident_id))
            self._side_tasks.add(task)
            task.add_done_callback(self._side_tasks.discard)

    async def _after_resolve(self, incident_id: int) -> None:
        try:
            if self.models is not None:
                try:
                    version = await asyncio.to_thread(self.models.production_version)
                except Exception as exc:
                    log.warning("no production version at resolve: %s", exc)
                else:
                    await self._db(
                        service.set_resolved_version, incident_id=incident_id, version=version
                    )
            # The header and the "resolved" reply first, the file after them.
            pending = self._tasks.get(incident_id)
            if pending is not None:
                await asyncio.wait([pending], timeout=30)
            await self.postmortem(incident_id=incident_id)
        except Exception:
            log.exception("postmortem of incident %s failed", incident_id)

    async def postmortem(self, *, incident_id: int) -> Path | None:
        """(Re)write the postmortem draft, store it and attach it to the thread."""
        incident = await self.get(incident_id=incident_id)
        if incident is None or self.postmortems is None:
            return None
        path, text = await self.postmortems.write(incident, self.clock())
        if incident.channel and incident.header_ts:
            await self.reporter.post_file(
                incident,
                content=text,
                filename=f"{incident.ref}-postmortem.md",
                title=f"{incident.ref} postmortem (draft)",
            )
        return path

    async def record(
        self,
        *,
        incident_id: int,
        kind: str,
        actor: str | None = None,
        text: str = "",
        data: dict[str, Any] | None = None,
    ) -> int:
        """Add a line to the timeline (a rollback started, a retrain started, ...); its id."""

        def write(conn: Any) -> int:
            event_id = service.add_event(
                conn,
                incident_id=incident_id,
                kind=kind,
                now=self.clock(),
                actor=actor,
                text=text,
                data=data,
            )
            service.add_participant(conn, incident_id=incident_id, user=actor)
            return event_id

        event_id = await self._db(write)
        self.mark_dirty(incident_id)
        return event_id

    # --- the quiet period ------------------------------------------------------------------
    async def sweep(self, now: datetime | None = None) -> list[int]:
        """Resolve incidents that stayed in `monitoring` for the quiet period; returns their ids."""
        now = now or self.clock()
        quiet = await self._db(service.quiet_incidents, now=now, quiet=self.quiet)
        closed = []
        for incident_id in quiet:
            done = await self._db(
                service.resolve, incident_id=incident_id, now=now, actor=None, reason="quiet"
            )
            if done:
                closed.append(incident_id)
                self._resolved(incident_id)
        return closed

    async def _sweep_forever(self) -> None:
        interval = max(1.0, min(60.0, self.quiet.total_seconds() / 4))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("incident quiet-period sweep failed")

    # --- publishing ------------------------------------------------------------------------
    def mark_dirty(self, incident_id: int) -> None:
        """Publish this incident's changes soon (once, however many changes arrive meanwhile).

        Call it after the change is committed: a flush that starts after this call reads it.
        """
        self._dirty.add(incident_id)
        if incident_id not in self._tasks:
            task = asyncio.get_running_loop().create_task(self._publisher(incident_id))
            self._tasks[incident_id] = task

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

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every pending publication is done (tests, benchmarks, shutdown)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (self._tasks or self._side_tasks) and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait([*self._tasks.values(), *self._side_tasks], timeout=0.1)

    async def flush(self, incident_id: int) -> None:
        """Post or edit the header if what it shows changed; reply with the events not yet in
        the thread.

        Whether the header is current is decided by comparing what it shows with what it was
        last rendered from, not by event ids: the reads of one flush are separate statements
        (each sees what is committed by then), so a change committed between the incident row
        and its events puts its events into the thread while the header is rendered from the
        row before it; the next flush then finds no new event, only a different state.
        """
        incident = await self.get(incident_id=incident_id)
        if incident is None:
            return
        if incident.header_ts is None:
            await look_up_opening_facts(
                incident,
                store=self._db,
                models=self.models,
                diagnosis=self.diagnosis,
                clock=self.clock,
            )
            incident = await self.get(incident_id=incident_id)
            assert incident is not None
        new = [e for e in incident.events if e.id > incident.published_event_id]
        shows = _header_state(incident)
        if incident.header_ts is not None and not new and self._shown.get(incident_id) == shows:
            return
        await self._sync_updates(incident)
        facts = await current_facts(
            incident, db=self.db, runbook_title=self.runbook_title, updates=self.updates
        )
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

    async def _sync_updates(self, incident: IncidentView) -> None:
        """Start, reschedule or stop the update clock (resolution: tell the subscribers)."""
        if self.updates is None:
            return
        try:
            await self.updates.sync(incident)
        except Exception:  # the header and thread must not wait for the subscribers
            log.exception("stakeholder updates of %s not synchronised", incident.ref)

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Publish what a previous process left unpublished; start the quiet-period sweep."""
        try:
            for incident_id in await self._db(service.unpublished_ids):
                self.mark_dirty(incident_id)
        except Exception as exc:
            log.warning("incidents not resumed: %s", str(exc).splitlines()[0])
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.idle(timeout=5.0)
        if self._side_tasks:
            await asyncio.wait(list(self._side_tasks), timeout=5.0)
        for task in [*self._tasks.values(), *self._side_tasks]:
            task.cancel()


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
