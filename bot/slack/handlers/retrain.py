"""`/iris retrain`, `/iris promote`, `/iris data [ingest]`, and the report's Promote / Discard buttons."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.roles import Role
from bot.commands.context import CommandContext, UserError
from bot.commands.registry import CommandRegistry
from bot.data.service import dataset_summary, ingest_landing, rows_since
from bot.deploy.flows import DeployContext, start_deploy
from bot.messages import Rendered, TemplateRenderer
from bot.registry.errors import RegistryError, UnknownVersion
from bot.registry.mlflow_tags import T_DISCARDED_BY
from bot.registry.service import parse_version_text
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
from bot.slack.handlers.models import _start
from bot.slack.interactions import Interaction, InteractionRegistry


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
    ctx = DeployContext(engine=services.engine, models=services.models, db=services.db)
    number = parse_version_text(version_text, model_name=services.settings.model_name)
    label = f"v{number}" if number is not None else version_text
    # An override must carry the admin's own words, so only a plain promotion gets a default.
    why = reason.strip() or ("" if force else f"promote {label} (passed the retrain gate)")
    # The production policy decides (gate passed, or an admin's --force with a reason).
    return await _start(
        start_deploy(
            ctx,
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


def register(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    renderer = services.renderer
    settings = services.settings

    def models():  # type: ignore[no-untyped-def]
        return services.models

    async def production() -> Any:
        try:
            return await asyncio.to_thread(production_facts, models())
        except RegistryError as exc:
            raise UserError("registry_unavailable", problem=str(exc)) from None

    @commands.command(
        "retrain",
        usage="retrain [--estimator NAME] [key=value ...] [--include landing,feedback] [--force]",
        summary="Retrain on the collected data, gate the candidate against production, report",
        role=Role.ONCALL,
        value_options=("estimator", "include"),
        examples=(
            "retrain",
            "retrain --estimator random_forest n_estimators=100 max_depth=8",
            "retrain --include landing --force",
        ),
    )
    async def retrain_command(ctx: CommandContext) -> Rendered:
        current = await production()
        try:
            options = parse_retrain_options(
                params=ctx.args.params,
                options=ctx.args.options,
                flags=ctx.args.flags,
                positionals=ctx.args.positionals,
                default_estimator=current.estimator if current is not None else None,
            )
        except RetrainOptionsError as exc:
            raise UserError("retrain_invalid", problems=exc.problems, command=ctx.command) from None
        if not options.force and current is not None:
            since = trained_at(current)
            new = await asyncio.to_thread(rows_since, services.db, since=since)
            if not new and not await asyncio.to_thread(landing_files_since, settings, since):
                raise UserError(
                    "retrain_nothing_new", result="refused", version=current.label, since=since
                )
        try:
            run = await services.engine.start(
                "retrain",
                {
                    "estimator": options.estimator,
                    "hyperparams": _json(options.params),
                    "include": ",".join(options.include),
                    "force": options.force,
                },
                actor=ctx.user_id,
                channel=ctx.channel_id,
            )
        except RunbookInputError as exc:
            raise UserError("retrain_invalid", problems=[str(exc)], command=ctx.command) from None
        return renderer.render("runbook_started", slash=ctx.slash, run=run)

    @commands.command(
        "promote",
        usage='promote <version> [--force --reason "..."]',
        summary="Promote a retrained version that passed the gate (deploy runbook)",
        role=Role.ONCALL,
        value_options=("reason",),
        examples=("promote v3", 'promote v3 --force --reason "INC-12: v2 mislabels virginica"'),
    )
    async def promote_command(ctx: CommandContext) -> Rendered:
        if len(ctx.args.positionals) != 1:
            raise UserError(
                "usage_error",
                problem="Name one version to promote.",
                suggestion=None,
                text=ctx.text,
                command=ctx.command,
            )
        force = ctx.args.flag("force")
        reason = ctx.args.option("reason", "") or ""
        try:
            run = await promote(
                services,
                version_text=ctx.args.positionals[0],
                actor=ctx.user_id,
                role=ctx.role,
                channel=ctx.channel_id,
                force=force,
                reason=reason,
            )
        except UserError as exc:
            if exc.template == "usage_error":
                exc.context["command"] = ctx.command
            raise
        return renderer.render("runbook_started", slash=ctx.slash, run=run)

    @commands.command(
        "data",
        usage="data",
        summary="The training data: rows by source and class, what is new, what was quarantined",
    )
    async def data_command(ctx: CommandContext) -> Rendered:
        current = await production()
        since = trained_at(current)
        summary = await asyncio.to_thread(dataset_summary, services.db, since=since)
        return renderer.render(
            "data_summary",
            slash=ctx.slash,
            summary=summary,
            production=current,
            since=since,
        )

    @commands.command(
        "data ingest",
        usage="data ingest",
        summary="Take new files from the landing folder now; bad rows are quarantined",
        role=Role.ONCALL,
    )
    async def data_ingest_command(ctx: CommandContext) -> Rendered:
        folder = landing_dir(settings)
        folder.mkdir(parents=True, exist_ok=True)
        report = await asyncio.to_thread(ingest_landing, services.db, landing_dir=folder)
        return renderer.render("data_ingest", slash=ctx.slash, report=report)

    @interactions.action("retrain.promote", role=Role.ONCALL, summary="Promote a retrained version")
    async def on_promote(click: Interaction) -> Rendered:
        run = await promote(
            services,
            version_text=click.value,
            actor=click.user_id,
            role=click.role,
            channel=click.channel_id,
        )
        return renderer.render("runbook_started", slash=click.slash, run=run)

    @interactions.action("retrain.discard", role=Role.ONCALL, summary="Discard a retrained version")
    async def on_discard(click: Interaction) -> Rendered:
        try:
            number = await asyncio.to_thread(models().resolve, click.value)
            version = await asyncio.to_thread(models().describe, number)
            if version.is_production:
                return renderer.render(
                    "promote_refused",
                    slash=click.slash,
                    kind="discard_production",
                    version=version.label,
                )
            reason = f"discarded by <@{click.user_id}>"
            await asyncio.to_thread(
                models().set_tags,
                number,
                {
                    "validation_status": "rejected",
                    REASONS_TAG: reason,
                    T_DISCARDED_BY: click.user_id,
                },
            )
        except UnknownVersion as exc:
            raise UserError("unknown_version", wanted=exc.text, available=exc.available) from None
        except RegistryError as exc:
            raise UserError("registry_unavailable", problem=str(exc)) from None
        if click.message_ts:
            await click.reply.post(
                click.channel_id,
                renderer.render(
                    "retrain_discarded",
                    slash=click.slash,
                    version=version.label,
                    user=click.user_id,
                ),
                thread_ts=click.thread_ts or click.message_ts,
            )
        return renderer.render(
            "retrain_discarded", slash=click.slash, version=version.label, user=click.user_id
        )


def _json(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)
