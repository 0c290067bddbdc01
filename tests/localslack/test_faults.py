"""Injected 429/5xx faults and rate limits, recovered by slack_sdk's own retry handlers."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack import LocalSlack


def retrying_client(slack: LocalSlack) -> AsyncWebClient:
    fast = FixedValueRetryIntervalCalculator(0.01)
    return AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[
            # Retry-After: 0 keeps the test fast (the handler still adds < 1 s of jitter).
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=fast),
        ],
    )


async def test_429_recovered_by_retry_handler_without_duplicates(slack: LocalSlack) -> None:
    slack.inject_faults("chat.postMessage", status=429, count=1, retry_after=0)
    response = await retrying_client(slack).chat_postMessage(channel="oncall", text="retrain done")
    assert response["ok"]
    assert [m.text for m in slack.messages("oncall")] == ["retrain done"]
    assert [(c.method, c.status) for c in slack.api_log] == [
        ("chat.postMessage", 429),
        ("chat.postMessage", 200),
    ]


async def test_429_carries_retry_after_and_changes_nothing(
    slack: LocalSlack, client: AsyncWebClient
) -> None:
    slack.inject_faults("chat.postMessage", count=1, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await client.chat_postMessage(channel="oncall", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert err.value.response["error"] == "ratelimited"
    assert slack.messages("oncall") == []
    await client.chat_postMessage(channel="oncall", text="x")  # count used up
    assert len(slack.messages("oncall")) == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_recovered_by_server_error_handler(slack: LocalSlack, status: int) -> None:
    slack.inject_faults(None, status=status, count=2)  # None: any method
    response = await retrying_client(slack).chat_postMessage(channel="oncall", text="hello")
    assert response["ok"]
    assert [m.text for m in slack.messages("oncall")] == ["hello"]
    assert [c.status for c in slack.api_log] == [status, status, 200]


async def test_fault_only_hits_its_method(slack: LocalSlack, client: AsyncWebClient) -> None:
    slack.inject_faults("chat.update", status=500, count=1)
    await client.chat_postMessage(channel="oncall", text="unaffected")
    slack.clear_faults()
    assert slack.faults.rules == []


async def test_rate_based_faults_are_deterministic(
    slack: LocalSlack, client: AsyncWebClient
) -> None:
    async def outcomes() -> list[bool]:
        results = []
        for _ in range(20):
            try:
                await client.auth_test()
                results.append(True)
            except SlackApiError:
                results.append(False)
        return results

    slack.inject_faults("auth.test", status=503, rate=0.3, seed=42)
    first = await outcomes()
    slack.clear_faults()
    slack.inject_faults("auth.test", status=503, rate=0.3, seed=42)
    assert await outcomes() == first
    assert 0 < first.count(False) < 20


async def test_rate_limit_tiers() -> None:
    now = [100.0]
    slack = LocalSlack(clock=lambda: now[0])
    await slack.start()
    try:
        limited = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        slack.set_rate_limit("chat.postMessage", per_second=1.0, burst=2)
        await limited.chat_postMessage(channel="oncall", text="1")
        await limited.chat_postMessage(channel="oncall", text="2")
        with pytest.raises(SlackApiError) as err:
            await limited.chat_postMessage(channel="oncall", text="3")
        assert err.value.response.status_code == 429
        assert err.value.response.headers["Retry-After"] == "1"
        assert [m.text for m in slack.messages("oncall")] == ["1", "2"]
        now[0] += 1.0  # a token refills after a second
        await limited.chat_postMessage(channel="oncall", text="3")
        await limited.auth_test()  # other methods are not limited
        assert [m.text for m in slack.messages("oncall")] == ["1", "2", "3"]
    finally:
        await slack.stop()


def test_fault_arguments_are_checked(slack: LocalSlack) -> None:
    with pytest.raises(ValueError):
        slack.inject_faults(status=418)
    with pytest.raises(ValueError):
        slack.inject_faults(rate=1.5)
