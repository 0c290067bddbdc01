"""The one exception Web API handlers raise; the router turns it into Slack's error JSON."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """`{"ok": false, "error": <error>, **extra}` with HTTP `status` (Slack uses 200 for most)."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}
