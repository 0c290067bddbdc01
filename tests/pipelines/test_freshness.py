"""Freshness verdicts (pure): fresh, warn, stale, recovered; nothing new is not fresh."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.pipelines import freshness as fr
from bot.pipelines.models import AssetInfo, Materialization

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOUR = 3600


def asset(*ages_and_records: tuple[float, int]) -> AssetInfo:
    return AssetInfo(
        key="landing_files",
        jobs=("ingest_landing",),
        partitioned=True,
        warn_seconds=26 * HOUR,
        fail_seconds=30 * HOUR,
        materializations=tuple(
            Materialization(
                run_id=f"r{i}", at=NOW - timedelta(hours=h), partition=None, new_records=n
            )
            for i, (h, n) in enumerate(ages_and_records)
        ),
    )


def test_states_follow_the_age_of_the_last_new_data() -> None:
    assert fr.judge(asset((1, 10)), now=NOW).state == fr.FRESH
    assert fr.judge(asset((27, 10)), now=NOW).state == fr.WARN
    assert fr.judge(asset((31, 10)), now=NOW).state == fr.STALE
    assert fr.judge(asset(), now=NOW).state == fr.STALE  # never brought anything


def test_a_success_that_wrote_nothing_new_is_not_fresh() -> None:
    # Newest first: a run an hour ago with nothing new, the last new data 31 h ago.
    verdict = fr.judge(asset((1, 0), (31, 10)), now=NOW)
    assert verdict.state == fr.STALE and verdict.last_run_id == "r1"
    assert round(verdict.age_seconds or 0) == 31 * HOUR


def test_recovered_once_after_late_then_fresh() -> None:
    assert fr.judge(asset((1, 5)), now=NOW, previous=fr.STALE).state == fr.RECOVERED
    assert fr.judge(asset((1, 5)), now=NOW, previous=fr.WARN).state == fr.RECOVERED
    assert fr.judge(asset((1, 5)), now=NOW, previous=fr.RECOVERED).state == fr.FRESH


def test_unknown_keeps_the_sla_and_says_neither_fresh_nor_stale() -> None:
    before = fr.judge(asset((1, 5)), now=NOW)
    verdict = fr.unknown("landing_files", before)
    assert verdict.state == fr.UNKNOWN and not verdict.late
    assert verdict.fail_seconds == 30 * HOUR
