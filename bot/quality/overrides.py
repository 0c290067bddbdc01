"""`quality.toml`: the versioned overrides of the derived contracts, and the monitors' limits.

Checked at start-up (bot and model server): a typo is refused with the file and line, so a
contract never silently falls back to what the training data said.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.training.iris import FEATURES

BUNDLED_QUALITY_FILE = Path(__file__).resolve().parents[2] / "quality.toml"

_FEATURE_KEYS: dict[str, tuple[type, ...]] = {
    "unit": (str,),
    "minimum": (int, float),
    "maximum": (int, float),
    "nullable": (bool,),
    "max_missing_share": (int, float),
    "median": (int, float),
}
_MONITOR_KEYS: dict[str, tuple[type, ...]] = {
    "rate_threshold": (int, float),
    "min_rows": (int,),
    "zero_share_max": (int, float),
    "unit_change_ratio": (int, float),
    "window_rows": (int,),
}
_SOURCE_KEYS: dict[str, tuple[type, ...]] = {"cadence_minutes": (int, float)}
SOURCES = ("landing", "feedback")


class QualityFileError(ValueError):
    """quality.toml cannot be used: `where` is `path:line`."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class MonitorLimits:
    """When the quality monitor alerts: a feature's problem rate, with enough rows to judge."""

    rate_threshold: float = 0.05
    min_rows: int = 20
    zero_share_max: float = 0.5
    unit_change_ratio: float = 4.0
    window_rows: int = 200


@dataclass(frozen=True)
class QualityFile:
    """What quality.toml says: per-feature overrides, monitor limits, source cadences (minutes)."""

    path: str = ""
    features: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    max_missing_share: float | None = None
    monitor: MonitorLimits = field(default_factory=MonitorLimits)
    cadence_minutes: Mapping[str, float] = field(default_factory=dict)


def _line_of(text: str, section: str, key: str | None = None) -> int:
    """The line of `[section]` (or of `key` inside it); 1 when it cannot be found."""
    lines = text.splitlines()
    header = re.compile(r"^\s*\[\s*" + re.escape(section).replace(r"\.", r"\s*\.\s*") + r"\s*\]")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return 1
    if key is None:
        return start + 1
    for i in range(start + 1, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if re.match(r"^\s*" + re.escape(key) + r"\s*=", lines[i]):
            return i + 1
    return start + 1


def _check_keys(
    values: Any, allowed: dict[str, tuple[type, ...]], *, section: str, text: str, path: str
) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise QualityFileError(f"{path}:{_line_of(text, section)}", f"[{section}] must be a table")
    for key, value in values.items():
        where = f"{path}:{_line_of(text, section, key)}"
        if key not in allowed:
            raise QualityFileError(
                where, f"unknown key `{key}` in [{section}]; expected one of {', '.join(allowed)}"
            )
        kinds = allowed[key]
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise QualityFileError(where, f"`{key}` must be {kinds[0].__name__}, got {value!r}")
        if key in ("max_missing_share", "rate_threshold", "zero_share_max") and not (
            0 <= value <= 1
        ):
            raise QualityFileError(where, f"`{key}` is a share between 0 and 1, got {value}")
        if key in ("minimum", "maximum", "median", "cadence_minutes") and value < 0:
            raise QualityFileError(where, f"`{key}` must not be negative, got {value}")
    return dict(values)


def parse_quality_file(text: str, path: str = "quality.toml") -> QualityFile:
    """Parse and check the file's text; QualityFileError with path:line on the first problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise QualityFileError(f"{path}:{line.group(1) if line else 1}", str(exc)) from None
    for top in data:
        if top not in ("defaults", "monitor", "features", "sources"):
            raise QualityFileError(
                f"{path}:{_line_of(text, top)}",
                f"unknown section [{top}]; expected defaults, monitor, features or sources",
            )
    defaults = _check_keys(
        data.get("defaults", {}),
        {"max_missing_share": (int, float)},
        section="defaults",
        text=text,
        path=path,
    )
    monitor = _check_keys(
        data.get("monitor", {}), _MONITOR_KEYS, section="monitor", text=text, path=path
    )
    features: dict[str, dict[str, Any]] = {}
    for name, values in dict(data.get("features", {})).items():
        section = f"features.{name}"
        if name not in FEATURES:
            raise QualityFileError(
                f"{path}:{_line_of(text, section)}",
                f"unknown feature `{name}`; the features are {', '.join(FEATURES)}",
            )
        checked = _check_keys(values, _FEATURE_KEYS, section=section, text=text, path=path)
        lo, hi = checked.get("minimum"), checked.get("maximum")
        if lo is not None and hi is not None and lo >= hi:
            raise QualityFileError(
                f"{path}:{_line_of(text, section, 'maximum')}",
                f"maximum ({hi}) must be above minimum ({lo})",
            )
        features[name] = {k: float(v) if isinstance(v, int) and k != "nullable" else v
                          for k, v in checked.items()}  # fmt: skip
    cadences: dict[str, float] = {}
    for name, values in dict(data.get("sources", {})).items():
        section = f"sources.{name}"
        if name not in SOURCES:
            raise QualityFileError(
                f"{path}:{_line_of(text, section)}",
                f"unknown source `{name}`; the sources are {', '.join(SOURCES)}",
            )
        checked = _check_keys(values, _SOURCE_KEYS, section=section, text=text, path=path)
        if "cadence_minutes" in checked:
            cadences[name] = float(checked["cadence_minutes"])
    return QualityFile(
        path=path,
        features=features,
        max_missing_share=defaults.get("max_missing_share"),
        monitor=MonitorLimits(**monitor),
        cadence_minutes=cadences,
    )


def load_quality_file(path: Path | None) -> QualityFile:
    """The file at `path` (the bundled one when None); a missing file means no overrides."""
    target = path or BUNDLED_QUALITY_FILE
    if not target.exists():
        if path is not None:
            raise QualityFileError(str(target), "file not found")
        return QualityFile()
    return parse_quality_file(target.read_text(encoding="utf-8"), str(target))
