"""`/iris retrain`, `/iris promote`, `/iris data [ingest]`, and the report's Promote / Discard buttons."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.roles import Role
from bot.commands.context import Arg, Command, CommandContext, Opt, UserError
from bot.data.service import dataset_summary, rows_since
from bot.deploy.flows import start_deploy
from bot.messages import Rendered, TemplateRenderer
from bot.model_registry.errors import RegistryError, UnknownVersion
from bot.model_registry.mlflow_tags import T_DISCARDED_BY, encode_reasons
from bot.model_registry.service import parse_version_text
from bot.pipelines.hold import retrain_hold
from bot.pipelines.ingest import IngestFailed
from bot.retrain.actions import (
    REASONS_TAG,
    landing_dir,
    landing_files_since,
    production_facts,
    trained_at,
)
from bot.retrain.options import RetrainOptionsError, parse_retrain_options
from bot.runbook import RunbookInputError, RunState
from bot.services import Services
from bot.slack.handlers.deploy import deploy_context, start
from bot.slack.handlers.pipeline import engine as pipeline_engine
from bot.slack.interactions import Button, Interaction

Ctx = CommandContext[Services]


class SlackRetrainReporter:
    """Posts a retrain run's report (retrain_report.j2) in the run's thread."""

    def __init__(self, client: AsyncWebClient, renderer: TemplateRenderer, *, slash: str) -> None:
        self.client = client
        self.renderer = renderer
        self.slash = slash

    async def post_report(
        self, *, channel: str, thread_ts: str | None, facts: dict[str, Any]
    ) -> None:
        message = self.renderer.render("retrain_report", slash=self.slash, **facts)
        await self.client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, **message.as_kwargs()
        )


async def promote(
    services: Services,
    *,
    version_text: str,
    actor: str,
    role: Role,
    channel: str,
    force: bool = False,
    reason: str = "",
    thread_ts: str | None = None,
) -> RunState:
    """Start the deploy runbook for a gated candidate; UserError when it may not be promoted."""
    number = parse_version_text(version_text, model_name=services.settings.model_name)
    label = f"v{number}" if number is not None else version_text
    # An override must carry the admin's own words, so only a plain promotion gets a default.
    default = services.renderer.render("recorded_reason", kind="promote", version=label).text
    why = reason.strip() or ("" if force else default)
    # The production policy decides (gate passed, or an admin's --force with a reason).
    return await start(
        start_deploy(
            deploy_context(services),
            version_text=version_text,
            actor=actor,
            role=role,
            channel=channel,
            reason=why,
            thread_ts=thread_ts,
            require_gate=True,
            force=force,
        )
    )


async def _production(services: Services) -> Any:
    try:
        return await asyncio.to_thread(production_facts, services.models)
    except RegistryError as exc:
        raise UserError("registry_unavailable", problem=str(exc)) from None


async def retrain_command(ctx: Ctx) -> Rendered:
    services = ctx.services
    current = await _production(services)
    hold = retrain_hold(
        services.pipelines.monitor,
        force=ctx.args.flag("force"),
        reason=ctx.args.option("reason", "") or "",
        admin=ctx.role.allows(Role.ADMIN),
    )
    if hold is not None:
        raise UserError("pipeline_held", result="refused", hold=hold)
    try:
        options = parse_retrain_options(
            params=ctx.args.params,
            options={k: v for k, v in ctx.args.options.items() if k != "reason"},
            flags=ctx.args.flags,
            positionals=ctx.args.positionals,
            default_estimator=current.estimator if current is not None else None,
        )
    except RetrainOptionsError as exc:
        raise UserError("retrain_invalid", problems=exc.problems, command=ctx.command) from None
    if not options.force and current is not None:
        since = trained_at(current)
        new = await asyncio.to_thread(rows_since, services.db, since=since)
        if not new and not await asyncio.to_thread(landing_files_since, services.settings, since):
            raise UserError(
                "retrain_nothing_new", result="refused", version=current.label, since=since
            )
    inputs = {
        "estimator": options.estimator,
        "hyperparams": json.dumps(options.params, sort_keys=True),
        "include": ",".join(options.include),
        "force": options.force,
    }
    try:
        run = await services.engine.start(
            "retrain", inputs, actor=ctx.user_id, channel=ctx.channel_id
        )
    except RunbookInputError as exc:
        raise UserError("retrain_invalid", problems=[str(exc)], command=ctx.command) from None
    return services.renderer.render("runbook_started", slash=ctx.slash, run=run)


async def promote_command(ctx: Ctx) -> Rendered:
    run = await promote(
        ctx.services,
        version_text=ctx.arg("version"),
        actor=ctx.user_id,
        role=ctx.role,
        channel=ctx.channel_id,
        force=ctx.args.flag("force"),
        reason=ctx.args.option("reason", "") or "",
    )
    return ctx.services.renderer.render("runbook_started", slash=ctx.slash, run=run)


async def data_command(ctx: Ctx) -> Rendered:
    current = await _production(ctx.services)
    since = trained_at(current)
    summary = await asyncio.to_thread(dataset_summary, ctx.services.db, since=since)
    return ctx.services.renderer.render(
        "data_summary",
        slash=ctx.slash,
        summary=summary,
        production=current,
        since=since,
        landing=str(landing_dir(ctx.services.settings)),
    )


async def data_ingest_command(ctx: Ctx) -> Rendered:
    # The pipeline's ingest job, launched and waited for: the one ingestion path.
    landing_dir(ctx.services.settings).mkdir(parents=True, exist_ok=True)
    pipelines = ctx.services.pipelines
    try:
        report = await pipeline_engine(pipelines.ingestor.ingest())
    except IngestFailed as exc:
        raise UserError(
            "pipeline_ingest_failed", result="failed", run=exc.run, steps=exc.steps, url=exc.url
        ) from None
    return ctx.services.renderer.render("data_ingest", slash=ctx.slash, report=report)


async def on_promote(click: Interaction) -> Rendered:
    """Promote a retrained version (the report's Promote button)."""
    run = await promote(
        click.services,
        version_text=click.value,
        actor=click.user_id,
        role=click.role,
        channel=click.channel_id,
    )
    return click.services.renderer.render("runbook_started", slash=click.slash, run=run)


async def on_discard(click: Interaction) -> Rendered | None:
    """Discard a retrained version (the report's Discard button): tagged rejected, by whom."""
    models, renderer = click.services.models, click.services.renderer
    try:
        number = await asyncio.to_thread(models.resolve, click.value)
        version = await asyncio.to_thread(models.describe, number)
        if version.is_production:
            return renderer.render(
                "promote_refused",
                slash=click.slash,
                kind="discard_production",
                version=version.label,
            )
        tags = {
            "validation_status": "rejected",
            REASONS_TAG: encode_reasons([{"kind": "discarded", "facts": {"user": click.user_id}}]),
            T_DISCARDED_BY: click.user_id,
        }
        await asyncio.to_thread(models.set_tags, number, tags)
    except UnknownVersion as exc:
        raise UserError("unknown_version", wanted=exc.text, available=exc.available) from None
    except RegistryError as exc:
        raise UserError("registry_unavailable", problem=str(exc)) from None
    discarded = renderer.render(
        "retrain_discarded", slash=click.slash, version=version.label, user=click.user_id
    )
    if click.message_ts:
        # Said once, in the report's thread where everyone sees it; no private copy besides.
        await click.reply.post(
            click.channel_id, discarded, thread_ts=click.thread_ts or click.message_ts
        )
        return None
    return discarded


COMMANDS = (
    Command(
        "retrain",
        retrain_command,
        role=Role.ONCALL,
        options=(
            Opt("estimator", value="NAME"),
            Opt("include", value="landing,feedback"),
            Opt("force"),
            Opt("reason", value='"..."'),
        ),
        params=True,
    ),
    Command(
        "promote",
        promote_command,
        role=Role.ONCALL,
        args=(Arg("version"),),
        options=(Opt("force"), Opt("reason", value='"..."')),
    ),
    Command("data", data_command),
    Command("data ingest", data_ingest_command, role=Role.ONCALL),
)

BUTTONS = (
    Button("retrain.promote", on_promote, role=Role.ONCALL),
    Button("retrain.discard", on_discard, role=Role.ONCALL),
)
