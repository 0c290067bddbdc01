"""Stakeholder subscriptions in Slack: `/iris subscribe`, `unsubscribe`, `subscriptions` and the
header's Subscribe button."""

from __future__ import annotations

from bot.access.roles import Role
from bot.commands.context import Arg, Command
from bot.incidents.models import IncidentView
from bot.messages import Rendered
from bot.services import Services
from bot.slack.handlers.incident_common import (
    CHANNEL,
    INCIDENT,
    SEV_WORD,
    Ctx,
    clicked,
    find,
    flows,
    updates,
    usage,
)
from bot.slack.interactions import Button, Interaction


def _answer(services: Services, slash: str, kind: str, **facts: object) -> Rendered:
    facts.setdefault("ref", None)
    facts.setdefault("severity", None)
    facts.setdefault("subscriber_kind", "user")
    facts.setdefault("subscriber", "")
    return services.renderer.render("incident_subscribe", slash=slash, kind=kind, **facts)


async def _target(ctx: Ctx) -> tuple[str, str, IncidentView | None]:
    """(subscriber, user|channel, the incident or None for every one) from the arguments."""
    subscriber, kind = ctx.arg("channel") or (ctx.user_id, "user")
    wanted = ctx.arg("incident")
    return subscriber, kind, await find(ctx.services, wanted) if wanted is not None else None


async def subscribe(ctx: Ctx) -> Rendered:
    subscriber, kind, incident = await _target(ctx)
    severity = ctx.arg("severity")
    if severity is not None and incident is not None:
        raise usage(ctx, "severity_with_incident", severity=severity, ref=incident.ref)
    outcome = await updates(ctx.services).subscribe(
        subscriber=subscriber,
        kind=kind,
        incident_id=incident.id if incident else None,
        min_severity=severity,
    )
    return _answer(
        ctx.services,
        ctx.slash,
        outcome,
        ref=incident.ref if incident else None,
        severity=severity,
        subscriber=subscriber,
        subscriber_kind=kind,
    )


async def unsubscribe(ctx: Ctx) -> Rendered:
    subscriber, kind, incident = await _target(ctx)
    removed = await updates(ctx.services).unsubscribe(
        subscriber=subscriber, incident_id=incident.id if incident else None
    )
    return _answer(
        ctx.services,
        ctx.slash,
        "unsubscribed" if removed else "not_subscribed",
        ref=incident.ref if incident else None,
        subscriber=subscriber,
        subscriber_kind=kind,
    )


async def list_subscriptions(ctx: Ctx) -> Rendered:
    mine = await updates(ctx.services).subscriptions_of(ctx.user_id)
    refs = {}
    for s in mine:
        if s.scope.isdigit():
            found = await flows(ctx.services).get(incident_id=int(s.scope))
            if found is not None:  # else the template says "incident <id>"
                refs[s.scope] = found.ref
    return _answer(
        ctx.services,
        ctx.slash,
        "list",
        subscriptions=mine,
        refs=refs,
        stakeholder=ctx.services.settings.stakeholder_channel or None,
    )


async def on_subscribe(click: Interaction) -> Rendered | None:
    """Get this incident's updates by DM (the header's Subscribe button)."""
    incident = await clicked(click)
    outcome = await updates(click.services).subscribe(
        subscriber=click.user_id, kind="user", incident_id=incident.id
    )
    return _answer(click.services, click.slash, outcome, ref=incident.ref)


# A bare number is an incident, never a severity: severities start with `sev`.
INCIDENT_ARG = Arg("incident", optional=True, kind=INCIDENT, shown="INC-n")
CHANNEL_ARG = Arg("channel", optional=True, kind=CHANNEL, shown="#channel")

COMMANDS = (
    Command(
        "subscribe",
        subscribe,
        args=(
            INCIDENT_ARG,
            CHANNEL_ARG,
            Arg("severity", optional=True, kind=SEV_WORD, shown="sev1|sev2|sev3|sev4"),
        ),
        raw=True,
        any_order=True,
    ),
    Command("unsubscribe", unsubscribe, args=(INCIDENT_ARG, CHANNEL_ARG), raw=True, any_order=True),
    Command("subscriptions", list_subscriptions),
)

BUTTONS = (Button("incident.subscribe", on_subscribe, role=Role.VIEWER),)
