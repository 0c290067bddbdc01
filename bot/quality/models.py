"""The policy in force per feature: what the model server does with a missing or out-of-contract
value. One row per feature that has a policy other than the default (`reject`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db import Base, utcnow


class FeaturePolicy(Base):
    """`reject` (422 naming the field), `impute` (training median) or `fallback` (a version)."""

    __tablename__ = "quality_policies"

    feature: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy: Mapped[str] = mapped_column(String(16))
    fallback_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    changed_by: Mapped[str] = mapped_column(String(64))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
