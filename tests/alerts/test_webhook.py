"""POST /alerts/alertmanager: authentication, bad bodies, idempotent delivery, storms."""

from __future__ import annotations

import asyncio
import base64
import json
import random
from datetime import timedelta

import aiohttp
import httpx
import pytest
from sqlalchemy import text

from bot.alerts.intake import AlertIntake, DeliveryResult
from bot.incidents.publisher import RETRY_DELAYS
from tests.harness import BotHarness
from tests.incidents.helpers import T0, alert, auth, notification, post, resolved, settle


def incidents(bot: BotHarness) -> list[str]:
    return [m.plain().split("\n")[0] for m in bot.slack.messages("incidents")]


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        auth("wrong-token"),
        basic("alertmanager", "wrong"),
        basic("someone", "s3cret"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Token alert-token"},
    ],
    ids=["no-header", "wrong-token", "wrong-password", "wrong-user", "garbage-basic", "scheme"],
)
async def test_bad_credentials_are_401_and_change_nothing(
    bot: BotHarness, headers: dict[str, str]
) -> None:
    response = await post(bot, notification("ModelInputDrift", [alert()]), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]
    await settle(bot)
    assert bot.slack.call_count("chat.postMessage") == 0


async def test_bearer_and_basic_auth_are_accepted(bot: BotHarness) -> None:
    first = await post(bot, notification("A", [alert("A")]), headers=auth())
    second = await post(
        bot, notification("B", [alert("B")]), headers=basic("alertmanager", "s3cret")
    )
    assert first.status_code == 200 and second.status_code == 200
    assert (first.json()["incident"], second.json()["incident"]) == ("INC-1", "INC-2")


async def test_an_unconfigured_webhook_refuses_everything_and_says_what_to_set(
    bot: BotHarness,
) -> None:
    from bot.alerts.webhook import WebhookAuth

    assert "ALERT_WEBHOOK_TOKEN" in (WebhookAuth(token=None).check("Bearer x") or "")
    assert WebhookAuth(token=None).check(None) == WebhookAuth(token="").check("Bearer ")


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "body: not valid JSON"),
        (b"", "body: empty"),
        (b"[1, 2]", "body: must be a JSON object"),
        (b'{"groupKey": "g", "status": "firing"}', "alerts: field required"),
        (b'{"groupKey": "g", "status": "burning", "alerts": []}', "status: input should be"),
        (
            b'{"groupKey": "g", "status": "firing", "alerts": [{"status": "firing", '
            b'"labels": {}, "startsAt": "2024-05-01T12:00:00Z"}, {"status": "firing", '
            b'"labels": {}, "startsAt": "2024-05-01T12:00:00Z"}, {"status": "firing", '
            b'"startsAt": "2024-05-01T12:00:00Z"}]}',
            "alerts[2].labels: field required",
        ),
        (
            b'{"groupKey": "g", "status": "firing", "alerts": [{"status": "firing", '
            b'"labels": {}, "startsAt": "yesterday"}]}',
            "alerts[0].startsAt: input should be a valid datetime",
        ),
        (
            b'{"groupKey": "g", "status": "firing", "alerts": [{"status": "firing", '
            b'"labels": {"a": 1}, "startsAt": "2024-05-01T12:00:00Z"}]}',
            "alerts[0].labels.a: input should be a valid string",
        ),
    ],
    ids=["json", "empty", "array", "no-alerts", "status", "labels", "startsAt", "label-type"],
)
async def test_malformed_bodies_are_400_naming_the_field(
    bot: BotHarness, body: bytes, problem: str
) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{bot.url}/alerts/alertmanager",
            content=body,
            headers={**auth(), "Content-Type": "application/json"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(problem), response.json()


async def test_a_body_that_is_too_large_is_413(bot: BotHarness) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{bot.url}/alerts/alertmanager", content=b"x" * 5_000_000, headers=auth()
        )
    assert response.status_code == 413


async def test_unknown_extra_fields_are_accepted(bot: BotHarness) -> None:
    a = {**alert(), "silencedBy": [], "someFutureField": {"x": 1}}
    payload = notification("ModelInputDrift", [a], newTopLevel="yes", version="5")
    response = await post(bot, payload)
    assert response.status_code == 200 and response.json()["outcome"] == "opened"


async def test_resolved_before_firing_is_accepted_and_opens_nothing(bot: BotHarness) -> None:
    response = await post(bot, notification("ModelInputDrift", [resolved(alert())]))
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    await settle(bot)
    assert bot.slack.call_count() == bot.slack.call_count("auth.test")


async def test_redelivery_opens_no_second_incident_and_makes_no_slack_call(
    bot: BotHarness,
) -> None:
    payload = notification("ModelInputDrift", [alert()])
    assert (await post(bot, payload)).json()["outcome"] == "opened"
    await settle(bot)
    before = bot.slack.call_count()
    for _ in range(5):
        response = await post(bot, payload)
        assert response.json() == {
            "status": "accepted",
            "outcome": "unchanged",
            "incident": "INC-1",
        }
    await settle(bot)
    assert bot.slack.call_count() == before
    assert len(incidents(bot)) == 1


