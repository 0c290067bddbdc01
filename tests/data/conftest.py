"""Fixtures for the data service: a database with the data and serving tables, a landing dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.data import models as data_models  # noqa: F401  (registers the tables)
from bot.db import Base, Database
from bot.serving import models as serving_models  # noqa: F401

HEADER = "sepal_length,sepal_width,petal_length,petal_width,species\n"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    # The integrator autogenerates migrations for these tables; until then create_all.
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path
