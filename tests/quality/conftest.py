"""A gate-enabled model app on a copy of the bootstrapped registry, and its bot database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bot.db import Base, Database
from bot.db import tables as _tables  # noqa: F401 - every table on Base.metadata
from bot.model_registry.mlflow_backend import MlflowModelService
from bot.quality.overrides import load_quality_file
from bot.serving.app import create_model_app
from bot.serving.quality_gate import gate_factory
from bot.serving.quality_routes import quality_route
from tests.registry.store import copy_store
from tests.serving.conftest import running


@pytest.fixture
def service(tmp_path: Path) -> MlflowModelService:
    return copy_store(tmp_path / "store")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path / 'oncall.db'}")
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


@pytest.fixture
async def gated(
    service: MlflowModelService, database: Database
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_model_app(
        service=service,
        poll_seconds=0.05,
        quality=gate_factory(
            service=service, db=database, quality=load_quality_file(None), poll_seconds=0.05
        ),
        extra_routes=[quality_route()],
    )
    async with running(app) as client:
        while (await client.get("/v1/quality")).json().get("version") is None:
            pass  # the gate's first poll loads the served version's contract
        yield client
