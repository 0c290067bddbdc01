"""Where incident changes are announced, and the timeline lines that announce themselves.

The incident flows publish an incident (header, thread, watchers) after it changed. Two parts
write changes without holding the flows: the alert intake (a firing alert lands on an incident)
and the stakeholder updates (each update sent is a timeline line). They cannot hold the flows,
because the flows are built after them: the flows tell the updates of every publication, and
they read the monitors, which raise their alerts into the intake. So the composition root builds
an `IncidentChanges` first and gives it to all three; the flows attach their publisher to it
when they are built, before any alert or update can arrive.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.db import Database, utcnow
from bot.incidents import service


class IncidentChanges:
    """`changed(incident_id)` from the writers reaches the publisher of the incident flows."""

    def __init__(self) -> None:
        self._publish: Callable[[int], None] | None = None

    def attach(self, publish: Callable[[int], None]) -> None:
        """The flows' publisher; one per hub (a second flows object would split the incidents)."""
        if self._publish is not None:
            raise RuntimeError("these incident changes are already published by other flows")
        self._publish = publish

    def changed(self, incident_id: int) -> None:
        """Publish this incident soon; before the flows exist, a change has no header to move."""
        if self._publish is not None:
            self._publish(incident_id)


class IncidentTimeline:
    """Adds lines to incidents' timelines and announces each as a change."""

    def __init__(
        self,
        *,
        db: Database,
        changes: IncidentChanges,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.changes = changes
        self.clock = clock

    async def record(
        self,
        *,
        incident_id: int,
        kind: str,
        actor: str | None = None,
        text: str = "",
        data: dict[str, Any] | None = None,
    ) -> int:
        """Add a line to the timeline (a rollback started, an update sent, ...); its id."""

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

        event_id = await self.db.call(write)
        self.changes.changed(incident_id)
        return event_id
