"""`python -m bot.localslack`: run the stand-in alone (with the shell) for poking at it by hand.

Point a bot at it with SLACK_API_URL=<printed api url>, SLACK_BOT_TOKEN=xoxb-local and either
SLACK_APP_TOKEN=xapp-local (Socket Mode) or `--request-url` + SLACK_SIGNING_SECRET=local-secret.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .shell import run_shell
from .slack import LocalSlack


async def _main(args: argparse.Namespace) -> None:
    slack = LocalSlack(request_url=args.request_url)
    await slack.start(host=args.host, port=args.port)
    print(f"Local Slack at {slack.api_url} (delivering over {slack.mode})")
    try:
        if await run_shell(slack, command=args.command) == "eof":
            await asyncio.Event().wait()  # no terminal: keep serving until Ctrl-C
    finally:
        await slack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument(
        "--request-url", default=None, help="the bot's /slack/events URL (HTTP mode)"
    )
    parser.add_argument("--command", default="/iris")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args))


if __name__ == "__main__":
    main()
