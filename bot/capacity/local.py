"""`LocalEngine`: the bot's client of the local engine's admin API (bot.serving.front)."""

from __future__ import annotations

import contextlib
from typing import Any

import httpx

from bot.capacity.engine import (
    AutoscalePolicy,
    CapacityStatus,
    EngineRefused,
    EngineUnavailable,
    unreachable,
)


def status_from_json(engine: str, body: dict[str, Any]) -> CapacityStatus:
    a = body.get("autoscale") or {}
    return CapacityStatus(
        engine=engine,
        mode="auto" if body.get("mode") == "auto" else "manual",
        wanted=int(body.get("wanted", 0)),
        running=int(body.get("running", 0)),
        starting=int(body.get("starting", 0)),
        autoscale=AutoscalePolicy(
            int(a.get("min_replicas", 1)),
            int(a.get("max_replicas", 1)),
            float(a.get("target_ongoing_requests", 2.0)),
        ),
        in_flight=int(body.get("in_flight", 0)),
        queued=int(body.get("queued", 0)),
        queue_limit=body.get("queue_limit"),
        restarts=int(body.get("restarts", 0)),
        events=list(body.get("events") or []),
        requests=int(body.get("requests") or 0),
        p50=body.get("p50"),
        p95=body.get("p95"),
        p99=body.get("p99"),
        error_rate=body.get("error_rate"),
        shed_rate=body.get("shed_rate"),
    )


class LocalEngine:
    name = "local"

    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)

    async def _call(self, change: dict[str, Any] | None = None) -> CapacityStatus:
        try:
            if change is None:
                response = await self._client.get("/admin/capacity")
            else:
                response = await self._client.post("/admin/capacity", json=change)
        except httpx.HTTPError as exc:
            raise EngineUnavailable(
                "model_server_unreachable", error=type(exc).__name__, problem=str(exc)
            ) from None
        if response.status_code == 422:
            raise EngineRefused(str(response.json().get("problem")))
        if response.status_code == 404:
            raise EngineUnavailable("no_capacity_api")
        if response.status_code != 200:
            raise EngineUnavailable("model_server_http", status=response.status_code)
        return status_from_json(self.name, response.json())

    async def status(self) -> CapacityStatus:
        try:
            return await self._call()
        except EngineUnavailable as exc:
            return unreachable(self.name, exc)

    async def scale(self, replicas: int) -> CapacityStatus:
        return await self._call({"mode": "manual", "replicas": replicas})

    async def autoscale(self, policy: AutoscalePolicy) -> CapacityStatus:
        return await self._call(
            {
                "mode": "auto",
                "min_replicas": policy.min_replicas,
                "max_replicas": policy.max_replicas,
                "target_ongoing_requests": policy.target_ongoing_requests,
            }
        )

    async def manual(self) -> CapacityStatus:
        current = await self._call()
        return await self._call({"mode": "manual", "replicas": max(current.wanted, 1)})

    async def shed(self, queue_limit: int) -> CapacityStatus:
        return await self._call({"queue_limit": queue_limit})

    async def reload(self) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the poll is the backstop
            await self._client.post("/admin/reload", timeout=30.0)

    async def aclose(self) -> None:
        await self._client.aclose()
