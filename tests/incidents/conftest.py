from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import BotHarness, start_harness
from tests.incidents.helpers import TOKEN, prepare


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = await start_harness(
        tmp_path,
        alert_webhook_token=TOKEN,
        alert_webhook_user="alertmanager",
        alert_webhook_password="s3cret",
    )
    prepare(harness, without_registry=True)
    try:
        yield harness
    finally:
        await harness.stop()