async def test_the_same_alert_after_its_incident_was_resolved_opens_nothing(
    bot: BotHarness,
) -> None:
    payload = notification("ModelInputDrift", [alert()])
    await post(bot, payload)
    flows = bot.app.services.incidents
    assert flows is not None
    await flows.resolve(incident_id=1, actor="U0ONCALL", summary="fixed")
    # Answered from the repeat memory ("unchanged") or the database ("ignored"): never opened.
    assert (await post(bot, payload)).json()["outcome"] in ("ignored", "unchanged")
    # A fresh process (no repeat memory) reaches the same verdict from the database alone.
    services = bot.app.services
    fresh = AlertIntake(db=services.db, model="m", choose_runbook=lambda *_: None)
    try:
        assert (await fresh.deliver(payload)).outcome == "ignored"
    finally:
        fresh.close()
    # The same alert firing again later (a new startsAt) is a new incident.
    again = notification("ModelInputDrift", [alert(starts=T0 + timedelta(hours=1))])
    assert (await post(bot, again)).json()["incident"] == "INC-2"


async def test_concurrent_deliveries_of_a_new_group_open_one_incident(bot: BotHarness) -> None:
    payload = notification("ModelAccuracyDrop", [alert("ModelAccuracyDrop", severity="critical")])
    async with httpx.AsyncClient() as client:
        responses = await asyncio.gather(
            *(
                client.post(f"{bot.url}/alerts/alertmanager", json=payload, headers=auth())
                for _ in range(20)
            )
        )
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["opened"] + ["unchanged"] * 19
    assert {r.json()["incident"] for r in responses} == {"INC-1"}
    await settle(bot)
    assert len(incidents(bot)) == 1 and "INC-1" in incidents(bot)[0]


async def test_concurrent_deliveries_through_the_intake_threads(bot: BotHarness) -> None:
    """Many threads against one database: the unique open-incident key decides."""
    services = bot.app.services
    intake = AlertIntake(db=services.db, model="m", choose_runbook=lambda *_: None, threads=8)
    try:
        payloads = [notification(f"G{g}", [alert(f"G{g}")]) for g in range(5)] * 8
        results: list[DeliveryResult] = await asyncio.gather(*(intake.deliver(p) for p in payloads))
    finally:
        intake.close()
    opened = [r.incident for r in results if r.outcome == "opened"]
    assert len(opened) == 5 and sorted(opened) == [f"INC-{n}" for n in range(1, 6)]


async def test_monitors_deliver_through_the_same_sink(bot: BotHarness) -> None:
    sink = bot.app.services.alert_sink
    assert sink is not None
    result = await sink.deliver(notification("ModelAccuracyDrop", [alert("ModelAccuracyDrop")]))
    assert result.outcome == "opened" and result.incident == "INC-1"
    again = await sink.deliver(notification("ModelAccuracyDrop", [alert("ModelAccuracyDrop")]))
    assert again.outcome == "unchanged"


async def test_a_storm_makes_slack_calls_per_incident_and_change(bot: BotHarness) -> None:
    """2,000 notifications over 20 groups: 20 incidents, Slack calls bounded by changes."""
    rng = random.Random(7)
    groups = [f"Storm{g}" for g in range(20)]
    members = {g: [alert(g, instance=f"pod-{i}") for i in range(3)] for g in groups}
    sent = []
    for i in range(2000):
        g = groups[i % 20]
        # Each group grows from one alert to three, then its alerts resolve; repeats in between.
        stage = min(3, 1 + i // 400)
        alerts = members[g][:stage]
        if i >= 1600:
            alerts = [resolved(a) for a in members[g]]
        if rng.random() < 0.1:
            rng.shuffle(alerts)
        sent.append(notification(g, alerts))
    before = bot.slack.call_count()
    sem = asyncio.Semaphore(32)
    # aiohttp's client: httpx's connection pool costs more than the bot under this load.
    connector = aiohttp.TCPConnector(limit=32)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def one(payload: dict) -> int:
            async with (
                sem,
                client.post(
                    f"{bot.url}/alerts/alertmanager",
                    data=json.dumps(payload),
                    headers={**auth(), "Content-Type": "application/json"},
                ) as response,
            ):
                await response.read()
                return response.status

        statuses = await asyncio.gather(*(one(p) for p in sent))
    assert set(statuses) == {200}
    await settle(bot)
    # Headers are published by debounced background flushes, retried after a failed one with
    # the publisher's backoff: wait for the last edit for as long as that backoff can take.
    with bot.app.services.db.session() as session:
        statuses = session.execute(text("SELECT status FROM incidents")).scalars().all()
    assert sorted(statuses) == ["monitoring"] * 20, statuses  # the domain state is exact
    # A flush whose reads straddle a notification's commit must still end with the header
    # current (tests/incidents/test_publisher.py has the deterministic version).
    deadline = asyncio.get_running_loop().time() + sum(RETRY_DELAYS) + 20
    while True:
        headers = bot.slack.messages("incidents")
        if len(headers) == 20 and all("Monitoring" in m.plain() for m in headers):
            break
        if asyncio.get_running_loop().time() >= deadline:
            assert len(headers) == 20, [m.plain()[:80] for m in headers]
            stale = [m.plain()[:80] for m in headers if "Monitoring" not in m.plain()]
            assert not stale, stale
        await asyncio.sleep(0.05)
    calls = bot.slack.call_count() - before
    # Per incident: header + first reply; then at most 3 changes (2nd alert, 3rd alert,
    # resolved → monitoring), each one header edit + one reply.
    assert calls <= 20 * (2 + 3 * 2), calls
