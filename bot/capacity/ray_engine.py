"""`RayServeEngine`: the model server as a Ray Serve application, read and changed over Serve's REST
API on the Ray dashboard (`GET/PUT /api/serve/applications/`).

A PUT declares every application on the cluster (the ones it leaves out are deleted), so a change
sends back each other application's `deployed_app_config` unchanged and only edits ours. Changing
`num_replicas` or `autoscaling_config` of a deployment is an in-place update: Serve adds or removes
replicas without restarting the others. Ray's default `max_replicas` is 1, so autoscaling always
sends it explicitly.
"""

from __future__ import annotations

import copy
from typing import Any

import httpx

from bot.capacity.engine import (
    AutoscalePolicy,
    CapacityStatus,
    EngineRefused,
    EngineUnavailable,
    unreachable,
)

APP = "iris"
DEPLOYMENT = "ModelServer"
API = "/api/serve/applications/"


class RayServeEngine:
    name = "ray"

    def __init__(
        self, dashboard_url: str, *, app: str = APP, deployment: str = DEPLOYMENT, timeout=10.0
    ) -> None:
        self.app, self.deployment = app, deployment
        self._client = httpx.AsyncClient(base_url=dashboard_url.rstrip("/"), timeout=timeout)

    async def _details(self) -> dict[str, Any]:
        try:
            response = await self._client.get(API)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise EngineUnavailable(
                "ray_unreachable", error=type(exc).__name__, problem=str(exc)
            ) from None

    def _ours(self, details: dict[str, Any]) -> dict[str, Any]:
        app = (details.get("applications") or {}).get(self.app)
        if app is None:
            raise EngineUnavailable("ray_no_app", app=self.app)
        return app

    def _status(self, details: dict[str, Any]) -> CapacityStatus:
        app = self._ours(details)
        deployment = (app.get("deployments") or {}).get(self.deployment) or {}
        states = [r.get("state") for r in deployment.get("replicas") or []]
        config = deployment.get("deployment_config") or {}
        auto = config.get("autoscaling_config")
        policy = AutoscalePolicy(
            int(auto.get("min_replicas", 1)),
            int(auto.get("max_replicas", 1)),
            float(auto.get("target_ongoing_requests", 2.0)),
        ) if auto else AutoscalePolicy()  # fmt: skip
        return CapacityStatus(
            engine=self.name,
            mode="auto" if auto else "manual",
            wanted=int(deployment.get("target_num_replicas") or config.get("num_replicas") or 0),
            running=states.count("RUNNING"),
            starting=sum(1 for s in states if s in ("STARTING", "UPDATING", "RECOVERING")),
            autoscale=policy,
            queue_limit=config.get("max_queued_requests"),
        )

    async def status(self) -> CapacityStatus:
        try:
            return self._status(await self._details())
        except EngineUnavailable as exc:
            return unreachable(self.name, exc)

    async def _change(self, edit: dict[str, Any], drop: tuple[str, ...] = ()) -> CapacityStatus:
        """PUT every application back, ours with `edit` applied to our deployment's options."""
        details = await self._details()
        apps: list[dict[str, Any]] = []
        for name, app in (details.get("applications") or {}).items():
            config = app.get("deployed_app_config")
            if config is None:
                raise EngineRefused(
                    f"application {name!r} was not deployed from a config; a PUT would delete it"
                )
            config = copy.deepcopy(config)
            if name == self.app:
                deployments = config.setdefault("deployments", [])
                mine = next((d for d in deployments if d.get("name") == self.deployment), None)
                if mine is None:
                    mine = {"name": self.deployment}
                    deployments.append(mine)
                for key in drop:
                    mine.pop(key, None)
                mine.update(edit)
            apps.append(config)
        if not any(a.get("name") == self.app for a in apps):
            raise EngineUnavailable("ray_no_app", app=self.app)
        try:
            response = await self._client.put(API, json={"applications": apps})
        except httpx.HTTPError as exc:
            raise EngineUnavailable(
                "ray_unreachable", error=type(exc).__name__, problem=str(exc)
            ) from None
        if response.status_code >= 400:
            raise EngineRefused(f"Ray Serve refused the config: {response.text[:300]}")
        return self._status(await self._details())

    async def scale(self, replicas: int) -> CapacityStatus:
        return await self._change({"num_replicas": replicas}, drop=("autoscaling_config",))

    async def autoscale(self, policy: AutoscalePolicy) -> CapacityStatus:
        config = {
            "min_replicas": policy.min_replicas,
            "max_replicas": policy.max_replicas,  # Ray's default is 1: never leave it out
            "target_ongoing_requests": policy.target_ongoing_requests,
            "upscale_delay_s": 3.0,
            "downscale_delay_s": 30.0,
        }
        return await self._change({"autoscaling_config": config}, drop=("num_replicas",))

    async def manual(self) -> CapacityStatus:
        current = self._status(await self._details())
        return await self.scale(max(current.running or current.wanted, 1))

    async def shed(self, queue_limit: int) -> CapacityStatus:
        return await self._change({"max_queued_requests": max(queue_limit, 1)})

    async def reload(self) -> None:
        """Replicas follow the alias by polling; Serve has no per-replica call to make."""

    async def aclose(self) -> None:
        await self._client.aclose()
