"""Incidents in Slack: `/iris incident ...`, subscriptions and the header's buttons.

`build_incidents` wires the incident domain for the composition root (bot/app.py).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import BaseRoute

from bot.access.roles import Role
from bot.commands.context import CommandContext, UserError
from bot.commands.parser import ParseError, slack_user_id, tokenize
from bot.commands.registry import CommandRegistry
from bot.deploy.flows import DeployContext, DeployRefused, start_rollback
from bot.incidents.diagnosis import DiagnosisProvider
from bot.incidents.flows import IncidentFlows
from bot.incidents.intake import AlertIntake
from bot.incidents.models import IncidentView
from bot.incidents.postmortem import PostmortemWriter
from bot.incidents.scheduled import SchedulerUpdateClock
from bot.incidents.updates import IncidentUpdates
from bot.incidents.webhook import WebhookAuth, alertmanager_route
from bot.messages import Rendered
from bot.registry.errors import RegistryError
from bot.runbook import RunbookInputError
from bot.runbook.loader import runbooks_for_alert
from bot.services import Services
from bot.slack.incident_reporter import SlackIncidentReporter, SlackUpdateNotifier
from bot.slack.interactions import Interaction, InteractionRegistry

_REF = re.compile(r"^(?:inc-?|#)?(\d+)$", re.IGNORECASE)
_STRICT_REF = re.compile(r"^(?:inc-?|#)(\d+)$", re.IGNORECASE)
_CHANNEL = re.compile(r"^(?:<#(C\w+)(?:\|[^>]*)?>|#([a-z][\w.-]*))$", re.IGNORECASE)


STATUSES = ("investigating", "identified", "monitoring", "resolved")
_SEV = re.compile(r"^(?:sev-?)?([1-4])$", re.IGNORECASE)


def parse_severity(text: str) -> str | None:
    """sev2, SEV-2 or 2 → SEV2."""
    match = _SEV.match(text.strip())
    return f"SEV{match.group(1)}" if match else None


def command_words(ctx: CommandContext) -> list[str]:
    """The words after the command's name, as typed (key=value and --x stay free text)."""
    try:
        return tokenize(ctx.text)[len(ctx.command.path) :]
    except ParseError:
        return list(ctx.args.positionals)


def parse_ref(text: str) -> int | None:
    """INC-3, inc3, #3 or 3 → 3."""
    match = _REF.match(text.strip())
    return int(match.group(1)) if match else None


