"""Hand-rolled request validation for /v1/predict: fast on valid input, precise on bad input.

pydantic would cost more than the model itself per record; these checks are a few attribute
lookups per field and only build messages on the error path.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from bot.model_registry.schemas import FeatureSpec


class InputError(ValueError):
    """Bad request body; `field` is a path like `instances[3].petal_width`."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")

    def as_dict(self) -> dict[str, str]:
        return {"error": "invalid input", "field": self.field, "problem": self.problem}


def _nonfinite(name: str) -> float:
    # json accepts NaN / Infinity literals; let them through as floats so the range check
    # rejects them with the field's name instead of a bare parse error.
    return float(name)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class RecordValidator:
    """Turns a JSON body into rows of floats in feature order, or raises InputError."""

    def __init__(self, features: Sequence[FeatureSpec], *, max_batch: int = 1000) -> None:
        self.names = tuple(f.name for f in features)
        self.bounds = tuple((f.name, f.minimum, f.maximum, f.unit) for f in features)
        self.max_batch = max_batch
        self._nameset = frozenset(self.names)

    def parse(self, body: bytes) -> tuple[list[list[float]], bool]:
        """(rows, is_batch) from a body: one record, `{"instances": [...]}` or a bare list."""
        if not body:
            raise InputError("body", 'empty body; send a JSON record or {"instances": [...]}')
        try:
            data = json.loads(body, parse_constant=_nonfinite)
        except (ValueError, RecursionError) as exc:
            raise InputError("body", f"not valid JSON: {exc}") from None
        if type(data) is dict:
            if "instances" in data:
                if len(data) > 1:
                    extra = sorted(k for k in data if k != "instances")
                    raise InputError(extra[0], "unknown field next to instances")
                return self._batch(data["instances"], "instances"), True
            return [self.record(data, "")], False
        if type(data) is list:
            return self._batch(data, ""), True
        raise InputError("body", f"must be a JSON object or array, got {_describe(data)}")

    def _batch(self, items: Any, path: str) -> list[list[float]]:
        if type(items) is not list:
            raise InputError(path or "body", f"must be an array of records, got {_describe(items)}")
        if not items:
            raise InputError(path or "body", "empty batch; send at least one record")
        if len(items) > self.max_batch:
            raise InputError(
                path or "body", f"batch too large: {len(items)} records, at most {self.max_batch}"
            )
        record = self.record
        return [record(item, f"{path}[{i}]") for i, item in enumerate(items)]

    def record(self, rec: Any, path: str) -> list[float]:
        """One record → floats in feature order; `path` prefixes field names in errors."""
        if type(rec) is not dict:
            raise InputError(
                path or "body",
                f"must be an object with {', '.join(self.names)}; got {_describe(rec)}",
            )
        row: list[float] = []
        for name, lo, hi, unit in self.bounds:
            value = rec.get(name)
            kind = type(value)
            if kind is not float and kind is not int:
                self._fail_type(rec, name, value, path)
            # One chained comparison rejects NaN, ±inf, negatives and absurd sizes together.
            if not lo <= value <= hi:
                self._fail_range(name, value, lo, hi, unit, path)
            row.append(float(value))
        if len(rec) != len(self.names):
            extra = sorted(k for k in rec if k not in self._nameset)
            raise InputError(
                _join(path, extra[0]), f"unknown field; expected only {', '.join(self.names)}"
            )
        return row

    def _fail_type(self, rec: dict[str, Any], name: str, value: Any, path: str) -> None:
        if name not in rec:
            raise InputError(_join(path, name), "missing field")
        raise InputError(_join(path, name), f"must be a number, got {_describe(value)}")

    def _fail_range(
        self, name: str, value: float, lo: float, hi: float, unit: str, path: str
    ) -> None:
        field = _join(path, name)
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(field, "must be a finite number")
        if value < 0:
            raise InputError(field, f"must not be negative (got {value})")
        raise InputError(field, f"out of range: {value} {unit}; expected {lo:g}–{hi:g} {unit}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
