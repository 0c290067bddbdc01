"""The same bot in Socket Mode: envelopes in over the stand-in's WebSocket, acks back."""

from __future__ import annotations

from tests.harness import ONCALL, VIEWER, BotHarness


async def test_slash_command_over_socket_mode(socket_bot: BotHarness) -> None:
    ack = await socket_bot.command("help", user=VIEWER)
    assert not ack.timed_out
    message = await socket_bot.slack.wait_for_text("Commands for /iris", user=VIEWER)
    assert "/iris status" in message.plain()


async def test_denied_and_unknown_over_socket_mode(socket_bot: BotHarness) -> None:
    await socket_bot.command("audit", user=VIEWER)
    await socket_bot.slack.wait_for_text("needs the *admin* role", user=VIEWER)
    await socket_bot.command("hlep", user=ONCALL)
    await socket_bot.slack.wait_for_text("Did you mean `/iris help", user=ONCALL)
