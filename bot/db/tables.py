"""Imports every module that defines tables, so `Base.metadata` is complete for Alembic."""

from bot.audit import models as audit_models  # noqa: F401
