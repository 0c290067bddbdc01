"""Database: one SQLAlchemy engine and session factory per process, built by the composition root."""

from bot.db.base import Base, Database, utcnow

__all__ = ["Base", "Database", "utcnow"]
