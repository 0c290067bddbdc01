"""Private channels as a resource: membership through the chat service's invite and kick.

The domain knows only `ChannelMembership`; the Slack layer implements it
(bot/slack/access_channels.py) with conversations.invite / kick / members."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.access.policy import Resource
from bot.access.providers import Probe, ProviderError

MEMBER = "MEMBER"


class ChannelMembership(Protocol):
    async def members(self, channel: str) -> set[str]: ...

    async def invite(self, channel: str, user: str) -> None: ...

    async def kick(self, channel: str, user: str) -> None: ...


class ChannelProvider:
    name = "slack"

    def __init__(self, membership: ChannelMembership) -> None:
        self.membership = membership

    async def _members(self, resource: Resource) -> set[str]:
        try:
            return await self.membership.members(resource.target[0])
        except Exception as exc:  # the chat service's own error types stay out of the domain
            raise ProviderError(f"cannot read #{resource.target[0]}: {exc}") from None

    async def check(self, user: str, resource: Resource) -> Probe:
        try:
            members = await self._members(resource)
        except ProviderError as exc:
            return Probe(level=None, account=user, problem=exc.problem)
        return Probe(level=MEMBER if user in members else None, account=user)

    async def grant(self, user: str, resource: Resource, level: str, until: datetime) -> None:
        if user in await self._members(resource):
            return
        try:
            await self.membership.invite(resource.target[0], user)
        except Exception as exc:
            raise ProviderError(f"cannot invite to #{resource.target[0]}: {exc}") from None

    async def revoke(self, user: str, resource: Resource) -> None:
        if user not in await self._members(resource):
            return
        try:
            await self.membership.kick(resource.target[0], user)
        except Exception as exc:
            raise ProviderError(f"cannot remove from #{resource.target[0]}: {exc}") from None

    async def list_grants(self, resource: Resource, users: list[str]) -> dict[str, str | None]:
        members = await self._members(resource)
        return {u: MEMBER if u in members else None for u in users}

    async def health(self) -> str:
        return ""
