"""Incidents in Slack: `/iris incident ...`, `/iris postmortem` and the header's buttons.

Subscriptions are in `subscriptions.py`, the commander reminders in `reminders.py`; the wiring
of the incident domain (`build_incidents`) is in `bot/slack/incident_wiring.py`.
"""

from __future__ import annotations

import asyncio

from bot.access.roles import Role
from bot.commands.context import Arg, Command, Handler, UserError
from bot.commands.kinds import PERSON, choice
from bot.deploy.flows import DeployRefused, start_rollback
from bot.incidents.models import IncidentView
from bot.messages import Rendered
from bot.model_registry.errors import RegistryError
from bot.runbook import RunbookInputError
from bot.services import Services
from bot.slack.handlers.deploy import deploy_context
from bot.slack.handlers.incident_common import (
    INCIDENT,
    SEVERITY,
    STRICT_INCIDENT,
    Ctx,
    answer,
    clicked,
    find,
    flows,
    target,
    updates,
    usage,
)
from bot.slack.interactions import Button, Interaction

STATUSES = ("investigating", "identified", "monitoring", "resolved")


def _changed(ctx: Ctx, incident: IncidentView, what: str, value: str, done: object) -> Rendered:
    """The answer of status, sev, commander and impact: changed, or it already was."""
    kind = "changed" if done else "unchanged"
    return answer(ctx.services, ctx.slash, kind, incident=incident, what=what, value=value)


async def incident_declare(ctx: Ctx) -> Rendered:
    incident = await flows(ctx.services).declare(
        title=ctx.arg("title").strip(), severity=ctx.arg("severity") or "SEV3", actor=ctx.user_id
    )
    return answer(ctx.services, ctx.slash, "declared", incident=incident)


async def incident_status(ctx: Ctx) -> Rendered:
    incident = await target(ctx)
    wanted, note = ctx.arg("status"), ctx.arg("note") or ""
    if wanted == "resolved":
        done = await flows(ctx.services).resolve(
            incident_id=incident.id, actor=ctx.user_id, summary=note
        )
        kind = "resolved" if done else "already_resolved"
        return answer(ctx.services, ctx.slash, kind, incident=incident)
    if not incident.is_open:
        return answer(ctx.services, ctx.slash, "already_resolved", incident=incident)
    done = await flows(ctx.services).set_status(
        incident_id=incident.id, status=wanted, actor=ctx.user_id, note=note
    )
    return _changed(ctx, incident, "status", wanted, done)


async def incident_sev(ctx: Ctx) -> Rendered:
    incident = await target(ctx)
    severity = ctx.arg("severity")
    done = await flows(ctx.services).set_severity(
        incident_id=incident.id, severity=severity, actor=ctx.user_id
    )
    return _changed(ctx, incident, "severity", severity, done)


async def incident_commander(ctx: Ctx) -> Rendered:
    incident = await target(ctx)
    user = ctx.user_id if ctx.arg("user") == "me" else ctx.arg("user")
    done = await flows(ctx.services).assign_commander(
        incident_id=incident.id, user=user, actor=ctx.user_id
    )
    return _changed(ctx, incident, "commander", f"<@{user}>", done)


async def incident_impact(ctx: Ctx) -> Rendered:
    incident = await target(ctx)
    await flows(ctx.services).set_impact(
        incident_id=incident.id, impact=ctx.arg("text"), actor=ctx.user_id
    )
    return _changed(ctx, incident, "impact", "updated", True)  # a new statement, always


async def incident_update(ctx: Ctx) -> Rendered:
    incident = await target(ctx)
    await updates(ctx.services).send_update(
        incident_id=incident.id, text=ctx.arg("text"), actor=ctx.user_id
    )
    return answer(ctx.services, ctx.slash, "update_sent", incident=incident)


async def incident_note(ctx: Ctx) -> Rendered:
    incident = await target(ctx)
    await flows(ctx.services).record(
        incident_id=incident.id, kind="note", actor=ctx.user_id, text=ctx.arg("text")
    )
    return answer(ctx.services, ctx.slash, "noted", incident=incident)


async def postmortem(ctx: Ctx) -> Rendered:
    incident = await find(ctx.services, ctx.arg("incident"))
    path = await flows(ctx.services).postmortem(incident_id=incident.id)
    return answer(ctx.services, ctx.slash, "postmortem", incident=incident, path=str(path or ""))


async def incident_list(ctx: Ctx) -> Rendered:
    incidents = await flows(ctx.services).listing(limit=20)
    return ctx.services.renderer.render("incident_list", slash=ctx.slash, incidents=incidents)


async def incident_show(ctx: Ctx) -> Rendered:
    wanted = ctx.arg("incident")
    if wanted is None:
        open_ones = await flows(ctx.services).listing(open_only=True)
        if len(open_ones) != 1:
            raise usage(ctx, "missing", arg=SHOWN)
        wanted = open_ones[0].ref  # found again below, with its timeline
    incident = await find(ctx.services, wanted)
    return ctx.services.renderer.render("incident_show", slash=ctx.slash, incident=incident)


async def incident_resolve(ctx: Ctx) -> Rendered:
    services, incident = ctx.services, None
    if ctx.arg("incident") is not None:
        incident = await find(services, ctx.arg("incident"))
    elif ctx.thread_ts:
        incident = await flows(services).by_thread(channel=ctx.channel_id, ts=ctx.thread_ts)
    if incident is None:
        open_ones = await flows(services).listing(open_only=True)
        if len(open_ones) != 1:
            raise UserError("incident_answer", kind="which", refs=[i.ref for i in open_ones])
        incident = open_ones[0]
    done = await flows(services).resolve(
        incident_id=incident.id, actor=ctx.user_id, summary=ctx.arg("summary") or ""
    )
    kind = "resolved" if done else "already_resolved"
    return answer(services, ctx.slash, kind, incident=incident)


