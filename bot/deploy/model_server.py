"""The bot's view of the model server: health, "is it serving version N yet", and the smoke test.

Plain HTTP (httpx) and plain results; no Slack. Used by the deploy actions and `/iris status`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from bot.training.iris import GOLDEN_SAMPLES


@dataclass(frozen=True)
class ServerHealth:
    reachable: bool
    version: int | None = None
    status: str = "unreachable"
    error: str | None = None
    checked_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class SmokeResult:
    passed: bool
    version: int | None
    samples: int
    wrong: list[str]
    latency_ms: float
    latency_bound_ms: float
    problems: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ModelServerClient:
    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=timeout)
        self.last_health: ServerHealth | None = None

    async def health(self) -> ServerHealth:
        """Ask /healthz; never raises."""
        try:
            response = await self._client.get("/healthz", timeout=2.0)
            body = response.json()
            health = ServerHealth(
                reachable=True,
                version=body.get("version"),
                status=str(body.get("status", response.status_code)),
                error=body.get("reason") if response.status_code != 200 else None,
            )
        except (httpx.HTTPError, ValueError) as exc:
            health = ServerHealth(
                reachable=False,
                error=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__,
            )
        self.last_health = health
        return health

    async def wait_for_version(
        self, version: int, *, timeout: float, interval: float = 0.05
    ) -> float:
        """Seconds until the server reports `version`; TimeoutError with what it serves otherwise."""
        started = time.monotonic()
        health = await self.health()
        while health.version != version:
            if time.monotonic() - started > timeout:
                serving = (
                    f"v{health.version}" if health.version else (health.error or health.status)
                )
                raise TimeoutError(f"the model server still serves {serving} after {timeout:.0f}s")
            await asyncio.sleep(interval)
            health = await self.health()
        return time.monotonic() - started

    async def smoke_test(
        self, *, expected_version: int | None, latency_bound_ms: float
    ) -> SmokeResult:
        """Golden samples must predict their classes, from the expected version, within the bound."""
        payload = {"instances": [s.features for s in GOLDEN_SAMPLES]}
        problems: list[str] = []
        wrong: list[str] = []
        version = None
        started = time.perf_counter()
        try:
            response = await self._client.post("/v1/predict", json=payload)
            latency_ms = (time.perf_counter() - started) * 1000
        except httpx.HTTPError as exc:
            latency_ms = (time.perf_counter() - started) * 1000
            problems.append(f"the model server did not answer: {type(exc).__name__}")
            return SmokeResult(
                False,
                None,
                len(GOLDEN_SAMPLES),
                [],
                round(latency_ms, 2),
                latency_bound_ms,
                problems,
            )
        if response.status_code != 200:
            problems.append(f"predict answered HTTP {response.status_code}")
        else:
            body = response.json()
            version = body.get("model_version")
            predictions = body.get("predictions", [])
            for sample, prediction in zip(GOLDEN_SAMPLES, predictions, strict=False):
                if prediction.get("class") != sample.expected:
                    wrong.append(f"{sample.expected} predicted as {prediction.get('class')}")
            if len(predictions) != len(GOLDEN_SAMPLES):
                problems.append(f"{len(predictions)} predictions for {len(GOLDEN_SAMPLES)} samples")
            if wrong:
                problems.append(f"{len(wrong)} of {len(GOLDEN_SAMPLES)} golden samples wrong")
            if expected_version is not None and version != expected_version:
                problems.append(f"served by v{version}, expected v{expected_version}")
        if latency_ms > latency_bound_ms:
            problems.append(f"latency {latency_ms:.0f} ms over the {latency_bound_ms:.0f} ms bound")
        return SmokeResult(
            not problems,
            version,
            len(GOLDEN_SAMPLES),
            wrong,
            round(latency_ms, 2),
            latency_bound_ms,
            problems,
        )

    async def reload_now(self) -> None:
        """Ask the server to load the production version at once (its poll is the backstop)."""
        with contextlib.suppress(httpx.HTTPError):
            await self._client.post("/admin/reload", timeout=30.0)

    async def aclose(self) -> None:
        await self._client.aclose()
