"""`LocalSlack`: a fake Slack workspace over real HTTP, for local runs and tests.

The bot talks to it exactly as to Slack (slack_sdk's AsyncWebClient with `base_url=api_url`,
Bolt over signed HTTP or Socket Mode); tests and the terminal shell drive it from the user's
side and observe what the bot did. This class only wires the parts together; behaviour lives
in the modules it delegates to.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any, Literal

from aiohttp import web

from bot.slack.manifest import bot_scopes as manifest_scopes

from . import actions, observe
from .api import ApiCall, WebApi
from .delivery import Deliverer
from .faults import FaultInjector, FaultRule, RateLimiter
from .interactions import Interactions
from .methods_views_files import handle_download, handle_upload
from .models import AckResult, Channel, Message, User, View
from .socket_mode import SocketHub
from .webui import WebWorkspace
from .workspace import Subscriber, Workspace


class LocalSlack:
    def __init__(
        self,
        bot_token: str = "xoxb-local",
        app_token: str = "xapp-local",
        signing_secret: str = "local-secret",
        request_url: str | None = None,
        *,
        ack_timeout: float = 3.0,
        trigger_ttl: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        bot_scopes: Iterable[str] | None = None,
    ) -> None:
        """`request_url` set: deliver over signed HTTP to it; None: deliver over Socket Mode.

        `bot_scopes`: what the workspace granted the bot token; by default what the app manifest
        asks for, so every run checks the manifest. Change the set to take a scope away."""
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_scopes: set[str] = set(manifest_scopes() if bot_scopes is None else bot_scopes)
        self.workspace = Workspace()
        self.interactions = Interactions(self.workspace, clock=clock, trigger_ttl=trigger_ttl)
        self.socket = SocketHub()
        self.delivery = Deliverer(
            signing_secret=signing_secret,
            request_url=request_url,
            socket=self.socket,
            ack_timeout=ack_timeout,
        )
        self.faults = FaultInjector()
        self.limiter = RateLimiter(clock)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.api = WebApi(self)
        self.web = WebWorkspace(self, self.api.log)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    # --- lifecycle --------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self.api.handle)
        app.router.add_post("/response/{id}", self.interactions.handle_http)
        app.router.add_post("/upload/{file_id}", functools.partial(handle_upload, self))
        app.router.add_get("/files/{file_id}/{name}", functools.partial(handle_download, self))
        app.router.add_get("/socket", self.socket.handle)
        app.router.add_get("/", self._index)
        self.web.add_routes(app)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self._base_url = f"http://{bound_host}:{bound_port}"

    async def stop(self) -> None:
        await self.socket.close()
        await self.delivery.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalSlack:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _index(self, request: web.Request) -> web.StreamResponse:
        if self.web.wants_page(request):
            return await self.web.page(request)
        return web.json_response(
            {
                "localslack": True,
                "api_url": self.api_url,
                "mode": self.mode,
                "channels": self.channel_names(),
            }
        )

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("LocalSlack is not started; await slack.start() first")
        return self._base_url

    @property
    def page_url(self) -> str:
        """The web workspace: open it in a browser."""
        return f"{self.base_url}/"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def mode(self) -> Literal["http", "socket"]:
        return self.delivery.mode

    # Delivery settings live on the Deliverer; these properties let callers change them after
    # start (e.g. set request_url once the bot's server has picked its port).
    @property
    def request_url(self) -> str | None:
        return self.delivery.request_url

    @request_url.setter
    def request_url(self, url: str | None) -> None:
        self.delivery.request_url = url

    @property
    def signing_secret(self) -> str:
        return self.delivery.signing_secret

    @signing_secret.setter
    def signing_secret(self, secret: str) -> None:
        self.delivery.signing_secret = secret

    @property
    def ack_timeout(self) -> float:
        return self.delivery.ack_timeout

    @ack_timeout.setter
    def ack_timeout(self, seconds: float) -> None:
        self.delivery.ack_timeout = seconds

    def socket_connected(self) -> bool:
        """Whether a Socket Mode client is connected right now."""
        return any(not ws.closed for ws in self.socket.connections)

    async def wait_for_socket(self, timeout: float = 5.0) -> None:
        """Wait until a Socket Mode client has connected (raises AssertionError on timeout)."""
        if await self.socket.wait_connected(timeout) is None:
            raise AssertionError(f"no Socket Mode connection within {timeout}s")

    # --- workspace ----------------------------------------------------------------------------
    def add_user(
        self, user_id: str, name: str, *, is_admin: bool = False, real_name: str = ""
    ) -> User:
        return self.workspace.add_user(user_id, name, is_admin=is_admin, real_name=real_name)

    def add_channel(
        self, name: str, channel_id: str | None = None, *, private: bool = False
    ) -> Channel:
        return self.workspace.add_channel(name, channel_id, private=private)

    def channel_id(self, name: str) -> str:
        """Id of a channel by name (`oncall` or `#oncall`) or id."""
        return self.workspace.channel(name).id

    def channel_names(self) -> list[str]:
        return [c.name for c in self.workspace.channels.values() if not (c.is_im or c.is_mpim)]

    def user(self, ref: str) -> User:
        """A user by id or name."""
        return self.workspace.user(ref)

    # --- user-side actions (each returns how the bot acked) -------------------------------------
    async def slash(
        self,
        user: str = "U0ONCALL",
        channel: str = "oncall",
        text: str = "",
        command: str = "/iris",
    ) -> AckResult:
        return await actions.slash(self, user, channel, text, command)

    async def click(
        self,
        user: str,
        message_or_ts: Message | str,
        action_id: str | None = None,
        *,
        index: int | None = None,
        value: str | None = None,
    ) -> AckResult:
        """Click a button, chosen by action_id (and value, if several share it) or 1-based index."""
        return await actions.click(self, user, message_or_ts, action_id, index, value)

    async def send_message(
        self, user: str, channel: str, text: str, thread_ts: str | None = None
    ) -> AckResult:
        return await actions.send_message(self, user, channel, text, thread_ts)

    async def add_reaction(self, user: str, channel: str, ts: str, name: str) -> AckResult:
        return await actions.add_reaction(self, user, channel, ts, name)

    async def submit_view(
        self, user: str, view_id: str, values: dict[str, Any] | None = None
    ) -> AckResult:
        return await actions.submit_view(self, user, view_id, values or {})

    async def deliver_raw(self, body: bytes, headers: dict[str, str]) -> AckResult:
        """POST these exact bytes/headers to the bot's request_url (forged or replayed requests)."""
        return await self.delivery.deliver_raw(body, headers)

    def signed_headers(
        self, body: bytes, content_type: str, timestamp: int | None = None
    ) -> dict[str, str]:
        """Headers Slack would send with `body` (pass an old `timestamp` to build a replay)."""
        return self.delivery.signed_headers(body, content_type, timestamp)

    # --- observation ----------------------------------------------------------------------------
    @property
    def seq(self) -> int:
        """Current change counter; pass it as `since=` to wait only for later changes."""
        return self.workspace.seq

    def messages(self, channel: str) -> list[Message]:
        """Top-level messages (and thread broadcasts) of a channel, oldest first."""
        return self.workspace.top_level(self.workspace.channel(channel).id)

    def thread(self, channel: str, ts: str) -> list[Message]:
        return self.workspace.replies(self.workspace.channel(channel).id, ts)

    def ephemerals(self, user: str, channel: str | None = None) -> list[Message]:
        uid = self.workspace.user(user).id
        cid = self.workspace.channel(channel).id if channel else None
        return [
            m
            for m in self.workspace.ephemeral_log
            if m.visible_to == uid and not m.deleted and (cid is None or m.channel == cid)
        ]

    def dms(self, user: str) -> list[Message]:
        """Messages in the bot's DM with this user (empty if it was never opened)."""
        dm_id = "D" + self.workspace.user(user).id[1:]
        return self.workspace.top_level(dm_id) if dm_id in self.workspace.channels else []

    def all_messages(self) -> list[Message]:
        return list(self.workspace.all_messages())

    def find(self, ts: str) -> Message | None:
        return self.workspace.find_any(ts)

    def views(self, user: str | None = None, *, open_only: bool = True) -> list[View]:
        uid = self.workspace.user(user).id if user else None
        return [
            v
            for v in self.workspace.views.values()
            if (uid is None or v.user == uid) and not (open_only and v.closed)
        ]

    def home_view(self, user: str) -> View | None:
        return self.workspace.home_views.get(self.workspace.user(user).id)

    def file_content(self, file_id: str) -> bytes | None:
        stored = self.workspace.files.get(file_id)
        return stored.content if stored else None

    async def wait_for(
        self,
        predicate: Callable[[Message], bool],
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> Message:
        """First message (any channel, DM, thread or ephemeral; edits re-checked) matching."""
        return await observe.wait_for_message(
            self.workspace,
            predicate,
            timeout=timeout,
            since=since,
            what=getattr(predicate, "__name__", "predicate"),
        )

    async def wait_for_text(
        self,
        text: str,
        channel: str | None = None,
        thread_ts: str | None = None,
        user: str | None = None,
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> Message:
        """First message containing `text`; `user` matches the author or the ephemeral's viewer."""
        predicate = observe.text_predicate(
            self.workspace, text, channel=channel, thread_ts=thread_ts, user=user
        )
        return await observe.wait_for_message(
            self.workspace, predicate, timeout=timeout, since=since, what=f"text {text!r}"
        )

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Params of the first received `method` call matching `predicate`."""

        def check() -> dict[str, Any] | None:
            return next(
                (p for m, p in self.calls if m == method and (predicate is None or predicate(p))),
                None,
            )

        found = await observe.wait_until(self.workspace, check, timeout)
        if found is None:
            seen = ", ".join(m for m, _ in self.calls[-20:]) or "none"
            raise AssertionError(f"no {method} call within {timeout}s; recent calls: {seen}")
        return found

    def call_count(self, method: str | None = None) -> int:
        return sum(1 for m, _ in self.calls if method is None or m == method)

    @property
    def api_log(self) -> list[ApiCall]:
        """Every Web API request with its HTTP status and error (faulted calls included)."""
        return self.api.log

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(message, change)` on every new/edited/deleted message; returns unsubscribe."""
        return self.workspace.subscribe(callback)

    # --- faults and rate limits -----------------------------------------------------------------
    def inject_faults(
        self,
        method: str | None = None,
        status: int = 429,
        count: int | None = None,
        rate: float | None = None,
        retry_after: int = 1,
        seed: int = 0,
    ) -> FaultRule:
        """Fail the next `count` calls (default 1) or a seeded `rate` share of calls to `method`."""
        return self.faults.add(
            method, status=status, count=count, rate=rate, retry_after=retry_after, seed=seed
        )

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_rate_limit(self, method: str, per_second: float, burst: float | None = None) -> None:
        self.limiter.set(method, per_second, burst)

    def clear_rate_limits(self, method: str | None = None) -> None:
        self.limiter.remove(method)
