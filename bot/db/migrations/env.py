"""Alembic environment: online migrations against the URL the bot is configured with."""

from __future__ import annotations

from alembic import context

import bot.db.tables  # noqa: F401  (fills Base.metadata)
from bot.db.base import Base, make_engine
from bot.scheduling import JOBS_TABLE

config = context.config


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    # APScheduler owns its job table; MLflow (when it shares a database) owns its own.
    return not (
        type_ == "table" and (name == JOBS_TABLE or not name or name.startswith("alembic_mlflow"))
    )


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
