"""Bounded request bodies for every HTTP route the bot and the model server serve.

A Content-Length over the limit is refused before reading; a chunked body (no Content-Length)
is read as it streams and cut off as soon as it passes the limit, so no client can make a route
hold more than `limit` bytes in memory.
"""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The request body is over `limit` bytes (or says so in its Content-Length)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


async def read_body(request: Request, *, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it is known to be over `limit` bytes."""
    length = request.headers.get("content-length")
    if length is not None and (not length.strip().isdigit() or int(length) > limit):
        raise BodyTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(limit)
    return bytes(body)
