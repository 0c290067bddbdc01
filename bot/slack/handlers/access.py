"""`/iris access check|request|breakglass|list|revoke|extend|audit`: parse, call the access
flows, render a template. The buttons and modals are in access_buttons.py."""

from __future__ import annotations

import re

from bot.access.flows import AccessFlows
from bot.access.incident_port import IncidentsForAccess
from bot.access.policy import parse_duration
from bot.access.requests import AccessRefused
from bot.access.roles import Role
from bot.commands.context import Arg, ArgRejected, Command, CommandContext, Kind, Opt, UserError
from bot.commands.kinds import USER
from bot.messages import Rendered
from bot.services import Services

Ctx = CommandContext[Services]


def _grant_id(word: str) -> int | None:
    match = re.fullmatch(r"(?:G-?)?(\d+)", word, re.IGNORECASE)
    if match is None:
        if word.upper().startswith("G-"):
            raise ArgRejected(word)
        return None
    return int(match.group(1))


GRANT = Kind("grant", _grant_id)


def flows(services: Services) -> AccessFlows:
    return services.access


def refused(exc: AccessRefused) -> UserError:
    return UserError(exc.template, result="refused", kind=exc.kind, **exc.facts)


def answer(services: Services, slash: str, kind: str, **facts: object) -> Rendered:
    return services.renderer.render("access_answer", slash=slash, kind=kind, **facts)


def _words(ctx: Ctx) -> list[str]:
    return str(ctx.arg("words") or "").split()


async def check(ctx: Ctx) -> Rendered:
    user = ctx.arg("user") or ctx.user_id
    report = await flows(ctx.services).check(user)
    return ctx.services.renderer.render(
        "access_check", slash=ctx.slash, report=report, asker=ctx.user_id
    )


async def request(ctx: Ctx) -> Rendered:
    try:
        grant = await flows(ctx.services).request(requester=ctx.user_id, words=_words(ctx))
    except AccessRefused as exc:
        raise refused(exc) from None
    return answer(ctx.services, ctx.slash, "requested", grant=grant)


async def break_glass(ctx: Ctx) -> Rendered:
    words = _words(ctx)
    incident = words.pop(0) if words and re.fullmatch(r"INC-?\d+", words[0], re.I) else None
    try:
        grant = await flows(ctx.services).break_glass(
            actor=ctx.user_id,
            user=ctx.arg("user"),
            incident_ref=incident,
            words=words,
            incidents=IncidentsForAccess(ctx.services.incidents),
        )
    except AccessRefused as exc:
        raise refused(exc) from None
    return answer(ctx.services, ctx.slash, "break_glass", grant=grant)


async def listing(ctx: Ctx) -> Rendered:
    user = ctx.arg("user") or ctx.user_id
    grants = await flows(ctx.services).listing(user)
    return answer(ctx.services, ctx.slash, "list", grants=grants, user=user)


async def revoke(ctx: Ctx) -> Rendered:
    try:
        grant = await flows(ctx.services).revoke(grant_id=ctx.arg("grant"), actor=ctx.user_id)
    except AccessRefused as exc:
        raise refused(exc) from None
    return answer(ctx.services, ctx.slash, "revoked", grant=grant)


async def extend(ctx: Ctx) -> Rendered:
    try:
        grant = await flows(ctx.services).extend(
            grant_id=ctx.arg("grant"), actor=ctx.user_id, text=ctx.arg("duration")
        )
    except AccessRefused as exc:
        raise refused(exc) from None
    kind = "extend_requested" if grant.state == "pending" else "extended"
    return answer(ctx.services, ctx.slash, kind, grant=grant)


async def audit(ctx: Ctx) -> Rendered:
    since_text = ctx.args.option("since", "7d") or "7d"
    fmt = (ctx.args.option("format", "csv") or "csv").lower()
    since = parse_duration(since_text)
    if since is None:
        raise refused(AccessRefused("bad_duration", text=since_text))
    if fmt not in ("csv", "json"):
        raise refused(AccessRefused("bad_format", text=fmt))
    content, filename = await flows(ctx.services).export(since=since, fmt=fmt)
    title = ctx.services.renderer.render(
        "access_answer", slash=ctx.slash, kind="audit_title", since=since_text
    ).text
    # The Slack layer owns the client: the export goes up as a file in the channel asked from.
    client = ctx.reply.client  # type: ignore[attr-defined]
    await client.files_upload_v2(
        channel=ctx.channel_id, content=content, filename=filename, title=title
    )
    return answer(ctx.services, ctx.slash, "audit", filename=filename, since=since_text)


WORDS = Arg("words", optional=True, rest=True, shown="<resource> [level] [for 4h] because <reason>")
GRANT_ARG = Arg("grant", kind=GRANT, shown="G-n", bare=True)

COMMANDS = (
    Command(
        "access check",
        check,
        args=(Arg("user", optional=True, kind=USER, shown="@user"),),
        answers_in_ack=False,
    ),
    Command("access request", request, args=(WORDS,), raw=True, answers_in_ack=False),
    Command(
        "access breakglass",
        break_glass,
        role=Role.ONCALL,
        args=(Arg("user", kind=USER, shown="@user", bare=True), WORDS),
        raw=True,
        answers_in_ack=False,
    ),
    Command("access list", listing, args=(Arg("user", optional=True, kind=USER, shown="@user"),)),
    Command("access revoke", revoke, args=(GRANT_ARG,), answers_in_ack=False),
    Command("access extend", extend, args=(GRANT_ARG, Arg("duration")), answers_in_ack=False),
    Command(
        "access audit",
        audit,
        role=Role.ADMIN,
        options=(Opt("since", value="7d"), Opt("format", value="csv|json")),
        answers_in_ack=False,
    ),
)
