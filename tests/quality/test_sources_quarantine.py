"""Late sources open an incident saying what is held, hold scheduled retrains and the accuracy
monitor; `/iris data quarantine` with Release (re-validate) and Discard, and the numbers move."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.data.models import QuarantinedRow, Sample
from bot.db import utcnow
from bot.incidents.models import IncidentAlert
from bot.retrain.scheduled import scheduled_retrain
from tests.harness import ONCALL, VIEWER, BotHarness, start_model_harness
from tests.quality.helpers import until


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    contract_file = tmp_path / "quality.toml"
    # Feedback labels every 0.3 s: late almost at once; the landing folder every day.
    contract_file.write_text(
        "[sources.feedback]\ncadence_minutes = 0.005\n\n[sources.landing]\ncadence_minutes = 1440\n"
    )
    harness = await start_model_harness(
        tmp_path,
        quality_file=contract_file,
        quality_interval_seconds=0,
        monitor_interval_seconds=0,
        retrain_cron="0 3 * * 1",
    )
    try:
        yield harness
    finally:
        await harness.stop()


def _statuses(bot: BotHarness, alertname: str) -> list[str]:
    with bot.app.services.db.session() as session:
        return list(
            session.execute(
                select(IncidentAlert.status).where(IncidentAlert.alertname == alertname)
            ).scalars()
        )


async def test_late_labels_open_an_incident_and_hold_retrains_and_accuracy(
    bot: BotHarness,
) -> None:
    services = bot.app.services
    await asyncio.sleep(0.4)
    states = {s.source: s for s in await services.quality.check_sources()}
    assert states["feedback"].late and not states["landing"].late
    await until(lambda: _statuses(bot, "DataSourceLateFeedback") == ["firing"])
    header = await bot.slack.wait_for_text("feedback is late", timeout=10)
    assert "scheduled retrains" in header.plain() and "accuracy monitor" in header.plain()

    assert await scheduled_retrain(services) is None  # held: no run started
    assert services.engine.runbooks  # (the engine is there; nothing was started)
    snapshot = await services.monitoring.run(("accuracy",))
    assert snapshot.accuracy is not None and snapshot.accuracy.accuracy is None
    assert "feedback labels are late" in (snapshot.accuracy.reason or "")

    with services.db.session() as session:
        session.add(
            Sample(source="feedback", sepal_length=5.1, sepal_width=3.5, petal_length=1.4,
                   petal_width=0.2, label="setosa", created_at=utcnow())
        )  # fmt: skip
        session.commit()
    states = {s.source: s for s in await services.quality.check_sources()}
    assert not states["feedback"].late
    await until(lambda: _statuses(bot, "DataSourceLateFeedback") == ["resolved"])


async def test_quarantine_review_release_and_discard_move_the_numbers(bot: BotHarness) -> None:
    services = bot.app.services
    with services.db.session() as session:
        # Rows a stricter, since-fixed rule quarantined: valid now.
        for line in range(3):
            session.add(QuarantinedRow(source="landing", source_ref="old.csv", line=line,
                                       raw="5.1,3.5,1.4,0.2,setosa", category="old rule",
                                       reason="class spelling unknown then"))  # fmt: skip
        session.add(QuarantinedRow(source="landing", source_ref="old.csv", line=9,
                                   raw="5.1,3.5,20,0.2,setosa", category="old rule",
                                   reason="class spelling unknown then"))  # fmt: skip
        for line in range(2):
            session.add(QuarantinedRow(source="landing", source_ref="bad.csv", line=line,
                                       raw="x,3.5,1.4,0.2,setosa", category="not a number",
                                       reason="sepal_length: not a number ('x')"))  # fmt: skip
        session.commit()

    await bot.command("data quarantine", user=VIEWER)
    listing = await bot.slack.wait_for_text("Quarantined rows", user=VIEWER)
    assert "old rule*: 4 rows" in listing.plain() and "not a number*: 2 rows" in listing.plain()

    mark = bot.slack.seq
    await bot.slack.click(VIEWER, listing, value="old rule", action_id="quality.release.0")
    await bot.slack.wait_for_text("needs the *oncall* role", user=VIEWER, since=mark)

    await bot.command("data quarantine", user=ONCALL)
    listing = await bot.slack.wait_for_text("Quarantined rows", user=ONCALL)
    mark = bot.slack.seq
    await bot.slack.click(ONCALL, listing, "quality.release.0", value="old rule")
    released = await bot.slack.wait_for_text(
        "released 3, kept 1", user=ONCALL, since=mark, timeout=15
    )
    assert "out of range" in released.plain()
    with services.db.session() as session:
        assert session.execute(select(func.count()).select_from(Sample)).scalar() == 3

    mark = bot.slack.seq
    await bot.slack.click(ONCALL, released, "quality.discard.0", value="not a number")
    discarded = await bot.slack.wait_for_text("discarded 2", user=ONCALL, since=mark)
    assert "not a number*" not in discarded.plain()
    with services.db.session() as session:
        left = session.execute(select(QuarantinedRow.category)).scalars().all()
    assert left == ["contract"]  # the row that failed the contract stays, with its new reason
