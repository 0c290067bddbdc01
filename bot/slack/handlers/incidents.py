"""Incidents in Slack: `/iris incident ...`, `/iris postmortem` and the header's buttons.

Subscriptions are in `subscriptions.py`, the commander reminders in `reminders.py`; the wiring
of the incident domain (`build_incidents`) is in `bot/slack/incident_wiring.py`.
"""

from __future__ import annotations

import asyncio

from bot.access.roles import Role
from bot.commands.context import CommandContext, UserError
from bot.commands.parser import slack_user_id
from bot.commands.registry import CommandRegistry
from bot.deploy.flows import DeployContext, DeployRefused, start_rollback
from bot.incidents.models import IncidentView
from bot.messages import Rendered
from bot.registry.errors import RegistryError
from bot.runbook import RunbookInputError
from bot.services import Services
from bot.slack.handlers.incident_common import (
    IncidentHandlers,
    command_words,
    parse_ref,
    parse_severity,
    usage,
)
from bot.slack.interactions import Interaction, InteractionRegistry

STATUSES = ("investigating", "identified", "monitoring", "resolved")


def register(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    kit = IncidentHandlers(services)

    def changed(
        ctx: CommandContext, incident: IncidentView, what: str, value: str, done: object
    ) -> Rendered:
        """The answer of status, sev, commander and impact: changed, or it already was."""
        kind = "changed" if done else "unchanged"
        return kit.answer(ctx.slash, kind, incident=incident, what=what, value=value)

    @commands.command(
        "incident declare",
        usage="incident declare [sev1..sev4] <title>",
        summary="Open an incident by hand; you are its commander",
        role=Role.ONCALL,
        examples=("incident declare sev2 Predictions for setosa are all wrong",),
    )
    async def incident_declare(ctx: CommandContext) -> Rendered:
        words = command_words(ctx)
        severity = "SEV3"
        if words and (sev := parse_severity(words[0])) is not None:
            severity, words = sev, words[1:]
        title = " ".join(words).strip()
        if not title:
            raise usage(ctx, "Give the incident a title: what is wrong, in a few words.")
        incident = await kit.flows().declare(title=title, severity=severity, actor=ctx.user_id)
        return kit.answer(ctx.slash, "declared", incident=incident)

    @commands.command(
        "incident status",
        usage="incident status [INC-n] <investigating|identified|monitoring|resolved> [note]",
        summary="Move an incident to its next status, with an optional note",
        role=Role.ONCALL,
        examples=("incident status INC-1 identified drift in petal widths",),
    )
    async def incident_status(ctx: CommandContext) -> Rendered:
        incident, words = await kit.target(ctx)
        wanted = words[0].lower() if words else ""
        if wanted not in STATUSES:
            raise usage(
                ctx,
                f"`{wanted}` is not a status. "
                if wanted
                else "Which status? Say investigating, identified, monitoring or resolved.",
            )
        note = " ".join(words[1:])
        if wanted == "resolved":
            done = await kit.flows().resolve(
                incident_id=incident.id, actor=ctx.user_id, summary=note
            )
            kind = "resolved" if done else "already_resolved"
            return kit.answer(ctx.slash, kind, incident=incident)
        if not incident.is_open:
            return kit.answer(ctx.slash, "already_resolved", incident=incident)
        done = await kit.flows().set_status(
            incident_id=incident.id, status=wanted, actor=ctx.user_id, note=note
        )
        return changed(ctx, incident, "status", wanted, done)

    @commands.command(
        "incident sev",
        usage="incident sev [INC-n] <1-4>",
        summary="Change an incident's severity (1 is the worst)",
        role=Role.ONCALL,
        examples=("incident sev INC-1 2",),
    )
    async def incident_sev(ctx: CommandContext) -> Rendered:
        incident, words = await kit.target(ctx)
        severity = parse_severity(words[0]) if len(words) == 1 else None
        if severity is None:
            raise usage(ctx, "Give one severity from 1 (worst) to 4, like `2` or `sev2`.")
        done = await kit.flows().set_severity(
            incident_id=incident.id, severity=severity, actor=ctx.user_id
        )
        return changed(ctx, incident, "severity", severity, done)

    @commands.command(
        "incident commander",
        usage="incident commander [INC-n] @user",
        summary="Hand the incident commander role to someone (or `me`)",
        role=Role.ONCALL,
        examples=("incident commander INC-1 @alice",),
    )
    async def incident_commander(ctx: CommandContext) -> Rendered:
        incident, words = await kit.target(ctx)
        user = None
        if len(words) == 1:
            user = ctx.user_id if words[0].lower() == "me" else slack_user_id(words[0])
        if user is None:
            raise usage(ctx, "Name one person: `@user`, or `me`.")
        done = await kit.flows().assign_commander(
            incident_id=incident.id, user=user, actor=ctx.user_id
        )
        return changed(ctx, incident, "commander", f"<@{user}>", done)

    @commands.command(
        "incident impact",
        usage="incident impact [INC-n] <text>",
        summary="Say who or what is affected (shown on the header and in updates)",
        role=Role.ONCALL,
        examples=("incident impact INC-1 about 30% of predictions are wrong",),
    )
    async def incident_impact(ctx: CommandContext) -> Rendered:
        incident, words = await kit.target(ctx)
        if not words:
            raise usage(ctx, "Describe the impact: who or what is affected, and how much.")
        impact = " ".join(words)
        await kit.flows().set_impact(incident_id=incident.id, impact=impact, actor=ctx.user_id)
        return changed(ctx, incident, "impact", "updated", True)  # a new statement, always

    @commands.command(
        "incident update",
        usage="incident update [INC-n] <text>",
        summary="Send a stakeholder update: posted in the thread and recorded",
        role=Role.ONCALL,
        examples=("incident update INC-1 rolled back to v1; watching accuracy",),
    )
    async def incident_update(ctx: CommandContext) -> Rendered:
        incident, words = await kit.target(ctx)
        if not words:
            raise usage(ctx, "Write the update: what happened, what is next.")
        await kit.updates().send_update(
            incident_id=incident.id, text=" ".join(words), actor=ctx.user_id
        )
        return kit.answer(ctx.slash, "update_sent", incident=incident)

    @commands.command(
        "incident note",
        usage="incident note [INC-n] <text>",
        summary="Add a line to the incident's timeline",
        role=Role.ONCALL,
        examples=("incident note INC-1 feature pipeline restarted at 14:05",),
    )
    async def incident_note(ctx: CommandContext) -> Rendered:
        incident, words = await kit.target(ctx)
        if not words:
            raise usage(ctx, "Write the note.")
        await kit.flows().record(
            incident_id=incident.id, kind="note", actor=ctx.user_id, text=" ".join(words)
        )
        return kit.answer(ctx.slash, "noted", incident=incident)

    @commands.command(
        "postmortem",
        usage="postmortem INC-n",
        summary="Write (again) the postmortem draft of an incident into its thread",
        role=Role.ONCALL,
        answers_in_ack=False,
        examples=("postmortem INC-1",),
    )
    async def postmortem(ctx: CommandContext) -> Rendered:
        words = command_words(ctx)
        if len(words) != 1 or parse_ref(words[0]) is None:
            raise usage(ctx, "Which incident? Say `INC-n`.")
        incident = await kit.find(words[0])
        path = await kit.flows().postmortem(incident_id=incident.id)
        return kit.answer(ctx.slash, "postmortem", incident=incident, path=str(path or ""))

    @commands.command("incident list", usage="incident list", summary="Open and recent incidents")
    async def incident_list(ctx: CommandContext) -> Rendered:
        incidents = await kit.flows().listing(limit=20)
        return kit.renderer.render("incident_list", slash=ctx.slash, incidents=incidents)

    @commands.command(
        "incident show",
        usage="incident show [INC-n]",
        summary="One incident: its alerts and its timeline",
        examples=("incident show INC-1",),
    )
    async def incident_show(ctx: CommandContext) -> Rendered:
        if not ctx.args.positionals:
            open_ones = await kit.flows().listing(open_only=True)
            if len(open_ones) != 1:
                raise usage(ctx, "Which incident? Say `INC-n`.")
            incident = await kit.find(open_ones[0].ref)  # with its timeline
        else:
            incident = await kit.find(ctx.args.positionals[0])
        return kit.renderer.render("incident_show", slash=ctx.slash, incident=incident)

    @commands.command(
        "incident resolve",
        usage="incident resolve [INC-n] [summary]",
        summary="Close an incident, with a summary for the timeline",
        role=Role.ONCALL,
        examples=("incident resolve INC-1 rolled back to v1, accuracy is back",),
    )
    async def incident_resolve(ctx: CommandContext) -> Rendered:
        words = command_words(ctx)
        incident = None
        if words and parse_ref(words[0]) is not None:
            incident = await kit.find(words.pop(0))
        elif ctx.thread_ts:
            incident = await kit.flows().by_thread(channel=ctx.channel_id, ts=ctx.thread_ts)
        if incident is None:
            open_ones = await kit.flows().listing(open_only=True)
            if len(open_ones) != 1:
                raise UserError("incident_answer", kind="which", refs=[i.ref for i in open_ones])
            incident = open_ones[0]
        summary = " ".join(words)
        done = await kit.flows().resolve(
            incident_id=incident.id, actor=ctx.user_id, summary=summary
        )
        return kit.answer(ctx.slash, "resolved" if done else "already_resolved", incident=incident)

    @interactions.action(
        "incident.ack", role=Role.ONCALL, summary="Take the incident commander role"
    )
    async def on_ack(click: Interaction) -> Rendered | None:
        incident = await kit.clicked(click)
        done = await kit.flows().acknowledge(incident_id=incident.id, user=click.user_id)
        return kit.answer(
            click.slash, "acknowledged" if done else "already_commander", incident=incident
        )

    @interactions.action(
        "incident.rollback", role=Role.ONCALL, summary="Roll production back from an incident"
    )
    async def on_rollback(click: Interaction) -> Rendered | None:
        incident = await kit.clicked(click)
        ctx = DeployContext(engine=services.engine, models=services.models, db=services.db)
        channel = incident.channel or click.channel_id
        thread = incident.header_ts or click.message_ts
        try:
            run = await start_rollback(
                ctx,
                version_text=None,
                actor=click.user_id,
                role=click.role,
                channel=channel,
                reason=f"{incident.ref}: {incident.title}",
                thread_ts=thread,
            )
        except DeployRefused as exc:
            refusal = kit.renderer.render(
                exc.template, slash=click.slash, kind=exc.kind, **exc.facts
            )
            await click.reply.post(channel, refusal, thread_ts=thread)
            return None
        except RegistryError as exc:
            raise UserError("registry_unavailable", problem=str(exc)) from None
        await kit.flows().record(
            incident_id=incident.id,
            kind="rollback_started",
            actor=click.user_id,
            data={"run_id": run.id},
        )
        return kit.answer(click.slash, "started", run=run, incident=incident)

    @interactions.action(
        "incident.retrain", role=Role.ONCALL, summary="Start the retrain runbook from an incident"
    )
    async def on_retrain(click: Interaction) -> Rendered | None:
        incident = await kit.clicked(click)
        engine = services.engine
        if engine is None or "retrain" not in engine.runbooks:
            return kit.answer(click.slash, "no_retrain")
        channel = incident.channel or click.channel_id
        thread = incident.header_ts or click.message_ts
        try:
            run = await engine.start(
                "retrain",
                await _retrain_params(services),
                actor=click.user_id,
                channel=channel,
                thread_ts=thread,
                incident_id=incident.id,
            )
        except RunbookInputError as exc:
            return kit.answer(click.slash, "runbook_problem", runbook="retrain", problem=str(exc))
        await kit.flows().record(
            incident_id=incident.id,
            kind="retrain_started",
            actor=click.user_id,
            data={"run_id": run.id},
        )
        return kit.answer(click.slash, "started", run=run, incident=incident)


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
