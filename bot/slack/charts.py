"""Attach a chart to a command's answer: drawn in a thread, uploaded with files_upload_v2
(files.getUploadURLExternal + files.completeUploadExternal), after the text answer went out.

A chart is an addition: when it cannot be drawn or uploaded, the failure is logged and the person
still has the text answer they already got.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.commands.context import CommandContext
from bot.messages import TemplateRenderer
from bot.slack.replier import SlackReplier

log = logging.getLogger(__name__)

# Draws the chart with these words; None when there is nothing to draw (no data yet).
Draw = Callable[[dict[str, str]], bytes | None]


def chart_labels(renderer: TemplateRenderer, **context: Any) -> dict[str, str]:
    """The chart's words from templates/chart_labels.j2, as a dict of its `key: value` lines."""
    text = renderer.render("chart_labels", **context).text
    pairs = (line.split(": ", 1) for line in text.splitlines() if ": " in line)
    return {key.strip(): value.strip() for key, value in pairs}


async def upload_chart(
    client: AsyncWebClient, *, channel: str, draw: Draw, labels: dict[str, str]
) -> bool:
    """Draw off the event loop, then upload into `channel`; False (logged) if either fails."""
    try:
        png = await asyncio.to_thread(draw, labels)
    except Exception:
        log.exception("chart %s could not be drawn", labels.get("filename"))
        return False
    if png is None:
        return False
    try:
        await client.files_upload_v2(
            channel=channel,
            file=png,
            filename=labels["filename"],
            title=labels["file_title"],
            initial_comment=labels["comment"],
        )
    except Exception as exc:  # Slack refused (not_in_channel, missing scope...) or unreachable
        log.warning("chart %s could not be uploaded: %s", labels.get("filename"), exc)
        return False
    return True


def attach_chart(ctx: CommandContext[Any], draw: Draw, labels: dict[str, str]) -> None:
    """Upload the chart to where the command was typed, in the background."""
    if not isinstance(ctx.reply, SlackReplier):
        return  # not answering in Slack: nowhere to upload to
    ctx.services.tasks.spawn(
        upload_chart(ctx.reply.client, channel=ctx.channel_id, draw=draw, labels=labels),
        name=f"chart {labels.get('filename')}",
    )
