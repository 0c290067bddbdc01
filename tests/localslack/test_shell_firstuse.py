"""The shell as a first-time user meets it: buttons addressed by
message handle, errors in words, edits shown as what changed, your own lines with a handle, the
landing folder and a history of what you typed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack import LocalSlack
from bot.localslack.shell import run_shell

from .helpers import Received, Receiver, buttons_blocks
from .test_shell import FedStdin, TtyOut

CARD = [f"Step {n}: waiting" for n in range(1, 13)]


def card(lines: list[str]) -> list[dict]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}]


async def test_shell_a_first_user_can_trust(
    http_slack: LocalSlack, http_client: AsyncWebClient, receiver: Receiver, tmp_path: Path
) -> None:
    clicks: list[str] = []

    async def bot(received: Received) -> web.Response:
        if received.kind == "slash_commands" and received.payload["text"] == "two":
            channel = received.payload["channel_id"]
            await http_client.chat_postMessage(
                channel=channel, text="INC-1", blocks=buttons_blocks("Acknowledge", text="INC-1")
            )
            await http_client.chat_postMessage(
                channel=channel, text="Deploy v2?", blocks=buttons_blocks("Confirm", "Cancel")
            )
        elif received.kind == "slash_commands" and received.payload["text"] == "one":
            await http_client.chat_postMessage(
                channel=received.payload["channel_id"], text="Retrain?", blocks=buttons_blocks("Go")
            )
        elif received.kind == "slash_commands" and received.payload["text"] == "card":
            posted = await http_client.chat_postMessage(
                channel=received.payload["channel_id"], text="deploy", blocks=card(CARD)
            )
            for n in (3, 7):  # the runbook moves on: one line changes each time
                lines = list(CARD)
                lines[n - 1] = f"Step {n}: done"
                await http_client.chat_update(
                    channel=posted["channel"], ts=posted["ts"], text="deploy", blocks=card(lines)
                )
        elif received.kind == "interactive":
            clicks.append(received.payload["actions"][0]["action_id"])
        return web.Response()

    receiver.respond = bot
    stdin, stdout = FedStdin(), TtyOut()
    shell = asyncio.ensure_future(
        run_shell(http_slack, stdin=stdin, stdout=stdout, data_dir=tmp_path)
    )

    async def typed(line: str, expect: str) -> str:
        stdin.type(line)
        for _ in range(500):
            if expect in stdout.getvalue():
                return stdout.getvalue()
            await asyncio.sleep(0.01)
        raise AssertionError(f"{expect!r} not in:\n{stdout.getvalue()}")

    out = await typed("help", "Landing folder")
    assert str(tmp_path / "landing") in out and "oncall-bot.log" in out

    await typed("/iris two", "[1] Confirm  [2] Cancel")
    # Two messages with buttons since the command: a bare `press 1` asks which one.
    out = await typed("press 1", "which message?")
    assert "m1, m2 have buttons" in out and clicks == []
    await typed("press m2 1", "")
    await receiver.wait_for("interactive")
    assert clicks == ["confirm"]
    out = await typed("press m2 9", "has no button 9")
    assert "m2 has no button 9; its buttons: [1] Confirm  [2] Cancel" in out
    assert "action" not in out.split("has no button 9")[1].splitlines()[0]
    out = await typed("in #nowhere", "no such channel")
    assert "channel_not_found" not in out

    # Your own message, echoed with its handle so reply and react can name it.
    out = await typed("hello team", "you m3: hello team")
    await typed("react m3 eyes", "(reacted :eyes: to m3)")

    # A card edited twice: printed once, then only the line that changed.
    out = await typed("/iris card", "Step 7: done")
    assert out.count("Step 12: waiting") == 1 and out.count("Step 3: done") == 1
    assert "m4 edited:" in out

    # Exactly one message with buttons since the last command: a bare `press 1` is clear.
    await typed("/iris one", "[1] Go")
    stdin.type("press 1")
    for _ in range(500):
        if "go" in clicks:
            break
        await asyncio.sleep(0.01)
    assert clicks == ["confirm", "go"]

    stdin.type("quit")
    assert await asyncio.wait_for(shell, 5) == "quit"
    history = (tmp_path / "shell_history").read_text()
    assert "press m2 1" in history and "/iris card" in history
