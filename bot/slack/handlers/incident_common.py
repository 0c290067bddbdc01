"""What the incident and subscription handlers share: the kinds of their arguments (references,
severities), which incident a command or a click is about, the answers."""

from __future__ import annotations

import re
from typing import Any

from bot.commands.context import ArgRejected, CommandContext, Kind, UserError
from bot.incidents.flows import IncidentFlows
from bot.incidents.models import IncidentView
from bot.messages import Rendered
from bot.services import Services
from bot.slack.interactions import Interaction
from bot.updates.flows import IncidentUpdates

_REF = re.compile(r"^(?:inc-?|#)?(\d+)$", re.IGNORECASE)
_STRICT_REF = re.compile(r"^(?:inc-?|#)(\d+)$", re.IGNORECASE)
_SEV = re.compile(r"^(?:sev-?)?([1-4])$", re.IGNORECASE)
_CHANNEL = re.compile(r"^(?:<#(C\w+)(?:\|[^>]*)?>|#([a-z][\w.-]*))$", re.IGNORECASE)


def parse_severity(text: str) -> str | None:
    """sev2, SEV-2 or 2 → SEV2."""
    match = _SEV.match(text.strip())
    return f"SEV{match.group(1)}" if match else None


def parse_ref(text: str) -> int | None:
    """INC-3, inc3, #3 or 3 → 3."""
    match = _REF.match(text.strip())
    return int(match.group(1)) if match else None


def _strict_ref(word: str) -> str | None:
    """`INC-3` or `#3`, never a bare number: in `sev 2` the 2 is a value, not an incident."""
    return word if _STRICT_REF.match(word) else None


def _sev_word(word: str) -> str | None:
    """A word starting with `sev` is meant as a severity: a wrong one is an error, not a ref."""
    if not word.lower().startswith("sev"):
        return None
    severity = parse_severity(word)
    if severity is None:
        raise ArgRejected(word)
    return severity


def _channel(word: str) -> tuple[str, str] | None:
    match = _CHANNEL.match(word)
    return None if match is None else (match.group(1) or match.group(2), "channel")


# The argument as typed (INC-3, inc3, #3, 3): the handler looks the incident up.
INCIDENT = Kind("incident", lambda word: word if parse_ref(word) is not None else None)
STRICT_INCIDENT = Kind("strict_incident", _strict_ref)
SEVERITY = Kind("severity", parse_severity)
SEV_WORD = Kind("sev_word", _sev_word)
CHANNEL = Kind("channel", _channel)

Ctx = CommandContext[Services]


def usage(ctx: Ctx, kind: str, **facts: Any) -> UserError:
    """The usage answer for a problem only the handler can see (usage_error.j2 words it)."""
    return UserError(
        "usage_error", kind=kind, suggestion=None, text=ctx.text, command=ctx.command, **facts
    )


def flows(services: Services) -> IncidentFlows:
    return services.incidents


def updates(services: Services) -> IncidentUpdates:
    """Stakeholder updates (subscriptions, the update clock, commander reminders)."""
    return services.updates


def answer(services: Services, slash: str, kind: str, **facts: object) -> Rendered:
    return services.renderer.render("incident_answer", slash=slash, kind=kind, **facts)


async def find(services: Services, wanted: str) -> IncidentView:
    """The incident `wanted` names (`INC-n`, `#n`, `n`), or the not-found answer."""
    number = parse_ref(wanted)
    incident = await flows(services).get(number=number) if number is not None else None
    if incident is None:
        raise UserError("incident_answer", kind="not_found", wanted=wanted)
    return incident


async def target(ctx: Ctx) -> IncidentView:
    """The incident a command is about.

    The `incident` argument first; else the thread the command came from (Slack sends slash
    commands no thread, so in practice: other entry points); else, in the incident channel, the
    one open incident there. Anything else must name the incident.
    """
    if (wanted := ctx.arg("incident")) is not None:
        return await find(ctx.services, wanted)
    incidents = flows(ctx.services)
    if ctx.thread_ts:
        incident = await incidents.by_thread(channel=ctx.channel_id, ts=ctx.thread_ts)
        if incident is not None:
            return incident
    open_ones = await incidents.listing(open_only=True)
    here = [i for i in open_ones if i.channel == ctx.channel_id]
    if here and len(open_ones) == 1:
        return open_ones[0]
    raise UserError(
        "incident_answer",
        kind="which",
        refs=[i.ref for i in open_ones],
        usage=ctx.command.usage,
    )


async def by_id(services: Services, incident_id: int | None) -> IncidentView:
    """The incident with this id (from a button or a modal), or the not-found answer."""
    incident = await flows(services).get(incident_id=incident_id) if incident_id else None
    if incident is None:
        raise UserError("incident_answer", kind="not_found", wanted="that incident")
    return incident


async def clicked(click: Interaction) -> IncidentView:
    """The incident a header button belongs to (its value is the incident id)."""
    return await by_id(click.services, int(click.value) if click.value.isdigit() else None)
