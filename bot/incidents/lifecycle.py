"""The lifecycle commands people give an incident: declare, status, severity, commander, impact,
updates, pins. A mixin of `IncidentFlows`, kept apart so that flows.py stays about publishing;
each method changes the database and marks the incident for publishing.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import IntegrityError

from bot.incidents import service
from bot.incidents.models import IncidentView

if TYPE_CHECKING:
    from bot.incidents.flows import IncidentReporter
    from bot.updates.flows import IncidentUpdates

T = TypeVar("T")
log = logging.getLogger(__name__)
MAX_DECLARE_ATTEMPTS = 5


class LifecycleCommands:
    """Needs from its host: `_db`, `get`, `by_thread`, `record`, `mark_dirty`, `reporter`,
    `clock`, `model_name`."""

    reporter: IncidentReporter
    clock: Callable[[], datetime]
    model_name: str
    _pin_lock: asyncio.Lock
    _side_tasks: set[asyncio.Task[Any]]
    updates: IncidentUpdates | None

    if TYPE_CHECKING:  # provided by IncidentFlows

        async def _db(self, fn: Callable[..., T], **kwargs: Any) -> T: ...

        async def get(
            self, *, incident_id: int | None = None, number: int | None = None
        ) -> IncidentView | None: ...

        async def by_thread(self, *, channel: str, ts: str) -> IncidentView | None: ...

        async def record(
            self,
            *,
            incident_id: int,
            kind: str,
            actor: str | None = None,
            text: str = "",
            data: dict[str, Any] | None = None,
        ) -> int: ...

        def mark_dirty(self, incident_id: int) -> None: ...

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

    async def send_update(self, *, incident_id: int, text: str, actor: str) -> None:
        """A stakeholder update: posted in the thread (next flush) and sent to every subscriber
        at once, in the background so that the command's ack does not wait (the clock restarts)."""
        incident = await self.get(incident_id=incident_id)
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
        if self.updates is not None:
            updates = self.updates

            async def sending() -> None:
                try:
                    await updates.send_now(incident_id=incident_id, event_id=event_id, text=text)
                except Exception:
                    log.exception("update %s of incident %s not sent", event_id, incident_id)

            task = asyncio.get_running_loop().create_task(sending())
            self._side_tasks.add(task)  # IncidentFlows.idle and aclose wait for it
            task.add_done_callback(self._side_tasks.discard)

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
