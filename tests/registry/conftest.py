from __future__ import annotations

import pytest

from bot.model_registry.mlflow_backend import MlflowModelService
from tests.registry.store import MODEL, copy_store, sqlite_uri, template_store


@pytest.fixture(scope="session")
def shared_service() -> MlflowModelService:
    """Read-only tests: the template store itself. Do not move aliases or set tags here."""
    folder = template_store()
    return MlflowModelService(sqlite_uri(folder), folder / "artifacts", MODEL)


@pytest.fixture
def fresh_service(tmp_path) -> MlflowModelService:
    """A private copy of the bootstrapped store."""
    return copy_store(tmp_path / "store")
