"""No command text, however strange, produces a 5xx or an unhandled error."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness import ADMIN, ONCALL, VIEWER, start_harness

WORDS = st.sampled_from(
    [
        "help",
        "status",
        "audit",
        "deploy",
        "v2",
        "--force",
        "--reason",
        '"',
        "“",
        "key=value",
        "<@U0ONCALL>",
        "",
        "💥",
    ]
)
TEXT = st.one_of(st.text(max_size=300), st.lists(WORDS, max_size=8).map(" ".join))


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    loop = asyncio.new_event_loop()
    bot = loop.run_until_complete(start_harness(tmp_path_factory.mktemp("fuzz")))
    yield loop, bot
    loop.run_until_complete(bot.stop())
    loop.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=TEXT, user=st.sampled_from([ADMIN, ONCALL, VIEWER]))
def test_no_command_text_breaks_the_bot(
    harness, text: str, user: str, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    loop, bot = harness
    caplog.set_level(logging.ERROR)
    ack = loop.run_until_complete(bot.command(text, user=user))
    assert ack.status == 200, (text, ack)
    assert not ack.timed_out
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [
        r.getMessage() for r in caplog.records
    ]
