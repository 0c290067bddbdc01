"""Validate one collected row: four plausible measurements in cm and a known Iris class.

Pure functions over plain values. A failure is a `Problem` value (category + message), never an
exception: bad rows are expected input and end up in quarantine with the message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bot.training.iris import CLASSES, FEATURES

MAX_CM = 30.0
LABEL_KEYS = ("species", "label", "class")
RAW_LIMIT = 500
_EXPECTED = "expected " + "|".join(CLASSES)


@dataclass(frozen=True)
class Problem:
    """Why a row was rejected: a short category for counting and a message for people."""

    category: str
    message: str


@dataclass(frozen=True)
class Valid:
    """A validated row in FEATURES order with its canonical class name."""

    values: tuple[float, float, float, float]
    label: str


def _class_aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for name in CLASSES:
        for spelling in (name, f"iris-{name}", f"iris {name}", f"iris_{name}"):
            aliases[spelling] = name
    return aliases


_ALIASES = _class_aliases()
# Exact spellings seen in files, so the hot path is one dict lookup per row.
_SEEN: dict[str, str] = {}


def canonical_class(value: Any) -> str | None:
    """The class name for `setosa`, `Setosa`, `Iris-setosa`, ...; None when unknown."""
    if not isinstance(value, str):
        return None
    hit = _SEEN.get(value)
    if hit is not None:
        return hit
    name = _ALIASES.get(value.strip().lower())
    if name is not None and len(_SEEN) < 1000:
        _SEEN[value] = name
    return name


def short(value: Any, limit: int = 40) -> str:
    """repr of a value, cut so one bad cell cannot flood a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def feature_problem(name: str, value: Any) -> Problem | float:
    """The value as a float in (0, 30] cm, or the Problem with it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Problem("missing", f"{name}: missing")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return Problem("not a number", f"{name}: not a number ({short(value)})")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return Problem("not a number", f"{name}: not a number ({short(value)})")
    if not math.isfinite(number):
        return Problem("not finite", f"{name}: not finite ({short(value)})")
    if not 0.0 < number <= MAX_CM:
        return Problem(
            "out of range", f"{name}: out of range ({number:g} cm; expected 0 < value ≤ {MAX_CM:g})"
        )
    return number


def label_problem(value: Any, key: str = "species") -> Problem | str:
    """The canonical class, or the Problem with the label."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Problem("missing", f"{key}: missing")
    name = canonical_class(value)
    if name is None:
        return Problem("unknown class", f"{key}: unknown class {short(value)} ({_EXPECTED})")
    return name


def check(values: list[Any], label: Any, label_key: str = "species") -> Valid | Problem:
    """Validate four raw feature values (FEATURES order) and a raw label; all problems reported."""
    problems: list[Problem] = []
    numbers: list[float] = []
    for name, value in zip(FEATURES, values, strict=True):
        result = feature_problem(name, value)
        if isinstance(result, Problem):
            problems.append(result)
        else:
            numbers.append(result)
    name = label_problem(label, label_key)
    if isinstance(name, Problem):
        problems.append(name)
    if problems:
        return Problem(problems[0].category, "; ".join(p.message for p in problems))
    assert isinstance(name, str)
    return Valid((numbers[0], numbers[1], numbers[2], numbers[3]), name)


def normalize_key(key: str) -> str:
    """`Sepal Length (cm)` / `sepal-length` → `sepal_length`, so common headers just work."""
    text = key.strip().lower().removesuffix("(cm)").strip()
    return text.replace(" ", "_").replace("-", "_")


def check_mapping(record: Any) -> Valid | Problem:
    """Validate a JSON object / CSV-as-dict record with FEATURES keys and a label key."""
    if not isinstance(record, dict):
        kind = "an array" if isinstance(record, list) else type(record).__name__
        return Problem("not an object", f"record: not a JSON object (got {kind})")
    keys = {normalize_key(k): k for k in record if isinstance(k, str)}
    label_key = next((k for k in LABEL_KEYS if k in keys), "species")
    label = record.get(keys[label_key]) if label_key in keys else None
    values = [record.get(keys[f]) if f in keys else None for f in FEATURES]
    return check(values, label, label_key)
