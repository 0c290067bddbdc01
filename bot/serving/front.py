"""The front of the local serving engine: one port, N supervised worker processes behind it.

It serves the model server's API (`/v1/predict`, `/healthz`, `/metrics`, and passes any other
path such as `/v1/feedback` through), admits requests through the `Dispatcher` (bounded queue,
503 + Retry-After beyond it), and exposes the capacity admin API the bot's engine client calls:
`GET/POST /admin/capacity` (status; manual replicas, autoscaling, shedding) and `POST
/admin/reload` (every worker loads the production version now).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
from prometheus_client import generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from bot.serving.admission import (
    Admission,
    Autoscale,
    Autoscaler,
    Dispatcher,
    LatencyWindow,
    Overloaded,
)
from bot.serving.capacity_metrics import FRONT_SAMPLES, CapacityMetrics, merge_worker_metrics
from bot.serving.metrics import ServerMetrics
from bot.serving.workers import WorkerPool

log = logging.getLogger(__name__)

JSON = "application/json"
PASS_HEADERS = ("content-type",)


def _json(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(payload), status_code=status, media_type=JSON, headers=headers)


class LocalFront:
    """State of the front: pool, dispatcher, scaling mode, metrics; the app's handlers use it."""

    def __init__(
        self,
        pool: WorkerPool,
        *,
        replicas: int,
        max_replicas: int,
        admission: Admission,
        autoscale: Autoscale,
        tick_seconds: float = 0.25,
    ) -> None:
        self.pool = pool
        self.max_replicas = max_replicas
        self.admission = admission
        self.dispatcher = Dispatcher(pool, admission)
        self.mode = "manual"
        self.replicas = replicas
        self.autoscaler = Autoscaler(autoscale)
        self.metrics = ServerMetrics()
        self.capacity = CapacityMetrics(self.metrics.registry)
        self.window = LatencyWindow()
        self.tick_seconds = tick_seconds
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=2.0),
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )
        self._restarts_seen = 0

    # --- scaling ---------------------------------------------------------------------------------
    async def set_manual(self, replicas: int) -> None:
        self.mode, self.replicas = "manual", replicas
        await self.pool.scale_to(replicas)

    async def set_auto(self, policy: Autoscale) -> None:
        self.mode = "auto"
        self.autoscaler = Autoscaler(policy)
        current = min(max(self.pool.wanted, policy.min_replicas), policy.max_replicas)
        await self.pool.scale_to(current)

    async def supervise(self) -> None:
        """Forever: replace dead workers, promote ready ones, follow the autoscaler."""
        while True:
            try:
                await self.pool.supervise_once()
                if self.mode == "auto":
                    load = self.dispatcher.in_flight + self.dispatcher.queued
                    want = self.autoscaler.desired(load=load, current=self.pool.wanted)
                    if want != self.pool.wanted:
                        log.info("autoscaling %s -> %s replicas", self.pool.wanted, want)
                        await self.pool.scale_to(want)
                if self.pool.changed.is_set():
                    self.pool.changed.clear()
                    await self.dispatcher.wake()
                new = self.pool.restarts - self._restarts_seen
                if new:
                    self.capacity.restarts.inc(new)
                    self._restarts_seen = self.pool.restarts
                self.update_gauges()
            except Exception:  # the supervisor must outlive any one bad pass
                log.exception("serving supervisor pass failed")
            await asyncio.sleep(self.tick_seconds)

    def update_gauges(self) -> None:
        self.capacity.update(
            counts=self.pool.counts(),
            wanted=self.pool.wanted,
            in_flight=self.dispatcher.in_flight,
            queued=self.dispatcher.queued,
            queue_limit=self.admission.queue_limit,
        )

    def status(self) -> dict[str, Any]:
        counts = self.pool.counts()
        policy = self.autoscaler.policy
        return {
            "engine": "local",
            "reachable": True,
            "mode": self.mode,
            "wanted": self.pool.wanted,
            "running": counts["ready"],
            # Only the ones still needed for `wanted`; a spare warming up is `standby` work.
            "starting": min(counts["starting"], max(self.pool.wanted - counts["ready"], 0)),
            "standby": counts["standby"],
            "draining": counts["draining"],
            "max_replicas": self.max_replicas,
            "autoscale": {
                "min_replicas": policy.min_replicas,
                "max_replicas": policy.max_replicas,
                "target_ongoing_requests": policy.target,
            },
            "in_flight": self.dispatcher.in_flight,
            "queued": self.dispatcher.queued,
            "queue_limit": self.admission.queue_limit,
            "concurrency": self.admission.concurrency,
            "restarts": self.pool.restarts,
            "events": [e.__dict__ for e in self.pool.events[-5:]],
            "versions": sorted({w.version for w in self.pool.ready if w.version is not None}),
            **self.window.summary(),
        }

    # --- requests --------------------------------------------------------------------------------
    async def forward(self, request: Request, *, endpoint: str) -> Response:
        """Admit, forward to a worker (once more to another if that one died), count."""
        start = time.perf_counter()
        try:
            body = await request.body()
        except ClientDisconnect:  # the client gave up before sending its body: nobody to answer
            return Response(status_code=400)
        headers = {k: v for k, v in request.headers.items() if k.lower() in PASS_HEADERS}
        for attempt in (1, 2):
            try:
                worker = await self.dispatcher.acquire()
            except Overloaded as exc:
                return self._shed(endpoint, start, exc.reason)
            try:
                upstream = await self.client.request(
                    request.method,
                    f"{worker.url}{request.url.path}",
                    content=body,
                    headers=headers,
                    params=request.query_params,
                )
            except httpx.TransportError:
                # The worker died under this request; the supervisor replaces it. Try another.
                if attempt == 2:
                    self.metrics.error(endpoint, "worker_lost")
                    return self._finish(endpoint, start, _json({"error": "worker lost"}, 503))
                continue
            finally:
                await self.dispatcher.release(worker)
            response = Response(
                upstream.content,
                status_code=upstream.status_code,
                media_type=upstream.headers.get("content-type", JSON),
            )
            return self._finish(endpoint, start, response)
        raise AssertionError("unreachable")

    def _shed(self, endpoint: str, start: float, reason: str) -> Response:
        self.capacity.shed.inc()
        self.metrics.error(endpoint, "shed")
        payload = {"error": "overloaded", "problem": f"the model server sheds load ({reason})"}
        response = _json(payload, 503, headers={"Retry-After": "1"})
        return self._finish(endpoint, start, response)

    def _finish(self, endpoint: str, start: float, response: Response) -> Response:
        seconds = time.perf_counter() - start
        self.metrics.observe(endpoint, response.status_code, seconds)
        if endpoint == "predict":
            self.window.add(seconds, response.status_code)
        return response


