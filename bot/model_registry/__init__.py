"""Model registry: the `ModelService` interface, its MLflow backend, training and bootstrap.

Import the MLflow backend from `bot.model_registry.mlflow_backend` (it pulls in MLflow lazily).
"""

from bot.model_registry.errors import (
    InvalidParams,
    InvalidTags,
    ModelLoadError,
    NoProductionVersion,
    RegistryError,
    RegistryUnavailable,
    UnknownEstimator,
    UnknownVersion,
    UntrustedModelTypes,
)
from bot.model_registry.schemas import (
    PRODUCTION_ALIAS,
    Evaluation,
    FeatureSpec,
    InputSignature,
    ModelVersion,
)
from bot.model_registry.service import ModelService, parse_version_text

__all__ = [
    "PRODUCTION_ALIAS",
    "Evaluation",
    "FeatureSpec",
    "InputSignature",
    "InvalidParams",
    "InvalidTags",
    "ModelLoadError",
    "ModelService",
    "ModelVersion",
    "NoProductionVersion",
    "RegistryError",
    "RegistryUnavailable",
    "UnknownEstimator",
    "UnknownVersion",
    "UntrustedModelTypes",
    "parse_version_text",
]
