"""A cached picture of the model in production, refreshed in the background.

`/iris status` answers inside the Slack ack, so it must not wait on MLflow; it reads this cache,
which a background loop refreshes. The model server's health is the exception: a cached "healthy"
would hide a server that just died, so when the cached health is older than `fresh_for` seconds,
`current()` asks the server again with a short deadline (a dead server refuses the connection at
once; a hung one is "not answering" after `probe_timeout`), well inside Slack's 3 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace

from bot.deploy.model_server import ModelServerClient, ServerHealth
from bot.model_registry.service import ModelService

log = logging.getLogger(__name__)


@dataclass
class ModelStatus:
    production: int | None = None
    registry_error: str | None = None
    server: ServerHealth | None = None
    refreshed_at: float | None = None


class ModelStatusCache:
    def __init__(
        self,
        *,
        models: ModelService,
        server: ModelServerClient,
        interval: float = 15.0,
        fresh_for: float = 3.0,
        probe_timeout: float = 1.0,
    ) -> None:
        self.models = models
        self.server = server
        self.interval = interval
        self.fresh_for = fresh_for
        self.probe_timeout = probe_timeout
        self.status = ModelStatus()
        self._task: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None

    async def current(self) -> ModelStatus:
        """The status, with the server's health probed now if the cached one is not fresh."""
        health = self.status.server
        if health is not None and time.time() - health.checked_at < self.fresh_for:
            return self.status
        # One probe at a time, shared by every status request that arrives meanwhile; shielded
        # so a request that gives up does not cancel it for the others.
        if self._probe is None or self._probe.done():
            self._probe = asyncio.get_running_loop().create_task(
                self._probe_server(), name="model-server-probe"
            )
        await asyncio.shield(self._probe)
        return self.status

    async def _probe_server(self) -> None:
        try:
            async with asyncio.timeout(self.probe_timeout):
                health = await self.server.health()
        except TimeoutError:
            health = ServerHealth(
                reachable=False, error=f"no answer within {self.probe_timeout:g}s"
            )
        self.status = replace(self.status, server=health)

    async def refresh(self) -> ModelStatus:
        try:
            production = await asyncio.to_thread(self.models.production_version)
            error = None
        except Exception as exc:  # the registry being down is a status to show, not a crash
            production, error = self.status.production, f"{type(exc).__name__}: {exc}"
        health = await self.server.health()
        self.status = ModelStatus(
            production=production, registry_error=error, server=health, refreshed_at=time.time()
        )
        return self.status

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("model status refresh failed")
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="model-status")

    async def stop(self) -> None:
        if self._probe is not None and not self._probe.done():
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def section(self, model_name: str) -> dict[str, object]:
        """The facts `/iris status` shows about the model; `templates/status.j2` words them."""
        return {
            "kind": "model",
            "model_name": model_name,
            "checked": self.status.refreshed_at is not None,
            "production": self.status.production,
            "registry_error": self.status.registry_error,
            "server": self.status.server,
        }
