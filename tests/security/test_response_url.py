"""The bot posts answers only to Slack's own response URLs (or the stand-in's, in tests)."""

from __future__ import annotations

import logging

import pytest

from bot.slack.response_url import ResponseUrlPolicy


def test_only_slack_hosts_and_the_configured_api_origin() -> None:
    policy = ResponseUrlPolicy(api_url="http://127.0.0.1:3100/api/")
    assert policy.allows("https://hooks.slack.com/commands/T1/2/abc")
    assert policy.allows("https://hooks.slack-gov.com/actions/T1/2/abc")
    assert policy.allows("http://127.0.0.1:3100/response/r1")
    for url in (
        "http://hooks.slack.com/commands/T1/2/abc",  # not https
        "https://hooks.slack.com.evil.example/x",
        "https://evil.example/hooks.slack.com",
        "http://127.0.0.1:3101/response/r1",  # another port on the same host
        "http://169.254.169.254/latest/meta-data",
        "not a url",
    ):
        assert not policy.allows(url), url


async def test_the_middleware_drops_foreign_urls_and_logs_each_host_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What every listener sees (HTTP and Socket Mode alike): no foreign response_url, so its
    answer goes through the Web API (SlackReplier falls back to chat.postEphemeral)."""
    caplog.set_level(logging.WARNING, logger="bot.slack.response_url")
    middleware = ResponseUrlPolicy(api_url="http://127.0.0.1:3100/api/").middleware()
    calls: list[int] = []

    async def next_() -> None:
        calls.append(1)

    seen = []
    for url in (
        "http://127.0.0.1:9/x",
        "http://127.0.0.1:9/y",
        "https://evil.example/a",
        "https://hooks.slack.com/commands/T/1/z",
    ):
        body = {"command": "/iris", "response_url": url}
        context = {"response_url": url}
        await middleware(body=body, context=context, next=next_)
        seen.append((body.get("response_url"), context.get("response_url")))
    modal = {"response_urls": [{"response_url": "https://evil.example/m"}]}
    context = {"response_url": "https://evil.example/m"}
    await middleware(body=modal, context=context, next=next_)
    assert modal["response_urls"] == [] and "response_url" not in context
    assert seen == [(None, None)] * 3 + [("https://hooks.slack.com/commands/T/1/z",) * 2]
    assert len(calls) == 5  # the request itself goes on
    logged = sorted(r.getMessage() for r in caplog.records)
    assert len(logged) == 2 and "127.0.0.1" in logged[0] and "evil.example" in logged[1]
