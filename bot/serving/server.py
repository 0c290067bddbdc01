"""Run the model server under uvicorn (`oncall-bot serve-model --port N` calls this)."""

from __future__ import annotations

import gc
import importlib.util
import logging
from typing import Any

import uvicorn

from bot.data.feedback_route import feedback_route
from bot.db import Database
from bot.model_registry.mlflow_backend import MlflowModelService
from bot.quality.overrides import load_quality_file
from bot.serving.app import create_model_app
from bot.serving.quality_gate import gate_factory
from bot.serving.quality_routes import quality_route
from bot.serving.recorder import PredictionRecorder
from bot.serving.reload import reload_route


def http_implementation() -> str:
    """`httptools` when installed (about twice h11's speed), else the pure-Python `h11`."""
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def loop_implementation() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def build_model_app(settings: Any, *, record: bool = True, freeze_gc: bool = False) -> Any:
    """The app wired to the MLflow registry and the bot database from Settings."""
    # A typo in quality.toml stops the server first, with the file and line (QualityFileError).
    quality = load_quality_file(settings.quality_file)
    service = MlflowModelService.from_settings(settings)
    service.connect()  # pay MLflow's store initialisation before accepting traffic
    database = Database(settings.resolved_database_url)
    recorder = PredictionRecorder(database) if record else None
    gate = (
        gate_factory(
            service=service,
            db=database,
            quality=quality,
            poll_seconds=settings.quality_policy_poll_seconds,
        )
        if settings.quality_checks
        else None
    )
    return create_model_app(
        service=service,
        poll_seconds=settings.model_poll_seconds,
        recorder=recorder,
        freeze_gc=freeze_gc,
        # Labelled feedback arrives where the predictions were made (POST /v1/feedback).
        extra_routes=[feedback_route(database), quality_route(), reload_route()],
        quality=gate,
    )


def run_model_server(settings: Any, port: int | None = None, *, record: bool = True) -> None:
    """Serve until interrupted: one uvicorn worker, no access log."""
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = build_model_app(settings, record=record, freeze_gc=True)
    gc.collect()  # once, before traffic: what survives start-up is frozen by the app's lifespan
    uvicorn.run(
        app,
        host=settings.host,
        port=port or settings.model_server_port,
        http=http_implementation(),
        loop=loop_implementation(),
        access_log=False,
        log_level=settings.log_level.lower(),
        lifespan="on",
    )
