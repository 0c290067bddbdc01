"""`POST /pipelines/dagster` (401/400/idempotent) and a Dagster that does not answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.pipelines.embedded import free_port
from tests.harness import BotHarness, start_harness

TOKEN = "push-token"


@pytest.fixture
async def lonely_bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """A bot whose Dagster is not there (a closed port)."""
    harness = await start_harness(
        tmp_path,
        dagster_url=f"http://127.0.0.1:{free_port()}",
        pipeline_webhook_token=TOKEN,
        pipeline_poll_seconds=0,
        ingest_interval_seconds=0,
    )
    try:
        yield harness
    finally:
        await harness.stop()


def push(run_id: str = "8f14e45f-ceea-467f-a9f6-000000000001") -> dict:
    return {
        "event": "run_failure",
        "run_id": run_id,
        "job_name": "ingest_landing",
        "partition": "2026-11-30",
        "failed_at": 1796140000.5,
        "failed_steps": [{"step_key": "validated_rows", "error": "landing file x.csv: bad"}],
    }


async def test_push_needs_the_token_a_failure_notice_and_is_idempotent(
    lonely_bot: BotHarness,
) -> None:
    url = f"{lonely_bot.url}/pipelines/dagster"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(timeout=30) as http:
        assert (await http.post(url, json=push())).status_code == 401
        wrong = await http.post(url, json=push(), headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and "wrong bearer token" in wrong.text
        bad = await http.post(url, json={"event": "run_failure"}, headers=auth)
        assert bad.status_code == 400 and "run_id" in bad.json()["error"]
        garbage = await http.post(url, content=b"{not json", headers=auth)
        assert garbage.status_code == 400

        first = await http.post(url, json=push(), headers=auth)
        again = await http.post(url, json=push(), headers=auth)
    assert first.status_code == 200 and first.json()["outcome"] == "opened"
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    assert again.json()["incident"] == first.json()["incident"]
    header = await lonely_bot.slack.wait_for_text("Pipeline ingest_landing failed", timeout=60)
    assert "validated_rows" in header.plain()
    assert len(await lonely_bot.app.services.incidents.listing(open_only=True)) == 1


async def test_engine_not_answering_is_said_at_once_and_freshness_is_unknown(
    lonely_bot: BotHarness,
) -> None:
    # Answered inside the ack itself (a refused connection fails at once).
    for command in (
        "pipeline",
        "pipeline rerun 1a2b3c4d",
        "pipeline show ingest_landing",
        "data ingest",
    ):
        ack = await lonely_bot.command(command)
        assert "not answering" in ack.body, (command, ack.body)

    monitor = lonely_bot.app.services.pipelines.monitor
    await monitor.check()
    assert monitor.reachable is False and monitor.retrain_hold() is None
    assert all(f.state == "unknown" for f in monitor.freshness.values())
