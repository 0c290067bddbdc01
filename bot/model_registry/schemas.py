"""Plain typed values the registry hands to the Slack layer, scheduler, runbooks and server."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ValidationStatus = Literal["pending", "passed", "failed", "rejected", "unknown"]

PRODUCTION_ALIAS = "production"


class Evaluation(BaseModel):
    """Holdout metrics of one model."""

    model_config = ConfigDict(frozen=True)

    accuracy: float
    macro_f1: float
    per_class_recall: dict[str, float]
    confusion_matrix: list[list[int]] = Field(
        description="Rows: true class, columns: predicted, in `labels` order."
    )
    labels: list[str]
    holdout_version: str
    n: int


class FeatureSpec(BaseModel):
    """One input column and the range the server accepts for it."""

    model_config = ConfigDict(frozen=True)

    name: str
    dtype: Literal["double"] = "double"
    minimum: float = 0.0
    # Iris parts are a few cm; anything past 30 cm is a unit or pipeline bug, not a flower.
    maximum: float = 30.0
    unit: str = "cm"


class InputSignature(BaseModel):
    """What a version expects as input and which classes it predicts."""

    model_config = ConfigDict(frozen=True)

    features: list[FeatureSpec]
    classes: list[str]


class ModelVersion(BaseModel):
    """One immutable registry version plus its (mutable) aliases and tags."""

    model_config = ConfigDict(frozen=True)

    version: int
    name: str
    aliases: list[str] = Field(default_factory=list)
    created_at: datetime
    estimator: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    accuracy: float | None = None
    macro_f1: float | None = None
    per_class_recall: dict[str, float] = Field(default_factory=dict)
    confusion_matrix: list[list[int]] | None = None
    holdout_version: str | None = None
    holdout_n: int | None = None
    training_data_hash: str | None = None
    trained_by: str | None = None
    trained_at: datetime | None = None
    code_version: str | None = None
    validation_status: ValidationStatus = "unknown"
    features: list[str] | None = None  # the input columns, when the version stores them
    quality_contract: str | None = None  # JSON, derived from the training rows (bot/quality)
    tags: dict[str, str] = Field(
        default_factory=dict, description="User tags, without the reserved ones above."
    )

    @property
    def label(self) -> str:
        """How humans write it: `v2`."""
        return f"v{self.version}"

    @property
    def is_production(self) -> bool:
        return PRODUCTION_ALIAS in self.aliases

    @property
    def evaluation(self) -> Evaluation | None:
        """The stored holdout evaluation, if the version was registered with one."""
        if self.accuracy is None or self.macro_f1 is None or self.holdout_version is None:
            return None
        labels = list(self.per_class_recall)
        return Evaluation(
            accuracy=self.accuracy,
            macro_f1=self.macro_f1,
            per_class_recall=self.per_class_recall,
            confusion_matrix=self.confusion_matrix or [],
            labels=labels,
            holdout_version=self.holdout_version,
            n=self.holdout_n or 0,
        )
