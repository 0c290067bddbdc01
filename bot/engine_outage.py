"""What an outside engine's client raises when the engine does not answer.

The serving engines (bot/capacity) and the pipeline engine (bot/pipelines) each subclass it, so
a handler can tell which engine is down while both carry their outage the same way.
"""

from __future__ import annotations

from typing import Any


class EngineUnavailable(Exception):
    """An engine did not answer (down, unreachable, too slow).

    No words here: `kind` and `facts` say what happened and `templates/engine_unavailable.j2`
    words them; `str()` is a short technical line for logs.
    """

    def __init__(self, kind: str, **facts: Any) -> None:
        super().__init__(kind)
        self.kind = kind
        self.facts = facts

    def __str__(self) -> str:
        return " ".join([self.kind, *(f"{k}={v}" for k, v in self.facts.items())])

    def as_facts(self) -> dict[str, Any]:
        """What `engine_unavailable.j2` reads (`unavailable.kind`, `unavailable.facts`); JSON."""
        return {"kind": self.kind, "facts": dict(self.facts)}
