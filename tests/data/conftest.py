"""Fixtures for the data service: a database with the data and serving tables, a landing dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.data import models as data_models  # noqa: F401  (registers the tables)
from bot.serving import models as serving_models  # noqa: F401

HEADER = "sepal_length,sepal_width,petal_length,petal_width,species\n"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path
