"""A contract per feature: type, unit, valid range, nullable, the missing share a batch may have.

Derived from the training data when a version is registered (stored with the version as the
`quality.contract` tag), then overridden by `quality.toml`. The same `Contract` value drives the
model server's per-request checks (plain comparisons: pandera costs more than the model per
request), its short-window checks and ingestion's re-validation (both with pandera, `schema.py`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

# Model-version tag holding the derived contract (JSON).
CONTRACT_TAG = "quality.contract"
# A batch may miss a feature in at most this share of its rows unless quality.toml says otherwise.
DEFAULT_MAX_MISSING_SHARE = 0.5
# The valid range is the training range widened by this many training spans on each side: wide
# enough for real drift (it is the drift monitor's job), narrow enough that a unit change (×10)
# lands outside.
RANGE_MARGIN_SPANS = 1.0


class ContractError(ValueError):
    """A contract (stored tag or override) that cannot be used, with the reason."""


@dataclass(frozen=True)
class FeatureContract:
    """What one feature's values must look like, and the training statistics behind it."""

    name: str
    dtype: str = "double"
    unit: str = "cm"
    minimum: float = 0.0
    maximum: float = 30.0
    nullable: bool = False
    max_missing_share: float = DEFAULT_MAX_MISSING_SHARE
    # Training statistics: the median is what `impute` serves; None means "not stored".
    median: float | None = None
    mean: float | None = None
    std: float | None = None

    def in_range(self, value: float) -> bool:
        return self.minimum <= value <= self.maximum


@dataclass(frozen=True)
class Contract:
    """The contracts of one version's features, in the version's feature order."""

    features: tuple[FeatureContract, ...]
    source: str = "derived"  # derived | default (no stored contract) | with overrides
    overrides: tuple[str, ...] = field(default_factory=tuple)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def get(self, name: str) -> FeatureContract | None:
        return next((f for f in self.features if f.name == name), None)

    @property
    def has_medians(self) -> bool:
        return all(f.median is not None for f in self.features)

    def to_json(self) -> str:
        """The tag value: compact, rounded, one key per feature."""
        body = {f.name: {k: v for k, v in asdict(f).items() if k != "name"} for f in self.features}
        return json.dumps(body, separators=(",", ":"), sort_keys=True)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Contract:
        """A copy with quality.toml's per-feature values applied (unknown features ignored)."""
        changed: list[str] = []
        features = []
        for feature in self.features:
            values = overrides.get(feature.name)
            if values:
                feature = replace(feature, **dict(values))
                changed.append(feature.name)
            features.append(feature)
        if not changed:
            return self
        return Contract(
            tuple(features), source=f"{self.source} + quality.toml", overrides=tuple(changed)
        )


def derive_contract(
    X: Any, features: Sequence[str], *, max_missing_share: float = DEFAULT_MAX_MISSING_SHARE
) -> Contract:
    """The contract a version's training rows imply: range, nullability and statistics."""
    data = np.asarray(X, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != len(features) or data.shape[0] == 0:
        raise ContractError(f"training data of shape {data.shape} does not match {list(features)}")
    contracts = []
    for j, name in enumerate(features):
        column = data[:, j]
        present = column[~np.isnan(column)]
        lo, hi = float(present.min()), float(present.max())
        span = max(hi - lo, abs(hi) * 0.1, 1e-6)
        contracts.append(
            FeatureContract(
                name=name,
                minimum=round(max(lo - RANGE_MARGIN_SPANS * span, 0.0), 4),
                maximum=round(hi + RANGE_MARGIN_SPANS * span, 4),
                nullable=bool(len(present) < len(column)),
                max_missing_share=max_missing_share,
                median=round(float(np.median(present)), 6),
                mean=round(float(present.mean()), 6),
                std=round(float(present.std()), 6),
            )
        )
    return Contract(tuple(contracts))


_FIELDS = {f for f in FeatureContract.__dataclass_fields__ if f != "name"}


def contract_from_json(text: str, features: Sequence[str]) -> Contract:
    """Parse a stored tag; ContractError if it is not a contract for these features."""
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ContractError(f"stored contract is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ContractError("stored contract is not a JSON object")
    contracts = []
    for name in features:
        values = body.get(name)
        if not isinstance(values, dict) or set(values) - _FIELDS:
            raise ContractError(f"stored contract has no valid entry for {name}")
        contracts.append(FeatureContract(name=name, **values))
    return Contract(tuple(contracts))


def default_contract(features: Sequence[str]) -> Contract:
    """For versions registered before contracts: the old 0-30 cm range and no medians."""
    return Contract(tuple(FeatureContract(name=n) for n in features), source="default")


def finite_or_none(value: Any) -> float | None:
    """A JSON number that is finite, else None (for facts shown to people)."""
    return value if isinstance(value, int | float) and math.isfinite(value) else None
