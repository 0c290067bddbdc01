"""Bad input gets a clear answer and changes nothing: unknown resource or level, over the cap,
no reason, a broken policy file (named with its line)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.access import service
from bot.access.lifecycle import backoff, reminder_marks
from bot.access.policy import PolicyError, load_policy
from bot.access.requests import AccessRefused, parse_request
from tests.harness import ONCALL, start_harness

REPO_POLICY = Path(__file__).resolve().parents[2] / "access.toml"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("registry:nope READ because x", "I don't know the resource `registry:nope`"),
        ("registry:iris_classifier WRITE because x", "`WRITE` is not a level"),
        ("registry:iris_classifier EDIT for 2d because x", "at most 8h; you asked for 2d"),
        ("registry:iris_classifier READ for 4h", "Say why"),
        ("registry:iris_classifier READ for 4x because x", "`4x` is not a duration"),
    ],
)
async def test_refused_requests_change_nothing(tmp_path: Path, text: str, answer: str) -> None:
    bot = await start_harness(tmp_path)
    try:
        await bot.command(f"access request {text}", user=ONCALL)
        await bot.slack.wait_for_text(answer, timeout=10)
        with bot.app.services.db.connection() as conn:
            assert service.of_user(conn, user_id=ONCALL) == []
    finally:
        await bot.stop()


def test_the_shipped_policy_is_valid() -> None:
    policy = load_policy(REPO_POLICY)
    assert policy.resources["registry:iris_classifier"].levels["EDIT"].total_seconds() == 8 * 3600
    assert policy.resources["data:training"].provider == "postgres"


def test_a_broken_policy_names_the_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "access.toml"
    lines = REPO_POLICY.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith('levels = { READ = "24h"'))
    lines[at] = 'levels = { READ = "forever" }'
    broken.write_text("\n".join(lines))
    with pytest.raises(PolicyError) as raised:
        load_policy(broken)
    assert raised.value.line == at + 1
    assert str(raised.value).startswith(f"{broken}:{at + 1}: data:training: level 'READ'")


def test_reminders_and_backoff() -> None:
    assert [m for m, _ in reminder_marks(timedelta(hours=8))] == ["1h"]
    assert [m for m, _ in reminder_marks(timedelta(days=7))] == ["1d", "1h"]
    waits = [backoff(n, base=2, cap=300).total_seconds() for n in range(1, 11)]
    assert waits[:4] == [2, 4, 8, 16] and max(waits) == 300


def test_a_request_is_read_against_the_policy() -> None:
    policy = load_policy(REPO_POLICY)
    asked = parse_request(
        ["registry:iris_classifier", "edit", "for", "4h", "because", "deploy", "v3"], policy
    )
    assert (asked.level, asked.duration, asked.reason) == ("EDIT", timedelta(hours=4), "deploy v3")
    longest = parse_request(["data:training", "because", "retrain"], policy)
    assert longest.duration == timedelta(hours=24)  # no duration: the most the policy allows
    with pytest.raises(AccessRefused) as raised:
        parse_request(
            ["data:training", "for", "2h", "because", "x"], policy, cap=timedelta(hours=1)
        )
    assert raised.value.kind == "over_cap"
