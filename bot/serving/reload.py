"""Reload-now: `POST /admin/reload` makes a model server check the `production` alias at once.

The bot calls it (through the front of the local engine) right after it moves the alias, so the
new version answers within one model load instead of up to one poll interval later; the poll
stays as the backstop for alias changes made outside the bot.
"""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# One reload at a time per server: two concurrent clicks would load the same version twice.
_LOCK_KEY = "reload_lock"


async def reload_now(request: Request) -> Response:
    """Refresh the holder now; answers with the version served afterwards."""
    state = request.app.state
    lock = getattr(state, _LOCK_KEY, None)
    if lock is None:
        lock = asyncio.Lock()
        setattr(state, _LOCK_KEY, lock)
    holder = state.holder
    async with lock:
        await holder.refresh()
    served = holder.current
    body = {"version": served.version if served is not None else None}
    return Response(json.dumps(body), media_type="application/json")


def reload_route() -> Route:
    return Route("/admin/reload", reload_now, methods=["POST"])
