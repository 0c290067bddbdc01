"""`SlackServer`: the running stand-in as Web API methods and user actions see it.

`LocalSlack` (slack.py) builds these parts and routes requests and user actions to the
modules that work on them; those modules name this protocol rather than the class, so they
do not import the module that imports them.
"""

from __future__ import annotations

from typing import Any, Protocol

from .delivery import Deliverer
from .faults import FaultInjector, RateLimiter
from .interactions import Interactions
from .socket_mode import SocketHub
from .workspace import Workspace


class SlackServer(Protocol):
    bot_token: str
    app_token: str
    workspace: Workspace
    interactions: Interactions
    socket: SocketHub
    delivery: Deliverer
    faults: FaultInjector
    limiter: RateLimiter
    calls: list[tuple[str, dict[str, Any]]]
    bot_scopes: set[str]

    @property
    def base_url(self) -> str: ...
