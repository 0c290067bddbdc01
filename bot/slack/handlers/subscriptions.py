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
from bot.slack.handlers.incident_common import (
    IncidentHandlers,
    command_words,
    parse_ref,
    parse_severity,
    usage,
)
from bot.slack.interactions import Interaction, InteractionRegistry

_CHANNEL = re.compile(r"^(?:<#(C\w+)(?:\|[^>]*)?>|#([a-z][\w.-]*))$", re.IGNORECASE)


def register(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    kit = IncidentHandlers(services)

    def subscribed(slash: str, kind: str, **facts: object) -> Rendered:
        facts.setdefault("ref", None)
        facts.setdefault("severity", None)
        facts.setdefault("subscriber_kind", "user")
        facts.setdefault("subscriber", "")
        return kit.renderer.render("incident_subscribe", slash=slash, kind=kind, **facts)

    async def subscription_target(
        ctx: CommandContext,
    ) -> tuple[str, str, IncidentView | None, str | None]:
        """(subscriber, user|channel, incident or None for all, severity or None for every one)
        from `[INC-n] [#channel] [sevN]`; a bare number is an incident, never a severity."""
        subscriber, kind, incident, severity = ctx.user_id, "user", None, None
        for word in command_words(ctx):
            if (channel := _CHANNEL.match(word)) is not None:
                subscriber, kind = channel.group(1) or channel.group(2), "channel"
            elif word.lower().startswith("sev") and severity is None:
                if (severity := parse_severity(word)) is None:
                    raise usage(ctx, f"`{word}` is not a severity: `sev1` (the worst) to `sev4`.")
            elif parse_ref(word) is not None and incident is None:
                incident = await kit.find(word)
            else:
                raise usage(ctx, f"`{word}` is neither `INC-n`, a `#channel` nor a `sevN`.")
        if severity is not None and incident is not None:
            raise usage(
                ctx,
                f"A severity goes with a subscription to every incident (`subscribe "
                f"{severity.lower()}`); `subscribe {incident.ref}` gets every update of it.",
            )
        return subscriber, kind, incident, severity

    @commands.command(
        "subscribe",
        usage="subscribe [INC-n] [#channel] [sev1|sev2|sev3|sev4]",
        summary=(
            "Get incident updates by DM (every incident, only those at a severity or worse, "
            "or one); or send them to a channel"
        ),
        examples=("subscribe", "subscribe sev2", "subscribe INC-1", "subscribe #ml-team"),
    )
    async def subscribe(ctx: CommandContext) -> Rendered:
        subscriber, kind, incident, severity = await subscription_target(ctx)
        outcome = await kit.updates().subscribe(
            subscriber=subscriber,
            kind=kind,
            incident_id=incident.id if incident else None,
            min_severity=severity,
        )
        return subscribed(
            ctx.slash,
            outcome,
            ref=incident.ref if incident else None,
            severity=severity,
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
        subscriber, kind, incident, severity = await subscription_target(ctx)
        if severity is not None:
            raise usage(
                ctx, "`unsubscribe` stops a subscription whatever its severity: leave it out."
            )
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
        outcome = await kit.updates().subscribe(
            subscriber=click.user_id, kind="user", incident_id=incident.id
        )
        return subscribed(click.slash, outcome, ref=incident.ref)