async def on_ack(click: Interaction) -> Rendered | None:
    """Take the incident commander role."""
    incident = await clicked(click)
    done = await flows(click.services).acknowledge(incident_id=incident.id, user=click.user_id)
    kind = "acknowledged" if done else "already_commander"
    return answer(click.services, click.slash, kind, incident=incident)


async def on_rollback(click: Interaction) -> Rendered | None:
    """Roll production back from an incident; a refusal goes into the incident's thread."""
    services = click.services
    incident = await clicked(click)
    channel = incident.channel or click.channel_id
    thread = incident.header_ts or click.message_ts
    try:
        run = await start_rollback(
            deploy_context(services),
            version_text=None,
            actor=click.user_id,
            role=click.role,
            channel=channel,
            reason=f"{incident.ref}: {incident.title}",
            thread_ts=thread,
        )
    except DeployRefused as exc:
        refusal = services.renderer.render(
            exc.template, slash=click.slash, kind=exc.kind, **exc.facts
        )
        await click.reply.post(channel, refusal, thread_ts=thread)
        return None
    except RegistryError as exc:
        raise UserError("registry_unavailable", problem=str(exc)) from None
    await flows(services).record(
        incident_id=incident.id,
        kind="rollback_started",
        actor=click.user_id,
        data={"run_id": run.id},
    )
    return answer(services, click.slash, "started", run=run, incident=incident)


async def on_retrain(click: Interaction) -> Rendered | None:
    """Start the retrain runbook from an incident, in its thread."""
    services = click.services
    incident = await clicked(click)
    engine = services.engine
    if "retrain" not in engine.runbooks:
        return answer(services, click.slash, "no_retrain")
    try:
        run = await engine.start(
            "retrain",
            await _retrain_params(services),
            actor=click.user_id,
            channel=incident.channel or click.channel_id,
            thread_ts=incident.header_ts or click.message_ts,
            incident_id=incident.id,
        )
    except RunbookInputError as exc:
        return answer(services, click.slash, "runbook_problem", runbook="retrain", problem=str(exc))
    await flows(services).record(
        incident_id=incident.id,
        kind="retrain_started",
        actor=click.user_id,
        data={"run_id": run.id},
    )
    return answer(services, click.slash, "started", run=run, incident=incident)


async def _retrain_params(services: Services) -> dict[str, object]:
    """Retrain what is in production, the way it was trained (the runbook needs an estimator)."""
    runbook = services.engine.runbooks["retrain"]
    needs = getattr(getattr(runbook, "parameters", None), "get", lambda _k: None)("estimator")
    if needs is None:
        return {}
    estimator = "logistic_regression"
    try:
        production = await asyncio.to_thread(services.models.production_version)
        if production is not None:
            described = await asyncio.to_thread(services.models.describe, production)
            estimator = getattr(described, "estimator", None) or estimator
    except Exception:
        pass  # the runbook checks the estimator again; the default is always valid
    return {"estimator": estimator}


# `INC-n` or `#n` before the other words; a bare number there is a value (`sev 2`).
WHICH = Arg("incident", optional=True, kind=STRICT_INCIDENT, shown="INC-n")
SHOWN = Arg("incident", optional=True, shown="INC-n")
TEXT = Arg("text", rest=True)


def _incident(name: str, handler: Handler, *args: Arg, answers_in_ack: bool = True) -> Command:
    """An oncall command that takes its words as typed (titles and notes are free text)."""
    return Command(
        name, handler, role=Role.ONCALL, args=args, raw=True, answers_in_ack=answers_in_ack
    )


COMMANDS = (
    _incident(
        "incident declare",
        incident_declare,
        Arg("severity", optional=True, kind=SEVERITY, shown="sev1..sev4"),
        Arg("title", rest=True),
    ),
    _incident(
        "incident status",
        incident_status,
        WHICH,
        Arg("status", kind=choice("status", STATUSES), shown="|".join(STATUSES)),
        Arg("note", optional=True, rest=True),
    ),
    _incident("incident sev", incident_sev, WHICH, Arg("severity", kind=SEVERITY, shown="1-4")),
    _incident(
        "incident commander",
        incident_commander,
        WHICH,
        Arg("user", kind=PERSON, shown="@user", bare=True),
    ),
    _incident("incident impact", incident_impact, WHICH, TEXT),
    _incident("incident update", incident_update, WHICH, TEXT),
    _incident("incident note", incident_note, WHICH, TEXT),
    _incident(
        "postmortem",
        postmortem,
        Arg("incident", kind=INCIDENT, shown="INC-n", bare=True),
        answers_in_ack=False,
    ),
    Command("incident list", incident_list),
    Command("incident show", incident_show, args=(SHOWN,)),
    _incident(
        "incident resolve",
        incident_resolve,
        Arg("incident", optional=True, kind=INCIDENT, shown="INC-n"),
        Arg("summary", optional=True, rest=True),
    ),
)

BUTTONS = (
    Button("incident.ack", on_ack, role=Role.ONCALL),
    Button("incident.rollback", on_rollback, role=Role.ONCALL),
    Button("incident.retrain", on_retrain, role=Role.ONCALL),
)