def register(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    renderer = services.renderer

    def flows() -> IncidentFlows:
        if services.incidents is None:
            raise UserError("incident_answer", kind="not_set_up")
        return services.incidents

    def answer(slash: str, kind: str, **facts: object) -> Rendered:
        return renderer.render("incident_answer", slash=slash, kind=kind, **facts)

    async def find(ctx: CommandContext, wanted: str) -> IncidentView:
        number = parse_ref(wanted)
        incident = await flows().get(number=number) if number is not None else None
        if incident is None:
            raise UserError("incident_answer", kind="not_found", wanted=wanted)
        return incident

    def usage(ctx: CommandContext, problem: str) -> UserError:
        return UserError(
            "usage_error", problem=problem, suggestion=None, text=ctx.text, command=ctx.command
        )

    async def target(ctx: CommandContext) -> tuple[IncidentView, list[str]]:
        """The incident a command is about, and the words after its reference.

        `INC-n` first; else the thread the command came from (Slack sends slash commands no
        thread, so in practice: other entry points); else, in the incident channel, the one open
        incident there. Anything else must name the incident.
        """
        words = command_words(ctx)
        if words and _STRICT_REF.match(words[0]):  # a bare number is a value (`sev 2`), not a ref
            return await find(ctx, words[0]), words[1:]
        if ctx.thread_ts:
            incident = await flows().by_thread(channel=ctx.channel_id, ts=ctx.thread_ts)
            if incident is not None:
                return incident, words
        open_ones = await flows().listing(open_only=True)
        here = [i for i in open_ones if i.channel == ctx.channel_id]
        if here and len(open_ones) == 1:
            return open_ones[0], words
        raise UserError(
            "incident_answer",
            kind="which",
            refs=[i.ref for i in open_ones],
            usage=ctx.command.usage,
        )

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
        incident = await flows().declare(title=title, severity=severity, actor=ctx.user_id)
        return answer(ctx.slash, "declared", incident=incident)

    @commands.command(
        "incident status",
        usage="incident status [INC-n] <investigating|identified|monitoring|resolved> [note]",
        summary="Move an incident to its next status, with an optional note",
        role=Role.ONCALL,
        examples=("incident status INC-1 identified drift in petal widths",),
    )
    async def incident_status(ctx: CommandContext) -> Rendered:
        incident, words = await target(ctx)
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
            done = await flows().resolve(incident_id=incident.id, actor=ctx.user_id, summary=note)
            return answer(ctx.slash, "resolved" if done else "already_resolved", incident=incident)
        if not incident.is_open:
            return answer(ctx.slash, "already_resolved", incident=incident)
        done = await flows().set_status(
            incident_id=incident.id, status=wanted, actor=ctx.user_id, note=note
        )
        return answer(
            ctx.slash,
            "changed" if done else "unchanged",
            incident=incident,
            what="status",
            value=wanted,
        )

    @commands.command(
        "incident sev",
        usage="incident sev [INC-n] <1-4>",
        summary="Change an incident's severity (1 is the worst)",
        role=Role.ONCALL,
        examples=("incident sev INC-1 2",),
    )
    async def incident_sev(ctx: CommandContext) -> Rendered:
        incident, words = await target(ctx)
        severity = parse_severity(words[0]) if len(words) == 1 else None
        if severity is None:
            raise usage(ctx, "Give one severity from 1 (worst) to 4, like `2` or `sev2`.")
        done = await flows().set_severity(
            incident_id=incident.id, severity=severity, actor=ctx.user_id
        )
        return answer(
            ctx.slash,
            "changed" if done else "unchanged",
            incident=incident,
            what="severity",
            value=severity,
        )

    @commands.command(
        "incident commander",
        usage="incident commander [INC-n] @user",
        summary="Hand the incident commander role to someone (or `me`)",
        role=Role.ONCALL,
        examples=("incident commander INC-1 @alice",),
    )
    async def incident_commander(ctx: CommandContext) -> Rendered:
        incident, words = await target(ctx)
        user = None
        if len(words) == 1:
            user = ctx.user_id if words[0].lower() == "me" else slack_user_id(words[0])
        if user is None:
            raise usage(ctx, "Name one person: `@user`, or `me`.")
        done = await flows().assign_commander(incident_id=incident.id, user=user, actor=ctx.user_id)
        return answer(
            ctx.slash,
            "changed" if done else "unchanged",
            incident=incident,
            what="commander",
            value=f"<@{user}>",
        )

    @commands.command(
        "incident impact",
        usage="incident impact [INC-n] <text>",
        summary="Say who or what is affected (shown on the header and in updates)",
        role=Role.ONCALL,
        examples=("incident impact INC-1 about 30% of predictions are wrong",),
    )
    async def incident_impact(ctx: CommandContext) -> Rendered:
        incident, words = await target(ctx)
        if not words:
            raise usage(ctx, "Describe the impact: who or what is affected, and how much.")
        await flows().set_impact(incident_id=incident.id, impact=" ".join(words), actor=ctx.user_id)
        return answer(ctx.slash, "changed", incident=incident, what="impact", value="updated")

    @commands.command(
        "incident update",
        usage="incident update [INC-n] <text>",
        summary="Send a stakeholder update: posted in the thread and recorded",
        role=Role.ONCALL,
        examples=("incident update INC-1 rolled back to v1; watching accuracy",),
    )
    async def incident_update(ctx: CommandContext) -> Rendered:
        incident, words = await target(ctx)
        if not words:
            raise usage(ctx, "Write the update: what happened, what is next.")
        await flows().send_update(incident_id=incident.id, text=" ".join(words), actor=ctx.user_id)
        return answer(ctx.slash, "update_sent", incident=incident)

    @commands.command(
        "incident note",
        usage="incident note [INC-n] <text>",
        summary="Add a line to the incident's timeline",
        role=Role.ONCALL,
        examples=("incident note INC-1 feature pipeline restarted at 14:05",),
    )
    async def incident_note(ctx: CommandContext) -> Rendered:
        incident, words = await target(ctx)
        if not words:
            raise usage(ctx, "Write the note.")
        await flows().record(
            incident_id=incident.id, kind="note", actor=ctx.user_id, text=" ".join(words)
        )
        return answer(ctx.slash, "noted", incident=incident)

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
        incident = await find(ctx, words[0])
        path = await flows().postmortem(incident_id=incident.id)
        return answer(ctx.slash, "postmortem", incident=incident, path=str(path or ""))

    @commands.command("incident list", usage="incident list", summary="Open and recent incidents")
    async def incident_list(ctx: CommandContext) -> Rendered:
        incidents = await flows().listing(limit=20)
        return renderer.render("incident_list", slash=ctx.slash, incidents=incidents)

    @commands.command(
        "incident show",
        usage="incident show [INC-n]",
        summary="One incident: its alerts and its timeline",
        examples=("incident show INC-1",),
    )
    async def incident_show(ctx: CommandContext) -> Rendered:
        if not ctx.args.positionals:
            open_ones = await flows().listing(open_only=True)
            if len(open_ones) != 1:
                raise usage(ctx, "Which incident? Say `INC-n`.")
            incident = await find(ctx, open_ones[0].ref)  # with its timeline
        else:
            incident = await find(ctx, ctx.args.positionals[0])
        return renderer.render("incident_show", slash=ctx.slash, incident=incident)

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
            incident = await find(ctx, words.pop(0))
        elif ctx.thread_ts:
            incident = await flows().by_thread(channel=ctx.channel_id, ts=ctx.thread_ts)
        if incident is None:
            open_ones = await flows().listing(open_only=True)
            if len(open_ones) != 1:
                raise UserError("incident_answer", kind="which", refs=[i.ref for i in open_ones])
            incident = open_ones[0]
        summary = " ".join(words)
        done = await flows().resolve(incident_id=incident.id, actor=ctx.user_id, summary=summary)
        return answer(ctx.slash, "resolved" if done else "already_resolved", incident=incident)

    # --- subscriptions ---------------------------------------------------------------------------
    def updates() -> IncidentUpdates:
        found = flows().updates
        if found is None:
            raise UserError("incident_answer", kind="not_set_up")
        return found

    def subscribed(slash: str, kind: str, **facts: object) -> Rendered:
        facts.setdefault("ref", None)
        facts.setdefault("subscriber_kind", "user")
        facts.setdefault("subscriber", "")
        return renderer.render("incident_subscribe", slash=slash, kind=kind, **facts)

    async def subscription_target(ctx: CommandContext) -> tuple[str, str, IncidentView | None]:
        """(subscriber, user|channel, incident or None for all) from `[#channel] [INC-n]`."""
        subscriber, kind, incident = ctx.user_id, "user", None
        for word in command_words(ctx):
            if (channel := _CHANNEL.match(word)) is not None:
                subscriber, kind = channel.group(1) or channel.group(2), "channel"
            elif parse_ref(word) is not None and incident is None:
                incident = await find(ctx, word)
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
        added = await updates().subscribe(
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
        removed = await updates().unsubscribe(
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
        mine = await updates().subscriptions_of(ctx.user_id)
        refs = {}
        for s in mine:
            if s.scope.isdigit():
                found = await flows().get(incident_id=int(s.scope))
                refs[s.scope] = found.ref if found else f"incident {s.scope}"
        return subscribed(
            ctx.slash,
            "list",
            subscriptions=mine,
            refs=refs,
            stakeholder=services.settings.stakeholder_channel or None,
        )

    async def clicked(click: Interaction) -> IncidentView:
        incident = (
            await flows().get(incident_id=int(click.value)) if click.value.isdigit() else None
        )
        if incident is None:
            raise UserError("incident_answer", kind="not_found", wanted="that incident")
        return incident

    @interactions.action(
        "incident.ack", role=Role.ONCALL, summary="Take the incident commander role"
    )
    async def on_ack(click: Interaction) -> Rendered | None:
        incident = await clicked(click)
        done = await flows().acknowledge(incident_id=incident.id, user=click.user_id)
        return answer(
            click.slash, "acknowledged" if done else "already_commander", incident=incident
        )

    @interactions.action(
        "incident.subscribe", role=Role.VIEWER, summary="Get this incident's updates by DM"
    )
    async def on_subscribe(click: Interaction) -> Rendered | None:
        incident = await clicked(click)
        added = await updates().subscribe(
            subscriber=click.user_id, kind="user", incident_id=incident.id
        )
        return subscribed(click.slash, "subscribed" if added else "already", ref=incident.ref)

    @interactions.action(
        "incident.rollback", role=Role.ONCALL, summary="Roll production back from an incident"
    )
    async def on_rollback(click: Interaction) -> Rendered | None:
        incident = await clicked(click)
        assert services.engine is not None and services.models is not None
        ctx = DeployContext(engine=services.engine, models=services.models, db=services.db)
        channel = incident.channel or click.channel_id
        thread = incident.header_ts or click.message_ts
        try:
            run = await start_rollback(
                ctx,
                version_text=None,
                actor=click.user_id,
                channel=channel,
                reason=f"{incident.ref}: {incident.title}",
                thread_ts=thread,
            )
        except DeployRefused as exc:
            refusal = renderer.render(
                "deploy_refused", slash=click.slash, kind=exc.kind, **exc.facts
            )
            await click.reply.post(channel, refusal, thread_ts=thread)
            return None
        except RegistryError as exc:
            raise UserError("registry_unavailable", problem=str(exc)) from None
        await flows().record(
            incident_id=incident.id,
            kind="rollback_started",
            actor=click.user_id,
            data={"run_id": run.id},
        )
        return answer(click.slash, "started", run=run, incident=incident)

    @interactions.action(
        "incident.retrain", role=Role.ONCALL, summary="Start the retrain runbook from an incident"
    )
    async def on_retrain(click: Interaction) -> Rendered | None:
        incident = await clicked(click)
        engine = services.engine
        if engine is None or "retrain" not in engine.runbooks:
            return answer(click.slash, "no_retrain")
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
            return answer(click.slash, "runbook_problem", runbook="retrain", problem=str(exc))
        await flows().record(
            incident_id=incident.id,
            kind="retrain_started",
            actor=click.user_id,
            data={"run_id": run.id},
        )
        return answer(click.slash, "started", run=run, incident=incident)


async def _retrain_params(services: Services) -> dict[str, object]:
    """Retrain what is in production, the way it was trained (the runbook needs an estimator)."""
    runbook = services.engine.runbooks["retrain"] if services.engine else None
    needs = getattr(getattr(runbook, "parameters", None), "get", lambda _k: None)("estimator")
    if needs is None or services.models is None:
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


@dataclass
class IncidentParts:
    """What the composition root wires: the intake (alert sink), the flows, the HTTP route."""

    intake: AlertIntake
    flows: IncidentFlows
    routes: list[BaseRoute]


def build_incidents(services: Services, client: AsyncWebClient) -> IncidentParts:
    """The incident domain wired to Slack, the runbook engine and the diagnosis provider."""
    settings = services.settings

    def runbooks() -> dict[str, Any]:
        return dict(services.engine.runbooks) if services.engine is not None else {}

    def choose_runbook(alertname: str, labels: dict[str, str]) -> str | None:
        loaded = runbooks()
        snake = re.sub(r"(?<!^)(?=[A-Z])", "_", alertname).lower()
        for name in dict.fromkeys((alertname, snake)):
            found = runbooks_for_alert(loaded, name)
            if found:
                return found[0].id
        return None

    def runbook_title(runbook_id: str) -> str | None:
        runbook = runbooks().get(runbook_id)
        return runbook.title if runbook is not None else None

    def diagnosis() -> DiagnosisProvider | None:
        if services.diagnosis is not None:
            return services.diagnosis
        monitoring = getattr(services, "monitoring", None)
        return monitoring if callable(getattr(monitoring, "diagnose", None)) else None

    reporter = SlackIncidentReporter(
        client,
        services.renderer,
        channel=settings.incident_channel,
        slash=settings.slash_command,
        quiet_minutes=settings.incident_quiet_minutes,
    )

    def monitor_snapshot() -> Any:
        monitoring = getattr(services, "monitoring", None)
        return getattr(monitoring, "latest", None)

    postmortems = PostmortemWriter(
        db=services.db,
        folder=settings.oncall_data_dir / "postmortems",
        templates_dir=settings.templates_dir,
        # Through the incident flows, so that a test (or a bot without a registry) can detach it.
        models=lambda: flows.models,
        monitor_snapshot=monitor_snapshot,
    )
    flows = IncidentFlows(
        db=services.db,
        reporter=reporter,
        models=services.models,
        diagnosis=diagnosis,
        runbook_title=runbook_title,
        quiet=timedelta(minutes=settings.incident_quiet_minutes),
        postmortems=postmortems,
        model_name=settings.model_name,
    )
    cadence = {
        "SEV1": settings.update_cadence_sev1_minutes,
        "SEV2": settings.update_cadence_sev2_minutes,
        "SEV3": settings.update_cadence_sev3_minutes,
        "SEV4": settings.update_cadence_sev4_minutes,
    }
    flows.updates = IncidentUpdates(
        db=services.db,
        notifier=SlackUpdateNotifier(client, services.renderer, slash=settings.slash_command),
        # The persistent (default) job store; the key finds this bot again from a stored job.
        schedule=SchedulerUpdateClock(services.scheduler, bot=settings.resolved_database_url),
        cadence=cadence,
        stakeholder_channel=settings.stakeholder_channel or None,
        clock=flows.clock,
    )
    intake = AlertIntake(
        db=services.db,
        model=settings.model_name,
        choose_runbook=choose_runbook,
        on_change=flows.mark_dirty,
    )
    auth = WebhookAuth(
        token=settings.alert_webhook_token,
        user=settings.alert_webhook_user,
        password=settings.alert_webhook_password,
    )
    return IncidentParts(intake=intake, flows=flows, routes=[alertmanager_route(intake, auth)])
