"""The model server: Starlette app that serves the `production` version and follows its alias.

Hot path: hand-rolled validation → numpy array → estimator.predict_proba → json.dumps.
No pandas, no MLflow pyfunc. The served model lives in one reference (`ModelHolder.current`);
each request reads it once, so a swap never mixes versions inside a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.model_registry.service import ModelService
from bot.request_body import BodyTooLarge, read_body
from bot.serving.metrics import ServerMetrics
from bot.serving.quality_gate import QualityGate, quality_answer
from bot.serving.recorder import PredictionRecorder
from bot.serving.validation import InputError, RecordValidator
from bot.training.iris import GOLDEN_SAMPLES

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
JSON = "application/json"


@dataclass(frozen=True)
class Served:
    """A fully loaded, warmed-up version; replaced as a whole, never mutated."""

    version: int
    model: Any
    classes: tuple[str, ...]
    validator: RecordValidator


class ModelHolder:
    """Follows the `production` alias: loads the new version off-loop, then swaps one reference."""

    def __init__(
        self,
        service: ModelService,
        *,
        poll_seconds: float,
        max_batch: int,
        metrics: ServerMetrics,
        freeze_gc: bool = False,
    ) -> None:
        self.freeze_gc = freeze_gc
        self.service = service
        self.poll_seconds = poll_seconds
        self.max_batch = max_batch
        self.metrics = metrics
        self.current: Served | None = None
        self.reason = "starting: model not loaded yet"

    async def follow(self) -> None:
        """Poll forever; errors keep the current version and are reported via /healthz."""
        while True:
            await self.refresh()
            await asyncio.sleep(self.poll_seconds)

    async def refresh(self) -> None:
        """One poll: if the alias moved, load + warm the target, then swap."""
        try:
            target = await asyncio.to_thread(self.service.production_version)
            if target is None:
                if self.current is None:
                    self.reason = "no version carries the production alias"
                return
            if self.current is not None and self.current.version == target:
                return
            served = await asyncio.to_thread(self._prepare, target)
            previous, self.current = self.current, served  # the swap: one reference assignment
            if self.freeze_gc:
                # Long-lived objects out of the collector's sight: a full collection over
                # MLflow + scikit-learn's heap is a ~150 ms pause, i.e. the p99.
                gc.freeze()
            self.metrics.version.set(served.version)
            self.metrics.swaps.inc()
            log.info(
                "serving v%s (was %s)",
                served.version,
                f"v{previous.version}" if previous else "nothing",
            )
        except Exception as exc:
            self.metrics.error("model_poll", type(exc).__name__)
            if self.current is None:
                self.reason = f"cannot load the production model: {exc}"
            log.warning(
                "model poll failed, keeping %s: %s",
                self.current and f"v{self.current.version}",
                exc,
            )

    def _prepare(self, version: int) -> Served:
        model = self.service.load(version)
        signature = self.service.input_signature(version)
        classes = tuple(str(c) for c in model.classes_)
        # Warm up (first call allocates and imports lazily) and fail here, not in a request.
        probe = np.array(
            [[s.features[f.name] for f in signature.features] for s in GOLDEN_SAMPLES],
            dtype=np.float64,
        )
        if model.predict_proba(probe).shape != (len(GOLDEN_SAMPLES), len(classes)):
            raise RuntimeError(f"v{version} returns an unexpected probability shape")
        return Served(
            version, model, classes, RecordValidator(signature.features, max_batch=self.max_batch)
        )


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload, separators=(",", ":")), status_code=status, media_type=JSON)


def create_model_app(
    *,
    service: ModelService,
    poll_seconds: float = 0.5,
    recorder: PredictionRecorder | None = None,
    max_batch: int = 1000,
    freeze_gc: bool = False,
    extra_routes: Sequence[BaseRoute] = (),
    quality: Callable[[ServerMetrics], QualityGate] | None = None,
) -> Starlette:
    """The model server app; its lifespan starts the alias follower and the recorder.

    `freeze_gc` (set by `run_model_server`, which owns the process) calls `gc.freeze()` at
    start-up and after each swap.
    """
    metrics = ServerMetrics()
    holder = ModelHolder(
        service,
        poll_seconds=poll_seconds,
        max_batch=max_batch,
        metrics=metrics,
        freeze_gc=freeze_gc,
    )
    perf = time.perf_counter
    # Prediction ids: a random per-app prefix plus a counter, 32 hex chars like a uuid4 but
    # ~30× cheaper, which matters at 100 ids per batch request.
    prefix = os.urandom(8).hex()
    counter = itertools.count(1)
    # Feature contracts and missing-feature policies (bot/serving/quality_gate.py), when wired.
    gate = quality(metrics) if quality is not None else None

    def new_ids(n: int) -> list[str]:
        return [f"{prefix}{next(counter):016x}" for _ in range(n)]

    async def predict(request: Request) -> Response:
        start = perf()
        served = holder.current  # read once: this request uses this version throughout
        if served is None:
            metrics.error("predict", "not_ready")
            metrics.observe("predict", 503, perf() - start)
            return _json({"error": "model not loaded", "problem": holder.reason}, 503)
        plan = None
        try:
            body = await read_body(request, limit=MAX_BODY_BYTES)
            if gate is None:
                rows, _ = served.validator.parse(body)
            else:
                rows, plan = gate.judge(body, served)
        except InputError as exc:
            metrics.error("predict", "invalid_input")
            metrics.observe("predict", 422, perf() - start)
            return _json(exc.as_dict(), 422)
        except BodyTooLarge as exc:
            metrics.error("predict", "too_large")
            metrics.observe("predict", 413, perf() - start)
            return _json({"error": "invalid input", "field": "body", "problem": str(exc)}, 413)
        if plan is not None and gate is not None:  # a policy acted: imputed or fallback rows
            try:
                payload, own, own_ids, own_labels, own_best = quality_answer(
                    gate, plan, served, new_ids
                )
            except Exception as exc:
                log.exception("predict with a quality policy failed on v%s", served.version)
                metrics.error("predict", "model_error")
                metrics.observe("predict", 503, perf() - start)
                return _json({"error": "prediction failed", "problem": str(exc)}, 503)
            if recorder is not None and own:
                recorder.record(served.version, plan.X[own].tolist(), own_ids, own_labels, own_best)
            metrics.predicted([p["class"] for p in payload["predictions"]])
            metrics.observe("predict", 200, perf() - start)
            return _json(payload)
        try:
            proba = served.model.predict_proba(np.array(rows, dtype=np.float64))
        except (
            Exception
        ) as exc:  # a model bug must surface as a clean 500-free error, and be counted
            log.exception("predict failed on v%s", served.version)
            metrics.error("predict", "model_error")
            metrics.observe("predict", 503, perf() - start)
            return _json({"error": "prediction failed", "problem": str(exc)}, 503)
        classes = served.classes
        best = proba.argmax(axis=1).tolist()
        probs = proba.round(6).tolist()
        ids = [
            f"{prefix}{n:016x}" for n, _ in zip(counter, rows, strict=False)
        ]  # counter is endless
        labels = [classes[i] for i in best]
        out = [
            {"class": label, "probabilities": dict(zip(classes, p, strict=True)), "id": pid}
            for label, p, pid in zip(labels, probs, ids, strict=True)
        ]
        response = _json({"model_version": served.version, "predictions": out})
        if recorder is not None:
            recorder.record(
                served.version, rows, ids, labels, [p[i] for p, i in zip(probs, best, strict=True)]
            )
        metrics.predicted(labels)
        metrics.observe("predict", 200, perf() - start)
        return response

    async def healthz(request: Request) -> Response:
        served = holder.current
        if served is None:
            return _json(
                {
                    "status": "unavailable",
                    "model": service.model_name,
                    "version": None,
                    "reason": holder.reason,
                },
                503,
            )
        return _json({"status": "ok", "model": service.model_name, "version": served.version})

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if freeze_gc:
            gc.freeze()
        follower = asyncio.get_running_loop().create_task(holder.follow(), name="model-follower")
        policies = None
        if gate is not None:
            policies = asyncio.get_running_loop().create_task(
                gate.follow(lambda: holder.current.version if holder.current else None),
                name="quality-policies",
            )
        if recorder is not None:
            recorder.start()
        try:
            yield
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            if policies is not None:
                policies.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await policies
            if recorder is not None:
                await recorder.stop()

    app = Starlette(
        routes=[
            Route("/v1/predict", predict, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
            *extra_routes,
        ],
        lifespan=lifespan,
    )
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.recorder = recorder
    app.state.quality = gate
    return app
