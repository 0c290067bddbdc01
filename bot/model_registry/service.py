"""The `ModelService` interface used by the Slack layer, scheduler, runbooks and model server.

A backend (MLflow today; SageMaker or Vertex tomorrow) is one module with a class that
satisfies this Protocol. Callers only see the plain values in `schemas` and the errors in
`errors`. Methods are blocking; async callers wrap them in `asyncio.to_thread`.
"""

from __future__ import annotations

import re
from typing import Any, Protocol, runtime_checkable

from bot.model_registry.errors import UnknownVersion
from bot.model_registry.schemas import Evaluation, InputSignature, ModelVersion

_PLAIN = re.compile(r"^\s*v?(\d{1,9})\s*$", re.IGNORECASE)


def parse_version_text(text: str | int, *, model_name: str) -> int | None:
    """`v2`, `2`, `V2` and `<model_name>_v2` (or `<model_name>/2`) → 2; anything else → None."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text if text > 0 else None
    s = str(text).strip().strip("`'\"")
    for sep in ("_", "/", ":", "@"):
        prefix = f"{model_name}{sep}".lower()
        if s.lower().startswith(prefix):
            s = s[len(prefix) :]
            break
    match = _PLAIN.match(s)
    if not match:
        return None
    number = int(match.group(1))
    return number if number > 0 else None


def resolve_version_text(text: str | int, *, model_name: str, existing: list[int]) -> int:
    """Parse `text` and check it names an existing version; UnknownVersion lists the real ones."""
    number = parse_version_text(text, model_name=model_name)
    if number is None or number not in existing:
        raise UnknownVersion(f"v{number}" if number is not None else str(text), existing)
    return number


@runtime_checkable
class ModelService(Protocol):
    """Registry operations on one registered model (Settings.model_name)."""

    model_name: str

    def list_versions(self) -> list[ModelVersion]:
        """Every version, oldest first."""
        ...

    def describe(self, version: int) -> ModelVersion:
        """One version with its metrics, tags and aliases; UnknownVersion if absent."""
        ...

    def production_version(self) -> int | None:
        """The version the `production` alias points at, or None."""
        ...

    def resolve(self, text: str | int) -> int:
        """A user's `v2` / `2` / `iris_classifier_v2` → 2; UnknownVersion listing versions otherwise."""
        ...

    def load(self, version: int) -> Any:
        """The fitted scikit-learn estimator of a version (cached: versions are immutable)."""
        ...

    def input_signature(self, version: int) -> InputSignature:
        """Feature names, ranges and classes a version expects and predicts."""
        ...

    def set_production(self, version: int) -> int | None:
        """Point the `production` alias at `version`; returns the previous production version."""
        ...

    def evaluate(self, version: int) -> Evaluation:
        """Re-evaluate a version on the fixed holdout (loads the model)."""
        ...

    def set_tags(self, version: int, tags: dict[str, str]) -> ModelVersion:
        """Set (merge) tags on a version; returns the updated version."""
        ...

    def register(
        self,
        model: Any,
        *,
        estimator: str,
        params: dict[str, Any],
        metrics: Evaluation,
        tags: dict[str, str] | None = None,
        trained_by: str,
        training_data_hash: str | None = None,
        features: list[str] | None = None,
        training_data: Any = None,
        contract: str | None = None,
    ) -> ModelVersion:
        """Store a fitted model as a new version, with its holdout metrics and lineage tags."""
        ...
