"""What the assets touch outside Dagster: the bot's database and the landing folder.

Both come from the environment the Dagster processes start with (the bot's `make run` sets
them), and a run may override them in its run config.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import ConfigurableResource

from bot.db import Database


def _default_database_url() -> str:
    return os.environ.get("PIPELINE_DATABASE_URL", "sqlite:///var/oncall.db")


def _default_data_dir() -> str:
    return os.environ.get("PIPELINE_DATA_DIR", "var")


class BotDatabase(ConfigurableResource):
    """The bot's database (SQLite or PostgreSQL), where validated rows and quarantine live."""

    url: str = ""

    def open(self) -> Database:
        return Database(self.url or _default_database_url())


class DataFolder(ConfigurableResource):
    """The bot's data folder: `landing/<YYYY-MM-DD>/` holds a day's files, `training/` snapshots."""

    path: str = ""

    @property
    def root(self) -> Path:
        return Path(self.path or _default_data_dir())

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    def day(self, partition: str) -> Path:
        return self.landing / partition

    @property
    def training(self) -> Path:
        return self.root / "training"
