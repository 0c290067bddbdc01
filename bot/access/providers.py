"""The access-provider interface: one real system that enforces access (MLflow's auth server,
PostgreSQL roles, Slack channels, or a person following a checklist).

Providers speak of accounts, not Slack users: `Identity` maps a Slack user to their account name
in each system (`[people]` is not needed: by default the account is the Slack user id, lowered).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.access.policy import Resource


class ProviderError(Exception):
    """The provider could not be reached or refused the call; `retry` says whether trying again
    later may help (a server down) or not (no such account)."""

    def __init__(self, problem: str, *, retry: bool = True) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry = retry


@dataclass(frozen=True)
class Probe:
    """What a provider says about one user on one resource right now."""

    level: str | None  # the level the user holds there, None for none
    account: str  # the user's account in that system
    problem: str = ""  # why the answer is unknown or the account is missing ("" when fine)
    manual: bool = False  # the bot cannot look: the record is all there is


class AccessProvider(Protocol):
    """check / grant / revoke / list_grants on one kind of resource."""

    name: str

    async def check(self, user: str, resource: Resource) -> Probe: ...

    async def grant(self, user: str, resource: Resource, level: str, until: datetime) -> None: ...

    async def revoke(self, user: str, resource: Resource) -> None: ...

    async def list_grants(self, resource: Resource, users: list[str]) -> dict[str, str | None]: ...

    async def health(self) -> str:
        """ "" when ready, else one line on what is wrong (checked at start)."""
        ...


async def probe_many(
    provider: AccessProvider, resource: Resource, users: list[str]
) -> dict[str, str | None]:
    """`list_grants` for providers that can only ask per user."""
    found: dict[str, str | None] = {}
    for user in users:
        found[user] = (await provider.check(user, resource)).level
    return found


class ManualProvider:
    """For what the bot cannot change itself (a dashboard in another tool): a grant and a
    revocation are checklists for an admin; what the user holds is what the record says."""

    name = "manual"

    def __init__(self, held: dict[tuple[str, str], str] | None = None) -> None:
        # (user, resource) -> level, as the bot's records say; filled by the flows.
        self.held = held if held is not None else {}

    async def check(self, user: str, resource: Resource) -> Probe:
        return Probe(level=self.held.get((user, resource.name)), account=user, manual=True)

    async def grant(self, user: str, resource: Resource, level: str, until: datetime) -> None:
        self.held[(user, resource.name)] = level

    async def revoke(self, user: str, resource: Resource) -> None:
        self.held.pop((user, resource.name), None)

    async def list_grants(self, resource: Resource, users: list[str]) -> dict[str, str | None]:
        return {u: self.held.get((u, resource.name)) for u in users}

    async def health(self) -> str:
        return ""


class UnconfiguredProvider:
    """A provider the bot has no settings for: it says so instead of guessing."""

    def __init__(self, name: str, setting: str) -> None:
        self.name = name
        self.problem = f"not configured ({setting})"

    async def check(self, user: str, resource: Resource) -> Probe:
        return Probe(level=None, account=user, problem=self.problem)

    async def grant(self, user: str, resource: Resource, level: str, until: datetime) -> None:
        raise ProviderError(self.problem, retry=False)

    async def revoke(self, user: str, resource: Resource) -> None:
        raise ProviderError(self.problem, retry=False)

    async def list_grants(self, resource: Resource, users: list[str]) -> dict[str, str | None]:
        return dict.fromkeys(users)

    async def health(self) -> str:
        return self.problem
