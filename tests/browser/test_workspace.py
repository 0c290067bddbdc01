"""The web workspace in a real headless Chromium, against the real bot: what a person sees and
clicks is what Slack would show and send. Read each test as a session at the keyboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import Screenshots
from tests.harness import ONCALL, VIEWER, ModelBotHarness
from tests.incidents.helpers import settle
from tests.traffic import send, traffic

pytestmark = pytest.mark.asyncio(loop_scope="session")

SLOW = 30_000  # ms: a deploy with its smoke test, on a shared machine


async def act_as(page: Page, user: str) -> None:
    await page.select_option("#user", user)


async def open_channel(page: Page, name: str) -> None:
    await page.locator("#channels .channel", has_text=name).click()
    await expect(page.locator("#channel-title")).to_have_text(f"#{name}")


async def type_line(page: Page, text: str) -> None:
    await page.fill("#composer-input", text)
    await page.press("#composer-input", "Enter")


def in_channel(page: Page, text: str) -> Locator:
    return page.locator("#messages .msg", has_text=text)


async def test_deploy_confirm_checklist_done_and_viewer_denied(
    page: Page, bot: ModelBotHarness, shots: Screenshots
) -> None:
    await act_as(page, ONCALL)
    await open_channel(page, "oncall")
    await type_line(page, "/iris deploy v2")
    card = in_channel(page, "Promote v2 to production").filter(
        has=page.locator("button[data-action-id='runbook.confirm']")
    )
    await expect(card).to_be_visible(timeout=SLOW)
    ts = await card.get_attribute("data-ts")
    await expect(card.locator(".btn-primary")).to_have_text("Confirm")  # Block Kit styles
    await expect(card.locator(".btn-danger")).to_have_text("Cancel")
    await shots.take(page, "deploy-confirm.png")

    await card.locator("button[data-action-id='runbook.confirm']").click()
    checklist = page.locator(f"#messages .msg[data-ts='{ts}']")  # the same message, edited
    await expect(checklist).to_contain_text("Succeeded", timeout=SLOW)
    await expect(checklist.locator(".edited")).to_be_visible()
    await expect(checklist.locator(".btn")).to_have_count(0)
    assert bot.app.services.models.production_version() == 2  # type: ignore[union-attr]
    await shots.take(page, "deploy-done.png")

    # The inspector: what the page sent the bot (signed) and what the bot called back.
    await page.click("#toggle-inspector")
    deliveries = page.locator("#deliveries .call")
    await expect(deliveries.filter(has_text="click → 200")).to_have_count(1)
    await expect(page.locator("#api-calls .call", has_text="200 chat.update").first).to_be_visible()
    await deliveries.filter(has_text="click").locator("summary").click()
    await expect(deliveries.filter(has_text="click").locator("pre")).to_contain_text(
        '"action_id": "runbook.confirm"'
    )
    await shots.take(page, "inspector.png")
    await page.click("#toggle-inspector")

    # A viewer may not deploy: the denial is theirs alone.
    await act_as(page, VIEWER)
    await type_line(page, "/iris deploy v1")
    denial = in_channel(page, "needs the oncall role")
    await expect(denial).to_be_visible(timeout=SLOW)
    await expect(denial.locator(".only-you")).to_be_visible()
    await act_as(page, ONCALL)
    await expect(denial).to_have_count(0)  # someone else's ephemeral is not shown


async def test_drift_chart_appears_inline_after_the_table(
    page: Page, bot: ModelBotHarness, shots: Screenshots
) -> None:
    await send(bot, traffic(200, seed=1, shift_sd=2.0))
    await act_as(page, VIEWER)
    await open_channel(page, "oncall")
    # A workspace that never granted files:write refuses the upload: the text answer comes all
    # the same, without a chart.
    bot.slack.bot_scopes.discard("files:write")
    try:
        await type_line(page, "/iris drift")
        await expect(in_channel(page, "Input drift of iris_classifier")).to_be_visible(timeout=SLOW)
        # Refused with missing_scope, which is not retried: that upload is over.
        await bot.slack.wait_for_call("files.getUploadURLExternal", timeout=SLOW / 1000)
    finally:
        bot.slack.bot_scopes.add("files:write")
    assert [c.error for c in bot.slack.api_log if c.method.startswith("files.")] == [
        "missing_scope"
    ]
    assert not any(m.files for m in bot.slack.all_messages())

    await type_line(page, "/iris drift")
    await expect(in_channel(page, "Input drift of iris_classifier")).to_have_count(2)
    chart = page.locator("#messages img.file-image[alt^='Input drift']")
    await expect(chart).to_be_visible(timeout=SLOW)
    width = await chart.evaluate("img => img.complete ? img.naturalWidth : 0")
    assert width > 300, "the chart PNG did not load"
    await chart.scroll_into_view_if_needed()
    await shots.take(page, "drift-chart.png")
    # The text answer went out before the chart (a chart never holds the answer back).
    texts = [m for m in bot.slack.all_messages() if "Input drift of" in m.plain()]
    files = [m for m in bot.slack.all_messages() if m.files]
    assert texts and files and texts[0].ts < files[-1].ts


async def test_modal_submitted_empty_shows_its_error(
    page: Page, bot: ModelBotHarness, shots: Screenshots
) -> None:
    await act_as(page, ONCALL)
    await open_channel(page, "oncall")
    await type_line(page, "/iris incident declare sev1 Setosa predictions are all wrong")
    await expect(in_channel(page, "You are the commander")).to_be_visible(timeout=SLOW)
    await settle(bot)  # the incident's update timer is set once its header is published
    # Half an hour of silence later, "Run due jobs now" runs the update cadence's job at once.
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=31), tick=True):
        await page.fill("#jobs-minutes", "60")
        await page.click("#jobs button")
        await expect(page.locator("#status")).to_contain_text("Ran", timeout=SLOW)
        await expect(page.locator("#status")).to_contain_text("Stakeholder update of incident")
        await open_channel(page, "incidents")
        header = in_channel(page, "Setosa predictions are all wrong").last
        await header.locator(".thread-link").click(timeout=SLOW)
        reminder = page.locator("#thread-messages .msg").filter(
            has=page.locator("button[data-action-id='incident.reminder.update']")
        )
        await reminder.locator("button[data-action-id='incident.reminder.update']").click(
            timeout=SLOW
        )
        modal = page.locator("#modal .modal")
        await expect(modal).to_be_visible(timeout=SLOW)
        await expect(modal.locator(".modal-title")).to_contain_text("Update INC-")
        await modal.locator("textarea, input").first.fill("")
        await modal.locator(".modal-submit").click()
        await expect(modal.locator(".input-error")).to_contain_text("Write the update")
        await shots.take(page, "modal-error.png")
        assert bot.slack.views(ONCALL)  # still open, as Slack keeps it on response_action=errors
        await modal.locator(".modal-footer .btn:not(.modal-submit)").click()  # Cancel
        await expect(modal).to_be_hidden()
        assert not bot.slack.views(ONCALL)


async def test_markup_in_a_message_shows_as_text(page: Page, bot: ModelBotHarness) -> None:
    await act_as(page, ONCALL)
    await open_channel(page, "general")
    hostile = (
        "<script>window.__pwned = 1</script> <img src=x onerror=window.__pwned=2> "
        "<javascript:window.__pwned=3|click me> and <https://example.com/docs|the docs>"
    )
    await type_line(page, hostile)
    message = in_channel(page, "window.__pwned = 1")
    await expect(message).to_be_visible(timeout=SLOW)
    await expect(message).to_contain_text("<script>window.__pwned = 1</script>")
    await expect(message).to_contain_text("<img src=x onerror=window.__pwned=2>")
    assert await message.locator("script, img").count() == 0
    assert await message.locator("a").count() == 1  # only the https link is a link
    assert await message.locator("a").get_attribute("href") == "https://example.com/docs"
    await message.locator("text=click me").click()  # shown as text; clicking runs nothing
    assert await page.evaluate("window.__pwned") is None


async def test_block_kit_images_reactions_and_pins(page: Page, bot: ModelBotHarness) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Layout check"}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Bold* and _italic_ for <@U0VIEWER>"},
            "fields": [
                {"type": "mrkdwn", "text": "*Model*\niris"},
                {"type": "mrkdwn", "text": "*Version*\nv2"},
            ],
            "accessory": {
                "type": "button",
                "action_id": "layout.open",
                "text": {"type": "plain_text", "text": "Open"},
            },
        },
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "small print"}]},
        {"type": "image", "image_url": "https://example.com/chart.png", "alt_text": "a chart"},
        {"type": "image", "image_url": "javascript:alert(1)", "alt_text": "not an image"},
    ]
    posted = await bot.app.client.chat_postMessage(channel="general", text="layout", blocks=blocks)
    await act_as(page, ONCALL)
    await open_channel(page, "general")
    message = page.locator(f"#messages .msg[data-ts='{posted['ts']}']")
    await expect(message.locator(".blk-header")).to_have_text("Layout check")
    await expect(message.locator(".blk-fields .blk-field")).to_have_count(2)
    await expect(message.locator(".blk-accessory button")).to_have_text("Open")
    await expect(message.locator("strong", has_text="Bold")).to_be_visible()
    await expect(message.locator(".mention")).to_have_text("@carol")
    await expect(message.locator(".blk-divider")).to_have_count(1)
    await expect(message.locator(".blk-context")).to_have_text("small print")
    images = message.locator("img")
    await expect(images).to_have_count(1)
    assert await images.get_attribute("src") == "https://example.com/chart.png"
    await expect(message.locator(".unsafe-link")).to_have_text("not an image")

    await message.hover()
    await message.locator(".msg-tools button[title^='Pin']").click()
    await expect(message.locator(".pinned")).to_be_visible()
    await expect(message.locator(".reaction.mine")).to_contain_text("1")
    reacted = bot.slack.find(str(posted["ts"]))
    assert reacted is not None and reacted.reactions == {"pushpin": [ONCALL]}
