"""A bare Bolt `AsyncApp` that only acks `/iris`: the baseline for bench/ack_latency.py.

Served the way the bot serves itself (Starlette + Bolt's Starlette adapter, uvicorn with httptools
on uvloop, no access log, no lifespan), so the only difference from the bot is the listener's work.

    python bench/ack/bare_bolt.py --port 3201 [--process-before-response]

Environment: SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL (the stand-in; only auth.test).
"""

from __future__ import annotations

import argparse
import os

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def build(*, process_before_response: bool) -> Starlette:
    app = AsyncApp(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        # The token goes on the client (as in the bot): Bolt takes `client.token` and would warn
        # about, then ignore, a separate `token=` argument.
        client=AsyncWebClient(
            token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
        ),
        process_before_response=process_before_response,
    )

    @app.command("/iris")
    async def on_command(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "process_before_response": process_before_response})

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--process-before-response", action="store_true")
    args = parser.parse_args()
    uvicorn.run(
        build(process_before_response=args.process_before_response),
        host=args.host,
        port=args.port,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
