"""The Slack Web API client and response_url sender, both with slack_sdk's retry handlers.

Retries cover connection errors, HTTP 429 (slack_sdk honours Retry-After) and 5xx, so a busy
Slack or the stand-in's injected faults never lose a message.
"""

from __future__ import annotations

from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

# Enough to ride out a Retry-After of a few seconds several times over.
MAX_RETRIES = 5


def retry_handlers() -> list[AsyncRetryHandler]:
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES),
        AsyncRateLimitErrorRetryHandler(max_retry_count=MAX_RETRIES),
        AsyncServerErrorRetryHandler(max_retry_count=MAX_RETRIES),
    ]


def make_web_client(*, token: str | None, base_url: str) -> AsyncWebClient:
    return AsyncWebClient(
        token=token, base_url=base_url, retry_handlers=retry_handlers(), timeout=15
    )


def make_webhook(url: str) -> AsyncWebhookClient:
    return AsyncWebhookClient(url=url, retry_handlers=retry_handlers(), timeout=15)
