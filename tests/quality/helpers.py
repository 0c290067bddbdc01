"""Traffic with a missing feature, sent one record per request, and waits on the Slack stand-in."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bot.localslack.models import Message
from tests.harness import ModelBotHarness
from tests.traffic import traffic


def rows_missing(feature: str, n: int, *, share: float, seed: int) -> list[dict[str, Any]]:
    """`n` training-like records; the first `share` of every ten lack `feature`."""
    records = traffic(n, seed=seed)
    cut = round(share * 10)
    for i, record in enumerate(records):
        if i % 10 < cut:
            record.pop(feature)
    return records


async def predict_each(
    bot: ModelBotHarness, records: list[dict[str, Any]]
) -> list[tuple[int, dict[str, Any]]]:
    """One request per record (each is its own client call), status and body of each."""
    async with httpx.AsyncClient(base_url=bot.settings.model_server_url) as client:
        answers = []
        for record in records:
            response = await client.post("/v1/predict", json=record)
            answers.append((response.status_code, response.json()))
    return answers


async def wait_policy_in_force(bot: ModelBotHarness, card: Message) -> Message:
    """After Confirm: the checklist reports the model server applies the policy."""
    await bot.slack.click("U0ONCALL", card, "runbook.confirm")
    return await bot.slack.wait_for_text("the model server applies it", timeout=15)


async def until(predicate: Any, timeout: float = 10.0) -> None:
    """Wait for a condition the bot reaches by itself (a background post, a resolved alert)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)
