from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from bot.db import Base, Database
from bot.model_registry.mlflow_backend import MlflowModelService
from bot.serving import models as _models  # noqa: F401 - registers the table on Base.metadata
from bot.serving.app import create_model_app
from bot.serving.recorder import PredictionRecorder
from tests.registry.store import copy_store

RECORD = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.fixture
def service(tmp_path) -> MlflowModelService:
    return copy_store(tmp_path / "store")


@pytest.fixture
def database(tmp_path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'oncall.db'}")
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


@contextlib.asynccontextmanager
async def running(app: Starlette, *, ready: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (ASGITransport does not) and yield a client once a model is served."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://model") as client:
            if ready:
                await wait_for_version(client, None)
            yield client


async def wait_for_version(
    client: httpx.AsyncClient, version: int | None, timeout: float = 10.0
) -> float:
    """Poll /healthz until it serves `version` (any version if None); returns seconds waited."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < timeout:
        body = (await client.get("/healthz")).json()
        if body["status"] == "ok" and (version is None or body["version"] == version):
            return loop.time() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"model server did not serve v{version} within {timeout}s: {body}")


@pytest.fixture
async def client(service) -> AsyncIterator[httpx.AsyncClient]:
    app = create_model_app(service=service, poll_seconds=0.05)
    async with running(app) as c:
        yield c


class FakeService:
    """A ModelService stand-in for failure paths."""

    model_name = "iris_classifier"

    def __init__(self, production: int | None = None, model: Any = None) -> None:
        self.production = production
        self.model = model

    def production_version(self) -> int | None:
        return self.production

    def load(self, version: int) -> Any:
        return self.model

    def input_signature(self, version: int) -> Any:
        from bot.model_registry.schemas import FeatureSpec, InputSignature
        from bot.training.iris import CLASSES, FEATURES

        return InputSignature(features=[FeatureSpec(name=f) for f in FEATURES], classes=CLASSES)


@pytest.fixture
def recorder_factory(database):
    def make(**kwargs: Any) -> PredictionRecorder:
        return PredictionRecorder(database, **kwargs)

    return make
