"""Worker supervision of the local serving engine: N model-server processes behind one front.

Each worker is today's model server (`python -m bot.serving --port P`) on a private port. The pool
starts and stops them, checks their /healthz until they serve, replaces one that dies (and keeps
a record of it for the capacity card), and drains a worker before stopping it on scale-down: it
takes no new request and is only terminated when its in-flight requests have finished.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import httpx

log = logging.getLogger(__name__)

# standby: started and loaded, kept warm (SERVING_SPARE_REPLICAS) and given no requests, so a
# scale-up serves in milliseconds instead of the seconds a cold process needs to import and load.
WorkerState = Literal["starting", "standby", "ready", "draining"]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the worker binds it a moment later)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class Worker:
    """One model-server process and what the front knows about it."""

    number: int
    port: int
    process: asyncio.subprocess.Process
    state: WorkerState = "starting"
    in_flight: int = 0
    version: int | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class WorkerEvent:
    """Something the oncall engineer should know about a worker (a replacement, a failed start)."""

    at: float
    kind: str
    worker: int
    detail: str = ""


class WorkerPool:
    """The supervised workers; `wanted` is how many should serve, the supervisor makes it so."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        host: str = "127.0.0.1",
        start_timeout: float = 120.0,
        command: Sequence[str] = (sys.executable, "-m", "bot.serving"),
        spares: int = 0,
        max_total: int = 4,
    ) -> None:
        self.spares = spares
        self.max_total = max_total
        self.env = {**os.environ, **env}
        self.host = host
        self.start_timeout = start_timeout
        self.command = tuple(command)
        self.workers: list[Worker] = []
        self.wanted = 0
        self.restarts = 0
        self.events: list[WorkerEvent] = []
        self.changed = asyncio.Event()  # set when a worker became ready or a slot freed
        self._numbers = 0
        self._client = httpx.AsyncClient(timeout=2.0)
        self._stopping = False

    # --- what the dispatcher and the status read ------------------------------------------------
    @property
    def ready(self) -> list[Worker]:
        return [w for w in self.workers if w.state == "ready"]

    def counts(self) -> dict[str, int]:
        """Workers by state, for status and the capacity gauges."""
        out = {"starting": 0, "standby": 0, "ready": 0, "draining": 0}
        for worker in self.workers:
            out[worker.state] += 1
        return out

    def _event(self, kind: str, worker: Worker, detail: str = "") -> None:
        self.events.append(WorkerEvent(time.time(), kind, worker.number, detail))
        del self.events[:-20]  # the latest few are enough for the card

    # --- lifecycle -------------------------------------------------------------------------------
    async def _spawn(self) -> Worker:
        self._numbers += 1
        port = free_port(self.host)
        process = await asyncio.create_subprocess_exec(
            *self.command,
            "--port",
            str(port),
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
        )
        worker = Worker(self._numbers, port, process)
        self.workers.append(worker)
        log.info("worker %s starting on port %s (pid %s)", worker.number, port, process.pid)
        return worker

    async def _stop(self, worker: Worker, *, drain_timeout: float = 30.0) -> None:
        """Drain (no new requests, wait for in-flight ones), then terminate."""
        worker.state = "draining"
        deadline = time.monotonic() + drain_timeout
        while worker.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        if worker.process.returncode is None:
            worker.process.terminate()
            try:
                await asyncio.wait_for(worker.process.wait(), 10)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
        if worker in self.workers:
            self.workers.remove(worker)

    def _reconcile(self) -> None:
        """Promote standby workers while fewer than `wanted` serve; demote the extra ones.

        A demoted worker takes no new request; the ones it is answering finish normally.
        """
        ready = [w for w in self.workers if w.state == "ready"]
        standby = sorted((w for w in self.workers if w.state == "standby"), key=lambda w: w.started)
        while len(ready) < self.wanted and standby:
            worker = standby.pop(0)
            worker.state = "ready"
            ready.append(worker)
            self.changed.set()
        for worker in sorted(ready, key=lambda w: w.started, reverse=True)[
            : max(len(ready) - self.wanted, 0)
        ]:
            worker.state = "standby"

    async def _fill(self) -> None:
        """Start or stop processes so that `wanted` plus the spares exist."""
        spares = max(min(self.spares, self.max_total - self.wanted), 0)
        live = [w for w in self.workers if w.state != "draining"]
        for _ in range(self.wanted + spares - len(live)):
            await self._spawn()
        extra = len(live) - (self.wanted + spares)
        if extra > 0:
            # Never a serving worker: starting ones first, then the newest standby ones.
            order = {"starting": 0, "standby": 1, "ready": 2}
            victims = sorted(live, key=lambda w: (order[w.state], -w.started))
            for worker in [w for w in victims if w.state != "ready"][:extra]:
                asyncio.get_running_loop().create_task(self._stop(worker))

    async def scale_to(self, replicas: int) -> None:
        """Set how many workers serve: standby ones serve at once, new ones start, extra drain."""
        self.wanted = max(replicas, 0)
        self._reconcile()
        await self._fill()

    async def supervise_once(self) -> None:
        """One pass: replace dead workers, check started ones, keep the counts."""
        for worker in list(self.workers):
            code = worker.process.returncode
            if code is not None and worker.state != "draining":
                self.workers.remove(worker)
                self.restarts += 1
                self._event("replaced", worker, f"exit code {code}")
                log.warning("worker %s died (exit %s); starting a replacement", worker.number, code)
                self.changed.set()
            elif worker.state == "starting":
                await self._probe(worker)
        if not self._stopping:
            self._reconcile()
            await self._fill()

    async def _probe(self, worker: Worker) -> None:
        try:
            response = await self._client.get(f"{worker.url}/healthz")
            body = response.json()
        except (httpx.HTTPError, ValueError):
            body, response = None, None
        if response is not None and response.status_code == 200 and body.get("version"):
            worker.state, worker.version = "standby", int(body["version"])
            log.info("worker %s loaded v%s", worker.number, worker.version)
            self.changed.set()
        elif time.monotonic() - worker.started > self.start_timeout:
            self._event("start_failed", worker, f"not serving after {self.start_timeout:.0f}s")
            worker.process.kill()

    async def wait_ready(self, count: int, *, timeout: float) -> bool:
        """True once at least `count` workers serve (the supervisor must be running)."""
        deadline = time.monotonic() + timeout
        while len(self.ready) < count:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def reload_all(self) -> list[int | None]:
        """Tell every ready worker to load the production version now; what each serves after."""

        async def one(worker: Worker) -> int | None:
            try:
                response = await self._client.post(f"{worker.url}/admin/reload", timeout=30.0)
                worker.version = response.json().get("version")
            except (httpx.HTTPError, ValueError):
                return None
            return worker.version

        warm = [w for w in self.workers if w.state in ("ready", "standby")]
        return list(await asyncio.gather(*(one(w) for w in warm)))

    async def close(self) -> None:
        self._stopping = True
        await asyncio.gather(
            *(self._stop(w, drain_timeout=5.0) for w in list(self.workers)),
            return_exceptions=True,
        )
        await self._client.aclose()
