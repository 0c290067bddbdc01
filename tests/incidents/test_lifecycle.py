"""Runbook 8, the lifecycle: declare an incident, move it along, keep its header and timeline
current. Read each test as a chat transcript in #incidents."""

from __future__ import annotations

from tests.harness import ADMIN, ONCALL, VIEWER, BotHarness
from tests.incidents.helpers import settle


async def declare(bot: BotHarness, text: str = "sev2 Setosa predictions are all wrong") -> str:
    """Declare an incident; returns its header's ts."""
    await bot.command(f"incident declare {text}", user=ONCALL)
    await bot.slack.wait_for_text("You are the commander", user=ONCALL)
    await settle(bot)
    header = bot.slack.messages("incidents")[-1]
    return header.ts


def header_text(bot: BotHarness, ts: str) -> str:
    message = bot.slack.find(ts)
    assert message is not None
    return message.plain()


async def test_declare_then_every_change_edits_the_header_and_the_timeline(
    bot: BotHarness,
) -> None:
    ts = await declare(bot)
    text = header_text(bot, ts)
    for expected in (
        "INC-1 · Setosa predictions are all wrong",
        "SEV2",
        "Investigating",
        f"commander: @{ONCALL}",
        "Impact",
        "not stated yet",
        "next update: 20",  # SEV2: an hour from now (was "no scheduled updates")
        "started",
    ):
        assert expected in text, (expected, text)
    await bot.slack.wait_for_text("INC-1 declared", thread_ts=ts)

    # Slash commands carry no thread: in the incident channel, with one incident open, it is
    # that one; elsewhere the incident is named.
    await bot.command("incident status identified bad feature join", channel="incidents")
    await bot.slack.wait_for_text("status is now *identified*", user=ONCALL)
    await bot.command("incident sev INC-1 sev1")
    await bot.command("incident commander INC-1 <@U0ADMIN>")
    await bot.command("incident impact INC-1 about 30% of predictions are wrong")
    await bot.command("incident note INC-1 feature pipeline restarted at 14:05")
    await bot.command("incident update INC-1 we found the cause, a fix is rolling out")
    await bot.slack.wait_for_text("posted in its thread", user=ONCALL)
    await settle(bot)

    header = bot.slack.find(ts)
    assert header is not None and header.edited
    text = header.plain()
    for expected in (
        "SEV1",
        "Identified",
        f"commander: @{ADMIN}",
        "about 30% of predictions are wrong",
    ):
        assert expected in text, (expected, text)
    assert len(bot.slack.messages("incidents")) == 1  # edited in place, never reposted

    thread = "\n".join(m.plain() for m in bot.slack.thread("incidents", ts))
    for expected in (
        "moved the status to *Identified*: bad feature join",
        "changed the severity SEV2 → *SEV1*",
        f"made @{ADMIN} the incident commander",
        "stated the impact: about 30% of predictions are wrong",
        "Note from",
        "feature pipeline restarted at 14:05",
        "Update on INC-1",
        "we found the cause, a fix is rolling out",
    ):
        assert expected in thread, (expected, thread)

    await bot.command("incident show", user=VIEWER)
    shown = await bot.slack.wait_for_text("Timeline", user=VIEWER)
    plain = shown.plain()
    for expected in ("status", "severity", "impact", "update", "note", "Participants"):
        assert expected in plain, (expected, plain)

    await bot.command("incident status INC-1 monitoring", channel="incidents")
    await settle(bot)
    assert "Monitoring" in header_text(bot, ts)


async def test_a_pushpin_puts_a_thread_message_on_the_timeline(bot: BotHarness) -> None:
    ts = await declare(bot, "sev3 Latency spikes")
    await bot.slack.send_message(
        ADMIN, "incidents", "p99 went from 80 ms to 2 s at 13:58", thread_ts=ts
    )
    said = await bot.slack.wait_for_text("p99 went from 80 ms", thread_ts=ts)
    await bot.slack.add_reaction(ONCALL, "incidents", said.ts, "pushpin")
    await bot.slack.add_reaction(ADMIN, "incidents", said.ts, "pushpin")  # pinned once only
    await bot.slack.add_reaction(ONCALL, "incidents", ts, "eyes")  # not a pin: ignored
    await bot.app.services.tasks.drain()
    await settle(bot)
    await bot.slack.wait_for_text("pinned to the timeline", thread_ts=ts)

    flows = bot.app.services.incidents
    assert flows is not None
    incident = await flows.get(number=1)
    assert incident is not None
    pins = [e for e in incident.events if e.kind == "pinned"]
    assert len(pins) == 1 and "p99 went from 80 ms to 2 s" in pins[0].text
    assert pins[0].actor == ONCALL and pins[0].data["author"] == ADMIN


async def test_usage_errors_and_roles(bot: BotHarness) -> None:
    await bot.command("incident declare", user=ONCALL)
    await bot.slack.wait_for_text("Give the incident a title", user=ONCALL)
    await bot.command("incident declare sev2 Broken", user=VIEWER)
    await bot.slack.wait_for_text("needs the *oncall* role", user=VIEWER)

    await declare(bot, "sev4 Slow retrain")
    await declare(bot, "Dashboards empty")  # default severity SEV3
    # Two open: the incident must be named, even in the incident channel.
    await bot.command("incident sev 2", channel="incidents")
    await bot.slack.wait_for_text("Which incident?", user=ONCALL)
    await bot.command("incident sev INC-1 7")
    await bot.slack.wait_for_text("from 1 (worst) to 4", user=ONCALL)
    await bot.command("incident status INC-1 exploded")
    await bot.slack.wait_for_text("`exploded` is not a status", user=ONCALL)
    await bot.command("incident commander INC-1 somebody")
    await bot.slack.wait_for_text("Name one person", user=ONCALL)
    await bot.command("incident impact INC-9 everything")
    await bot.slack.wait_for_text("There is no INC-9", user=ONCALL)
    await bot.command("incident note INC-2")
    await bot.slack.wait_for_text("Write the note", user=ONCALL)
    await bot.command("postmortem")
    await bot.slack.wait_for_text("Say `INC-n`", user=ONCALL)

    for change in (
        "incident status INC-1 identified",
        "incident sev INC-1 1",
        "incident commander INC-1 me",
        "incident impact INC-1 x",
        "incident update INC-1 x",
        "incident note INC-1 x",
        "postmortem INC-1",
    ):
        since = bot.slack.seq
        await bot.command(change, user=VIEWER)
        await bot.slack.wait_for_text("needs the *oncall* role", user=VIEWER, since=since)

    await bot.command("incident list", user=VIEWER)
    listing = await bot.slack.wait_for_text("Incidents", user=VIEWER)
    assert "INC-1* SEV4" in listing.plain() and "INC-2* SEV3" in listing.plain()
