"""What the access flows need from the outside, as protocols: a way to tell people (the Slack
layer renders templates), a clock for deadlines and retries (the persistent scheduler), and the
incidents (for break-glass)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from bot.access.models import GrantView

Audience = Literal["user", "card", "admins"]


class AccessNotifier(Protocol):
    async def request_card(
        self, grant: GrantView, approvers: frozenset[str], channel: str | None
    ) -> tuple[str, str] | None:
        """Post the request card (Approve / Deny); where it landed."""
        ...

    async def refresh_card(self, grant: GrantView) -> None:
        """Show the request's outcome on its card (the buttons go)."""
        ...

    async def notify(self, kind: str, grant: GrantView, audience: Audience, **facts: Any) -> None:
        """One templated message about a grant, to the user, the card's thread or the admins."""
        ...


class GrantClock(Protocol):
    def at(self, grant_id: int, when: datetime, job: str) -> None:
        """Run `job` (deadline, retry_grant, retry_revoke, remind:<mark>) for the grant at `when`."""
        ...

    def cancel(self, grant_id: int) -> None: ...


@dataclass(frozen=True)
class IncidentFacts:
    id: int
    ref: str
    commander: str | None
    is_open: bool


class IncidentPort(Protocol):
    async def find(self, ref: str | None) -> IncidentFacts | None:
        """The incident named, or the one open incident when none is named."""
        ...

    async def record(
        self, incident_id: int, kind: str, actor: str, text: str, data: dict[str, Any]
    ) -> None: ...
