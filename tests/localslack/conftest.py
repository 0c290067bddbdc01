"""Fixtures: a running LocalSlack (Socket Mode or HTTP delivery), a real AsyncWebClient, and
the signature-verifying receiver from helpers.py standing in for the bot's HTTP endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack import LocalSlack
from bot.localslack.scopes import EVERY_SCOPE

from .helpers import Receiver


@pytest.fixture
async def slack() -> AsyncIterator[LocalSlack]:
    """Socket Mode delivery (no request_url), short ack timeout, every scope granted."""
    stand_in = LocalSlack(ack_timeout=1.0, bot_scopes=EVERY_SCOPE)
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture
def client(slack: LocalSlack) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    bot_side = Receiver()
    await bot_side.start()
    yield bot_side
    await bot_side.stop()


@pytest.fixture
async def http_slack(receiver: Receiver) -> AsyncIterator[LocalSlack]:
    """HTTP delivery to the receiver."""
    stand_in = LocalSlack(request_url=receiver.url, ack_timeout=1.0, bot_scopes=EVERY_SCOPE)
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture
def http_client(http_slack: LocalSlack) -> AsyncWebClient:
    return AsyncWebClient(token=http_slack.bot_token, base_url=http_slack.api_url)
