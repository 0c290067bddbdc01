"""The debounced publisher against writes that race its reads (SQLite and PostgreSQL).

Deterministic versions of what the storm test in test_webhook.py meets by chance under load:
a write that commits in the middle of a flush's read, and two writers whose event ids are
allocated in one order and committed in the other.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.alerts.apply import apply_notification
from bot.alerts.intake import AlertIntake
from bot.alerts.payload import parse_payload
from bot.db import Database
from bot.incidents import service
from bot.incidents.flows import IncidentFlows
from bot.incidents.header_facts import HeaderFacts
from bot.incidents.models import EventView, IncidentView
from tests.incidents.helpers import T0, alert, notification, resolved


class Reporter:
    """The chat side, remembered: what the header says now and what went into the thread."""

    def __init__(self) -> None:
        self.headers: dict[int, str] = {}  # incident id -> status the header shows
        self.header_calls = 0
        self.posted: list[int] = []  # event ids replied into the thread, in order

    async def post_header(self, incident: IncidentView, facts: HeaderFacts) -> tuple[str, str]:
        self.headers[incident.id] = incident.status
        self.header_calls += 1
        return "C_INCIDENTS", f"{incident.id}.0001"

    async def update_header(self, incident: IncidentView, facts: HeaderFacts) -> None:
        self.headers[incident.id] = incident.status
        self.header_calls += 1

    async def post_timeline(
        self, incident: IncidentView, events: Sequence[EventView], facts: HeaderFacts
    ) -> None:
        self.posted.extend(e.id for e in events)

    async def post_file(
        self, incident: IncidentView, *, content: str, filename: str, title: str
    ) -> None:
        pass

    async def message_text(self, channel: str, ts: str) -> tuple[str, str, str | None] | None:
        return None


@pytest.fixture
async def flows(db: Database) -> AsyncIterator[IncidentFlows]:
    publisher = IncidentFlows(db=db, reporter=Reporter(), debounce=0.0)
    try:
        yield publisher
    finally:
        await publisher.aclose()


def reporter(flows: IncidentFlows) -> Reporter:
    assert isinstance(flows.reporter, Reporter)
    return flows.reporter


async def open_incident(db: Database, flows: IncidentFlows) -> tuple[AlertIntake, int]:
    intake = AlertIntake(
        db=db, model="m", choose_runbook=lambda *_: None, on_change=flows.mark_dirty
    )
    opened = await intake.deliver(notification("Drift", [alert("Drift")]))
    assert opened.outcome == "opened" and opened.incident_id is not None
    await flows.idle()
    assert reporter(flows).headers == {opened.incident_id: "investigating"}
    return intake, opened.incident_id


async def test_a_change_committed_in_the_middle_of_a_flush_read_reaches_the_header(
    db: Database, flows: IncidentFlows, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flush reads the incident row, then its alerts, then its events, each statement
    seeing what is committed by then: a notification applied between the row and the events
    puts its events into the thread while the header shows the row from before it."""
    intake, incident_id = await open_incident(db, flows)
    loop = asyncio.get_running_loop()
    read_alerts = service._alerts
    armed = True

    def alerts_then_a_notification(conn: Any, incident: int) -> Any:
        nonlocal armed
        if armed:
            armed = False
            # Another intake thread applies the resolution and commits, then tells the flows.
            payload = parse_payload(notification("Drift", [resolved(alert("Drift"))]))
            with db.connection() as other:
                applied = apply_notification(
                    other, payload=payload, now=T0, model="m", choose_runbook=lambda *_: None
                )
            assert applied.outcome == "updated"
            loop.call_soon_threadsafe(flows.mark_dirty, incident)
        return read_alerts(conn, incident)

    monkeypatch.setattr(service, "_alerts", alerts_then_a_notification)
    await flows.record(incident_id=incident_id, kind="note", actor="U1", text="looking")
    await flows.idle()
    assert not armed
    with db.connection() as conn:
        stored = service.get(conn, incident_id=incident_id)
    assert stored is not None and stored.status == "monitoring"
    assert reporter(flows).headers[incident_id] == "monitoring"
    assert reporter(flows).posted == [e.id for e in stored.events]
    intake.close()


class PausingConnection:
    """A connection that stops after its first statement until told to go on."""

    def __init__(self, conn: Any, first_done: threading.Event, go_on: threading.Event) -> None:
        self.conn, self.first_done, self.go_on = conn, first_done, go_on

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        result = self.conn.execute(*args, **kwargs)
        if not self.first_done.is_set():
            self.first_done.set()
            self.go_on.wait(30)
        return result


