"""The capacity settings (serving engine, replicas, latency SLO, burn-rate alerts).

A mixin of `bot.config.Settings`, kept beside the domain that reads them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class CapacitySettings(BaseModel):
    serving_engine: Literal["local", "ray"] = Field(
        "local",
        description="Serving engine: `local` (worker processes behind one port) or `ray` (Ray Serve).",
    )
    serving_replicas: int = Field(1, ge=1, description="Replicas the model server starts with.")
    max_replicas: int = Field(
        4, ge=1, description="Most replicas `/iris scale` and autoscaling may ask for."
    )
    serving_queue_limit: int = Field(
        32, ge=0, description="Queued predict requests beyond which the server answers 503."
    )
    serving_worker_concurrency: int = Field(
        2, ge=1, description="Requests one local worker answers at once (more wait in the queue)."
    )
    serving_spare_replicas: int = Field(
        1,
        ge=0,
        description="Local engine: warm standby workers kept beyond the serving ones (fast scale-up).",
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to serve on (`ray` engine); unset: start a local one."
    )
    ray_dashboard_url: str = Field(
        "http://127.0.0.1:8265", description="Ray dashboard, where Serve's REST API answers."
    )
    latency_slo_seconds: float = Field(
        0.1, gt=0, description="Latency SLO: a prediction is good when answered within this."
    )
    latency_slo_target: float = Field(
        0.99, gt=0, lt=1, description="Latency SLO: share of predictions that must be good."
    )
    burn_window_scale: float = Field(
        1.0,
        gt=0,
        description="Multiplies the burn-rate windows (1h/5m, 6h/30m, 3d); tests shrink them.",
    )
    burn_min_requests: int = Field(
        100, ge=1, description="Fewest predictions in a burn window for its alert to fire."
    )
    burn_check_seconds: float = Field(
        15.0, ge=0, description="How often the bot scrapes the model server for burn rates; 0: off."
    )
    scale_check_seconds: float = Field(
        60.0, gt=0, description="How long after a scale the bot waits for replicas and p99."
    )
