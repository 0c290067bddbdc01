"""Stakeholder updates in Slack: one rendered update to one subscriber (a DM for users), and the
look-up a recovery makes for a post whose outcome is unknown.

The update delivery (bot/updates/delivery.py) calls this through the `UpdateNotifier` protocol;
nothing here decides anything, it only renders and posts.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.incidents.models import EventView, IncidentView
from bot.messages import TemplateRenderer
from bot.slack.client import retry_handlers
from bot.updates.delivery import LookupRefused, UncertainDelivery
from bot.updates.facts import actions_taken, next_steps
from bot.updates.subscriptions import Delivery, Subscriber

# The metadata event of a stakeholder update (the payload names its ledger row).
UPDATE_EVENT = "incident_update"
# How long one post keeps waiting out 429s; then its row is left to a recovery (a 429 is a post
# that surely did not happen). Kept well under `delivery.RECOVERY_GRACE`.
RATE_LIMIT_PATIENCE = 60.0
# The recovery reads history from this long before a row went to `sending` (clock skew).
LOOKBACK = timedelta(minutes=5)
HISTORY_PAGES = 10
# Slack errors (HTTP 200) that say "try again later", not "you may not".
_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


class SlackUpdateNotifier:
    """Stakeholder updates: posted to the user's ID (Slack puts it in the app's DM with them, no
    conversations.open needed) or to the channel. Every post carries message metadata naming its
    delivery, so that a recovery can tell whether a post whose outcome was lost did land."""

    def __init__(self, client: AsyncWebClient, renderer: TemplateRenderer, *, slash: str) -> None:
        self.client = client
        self.renderer = renderer
        self.slash = slash
        # The posts' own client: the same connection settings, but 429s come back to `_post`,
        # which pauses every update post for the Retry-After (slack_sdk would wait per request,
        # each with up to a second of jitter, while the others keep hitting the limit).
        self._poster = AsyncWebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            ssl=client.ssl,
            proxy=client.proxy,
            session=client.session,
            headers=client.headers,
            retry_handlers=[
                h for h in retry_handlers() if not isinstance(h, AsyncRateLimitErrorRetryHandler)
            ],
        )
        self._resume_at = 0.0  # event-loop time before which no update post starts
        # user -> the DM's channel id, from chat.postMessage answers (the recovery reads the DM).
        self._dms: dict[str, str] = {}

    @staticmethod
    def metadata(delivery: Delivery) -> dict[str, Any]:
        """Slack message metadata: an `event_type` and a free-form `event_payload`."""
        return {
            "event_type": UPDATE_EVENT,
            "event_payload": {
                "incident_id": delivery.incident_id,
                "slot": delivery.slot,
                "subscriber": delivery.subscriber,
            },
        }

    async def send(
        self,
        subscriber: Subscriber,
        *,
        delivery: Delivery,
        kind: str,
        incident: IncidentView,
        done: list[EventView],
        text: str,
        next_update: datetime | None,
    ) -> None:
        message = self.renderer.render(
            "incident_update",
            slash=self.slash,
            kind=kind,
            incident=incident,
            done=done,
            text=text,
            next_update=next_update,
            next_steps=next_steps(incident),
            actions_taken=actions_taken(incident),
        )
        response = await self._post(
            channel=subscriber.id, metadata=self.metadata(delivery), **message.as_kwargs()
        )
        if subscriber.kind == "user":
            self._dms[subscriber.id] = str(response["channel"])

    async def _post(self, **kwargs: Any) -> AsyncSlackResponse:
        """chat.postMessage that outwaits rate limiting (a 429 is a post that did not happen)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RATE_LIMIT_PATIENCE
        while True:
            if (pause := self._resume_at - loop.time()) > 0:
                await asyncio.sleep(pause)
            try:
                return await self._poster.chat_postMessage(**kwargs)
            except SlackApiError as exc:
                status = exc.response.status_code
                if status == 429:
                    if loop.time() >= deadline:
                        raise UncertainDelivery("rate limited for too long") from exc
                    wait = _retry_after(exc.response.headers)
                    self._resume_at = max(self._resume_at, loop.time() + wait)
                    continue
                if status >= 500:
                    raise UncertainDelivery(f"HTTP {status}") from exc
                raise
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise UncertainDelivery(repr(exc)) from exc

    async def find(self, subscriber: Subscriber, *, delivery: Delivery, since: datetime) -> bool:
        try:
            return await self._find(subscriber, delivery=delivery, since=since)
        except SlackApiError as exc:
            refused = _refusal(exc)
            if refused is None:
                raise
            raise LookupRefused(refused) from exc

    async def _find(self, subscriber: Subscriber, *, delivery: Delivery, since: datetime) -> bool:
        channel = subscriber.id
        if subscriber.kind == "user":
            if subscriber.id not in self._dms:
                opened = await self.client.conversations_open(users=subscriber.id)
                self._dms[subscriber.id] = str(opened["channel"]["id"])
            channel = self._dms[subscriber.id]
        wanted = _payload(self.metadata(delivery))
        oldest = f"{(since - LOOKBACK).timestamp():.6f}"
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            # Slack returns messages' metadata only when asked for it.
            response = await self.client.conversations_history(
                channel=channel, oldest=oldest, include_all_metadata=True, limit=200, cursor=cursor
            )
            if any(_payload(m.get("metadata")) == wanted for m in response.get("messages") or []):
                return True
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return False
        raise RuntimeError(f"more than {HISTORY_PAGES} pages of history in {channel}")


def _refusal(exc: SlackApiError) -> str | None:
    """Slack's answer as a reason when asking again cannot help (missing_scope,
    channel_not_found, not_in_channel, ...); None for what may pass (rate limits, 5xx)."""
    response = exc.response
    error = str(response.get("error") or "")
    if response.status_code != 200 or not error or error in _TRANSIENT:
        return None
    method = str(response.api_url).rstrip("/").rsplit("/", 1)[-1]
    needed = response.get("needed")
    return f"{method}: {error}" + (f" (needs {needed})" if needed else "")


def _payload(metadata: Any) -> tuple[str, ...] | None:
    """The fields that identify a delivery, as strings (Slack may hand numbers back as either)."""
    if not isinstance(metadata, dict) or metadata.get("event_type") != UPDATE_EVENT:
        return None
    payload = metadata.get("event_payload") or {}
    return tuple(str(payload.get(k, "")) for k in ("incident_id", "slot", "subscriber"))


def _retry_after(headers: Any) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After", 1)))
    except (TypeError, ValueError):
        return 1.0
