"""The Web API method table (`METHODS`, filled by the `@method` decorator) and argument parsing.

Slack accepts the same arguments as JSON or as form fields, where structured values
(`blocks`, `view`, `files`...) arrive JSON-encoded inside a string; `Params` hides that
difference so handlers read arguments one way.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from .api_errors import ApiError
from .server import SlackServer

TokenType = Literal["bot", "app"]
Handler = Callable[[SlackServer, "Params"], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    handler: Handler
    token: TokenType


METHODS: dict[str, MethodSpec] = {}


def method(name: str, *, token: TokenType = "bot") -> Callable[[Handler], Handler]:
    """Register a Web API method; `token` is the token type Slack requires for it."""

    def register(handler: Handler) -> Handler:
        METHODS[name] = MethodSpec(name, handler, token)
        return handler

    return register


class Params:
    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def __contains__(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def opt(
        self, name: str, *, required: bool = False, error: str = "invalid_arguments"
    ) -> str | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise ApiError(error)
            return None
        return str(value)

    def req(self, name: str, error: str = "invalid_arguments") -> str:
        value = self.opt(name, required=True, error=error)
        assert value is not None
        return value

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true", "yes") if value is not None else False

    def integer(self, name: str, default: int) -> int:
        value = self.values.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ApiError("invalid_arguments") from None

    def structured(self, name: str, *, error: str = "invalid_arguments") -> Any:
        """A structured argument, decoding it when it came as a JSON string (form posts)."""
        value = self.values.get(name)
        if isinstance(value, str):
            if value == "":
                return None
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ApiError(error) from None
        return value

    def csv(self, name: str) -> list[str]:
        """A comma-separated (or JSON array) list argument like `users=U1,U2`."""
        value = self.values.get(name)
        if value is None or value == "":
            return []
        if isinstance(value, list):
            return [str(v) for v in value]
        return [part.strip() for part in str(value).split(",") if part.strip()]
