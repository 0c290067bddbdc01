"""The shell on a real terminal (a pseudo-terminal): readline editing and history, bot output
printed above the prompt with what the user was typing redrawn, logs in a file, not on screen."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

SESSION = r"""
import asyncio, logging, sys
from pathlib import Path
from slack_sdk.web.async_client import AsyncWebClient
from bot.localslack import LocalSlack
from bot.localslack.shell import run_shell
from bot.localslack.shell_io import log_to_file

async def main() -> None:
    logging.basicConfig(level=logging.INFO)
    data = Path(sys.argv[1])
    log_to_file(data)
    slack = LocalSlack()
    await slack.start()
    client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)

    async def bot() -> None:  # answers once the user said "start", while they type on
        while not any(m.text == "start" for m in slack.workspace.all_messages()):
            await asyncio.sleep(0.05)
        logging.getLogger("apscheduler").info("Running job every minute")
        await asyncio.sleep(1.0)
        await client.chat_postMessage(channel="oncall", text="deploy finished")

    asyncio.ensure_future(bot())
    await run_shell(slack, data_dir=data)
    await slack.stop()

asyncio.run(main())
"""


class Terminal:
    def __init__(self, data: Path) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SESSION, str(data)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            env={**os.environ, "TERM": "xterm"},
        )
        os.close(slave)
        self.screen = ""

    def read_until(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared:\n{self.screen}")
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.screen += os.read(self.master, 65536).decode(errors="replace")
                except OSError:
                    break
        return self.screen

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        os.close(self.master)


def test_the_shell_on_a_terminal(tmp_path: Path) -> None:
    term = Terminal(tmp_path)
    try:
        term.read_until("bob #oncall> ")
        term.type("start\n")
        term.read_until("you m1: start")
        term.type("half-typ")  # the bot answers while this is on the prompt line
        screen = term.read_until("deploy finished")
        screen = term.read_until("bob #oncall> half-typ", timeout=5)
        after = screen.split("deploy finished", 1)[1]
        assert "\r\x1b[K" in screen.split("deploy finished", 1)[0][-200:]  # line cleared first
        assert "bob #oncall> half-typ" in after  # the prompt and the typing, redrawn below
        term.type("\x15")  # Ctrl-U clears the line (readline editing)
        term.type("\x1b[A\n")  # arrow up recalls "start" from the history
        term.read_until("you m3: start")
        term.type("quit\n")
        term.process.wait(timeout=10)
        assert "Running job" not in term.screen  # logs are in the file, not on screen
        assert "Running job every minute" in (tmp_path / "oncall-bot.log").read_text()
        assert "start" in (tmp_path / "shell_history").read_text()
    finally:
        term.close()
