"""The terminal shell, driven through a fed stdin and a StringIO stdout."""

from __future__ import annotations

import asyncio
import io
import queue

from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.localslack import LocalSlack
from bot.localslack.shell import run_shell

from .helpers import Received, Receiver, buttons_blocks


class FedStdin:
    """A blocking readline fed line by line by the test, like a terminal a person types into."""

    def __init__(self) -> None:
        self._lines: queue.Queue[str] = queue.Queue()

    def type(self, line: str) -> None:
        self._lines.put(line + "\n")

    def close(self) -> None:
        self._lines.put("")

    def readline(self) -> str:
        return self._lines.get()

    def isatty(self) -> bool:
        return False


class TtyOut(io.StringIO):
    def isatty(self) -> bool:
        return True


async def test_shell_session(
    http_slack: LocalSlack, http_client: AsyncWebClient, receiver: Receiver
) -> None:
    async def bot(received: Received) -> web.Response:
        if received.kind == "slash_commands":
            await http_client.chat_postMessage(
                channel=received.payload["channel_id"],
                text="Deploy v7?",
                blocks=[
                    {"type": "header", "text": {"type": "plain_text", "text": "Deploy"}},
                    *buttons_blocks("Confirm", "Cancel"),
                ],
            )
            return web.json_response({"text": "Checking…"})
        if received.kind == "interactive":
            await AsyncWebhookClient(received.payload["response_url"]).send(
                text="Deploy confirmed", replace_original=True
            )
        if received.kind == "events_api" and received.payload["event"]["type"] == "message":
            event = received.payload["event"]
            await http_client.chat_postMessage(
                channel=event["channel"], text="on it", thread_ts=event["ts"]
            )
        return web.Response()

    receiver.respond = bot
    stdin, stdout = FedStdin(), io.StringIO()
    shell = asyncio.ensure_future(run_shell(http_slack, stdin=stdin, stdout=stdout))

    stdin.type("/iris status")
    slash = await receiver.wait_for("slash_commands")
    assert (slash.payload["command"], slash.payload["text"]) == ("/iris", "status")
    assert (slash.payload["user_id"], slash.payload["channel_id"]) == ("U0ONCALL", "C0ONCALL")
    await http_slack.wait_for_text("Checking…")
    out = stdout.getvalue()
    assert "/iris <text>" in out  # the usage printed at start
    assert "[1] Confirm  [2] Cancel" in out
    assert "Deploy\n" in out and "═" in out  # header, underlined without colours
    assert "(only visible to you)" in out and "Checking…" in out
    assert "\x1b[" not in out  # no ANSI codes when stdout is not a terminal

    stdin.type("press 1")
    click = await receiver.wait_for("interactive")
    assert click.payload["actions"][0]["action_id"] == "confirm"
    await http_slack.wait_for_text("Deploy confirmed")
    assert "m1 edited:" in stdout.getvalue()  # what changed, not a full reprint

    stdin.type("as alice")
    stdin.type("in #incidents")
    stdin.type("is the iris model down?")
    event = (await receiver.wait_for("events_api")).payload["event"]
    assert (event["user"], event["channel"], event["text"]) == (
        "U0ADMIN",
        "C0INCIDENTS",
        "is the iris model down?",
    )
    await http_slack.wait_for_text("on it", channel="incidents")
    assert "↳" in stdout.getvalue() and "on it" in stdout.getvalue()

    stdin.close()
    assert await asyncio.wait_for(shell, 5) == "eof"
    assert "keeps serving" in stdout.getvalue()


async def test_shell_commands_and_errors(slack: LocalSlack, client: AsyncWebClient) -> None:
    first = await client.chat_postMessage(channel="general", text="hello from the bot")
    await client.chat_postMessage(channel="general", text="threaded", thread_ts=first["ts"])
    stdin, stdout = FedStdin(), TtyOut()
    for line in ("users", "channels", "history #general", "as nobody", "press 1", "help", "quit"):
        stdin.type(line)
    result = await asyncio.wait_for(run_shell(slack, stdin=stdin, stdout=stdout), 5)
    out = stdout.getvalue()
    assert result == "quit"
    assert "U0ADMIN" in out and "alice" in out and "#ml-stakeholders" in out
    assert "hello from the bot" in out and "↳" in out
    assert "! no user 'nobody'" in out
    assert "! no message with buttons since your last command" in out
    assert "\x1b[" in out  # colours on a terminal


async def test_shell_reply_and_react(http_slack: LocalSlack, http_client: AsyncWebClient) -> None:
    slack, client = http_slack, http_client
    posted = await client.chat_postMessage(channel="oncall", text="Retrain finished")
    stdin, stdout = FedStdin(), io.StringIO()
    shell = asyncio.ensure_future(run_shell(slack, stdin=stdin, stdout=stdout))
    stdin.type(f"reply {posted['ts']} thanks!")
    stdin.type(f"react {posted['ts']} tada")
    stdin.close()
    assert await asyncio.wait_for(shell, 5) == "eof"
    assert [m.text for m in slack.thread("oncall", posted["ts"])] == ["thanks!"]
    assert slack.messages("oncall")[0].reactions == {"tada": ["U0ONCALL"]}
