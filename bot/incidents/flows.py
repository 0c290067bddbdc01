"""Incident orchestration: what people do to an incident (declare, acknowledge, status, severity,
commander, impact, pins, resolve), the timeline, the quiet-period sweep and the postmortem.

Each command changes the database and marks the incident for publishing; publishing itself (the
header and its thread, coalesced) is `bot.incidents.publisher`'s part.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from bot.db import Database, utcnow
from bot.incidents import service
from bot.incidents.changes import IncidentChanges, IncidentTimeline
from bot.incidents.diagnosis import DiagnosisProvider
from bot.incidents.header_facts import HeaderFacts, current_facts, look_up_opening_facts
from bot.incidents.models import IncidentView
from bot.incidents.postmortem import PostmortemWriter
from bot.incidents.publisher import IncidentPublisher, IncidentReporter, IncidentWatcher
from bot.model_registry.service import ModelService

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_DECLARE_ATTEMPTS = 5


class IncidentFlows:
    def __init__(
        self,
        *,
        db: Database,
        reporter: IncidentReporter,
        models: ModelService | None = None,
        diagnosis: DiagnosisProvider | None = None,
        runbook_title: Callable[[str], str | None] = lambda _id: None,
        quiet: timedelta = timedelta(minutes=30),
        debounce: float = 0.5,
        clock: Callable[[], datetime] = utcnow,
        max_concurrent_flushes: int = 4,
        postmortems: PostmortemWriter | None = None,
        model_name: str = "",
        changes: IncidentChanges | None = None,
        watchers: Sequence[IncidentWatcher] = (),
    ) -> None:
        self.db = db
        self.reporter = reporter
        self.models = models
        self.diagnosis = diagnosis
        self.runbook_title = runbook_title
        self.quiet = quiet
        self.clock = clock
        self.publisher = IncidentPublisher(
            db=self._db,
            reporter=reporter,
            opening_facts=self._opening_facts,
            header_facts=self._header_facts,
            debounce=debounce,
            max_concurrent_flushes=max_concurrent_flushes,
        )
        for watcher in watchers:
            self.publisher.watch(watcher)
        # Changes written elsewhere (alert intake, stakeholder updates) are published here.
        self.changes = changes or IncidentChanges()
        self.changes.attach(self.publisher.mark_dirty)
        self.timeline = IncidentTimeline(db=db, changes=self.changes, clock=clock)
        self._sweeper: asyncio.Task[None] | None = None
        self.postmortems = postmortems
        self.model_name = model_name
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._pin_lock = asyncio.Lock()

    def watch(self, watcher: IncidentWatcher) -> None:
        """Tell `watcher` (stakeholder updates) of every change published from now on."""
        self.publisher.watch(watcher)

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
            pending = self.publisher.pending(incident_id)
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
        return await self.timeline.record(
            incident_id=incident_id, kind=kind, actor=actor, text=text, data=data
        )

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
        """Publish this incident's changes soon (`IncidentPublisher.mark_dirty`)."""
        self.publisher.mark_dirty(incident_id)

    async def _opening_facts(self, incident: IncidentView) -> None:
        await look_up_opening_facts(
            incident,
            store=self._db,
            models=self.models,
            diagnosis=lambda: self.diagnosis,
            clock=self.clock,
        )

    async def _header_facts(
        self, incident: IncidentView, next_update: datetime | None
    ) -> HeaderFacts:
        return await current_facts(
            incident, db=self.db, runbook_title=self.runbook_title, next_update=next_update
        )

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every pending publication is done (tests, benchmarks, shutdown)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (pending := [*self.publisher.tasks(), *self._side_tasks]) and loop.time() < deadline:
            await asyncio.wait(pending, timeout=0.1)

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Publish what a previous process left unpublished; start the quiet-period sweep."""
        try:
            await self.publisher.resume()
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
        for task in [*self.publisher.tasks(), *self._side_tasks]:
            task.cancel()

    # --- the lifecycle commands ----------------------------------------------------------------
    async def declare(self, *, title: str, severity: str, actor: str) -> IncidentView:
        """Open an incident by hand; `actor` is its commander. Header and thread follow."""
        for attempt in range(MAX_DECLARE_ATTEMPTS):
            try:
                incident_id, _ = await self._db(
                    service.declare,
                    title=title,
                    severity=severity,
                    actor=actor,
                    model=self.model_name,
                    now=self.clock(),
                    token=uuid.uuid4().hex,
                )
                break
            except IntegrityError:  # two declarations took the same number: take the next
                if attempt == MAX_DECLARE_ATTEMPTS - 1:
                    raise
        self.mark_dirty(incident_id)
        incident = await self.get(incident_id=incident_id)
        assert incident is not None
        return incident

    async def set_status(
        self, *, incident_id: int, status: str, actor: str, note: str = ""
    ) -> bool:
        done = await self._db(
            service.set_status,
            incident_id=incident_id,
            status=status,
            now=self.clock(),
            actor=actor,
            note=note,
        )
        if done is not None:
            self.mark_dirty(incident_id)
        return done is not None

    async def set_severity(self, *, incident_id: int, severity: str, actor: str) -> bool:
        done = await self._db(
            service.set_severity,
            incident_id=incident_id,
            severity=severity,
            now=self.clock(),
            actor=actor,
        )
        if done is not None:
            self.mark_dirty(incident_id)
        return done is not None

    async def assign_commander(self, *, incident_id: int, user: str, actor: str) -> bool:
        changed = await self._db(
            service.set_commander, incident_id=incident_id, user=user, now=self.clock(), by=actor
        )
        if changed:
            self.mark_dirty(incident_id)
        return changed

    async def set_impact(self, *, incident_id: int, impact: str, actor: str) -> None:
        await self._db(
            service.set_impact,
            incident_id=incident_id,
            impact=impact,
            now=self.clock(),
            actor=actor,
        )
        self.mark_dirty(incident_id)

    async def pin(self, *, channel: str, ts: str, user: str) -> bool:
        """Put a thread message onto its incident's timeline (a :pushpin: reaction), once."""
        async with self._pin_lock:  # two pins of one message at once: the first one counts
            return await self._pin(channel=channel, ts=ts, user=user)

    async def _pin(self, *, channel: str, ts: str, user: str) -> bool:
        found = await self.reporter.message_text(channel, ts)
        if found is None:
            return False
        text, author, root = found
        incident = await self.by_thread(channel=channel, ts=root or ts)
        if incident is None:
            return False
        if await self._db(
            service.has_event, incident_id=incident.id, kind="pinned", key="ts", value=ts
        ):
            return False
        await self.record(
            incident_id=incident.id,
            kind="pinned",
            actor=user,
            text=text[:4000],
            data={"ts": ts, "author": author},
        )
        return True

    async def open_ids(self) -> list[int]:
        return await self._db(service.open_ids)

    async def resolved_since(self, since: datetime) -> list[IncidentView]:
        return await self._db(service.resolved_since, since=since)
