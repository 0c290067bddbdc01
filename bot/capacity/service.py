"""CapacityService: the engine, the burn tracker and the recent history behind `/iris capacity`,
`/iris scale` and the burn alerts. One per bot, built by the composition root."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.capacity.burn import PAGE, TICKET, BurnReport, BurnTracker, Slo, replicas_for
from bot.capacity.engine import (
    AutoscalePolicy,
    CapacityStatus,
    EngineRefused,
    EngineUnavailable,
    ServingEngine,
)
from bot.monitoring.alerts import Finding
from bot.monitoring.checks import parse_serving_metrics


class CapacityRefused(Exception):
    """A scaling request the bot answers with `capacity_refused.j2` (`kind` + facts)."""

    def __init__(self, kind: str, **facts: Any) -> None:
        super().__init__(kind)
        self.kind, self.facts = kind, facts


@dataclass(frozen=True)
class ScaleChange:
    """One requested change: manual replicas, autoscaling, or back to manual."""

    mode: str  # "manual" | "auto" | "keep" (stop autoscaling at the current count)
    replicas: int | None = None
    policy: AutoscalePolicy | None = None
    for_seconds: float | None = None

    def config(self, current: CapacityStatus) -> dict[str, Any]:
        if self.mode == "auto" and self.policy is not None:
            p = self.policy
            return {
                "mode": "auto",
                "min_replicas": p.min_replicas,
                "max_replicas": p.max_replicas,
                "target_ongoing_requests": p.target_ongoing_requests,
            }
        return {"mode": "manual", "replicas": self.replicas or max(current.running, 1)}

    def as_value(self) -> dict[str, Any]:
        p = self.policy
        return {
            "mode": self.mode,
            "replicas": self.replicas,
            "policy": [p.min_replicas, p.max_replicas, p.target_ongoing_requests] if p else None,
            "for": self.for_seconds,
        }

    @classmethod
    def from_value(cls, value: dict[str, Any]) -> ScaleChange:
        p = value.get("policy")
        return cls(
            mode=str(value["mode"]),
            replicas=value.get("replicas"),
            policy=AutoscalePolicy(int(p[0]), int(p[1]), float(p[2])) if p else None,
            for_seconds=value.get("for"),
        )


@dataclass(frozen=True)
class CapacityView:
    status: CapacityStatus
    burn: BurnReport
    slo: Slo
    suggested: int
    history: list[tuple[float, float | None, int]] = field(default_factory=list)


class CapacityService:
    def __init__(
        self,
        *,
        engine: ServingEngine,
        metrics_url: str,
        slo: Slo,
        max_replicas: int,
        burn_scale: float,
        burn_min_requests: int,
        check_seconds: float,
    ) -> None:
        self.engine = engine
        self.metrics_url = metrics_url.rstrip("/") + "/metrics"
        self.slo = slo
        self.max_replicas = max_replicas
        self.check_seconds = check_seconds
        self.tracker = BurnTracker(slo, scale=burn_scale, min_requests=burn_min_requests)
        # (unix time, p99 seconds, running replicas): the last hour, for the chart.
        self.history: deque[tuple[float, float | None, int]] = deque()
        self.reverts: dict[str, asyncio.Task[None]] = {}
        self._client = httpx.AsyncClient(timeout=5.0)

    # --- reading ---------------------------------------------------------------------------------
    async def observe(self) -> CapacityView:
        """Scrape the model server's histogram and the engine once; the new view."""
        try:
            response = await self._client.get(self.metrics_url)
            response.raise_for_status()
            self.tracker.add(parse_serving_metrics(response.text))
        except (httpx.HTTPError, ValueError):
            pass  # the status says whether the engine answers; burn keeps its samples
        status = await self.engine.status()
        now = time.time()
        self.history.append((now, status.p99, status.running))
        while self.history and self.history[0][0] < now - 3600:
            self.history.popleft()
        return self.view(status)

    def view(self, status: CapacityStatus) -> CapacityView:
        return CapacityView(
            status=status,
            burn=self.tracker.report(),
            slo=self.slo,
            suggested=self.suggested(status),
            history=list(self.history),
        )

    def suggested(self, status: CapacityStatus) -> int:
        """Scale to N: the load now over the target per replica, at least one more replica."""
        return replicas_for(
            status.in_flight + status.queued,
            target=status.autoscale.target_ongoing_requests,
            current=max(status.wanted, 1),
            cap=self.max_replicas,
        )

    def findings(self, view: CapacityView) -> list[Finding]:
        """The burn alerts' verdicts (their words are filled in by the caller's template)."""
        return [
            Finding(PAGE, view.burn.firing(PAGE), "critical"),
            Finding(TICKET, view.burn.firing(TICKET), "warning"),
        ]

    # --- changing --------------------------------------------------------------------------------
    def validate(self, change: ScaleChange, *, deploy_running: bool) -> None:
        """Refuse what must not happen; raises CapacityRefused."""
        if deploy_running:
            raise CapacityRefused("deploy_running")
        cap = self.max_replicas
        if change.mode == "manual":
            n = change.replicas or 0
            if n < 1:
                raise CapacityRefused("zero", given=n)
            if n > cap:
                raise CapacityRefused("over_cap", given=n, cap=cap)
        if change.mode == "auto" and change.policy is not None:
            p = change.policy
            if not 1 <= p.min_replicas <= p.max_replicas:
                raise CapacityRefused("bad_bounds", min=p.min_replicas, max=p.max_replicas)
            if p.max_replicas > cap:
                raise CapacityRefused("over_cap", given=p.max_replicas, cap=cap)
            if p.target_ongoing_requests <= 0:
                raise CapacityRefused("bad_target", given=p.target_ongoing_requests)

    async def apply(self, change: ScaleChange) -> CapacityStatus:
        """Make the change; an engine refusal or outage becomes CapacityRefused."""
        try:
            if change.mode == "auto" and change.policy is not None:
                return await self.engine.autoscale(change.policy)
            if change.mode == "keep":
                return await self.engine.manual()
            return await self.engine.scale(int(change.replicas or 1))
        except EngineRefused as exc:
            raise CapacityRefused("engine_refused", problem=exc.problem) from None
        except EngineUnavailable as exc:
            raise CapacityRefused("engine_unreachable", unavailable=exc.as_facts()) from None

    async def restore(self, config: dict[str, Any]) -> CapacityStatus:
        """Put back a configuration taken before a change (`CapacityStatus.config()`)."""
        if config.get("mode") == "auto":
            policy = AutoscalePolicy(
                int(config["min_replicas"]),
                int(config["max_replicas"]),
                float(config["target_ongoing_requests"]),
            )
            return await self.apply(ScaleChange("auto", policy=policy))
        return await self.apply(ScaleChange("manual", replicas=int(config["replicas"])))

    async def wait_healthy(self, *, timeout: float, interval: float = 0.25) -> CapacityStatus:
        """Until every wanted replica serves, or the timeout; the last status either way."""
        deadline = time.monotonic() + timeout
        while True:
            status = await self.engine.status()
            if status.healthy or time.monotonic() > deadline:
                return status
            await asyncio.sleep(interval)

    async def shed(self) -> CapacityStatus:
        """Shed load: no queue beyond what the replicas answer at once."""
        try:
            return await self.engine.shed(0)
        except EngineRefused as exc:
            raise CapacityRefused("engine_unreachable", problem=exc.problem) from None
        except EngineUnavailable as exc:
            raise CapacityRefused("engine_unreachable", unavailable=exc.as_facts()) from None

    async def aclose(self) -> None:
        for task in self.reverts.values():
            task.cancel()
        await self._client.aclose()
        await self.engine.aclose()
