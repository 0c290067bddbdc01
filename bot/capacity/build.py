"""The capacity service from Settings: which engine, where its API answers, the SLO."""

from __future__ import annotations

from typing import Any

from bot.capacity.burn import Slo
from bot.capacity.engine import ServingEngine
from bot.capacity.local import LocalEngine
from bot.capacity.ray_engine import RayServeEngine
from bot.capacity.service import CapacityService


def build_engine(settings: Any) -> ServingEngine:
    if settings.serving_engine == "ray":
        return RayServeEngine(settings.ray_dashboard_url)
    return LocalEngine(settings.model_server_url)


def build_capacity(settings: Any) -> CapacityService:
    return CapacityService(
        engine=build_engine(settings),
        metrics_url=settings.model_server_url,
        slo=Slo(settings.latency_slo_seconds, settings.latency_slo_target),
        max_replicas=settings.max_replicas,
        burn_scale=settings.burn_window_scale,
        burn_min_requests=settings.burn_min_requests,
        check_seconds=settings.scale_check_seconds,
    )
