"""The reporter role of a game day in Slack: the drill's message (with the owner's Abort button),
its timeline in the thread, and the report at the end."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.gameday.context import DrillContext
from bot.gameday.scenario import Scenario
from bot.messages import TemplateRenderer


class SlackDrillReporter:
    def __init__(
        self, client: AsyncWebClient, renderer: TemplateRenderer, *, channel: str, slash: str
    ) -> None:
        self.client, self.renderer = client, renderer
        self.channel, self.slash = channel, slash
        self._scenarios: dict[int, Scenario] = {}

    def _first(self, ctx: DrillContext, scenario: Scenario, report: Any = None) -> Any:
        return self.renderer.render(
            "gameday_started", slash=self.slash, ctx=ctx, scenario=scenario, report=report
        )

    async def started(self, *, ctx: DrillContext, scenario: Scenario) -> tuple[str, str] | None:
        self._scenarios[ctx.run_id] = scenario
        message = self._first(ctx, scenario)
        response = await self.client.chat_postMessage(channel=self.channel, **message.as_kwargs())
        return str(response["channel"]), str(response["ts"])

    async def event(self, *, ctx: DrillContext, kind: str, facts: dict[str, Any]) -> None:
        if not ctx.channel:
            return
        message = self.renderer.render("gameday_event", ctx=ctx, kind=kind, facts=facts)
        await self.client.chat_postMessage(
            channel=ctx.channel, thread_ts=ctx.thread_ts, **message.as_kwargs()
        )

    async def finished(self, *, ctx: DrillContext, report: dict[str, Any]) -> None:
        if not ctx.channel:
            return
        message = self.renderer.render("gameday_report", slash=self.slash, report=report)
        await self.client.chat_postMessage(
            channel=ctx.channel, thread_ts=ctx.thread_ts, **message.as_kwargs()
        )
        scenario = self._scenarios.pop(ctx.run_id, None)
        if scenario is not None and ctx.thread_ts:
            await self.client.chat_update(
                channel=ctx.channel,
                ts=ctx.thread_ts,
                **self._first(ctx, scenario, report).as_kwargs(),
            )
