"""Building and running the serving engines from Settings (`oncall-bot serve-model --engine ...`).

`local`: the front (`bot.serving.front`) on the model server port, supervising worker processes
that each run today's model server. `ray`: the same model app as a Ray Serve deployment
(`bot.serving.ray_app`), on a Ray cluster (`RAY_ADDRESS`) or a local one started here.
"""

from __future__ import annotations

import logging
from typing import Any

import uvicorn
from starlette.applications import Starlette

from bot.serving.admission import Admission, Autoscale
from bot.serving.front import LocalFront, create_front_app
from bot.serving.server import http_implementation, loop_implementation
from bot.serving.workers import WorkerPool


def worker_env(settings: Any) -> dict[str, str]:
    """What a worker process needs to serve the same registry and record into the same database."""
    return {
        "ONCALL_DATA_DIR": str(settings.oncall_data_dir),
        "MLFLOW_TRACKING_URI": settings.resolved_mlflow_uri,
        "DATABASE_URL": settings.resolved_database_url,
        "MODEL_NAME": settings.model_name,
        "MODEL_POLL_SECONDS": str(settings.model_poll_seconds),
        "LOG_LEVEL": settings.log_level,
    }


def build_local_front(settings: Any, *, replicas: int | None = None) -> Starlette:
    """The local engine's app; its lifespan starts `replicas` workers (SERVING_REPLICAS)."""
    pool = WorkerPool(
        env=worker_env(settings),
        host="127.0.0.1",
        spares=settings.serving_spare_replicas,
        max_total=settings.max_replicas,
    )
    front = LocalFront(
        pool,
        replicas=replicas or settings.serving_replicas,
        max_replicas=settings.max_replicas,
        admission=Admission(
            concurrency=settings.serving_worker_concurrency,
            queue_limit=settings.serving_queue_limit,
        ),
        autoscale=Autoscale(max_replicas=settings.max_replicas),
    )
    return create_front_app(front)


def run_serving(settings: Any, *, port: int, engine: str, replicas: int | None = None) -> None:
    """Serve until interrupted with the chosen engine."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if engine == "ray":
        from bot.serving.ray_app import run_ray_serve  # Ray is imported only when asked for

        run_ray_serve(
            settings,
            port=port,
            replicas=replicas or settings.serving_replicas,
            env=worker_env(settings),
        )
        return
    uvicorn.run(
        build_local_front(settings, replicas=replicas),
        host=settings.host,
        port=port,
        http=http_implementation(),
        loop=loop_implementation(),
        access_log=False,
        log_level=settings.log_level.lower(),
        lifespan="on",
    )
