"""Stakeholder subscriptions in Slack: `/iris subscribe`, `unsubscribe`, `subscriptions` and the
header's Subscribe button."""

from __future__ import annotations

import re

from bot.access.roles import Role
from bot.commands.context import CommandContext
from bot.commands.registry import CommandRegistry
from bot.incidents.models import IncidentView
from bot.messages import Rendered
from bot.services import Services
from bot.slack.handlers.incident_common import IncidentHandlers, command_words, parse_ref, usage
from bot.slack.interactions import Interaction, InteractionRegistry

_CHANNEL = re.compile(r"^(?:<#(C\w+)(?:\|[^>]*)?>|#([a-z][\w.-]*))$", re.IGNORECASE)


def register(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    kit = IncidentHandlers(services)

    def subscribed(slash: str, kind: str, **facts: object) -> Rendered:
        facts.setdefault("ref", None)
        facts.setdefault("subscriber_kind", "user")
        facts.setdefault("subscriber", "")
        return kit.renderer.render("incident_subscribe", slash=slash, kind=kind, **facts)

    async def subscription_target(ctx: CommandContext) -> tuple[str, str, IncidentView | None]:
        """(subscriber, user|channel, incident or None for all) from `[#channel] [INC-n]`."""
        subscriber, kind, incident = ctx.user_id, "user", None
        for word in command_words(ctx):
            if (channel := _CHANNEL.match(word)) is not None:
                subscriber, kind = channel.group(1) or channel.group(2), "channel"
            elif parse_ref(word) is not None and incident is None:
                incident = await kit.find(word)
            else:
                raise usage(ctx, f"`{word}` is neither `INC-n` nor a `#channel`.")
        return subscriber, kind, incident

    @commands.command(
        "subscribe",
        usage="subscribe [INC-n] [#channel]",
        summary="Get incident updates by DM (every incident, or one); or send them to a channel",
        examples=("subscribe", "subscribe INC-1", "subscribe #ml-team"),
    )
    async def subscribe(ctx: CommandContext) -> Rendered:
        subscriber, kind, incident = await subscription_target(ctx)
        added = await kit.updates().subscribe(
            subscriber=subscriber, kind=kind, incident_id=incident.id if incident else None
        )
        return subscribed(
            ctx.slash,
            "subscribed" if added else "already",
            ref=incident.ref if incident else None,
            subscriber=subscriber,
            subscriber_kind=kind,
        )

    @commands.command(
        "unsubscribe",
        usage="unsubscribe [INC-n] [#channel]",
        summary="Stop incident updates (every subscription, or the one to INC-n)",
        examples=("unsubscribe", "unsubscribe INC-1"),
    )
    async def unsubscribe(ctx: CommandContext) -> Rendered:
        subscriber, kind, incident = await subscription_target(ctx)
        removed = await kit.updates().unsubscribe(
            subscriber=subscriber, incident_id=incident.id if incident else None
        )
        return subscribed(
            ctx.slash,
            "unsubscribed" if removed else "not_subscribed",
            ref=incident.ref if incident else None,
            subscriber=subscriber,
            subscriber_kind=kind,
        )

    @commands.command(
        "subscriptions", usage="subscriptions", summary="The incident updates you get"
    )
    async def list_subscriptions(ctx: CommandContext) -> Rendered:
        mine = await kit.updates().subscriptions_of(ctx.user_id)
        refs = {}
        for s in mine:
            if s.scope.isdigit():
                found = await kit.flows().get(incident_id=int(s.scope))
                refs[s.scope] = found.ref if found else f"incident {s.scope}"
        return subscribed(
            ctx.slash,
            "list",
            subscriptions=mine,
            refs=refs,
            stakeholder=services.settings.stakeholder_channel or None,
        )

    @interactions.action(
        "incident.subscribe", role=Role.VIEWER, summary="Get this incident's updates by DM"
    )
    async def on_subscribe(click: Interaction) -> Rendered | None:
        incident = await kit.clicked(click)
        added = await kit.updates().subscribe(
            subscriber=click.user_id, kind="user", incident_id=incident.id
        )
        return subscribed(click.slash, "subscribed" if added else "already", ref=incident.ref)
