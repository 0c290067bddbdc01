"""Every HTTP route of the bot (in each mode) and of the model server, attacked the same ways.

The table says what each route answers to each attack. A route the app serves without a row
fails the test, so a new endpoint cannot ship without saying how it answers these. No answer is
a 5xx, and no attack has an effect (no audit row, no message, no stored alert or incident, no
recorded prediction or feedback). A correctly signed command is sent too, so the effects being
counted are real ones.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import time_machine
from sqlalchemy import func, select
from starlette.routing import Route

from bot.audit.models import AuditRecord
from bot.db import Database
from bot.db.migrate import upgrade_to_head
from bot.incidents.models import Incident, IncidentAlert
from bot.localslack.delivery import sign
from bot.servers import ServerTask
from tests.harness import ADMIN, SIGNING_SECRET, BotHarness, start_harness
from tests.incidents.helpers import alert as make_alert
from tests.incidents.helpers import notification

ALERT_TOKEN = "alert-token"
PIPELINE_TOKEN = "pipeline-token"
PIPELINE_LIMIT = 256_000
CASES = (
    "no_auth",
    "wrong_signature",
    "stale_timestamp",
    "replay",
    "oversized",
    "chunked_oversized",
    "malformed",
    "signed_malformed",
)
MODES = ("http", "socket", "local")
SLACK_LIMIT, ALERT_LIMIT, MODEL_LIMIT = 1_000_000, 4_000_000, 1_000_000
LOCAL_JOBS_LIMIT = 1024


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    expect: dict[str, int]
    # "slack" (signature), "signed" (Slack's signature on a route that is not Slack's),
    # "alertmanager" / "pipeline" (token), "none"
    credentials: str
    limit: int = SLACK_LIMIT
    modes: tuple[str, ...] = MODES
    payload: bytes = b""
    content_type: str = "application/x-www-form-urlencoded"


def _same(status: int) -> dict[str, int]:
    return dict.fromkeys(CASES, status)


# What an attacker wants to run: an admin command, as an admin.
FORGED_COMMAND = urlencode(
    {
        "command": "/iris",
        "text": "audit 5",
        "user_id": ADMIN,
        "channel_id": "C0ONCALL",
        "team_id": "T0LOCAL",
        "trigger_id": "1.2.3",
    }
).encode()
FORGED_ALERT = json.dumps(notification("forged", [make_alert("ModelInputDrift")])).encode()

# Read-only pages: no credentials by design, a request body is ignored.
READ_ONLY = {"expect": _same(200), "credentials": "none"}

BOT_ROUTES = [
    Row(
        "POST",
        "/slack/events",
        {
            "no_auth": 401,
            "wrong_signature": 401,
            "stale_timestamp": 401,
            "replay": 401,
            "oversized": 413,
            "chunked_oversized": 413,
            "malformed": 401,  # checked before anything parses the payload
            "signed_malformed": 400,
        },
        "slack",
        # Socket Mode gets everything over its WebSocket; the route is not served there.
        modes=("http", "local"),
        payload=FORGED_COMMAND,
    ),
    Row("GET", "/healthz", **READ_ONLY),
    Row("GET", "/metrics", **READ_ONLY),
    Row("GET", "/status", **READ_ONLY),
    Row("GET", "/status.json", **READ_ONLY),
    Row(
        "POST",
        "/alerts/alertmanager",
        {
            **_same(401),  # credentials are checked before the body is read
            "oversized": 413,
            "chunked_oversized": 413,
            "signed_malformed": 400,
        },
        "alertmanager",
        limit=ALERT_LIMIT,
        payload=FORGED_ALERT,
        content_type="application/json",
    ),
    Row(
        "POST",
        "/pipelines/dagster",
        {
            **_same(401),  # the failure sensor's token is checked before the body is read
            "oversized": 413,
            "chunked_oversized": 413,
            "signed_malformed": 400,
        },
        "pipeline",
        limit=PIPELINE_LIMIT,
        payload=FORGED_ALERT,
        content_type="application/json",
    ),
    # The web workspace's "run due jobs now": signed by the stand-in, and only in local mode;
    # everywhere else it answers as if it were not there.
    Row(
        "POST",
        "/local/run-due-jobs",
        {
            **_same(401),
            "oversized": 413,
            "chunked_oversized": 413,
            "signed_malformed": 400,
        },
        "signed",
        limit=LOCAL_JOBS_LIMIT,
        modes=("local",),
        payload=b'{"minutes": 1}',
        content_type="application/json",
    ),
    Row(
        "POST",
        "/local/run-due-jobs",
        _same(404),
        "signed",
        limit=LOCAL_JOBS_LIMIT,
        modes=("http", "socket"),
        payload=b'{"minutes": 1}',
        content_type="application/json",
    ),
]
# The model server is an internal service (predict and feedback take no credentials); what
# arrives here forged as Slack is not a prediction request, and bodies are bounded.
MODEL_ROUTES = [
    Row(
        "POST",
        "/v1/predict",
        {**_same(422), "oversized": 413, "chunked_oversized": 413},
        "none",
        limit=MODEL_LIMIT,
        payload=FORGED_COMMAND,
    ),
    Row(
        "POST",
        "/v1/feedback",
        {**_same(422), "oversized": 413, "chunked_oversized": 413},
        "none",
        limit=MODEL_LIMIT,
        payload=FORGED_COMMAND,
    ),
    Row("GET", "/healthz", **READ_ONLY),
    Row("GET", "/metrics", **READ_ONLY),
]


def served_routes(app: Any) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in (route.methods or ()) - {"HEAD"}
    }


def slack_headers(body: bytes, *, secret: str = SIGNING_SECRET, age: int = 0) -> dict[str, str]:
    ts = str(int(time.time()) - age)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sign(secret, ts, body)}


def good_credentials(row: Row, body: bytes) -> dict[str, str]:
    if row.credentials in ("slack", "signed"):
        return slack_headers(body)
    if row.credentials == "alertmanager":
        return {"Authorization": f"Bearer {ALERT_TOKEN}"}
    if row.credentials == "pipeline":
        return {"Authorization": f"Bearer {PIPELINE_TOKEN}"}
    return {}


async def chunks(body: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@dataclass
class Attack:
    client: httpx.AsyncClient
    base: str
    answers: dict[str, int] = field(default_factory=dict)

    async def send(self, row: Row, body: bytes, headers: dict[str, str], *, stream: bool = False):
        headers = {"Content-Type": row.content_type, **headers}
        content: Any = chunks(body) if stream else body
        return await self.client.request(
            row.method, self.base + row.path, content=content, headers=headers
        )

    async def case(self, row: Row, case: str) -> int:
        body = row.payload
        if case == "no_auth":
            response = await self.send(row, body, {})
        elif case == "wrong_signature":
            wrong = {**slack_headers(body, secret="wrong-secret"), "Authorization": "Bearer no"}
            response = await self.send(row, body, wrong)
        elif case == "stale_timestamp":
            response = await self.send(row, body, slack_headers(body, age=301))
        elif case == "replay":
            response = await self.replay(row)
        elif case in ("oversized", "chunked_oversized"):
            big = b"x" * (row.limit + (65536 if case == "chunked_oversized" else 1))
            response = await self.send(
                row, big, good_credentials(row, big), stream=case == "chunked_oversized"
            )
        elif case == "malformed":
            response = await self.send(row, b"payload=%7Bnot-json", {})
        else:  # signed_malformed: right credentials, a body nothing can read
            junk = b"payload=%7Bnot-json" if row.credentials == "slack" else b"\xff{not json"
            response = await self.send(row, junk, good_credentials(row, junk))
        return response.status_code

    async def replay(self, row: Row) -> httpx.Response:
        """A request captured when it was good, sent again once its five minutes are over."""
        body = row.payload
        captured = good_credentials(row, body) if row.credentials == "slack" else {}
        with time_machine.travel(datetime.now(UTC) + timedelta(minutes=6), tick=True):
            return await self.send(row, body, captured)


# --- the bot -----------------------------------------------------------------------------------


def bot_effects(bot: BotHarness) -> tuple[int, ...]:
    services = bot.app.services
    services.audit_buffer.flush()
    with services.db.session() as session:
        counts = [
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (AuditRecord, IncidentAlert, Incident)
        ]
    return (*counts, len(bot.slack.all_messages()), len(bot.slack.workspace.ephemeral_log))


async def effect_of(bot: BotHarness, before: tuple[int, ...], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while bot_effects(bot) == before:
        assert time.monotonic() < deadline, "the signed command had no effect"
        await asyncio.sleep(0.02)


@pytest.fixture(params=MODES)
async def any_bot(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = await start_harness(
        tmp_path,
        mode=request.param,
        alert_webhook_token=ALERT_TOKEN,
        pipeline_webhook_token=PIPELINE_TOKEN,
        monitor_interval_seconds=0,
        ingest_interval_seconds=0,
    )
    try:
        yield harness
    finally:
        await harness.stop()


async def test_every_bot_route_refuses_every_attack_without_effect(any_bot: BotHarness) -> None:
    bot, mode = any_bot, any_bot.app.services.mode
    rows = [row for row in BOT_ROUTES if mode in row.modes]
    assert served_routes(bot.app.web) == {(row.method, row.path) for row in rows}, (
        "every route needs a row in BOT_ROUTES"
    )
    answers: dict[tuple[str, str], int] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        attack = Attack(client, bot.url)
        for row in rows:
            if row.credentials == "slack" and "replay" in row.expect:
                # The request an attacker captured was good when Slack sent it: it ran.
                before = bot_effects(bot)
                fresh = await attack.send(row, row.payload, slack_headers(row.payload))
                assert fresh.status_code == 200
                await effect_of(bot, before)
            for case in CASES:
                before = bot_effects(bot)
                answers[(row.path, case)] = await attack.case(row, case)
                assert bot_effects(bot) == before, f"{row.path} {case} had an effect"
        if mode == "socket":
            # Not served at all, even to a correctly signed request.
            body = FORGED_COMMAND
            before = bot_effects(bot)
            response = await client.post(
                f"{bot.url}/slack/events",
                content=body,
                headers={
                    **slack_headers(body),
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            assert response.status_code == 404
            assert bot_effects(bot) == before
    expected = {(row.path, case): row.expect[case] for row in rows for case in CASES}
    assert answers == expected
    assert not [key for key, status in answers.items() if status >= 500]


async def test_signed_requests_still_work_in_each_mode(any_bot: BotHarness) -> None:
    """The control: the same command, correctly signed (or over the socket), runs."""
    before = bot_effects(any_bot)
    await any_bot.command("audit 5", user=ADMIN)
    await any_bot.slack.wait_for_text("Audit trail", user=ADMIN)
    assert bot_effects(any_bot) != before


# --- the model server --------------------------------------------------------------------------


def model_effects(db: Database) -> tuple[int, ...]:
    from bot.data.models import Sample
    from bot.serving.models import ServedPrediction

    with db.session() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (ServedPrediction, Sample)
        )


async def test_every_model_server_route_refuses_every_attack_without_effect(
    tmp_path: Path,
) -> None:
    from bot.data.feedback_route import feedback_route
    from bot.serving.app import create_model_app
    from bot.serving.recorder import PredictionRecorder
    from tests.registry.store import copy_store
    from tests.serving.conftest import wait_for_version

    url = f"sqlite:///{tmp_path / 'oncall.db'}"
    upgrade_to_head(url)
    db = Database(url)
    recorder = PredictionRecorder(db)
    app = create_model_app(
        service=copy_store(tmp_path / "store"),
        poll_seconds=0.05,
        recorder=recorder,
        extra_routes=[feedback_route(db)],
    )
    assert served_routes(app) == {(row.method, row.path) for row in MODEL_ROUTES}, (
        "every route needs a row in MODEL_ROUTES"
    )
    server = ServerTask(app, host="127.0.0.1", port=0, lifespan="on")
    await server.start()
    answers: dict[tuple[str, str], int] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            await wait_for_version(client, None)
            attack = Attack(client, f"http://127.0.0.1:{server.port}")
            for row in MODEL_ROUTES:
                for case in CASES:
                    before = model_effects(db)
                    answers[(row.path, case)] = await attack.case(row, case)
                    recorder.flush()  # what a request recorded is counted now
                    assert model_effects(db) == before, f"{row.path} {case} had an effect"
    finally:
        await server.stop()
        db.dispose()
    assert answers == {(row.path, case): row.expect[case] for row in MODEL_ROUTES for case in CASES}
