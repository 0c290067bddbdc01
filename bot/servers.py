"""Run uvicorn servers as tasks inside one event loop, with signals handled by the caller."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process owns its signals (several servers share a loop); see bot.runtime.
        yield


class ServerTask:
    """One uvicorn server running in the current loop."""

    def __init__(
        self,
        app: object,
        *,
        host: str,
        port: int,
        log_level: str = "warning",
        lifespan: str = "off",
    ) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level.lower(),
            access_log=False,
            lifespan=lifespan,
            http="httptools",
            loop="none",
            timeout_graceful_shutdown=5,
        )
        self.server = _QuietServer(config)
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()  # re-raise why it could not start (e.g. port in use)
                raise RuntimeError("server stopped before it started")
            await asyncio.sleep(0.01)

    @property
    def port(self) -> int:
        servers = getattr(self.server, "servers", [])
        for server in servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self.server.config.port)

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
