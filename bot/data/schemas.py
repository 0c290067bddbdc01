"""Plain result values of the data service (re-exported by `bot.data.service`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOURCES = ("base", "landing", "feedback")


@dataclass(frozen=True)
class IngestReport:
    """What one pass over the landing directory did."""

    files: list[str]  # files ingested this time
    skipped: list[str]  # already-ingested (same content) files
    rows_added: int
    rows_quarantined: int
    reasons: dict[str, int]  # reason category -> count
    examples: list[str]  # up to 5 "file.csv line 7: petal_width: not a number ('abc')"
    seconds: float


@dataclass(frozen=True)
class FeedbackResult:
    """Outcome of one piece of labelled feedback."""

    accepted: bool
    sample_id: int | None
    reason: str | None  # why it was quarantined / refused


@dataclass(frozen=True)
class TrainingSet:
    """The rows a retrain learns from, with the version hash of exactly these rows."""

    X: np.ndarray  # n x 4 float64, FEATURES order
    y: np.ndarray  # class names (str)
    data_hash: str
    rows_by_source: dict[str, int]
    class_counts: dict[str, int]
    holdout_version: str


@dataclass(frozen=True)
class DatasetSummary:
    """Counts for `/oncall data`-style status: what is collected and what was rejected."""

    rows_by_source: dict[str, int]
    rows_by_class: dict[str, dict[str, int]]  # source -> class -> count
    new_since: int | None
    quarantined: int
    quarantine_reasons: dict[str, int]
    recent_quarantine: list[str]  # last few "source ref line N: reason"
    files: int
