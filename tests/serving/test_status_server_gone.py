"""`/iris status` tells a model server that stopped answering from a healthy one, inside the ack.

The model server runs in a process of its own (tests/crash.py); it is stopped (SIGSTOP: a hung
server) at several delays after a healthy probe, then killed (SIGKILL). Once the cached health is
older than its freshness window, the very next status says "not answering", in its ack.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.crash import Child, Zygote
from tests.harness import BotHarness, _wait_serving, start_harness
from tests.registry.store import template_store

FRESH_FOR = 0.5  # the bot's default is 3 s; shorter here so the loop stays quick
RENDER_CACHE = 1.0  # status reuses its rendered answer for a second (handlers/core.py)


@pytest.fixture
async def served(tmp_path: Path, zygote: Zygote) -> AsyncIterator[tuple[BotHarness, Child]]:
    var = tmp_path / "var"
    var.mkdir(parents=True)
    shutil.copy2(template_store() / "mlflow.db", var / "mlflow.db")
    server = await zygote.model_server(tmp_path)
    await _wait_serving(server.url)
    bot = await start_harness(tmp_path, model_server_url=server.url)
    bot.app.model_status.fresh_for = FRESH_FOR
    await bot.app.model_status.refresh()
    try:
        yield bot, server
    finally:
        server.signal(signal.SIGKILL)
        await bot.stop()


async def status_text(bot: BotHarness) -> str:
    ack = await bot.command("status")
    assert ack.status == 200 and not ack.timed_out, ack  # answered within Slack's 3 s
    assert ack.payload is not None
    return str(ack.payload.get("text", ""))


async def test_status_says_not_answering_once_the_server_stops_or_dies(
    served: tuple[BotHarness, Child],
) -> None:
    bot, server = served
    assert "model server serves v1" in await status_text(bot)

    for delay in (0.0, 0.05, 0.3):
        await bot.app.model_status.refresh()  # the worst moment: a healthy answer just cached
        assert bot.app.model_status.status.server.reachable  # type: ignore[union-attr]
        await asyncio.sleep(delay)
        server.signal(signal.SIGSTOP)
        try:
            await asyncio.sleep(FRESH_FOR + RENDER_CACHE)
            shown = await status_text(bot)
            assert "model server not answering" in shown, shown
            assert "serves v1" not in shown
        finally:
            server.signal(signal.SIGCONT)
        await asyncio.sleep(FRESH_FOR + RENDER_CACHE)
        assert "model server serves v1" in await status_text(bot)  # and back when it is

    await bot.app.model_status.refresh()
    await server.kill()
    await asyncio.sleep(FRESH_FOR + RENDER_CACHE)
    shown = await status_text(bot)
    assert "model server not answering" in shown, shown
