"""What the incident and subscription handlers share: references, severities, which incident."""

from __future__ import annotations

import re

from bot.commands.context import CommandContext, UserError
from bot.commands.parser import ParseError, tokenize
from bot.incidents.flows import IncidentFlows
from bot.incidents.models import IncidentView
from bot.messages import Rendered
from bot.services import Services
from bot.slack.interactions import Interaction
from bot.updates.flows import IncidentUpdates

_REF = re.compile(r"^(?:inc-?|#)?(\d+)$", re.IGNORECASE)
_STRICT_REF = re.compile(r"^(?:inc-?|#)(\d+)$", re.IGNORECASE)
_SEV = re.compile(r"^(?:sev-?)?([1-4])$", re.IGNORECASE)


def parse_severity(text: str) -> str | None:
    """sev2, SEV-2 or 2 → SEV2."""
    match = _SEV.match(text.strip())
    return f"SEV{match.group(1)}" if match else None


def parse_ref(text: str) -> int | None:
    """INC-3, inc3, #3 or 3 → 3."""
    match = _REF.match(text.strip())
    return int(match.group(1)) if match else None


def command_words(ctx: CommandContext) -> list[str]:
    """The words after the command's name, as typed (key=value and --x stay free text)."""
    try:
        return tokenize(ctx.text)[len(ctx.command.path) :]
    except ParseError:
        return list(ctx.args.positionals)


def usage(ctx: CommandContext, problem: str) -> UserError:
    """The answer to a command given the wrong words: the problem and the command's usage."""
    return UserError(
        "usage_error", problem=problem, suggestion=None, text=ctx.text, command=ctx.command
    )


class IncidentHandlers:
    """The incident domain as the Slack handlers reach it: the flows, answers, which incident."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.renderer = services.renderer

    def flows(self) -> IncidentFlows:
        return self.services.incidents

    def updates(self) -> IncidentUpdates:
        """Stakeholder updates (subscriptions, the update clock, commander reminders)."""
        return self.services.updates

    def answer(self, slash: str, kind: str, **facts: object) -> Rendered:
        return self.renderer.render("incident_answer", slash=slash, kind=kind, **facts)

    async def find(self, wanted: str) -> IncidentView:
        """The incident `wanted` names (`INC-n`, `#n`, `n`), or the not-found answer."""
        number = parse_ref(wanted)
        incident = await self.flows().get(number=number) if number is not None else None
        if incident is None:
            raise UserError("incident_answer", kind="not_found", wanted=wanted)
        return incident

    async def target(self, ctx: CommandContext) -> tuple[IncidentView, list[str]]:
        """The incident a command is about, and the words after its reference.

        `INC-n` first; else the thread the command came from (Slack sends slash commands no
        thread, so in practice: other entry points); else, in the incident channel, the one open
        incident there. Anything else must name the incident.
        """
        flows = self.flows()
        words = command_words(ctx)
        if words and _STRICT_REF.match(words[0]):  # a bare number is a value (`sev 2`), not a ref
            return await self.find(words[0]), words[1:]
        if ctx.thread_ts:
            incident = await flows.by_thread(channel=ctx.channel_id, ts=ctx.thread_ts)
            if incident is not None:
                return incident, words
        open_ones = await flows.listing(open_only=True)
        here = [i for i in open_ones if i.channel == ctx.channel_id]
        if here and len(open_ones) == 1:
            return open_ones[0], words
        raise UserError(
            "incident_answer",
            kind="which",
            refs=[i.ref for i in open_ones],
            usage=ctx.command.usage,
        )

    async def by_id(self, incident_id: int | None) -> IncidentView:
        """The incident with this id (from a button or a modal), or the not-found answer."""
        incident = await self.flows().get(incident_id=incident_id) if incident_id else None
        if incident is None:
            raise UserError("incident_answer", kind="not_found", wanted="that incident")
        return incident

    async def clicked(self, click: Interaction) -> IncidentView:
        """The incident a header button belongs to (its value is the incident id)."""
        return await self.by_id(int(click.value) if click.value.isdigit() else None)
