"""One headless Chromium per test session (Debian's, installed by scripts/ensure-chromium.sh),
one bot with a real model server per module, a fresh browser context per test.

Screenshots go to $SCREENSHOTS_DIR when it is set (`make screenshots` sets it to
docs/screenshots, the pictures the README shows), else into the test's tmp folder.
"""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import Browser, Page, async_playwright, expect

from tests.harness import ModelBotHarness, start_model_harness

CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1200, "height": 760}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run `bash scripts/ensure-chromium.sh` (make test does)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def bot(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ModelBotHarness]:
    harness = await start_model_harness(
        tmp_path_factory.mktemp("browser"), monitor_interval_seconds=0
    )
    harness.app.services.mode = "local"  # as `make run` wires it: the run-due-jobs hook is on
    try:
        yield harness
    finally:
        await harness.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, bot: ModelBotHarness) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(bot.slack.page_url)
    await expect(page.locator("#channels .channel").first).to_be_visible()
    try:
        yield page
    finally:
        await context.close()
    assert not errors, f"the page threw: {errors}"


class Screenshots:
    """Saves the page as a small PNG: a 256-colour palette keeps a screenshot near 50 KB."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def take(self, page: Page, name: str) -> Path:
        image = Image.open(io.BytesIO(await page.screenshot())).convert("RGB")
        path = self.folder / name
        image.quantize(colors=256).save(path, optimize=True)
        return path


@pytest.fixture
def shots(tmp_path: Path) -> Screenshots:
    folder = Path(os.environ.get("SCREENSHOTS_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return Screenshots(folder)
