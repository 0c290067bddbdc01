"""`IncidentPort` on the incident flows: break-glass grants find their incident and go on its
timeline (and so into its postmortem)."""

from __future__ import annotations

import re
from typing import Any

from bot.access.ports import IncidentFacts
from bot.incidents.flows import IncidentFlows

_REF = re.compile(r"^(?:INC-?)?(\d+)$", re.IGNORECASE)


class IncidentsForAccess:
    def __init__(self, incidents: IncidentFlows) -> None:
        self.incidents = incidents

    async def find(self, ref: str | None) -> IncidentFacts | None:
        if ref:
            match = _REF.match(ref.strip())
            if match is None:
                return None
            found = await self.incidents.get(number=int(match.group(1)))
        else:
            open_ones = await self.incidents.listing(open_only=True, limit=2)
            found = open_ones[0] if len(open_ones) == 1 else None
        if found is None:
            return None
        return IncidentFacts(
            id=found.id, ref=found.ref, commander=found.commander, is_open=found.is_open
        )

    async def record(
        self, incident_id: int, kind: str, actor: str, text: str, data: dict[str, Any]
    ) -> None:
        await self.incidents.record(
            incident_id=incident_id, kind=kind, actor=actor, text=text, data=data
        )
