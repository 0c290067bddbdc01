"""The web workspace's HTTP side without a browser: the page and its JSON, the event stream,
actions turned into signed payloads, files served safely, and the bot's run-due-jobs hook."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from slack_sdk.web.async_client import AsyncWebClient

from bot.localslack import LocalSlack
from bot.localslack.scopes import EVERY_SCOPE
from bot.scheduling import run_due_now
from tests.harness import BotHarness, start_harness
from tests.localslack.helpers import Receiver, buttons_blocks

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    bot_side = Receiver()
    await bot_side.start()
    yield bot_side
    await bot_side.stop()


@pytest.fixture
async def slack(receiver: Receiver) -> AsyncIterator[LocalSlack]:
    stand_in = LocalSlack(request_url=receiver.url, ack_timeout=1.0, bot_scopes=EVERY_SCOPE)
    await stand_in.start()
    yield stand_in
    await stand_in.stop()


@pytest.fixture
async def http(slack: LocalSlack) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=slack.base_url) as session:
        yield session


async def upload(client: AsyncWebClient, name: str, content: bytes) -> str:
    answer = await client.files_upload_v2(channel="oncall", file=content, filename=name)
    return str(answer["files"][0]["id"])


async def test_root_is_the_page_for_browsers_and_json_for_the_rest(
    http: aiohttp.ClientSession,
) -> None:
    async with http.get("/", headers={"Accept": "text/html,*/*"}) as page:
        html = await page.text()
    assert page.content_type == "text/html" and '<script type="module"' in html
    assert "http" not in html.replace("http-equiv", "")  # no CDN: every asset is served here
    async with http.get("/") as summary:
        assert (await summary.json())["localslack"] is True
    for asset in ("app.js", "blocks.js", "app.css"):
        async with http.get(f"/web/static/{asset}") as response:
            assert response.status == 200, asset
    async with http.get("/web/static/../webui.py") as outside:
        assert outside.status in (403, 404)


async def test_state_follows_the_workspace_and_the_stream_says_when(
    slack: LocalSlack, http: aiohttp.ClientSession
) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    async with http.get("/web/events") as stream:
        first = await stream.content.readuntil(b"\n\n")
        assert first.startswith(b"event: change\ndata: ")
        posted = await client.chat_postMessage(
            channel="oncall", text="Deploy?", blocks=buttons_blocks("Confirm")
        )
        second = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5)
        assert int(second.split(b"data: ")[1]) > int(first.split(b"data: ")[1])
    async with http.get("/web/state") as response:
        state = await response.json()
    roles = {u["id"]: u["title"] for u in state["users"]}
    assert roles["U0STAKEHOLDER"] == "stakeholder" and roles["U0VIEWER"] == "viewer"
    [message] = [m for m in state["messages"] if m["ts"] == posted["ts"]]
    assert message["blocks"][1]["elements"][0]["action_id"] == "confirm"
    assert message["buttons"] == 1
    assert any(c["method"] == "chat.postMessage" for c in state["api_calls"])


async def test_actions_become_signed_payloads_and_bad_ones_a_clear_400(
    slack: LocalSlack, receiver: Receiver, http: aiohttp.ClientSession
) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    posted = await client.chat_postMessage(
        channel="oncall", text="Deploy?", blocks=buttons_blocks("Confirm", "Cancel")
    )
    click = {"action": "click", "user": "U0VIEWER", "ts": posted["ts"], "index": 2}
    async with http.post("/web/act", json=click) as response:
        answer = await response.json()
    assert answer["ok"] and answer["request"]["actions"][0]["action_id"] == "cancel"
    delivered = await receiver.wait_for("interactive")  # verified with the signing secret
    assert delivered.payload["user"]["id"] == "U0VIEWER" and receiver.rejected == 0

    slash = {"action": "slash", "user": "U0STAKEHOLDER", "channel": "ml-stakeholders",
             "command": "/iris", "text": "status"}  # fmt: skip
    async with http.post("/web/act", json=slash) as response:
        assert (await response.json())["ok"]
    assert (await receiver.wait_for("slash_commands")).payload["user_id"] == "U0STAKEHOLDER"

    forged = json.dumps(click)  # what a form on another site could post: not JSON-typed
    async with http.post("/web/act", data=forged, headers={"Content-Type": "text/plain"}) as r:
        assert r.status == 415
    for bad in (
        "not json",
        json.dumps({"action": "dance"}),
        json.dumps({"action": "click", "user": "U0VIEWER", "ts": "1.2", "index": 1}),
        json.dumps({"action": "click", "user": "nobody", "ts": posted["ts"], "index": 1}),
        json.dumps({"action": "slash", "user": "U0VIEWER"}),
    ):
        headers = {"Content-Type": "application/json"}
        async with http.post("/web/act", data=bad, headers=headers) as response:
            assert response.status == 400, bad
            assert (await response.json())["error"], bad
    async with http.get("/web/state") as response:
        deliveries = (await response.json())["deliveries"]
    assert [d["action"] for d in deliveries] == ["click", "slash"]


async def test_files_show_inline_only_when_they_are_images(
    slack: LocalSlack, http: aiohttp.ClientSession
) -> None:
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    chart = await upload(client, "chart.png", PNG)
    page = await upload(client, "evil.html", b"<script>alert(1)</script>")
    async with http.get(f"/web/files/{chart}") as response:
        assert response.content_type == "image/png" and await response.read() == PNG
    async with http.get(f"/web/files/{page}") as response:
        assert response.content_type == "application/octet-stream"
        assert response.headers["Content-Disposition"] == "attachment"
    async with http.get("/web/files/F404") as response:
        assert response.status == 404


async def test_run_due_jobs_needs_a_bot_over_http(http: aiohttp.ClientSession) -> None:
    async with http.post("/web/jobs", json={"minutes": "soon"}) as response:
        assert response.status == 400


# --- the bot's side: run what is due, through the scheduler itself ---------------------------------
def note_run() -> None:
    """A job for the scheduler to run (it stores the reference to this function)."""


async def test_run_due_now_moves_only_what_is_due_within_the_window() -> None:
    scheduler = AsyncIOScheduler(timezone="UTC")
    now = datetime.now(UTC)
    ran = asyncio.Event()
    soon = scheduler.add_job(note_run, "date", run_date=now + timedelta(minutes=10), id="soon")
    scheduler.add_job(note_run, "interval", hours=2, id="later")
    scheduler.add_listener(lambda event: ran.set(), EVENT_JOB_EXECUTED)
    scheduler.start(paused=True)
    try:
        assert run_due_now(scheduler, within=timedelta(minutes=15)) == []  # a standby moves nothing
        scheduler.resume()
        moved = run_due_now(scheduler, within=timedelta(minutes=15))
        assert [job.id for job in moved] == [soon.id]
        await asyncio.wait_for(ran.wait(), 5)
        assert scheduler.get_job("soon") is None  # a one-off ran and is gone, as on its own
        assert scheduler.get_job("later").next_run_time > now + timedelta(minutes=90)
    finally:
        scheduler.shutdown(wait=False)


@pytest.fixture
async def local_bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    harness = await start_harness(tmp_path, mode="local", monitor_interval_seconds=0)
    try:
        yield harness
    finally:
        await harness.stop()


async def test_the_hook_is_local_only_signed_and_checked(local_bot: BotHarness) -> None:
    scheduler = local_bot.app.services.scheduler
    for _ in range(200):  # the election makes this process the leader within a tick or two
        if scheduler.state == STATE_RUNNING:
            break
        await asyncio.sleep(0.05)
    ran: list[str] = []
    finished = asyncio.Event()

    def executed(event: JobExecutionEvent) -> None:
        ran.append(event.job_id)
        finished.set()

    scheduler.add_listener(executed, EVENT_JOB_EXECUTED)
    # Due within the minute asked for; the bot's own jobs (monitors, ingestion) are further off.
    run_at = datetime.now(UTC) + timedelta(seconds=45)
    scheduler.add_job(note_run, "date", run_date=run_at, id="browser-test-job")
    url = f"{local_bot.url}/local/run-due-jobs"

    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"minutes": 30}) as unsigned:
            assert unsigned.status == 401
        for bad in ({"minutes": 0}, {"minutes": "30"}, {"minutes": 10**9}, []):
            body = json.dumps(bad).encode()
            headers = local_bot.slack.signed_headers(body, "application/json")
            async with http.post(url, data=body, headers=headers) as refused:
                assert refused.status == 400, bad
        async with http.post(f"{local_bot.slack.base_url}/web/jobs", json={"minutes": 1}) as ok:
            answer = await ok.json()
        assert answer["ok"] and "browser-test-job" in [j["id"] for j in answer["ran"]]
        await asyncio.wait_for(finished.wait(), 10)
        assert "browser-test-job" in ran

        local_bot.app.services.mode = "http"  # the same route in any other mode: not there
        body = json.dumps({"minutes": 30}).encode()
        headers = local_bot.slack.signed_headers(body, "application/json")
        async with http.post(url, data=body, headers=headers) as hidden:
            assert hidden.status == 404
