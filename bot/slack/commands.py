"""The slash-command listener: ack inside the budget, finish slow work after the ack.

Bolt runs with `process_before_response=True`, so the HTTP response goes out the moment this
listener returns. The listener parses, checks the role and audits (microseconds plus one INSERT),
then either answers inside the ack or acks with "working on it" and hands the handler to the
background. A handler that was meant to answer in the ack but overruns `ACK_BUDGET` is moved to
the background too, so Slack always gets its ack well within 3 seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.context import CommandContext, UserError
from bot.commands.dispatch import Dispatcher
from bot.messages import Rendered
from bot.services import Services
from bot.slack.replier import SlackReplier

log = logging.getLogger(__name__)

ACK_BUDGET = 2.0


class CommandRunner:
    def __init__(self, services: Services, dispatcher: Dispatcher) -> None:
        self.services = services
        self.dispatcher = dispatcher

    async def run(self, ctx: CommandContext[Any]) -> Rendered | None:
        """Run a handler; user errors and crashes become messages, never exceptions."""
        renderer = self.services.renderer
        command = ctx.command.name
        try:
            result = await ctx.command.handler(ctx)
        except UserError as exc:
            self._finish(ctx, exc.result, exc.template)
            return renderer.render(
                exc.template, **{"slash": ctx.slash, "command": ctx.command, **exc.context}
            )
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            log.exception("command %r failed (error id %s)", ctx.text, error_id)
            self._finish(ctx, "error", f"error id {error_id}")
            return renderer.render("error", slash=ctx.slash, command=ctx.command, error_id=error_id)
        self._finish(ctx, "ok", "")
        self.services.metrics.commands.labels(command, "ok").inc()
        return result

    def _finish(self, ctx: CommandContext[Any], result: str, detail: str) -> None:
        if result != "ok":
            self.services.metrics.commands.labels(ctx.command.name, result).inc()
        self.dispatcher.complete(ctx, result=result, detail=detail)

    async def deliver_later(
        self, ctx: CommandContext[Any], task: asyncio.Task[Rendered | None]
    ) -> None:
        """Send a background handler's answer to the person once it is ready."""
        result = await task
        if result is not None:
            try:
                await ctx.reply.respond(result)
            except Exception:
                log.exception("could not deliver the answer to %r", ctx.text)


def register_command_listener(
    app: AsyncApp, services: Services, dispatcher: Dispatcher
) -> CommandRunner:
    listener = CommandListener(services, dispatcher)
    app.command(services.settings.slash_command)(listener.on_command)
    return listener.runner


class CommandListener:
    """Bolt's listener for the slash command: ack within the budget, the rest in the background."""

    def __init__(self, services: Services, dispatcher: Dispatcher) -> None:
        self.services = services
        self.dispatcher = dispatcher
        self.runner = CommandRunner(services, dispatcher)

    async def on_command(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        started = time.perf_counter()
        slash = self.services.settings.slash_command
        try:
            await self._handle(ack, body, client)
        except Exception:  # never let Bolt answer 500 to Slack
            log.exception("slash command listener failed")
            error = self.services.renderer.render(
                "error", slash=slash, command=None, error_id="ack"
            )
            await ack(**error.as_kwargs())
        finally:
            self.services.metrics.ack_seconds.observe(time.perf_counter() - started)

    async def _handle(self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        user_id, channel_id = str(body.get("user_id", "")), str(body.get("channel_id", ""))
        replier = SlackReplier(
            client, response_url=body.get("response_url"), channel_id=channel_id, user_id=user_id
        )
        prepared = self.dispatcher.prepare(
            str(body.get("text", "")),
            user_id=user_id,
            channel_id=channel_id,
            reply=replier,
            trigger_id=body.get("trigger_id"),
        )
        if prepared.context is None:
            await ack(**prepared.answer.as_kwargs() if prepared.answer else {})
            return
        ctx = prepared.context
        task = asyncio.get_running_loop().create_task(
            self.runner.run(ctx), name=f"command {ctx.command.name}"
        )
        if ctx.command.answers_in_ack:
            done, _ = await asyncio.wait({task}, timeout=ACK_BUDGET)
            if done:
                result = task.result()
                await ack(**result.as_kwargs() if result is not None else {})
                return
        await self._to_background(ack, ctx, task)

    async def _to_background(
        self, ack: AsyncAck, ctx: CommandContext[Any], task: asyncio.Task[Rendered | None]
    ) -> None:
        """Put the command on the record, let the task finish after the ack, say "working"."""
        self.dispatcher.accept(ctx)
        tasks = self.services.tasks
        tasks.adopt(task)
        tasks.spawn(self.runner.deliver_later(ctx, task), name=f"deliver {ctx.command.name}")
        working = self.services.renderer.render(
            "working", slash=ctx.slash, command=ctx.command, text=ctx.text
        )
        await ack(**working.as_kwargs())