async def test_an_event_committed_after_a_later_id_was_published_still_goes_out(
    db: Database, flows: IncidentFlows
) -> None:
    """Two writers of one incident's timeline: the first pauses after its first statement,
    the second runs meanwhile. Had the first allocated its event id before taking the incident
    row, the second would commit a higher id first, a flush would publish it, and the lower id
    committed afterwards would never be above `published_event_id`."""
    intake, incident_id = await open_incident(db, flows)
    intake.close()
    first_done, go_on, second_done = threading.Event(), threading.Event(), threading.Event()

    def writer(text: str, pause: bool) -> None:
        with db.connection() as conn:
            target = PausingConnection(conn, first_done, go_on) if pause else conn
            service.add_event(target, incident_id=incident_id, kind="note", now=T0, text=text)
        if not pause:
            second_done.set()

    first = threading.Thread(target=writer, args=("one", True))
    first.start()
    await asyncio.to_thread(first_done.wait, 30)
    second = threading.Thread(target=writer, args=("two", False))
    second.start()
    # Give the second writer every chance to commit ahead of the first, then publish.
    await asyncio.to_thread(second_done.wait, 0.5)
    await flows.publisher.flush(incident_id)
    go_on.set()
    for thread in (first, second):
        await asyncio.to_thread(thread.join, 30)
    await flows.publisher.flush(incident_id)
    with db.connection() as conn:
        stored = service.get(conn, incident_id=incident_id)
    assert stored is not None
    assert {e.text for e in stored.events if e.kind == "note"} == {"one", "two"}
    assert reporter(flows).posted == [e.id for e in stored.events]


async def test_a_change_marked_while_the_publisher_finishes_is_published(
    db: Database, flows: IncidentFlows
) -> None:
    """mark_dirty from inside a flush, and right after the publisher task ended."""
    intake, incident_id = await open_incident(db, flows)
    intake.close()
    rep = reporter(flows)
    update_header = rep.update_header

    async def update_then_change(incident: IncidentView, facts: HeaderFacts) -> None:
        await update_header(incident, facts)
        if incident.status == "investigating":
            await flows._db(
                service.set_status,
                incident_id=incident_id,
                status="identified",
                now=T0,
                actor="U1",
            )
            flows.mark_dirty(incident_id)

    rep.update_header = update_then_change  # type: ignore[method-assign]
    await flows.record(incident_id=incident_id, kind="note", actor="U1", text="hi")
    task = flows.publisher._tasks[incident_id]
    changed = False

    def change_when_done(_: asyncio.Task[None]) -> None:
        nonlocal changed
        changed = True
        flows.mark_dirty(incident_id)

    task.add_done_callback(change_when_done)
    await flows.idle()
    assert changed and rep.headers[incident_id] == "identified"
    assert not flows.publisher._tasks


class Watcher:
    """A domain that follows incidents: what it was told, and a due time for the header."""

    def __init__(self, *, fails: bool = False) -> None:
        self.told: list[str] = []
        self.fails = fails

    async def changed(self, incident: IncidentView) -> None:
        self.told.append(incident.status)
        if self.fails:
            raise RuntimeError("the subscribers are unreachable")

    def next_update(self, incident_id: int) -> datetime | None:
        return None if self.fails else T0 + timedelta(minutes=30)


async def test_watchers_hear_each_published_change_and_a_failing_one_stops_nothing(
    db: Database, flows: IncidentFlows
) -> None:
    failing, following = Watcher(fails=True), Watcher()
    flows.watch(failing)
    flows.watch(following)
    rep = reporter(flows)
    shown: list[datetime | None] = []
    post_header, update_header = rep.post_header, rep.update_header

    async def post(incident: IncidentView, facts: HeaderFacts) -> tuple[str, str]:
        shown.append(facts.next_update)
        return await post_header(incident, facts)

    async def update(incident: IncidentView, facts: HeaderFacts) -> None:
        shown.append(facts.next_update)
        await update_header(incident, facts)

    rep.post_header = post  # type: ignore[method-assign]
    rep.update_header = update  # type: ignore[method-assign]
    intake, incident_id = await open_incident(db, flows)
    intake.close()
    assert failing.told == following.told == ["investigating"]
    assert await flows.resolve(incident_id=incident_id, actor="U1", summary="fixed")
    await flows.idle()
    assert failing.told == following.told == ["investigating", "resolved"]
    assert rep.headers[incident_id] == "resolved"
    # The header shows the first watcher's due time while open, none once resolved.
    assert shown == [T0 + timedelta(minutes=30), None]
