"""Which `response_url`s the bot posts to.

A `response_url` arrives in the request body, and the bot POSTs its answer there. Only Slack's
own webhook hosts are accepted (plus, for the local workspace and tests, the origin of
`SLACK_API_URL`, where the stand-in serves its response URLs); any other URL is removed from the
request before a listener sees it, so answers go through the Web API instead (chat.postEphemeral
to the same person), and the bot never becomes a way to make requests to arbitrary hosts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from bot.config import Settings

log = logging.getLogger(__name__)

# Where Slack's response URLs point: commercial Slack and GovSlack.
SLACK_WEBHOOK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})
# An attacker with many hostnames must not grow this without bound.
MAX_REMEMBERED_HOSTS = 1000


def _origin(url: str) -> tuple[str, str, int | None] | None:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    except ValueError:
        return None


class ResponseUrlPolicy:
    def __init__(self, *, api_url: str) -> None:
        self.api_origin = _origin(api_url)
        self._logged: set[str] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> ResponseUrlPolicy:
        return cls(api_url=settings.slack_api_url)

    def allows(self, url: str) -> bool:
        origin = _origin(url)
        if origin is None:
            return False
        scheme, host, port = origin
        if scheme == "https" and host in SLACK_WEBHOOK_HOSTS and port in (None, 443):
            return True
        return origin == self.api_origin and scheme in ("http", "https")

    def accept(self, url: object) -> str | None:
        """`url` when the bot may post to it; otherwise None, logged once per host."""
        if not isinstance(url, str) or not url:
            return None
        if self.allows(url):
            return url
        host = (_origin(url) or ("", url[:100], None))[1]
        if host not in self._logged and len(self._logged) < MAX_REMEMBERED_HOSTS:
            self._logged.add(host)
            log.warning("ignoring a response_url on %r: not a Slack host", host)
        return None

    def middleware(self) -> Callable[..., Awaitable[Any]]:
        """A Bolt middleware that strips foreign response URLs before any listener runs."""

        async def drop_foreign_response_urls(
            body: dict[str, Any], context: dict[str, Any], next: Callable[[], Awaitable[Any]]
        ) -> Any:
            if isinstance(body, dict):
                if "response_url" in body and self.accept(body["response_url"]) is None:
                    del body["response_url"]
                    context.pop("response_url", None)
                    context.pop("respond", None)
                urls = body.get("response_urls")
                if isinstance(urls, list):
                    kept = [
                        u
                        for u in urls
                        if isinstance(u, dict) and self.accept(u.get("response_url"))
                    ]
                    if len(kept) != len(urls):
                        body["response_urls"] = kept
                        context.pop("response_url", None)
                        context.pop("respond", None)
                        if kept:
                            context["response_url"] = kept[0]["response_url"]
            return await next()

        return drop_foreign_response_urls
