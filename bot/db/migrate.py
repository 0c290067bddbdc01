"""Apply Alembic migrations programmatically (start-up, `oncall-bot migrate`, tests)."""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).with_name("migrations")
_lock = threading.Lock()
# The newest revision in MIGRATIONS, read once: the scripts do not change while the process runs.
_heads: tuple[str, ...] | None = None


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _at_head(url: str, config: Config) -> bool:
    """Whether the database already records the newest revision (then there is nothing to do)."""
    global _heads
    if _heads is None:
        _heads = tuple(ScriptDirectory.from_config(config).get_heads())
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return False
            current = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
            return tuple(sorted(current)) == tuple(sorted(_heads))
    except sa.exc.SQLAlchemyError:
        return False  # let Alembic connect and report the problem in its own words
    finally:
        engine.dispose()


def upgrade_to_head(url: str) -> None:
    """Bring the database schema up to date; safe to call on every start."""
    with _lock:
        config = alembic_config(url)
        # Alembic loads every revision file and its env.py on each call; a database already at
        # head (every start but the first) needs none of that.
        if not _at_head(url, config):
            command.upgrade(config, "head")