def create_front_app(front: LocalFront) -> Starlette:
    """The Starlette app of the front; its lifespan starts the workers and the supervisor."""

    async def predict(request: Request) -> Response:
        return await front.forward(request, endpoint="predict")

    async def passthrough(request: Request) -> Response:
        return await front.forward(request, endpoint=request.url.path.strip("/").replace("/", "_"))

    async def healthz(request: Request) -> Response:
        ready = front.pool.ready
        if not ready:
            problem = "no worker serves yet" if front.pool.workers else "no worker running"
            return _json({"status": "unavailable", "version": None, "reason": problem}, 503)
        versions = {w.version for w in ready}
        # Mid-reload the workers may differ: report a version only once they all serve it.
        version = versions.pop() if len(versions) == 1 else None
        return _json({"status": "ok", "version": version, "replicas": len(ready)})

    async def metrics(request: Request) -> Response:
        front.update_gauges()
        own = generate_latest(front.metrics.registry.restricted_registry(FRONT_SAMPLES))
        texts = await asyncio.gather(
            *(front.client.get(f"{w.url}/metrics", timeout=2.0) for w in front.pool.ready),
            return_exceptions=True,
        )
        worker_texts = [t.text for t in texts if isinstance(t, httpx.Response)]
        merged = merge_worker_metrics(worker_texts)
        return Response(own + merged.encode(), media_type=front.metrics.content_type)

    async def capacity(request: Request) -> Response:
        if request.method == "POST":
            try:
                change = json.loads(await request.body() or b"{}")
                await apply_change(front, change)
            except (ValueError, TypeError, KeyError) as exc:
                return _json({"error": "invalid change", "problem": str(exc)}, 422)
        return _json(front.status())

    async def reload(request: Request) -> Response:
        versions = await front.pool.reload_all()
        front.pool.changed.set()
        return _json({"versions": versions})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await front.pool.scale_to(front.replicas)
        task = asyncio.get_running_loop().create_task(front.supervise(), name="supervisor")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await front.pool.close()
            await front.client.aclose()

    app = Starlette(
        routes=[
            Route("/v1/predict", predict, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/admin/capacity", capacity, methods=["GET", "POST"]),
            Route("/admin/reload", reload, methods=["POST"]),
            Route("/{path:path}", passthrough, methods=["GET", "POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.front = front
    return app


async def apply_change(front: LocalFront, change: dict[str, Any]) -> None:
    """One change from the admin API: manual replicas, autoscaling, or the queue limit."""
    mode = change.get("mode")
    if mode == "manual":
        replicas = int(change.get("replicas", front.pool.wanted))
        if not 1 <= replicas <= front.max_replicas:
            raise ValueError(f"replicas must be 1..{front.max_replicas}")
        await front.set_manual(replicas)
    elif mode == "auto":
        policy = Autoscale(
            min_replicas=int(change["min_replicas"]),
            max_replicas=int(change["max_replicas"]),
            target=float(change["target_ongoing_requests"]),
            upscale_delay_s=float(change.get("upscale_delay_s", 3.0)),
            downscale_delay_s=float(change.get("downscale_delay_s", 30.0)),
        )
        if not 1 <= policy.min_replicas <= policy.max_replicas <= front.max_replicas:
            raise ValueError(f"need 1 <= min <= max <= {front.max_replicas}")
        if policy.target <= 0:
            raise ValueError("target_ongoing_requests must be positive")
        await front.set_auto(policy)
    elif mode is not None:
        raise ValueError(f"unknown mode {mode!r}")
    if "queue_limit" in change:
        limit = int(change["queue_limit"])
        if limit < 0:
            raise ValueError("queue_limit must be >= 0")
        front.admission.queue_limit = limit
