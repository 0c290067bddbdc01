"""Reading what people type: `<resource> [level] [for 4h] because <reason>`, and the refusals
(`AccessRefused(kind, **facts)`, rendered by templates/access_refused.j2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.access.policy import AccessPolicy, Resource, format_duration, parse_duration


class AccessRefused(Exception):
    """A request, approval or revocation that is refused; nothing changed."""

    template = "access_refused"

    def __init__(self, kind: str, **facts: Any) -> None:
        super().__init__(kind)
        self.kind = kind
        self.facts = facts


@dataclass(frozen=True)
class AskedFor:
    resource: Resource
    level: str
    duration: timedelta
    reason: str


def parse_request(
    words: list[str], policy: AccessPolicy, *, cap: timedelta | None = None
) -> AskedFor:
    """`registry:iris_classifier EDIT for 4h because deploy v3` -> what is asked, checked
    against the policy (and `cap`, the break-glass limit)."""
    if not words:
        raise AccessRefused("no_resource", known=sorted(policy.resources))
    name, rest = words[0], words[1:]
    resource = policy.resource(name)
    if resource is None:
        raise AccessRefused("unknown_resource", resource=name, known=sorted(policy.resources))
    reason_at = next((i for i, w in enumerate(rest) if w.lower() == "because"), None)
    reason = " ".join(rest[reason_at + 1 :]).strip() if reason_at is not None else ""
    head = rest[:reason_at] if reason_at is not None else rest
    level = resource.default_level
    duration: timedelta | None = None
    i = 0
    while i < len(head):
        word = head[i]
        if word.lower() == "for" and i + 1 < len(head):
            duration = parse_duration(head[i + 1])
            if duration is None:
                raise AccessRefused("bad_duration", text=head[i + 1])
            i += 2
            continue
        if word.upper() in resource.levels:
            level = word.upper()
        elif parse_duration(word) is not None:
            duration = parse_duration(word)
        else:
            raise AccessRefused(
                "unknown_level", resource=name, level=word, levels=list(resource.levels)
            )
        i += 1
    limit = resource.levels[level]
    if cap is not None:
        limit = min(limit, cap)
    duration = duration or limit
    if duration > limit:
        raise AccessRefused(
            "over_cap",
            resource=name,
            level=level,
            asked=format_duration(duration),
            cap=format_duration(limit),
        )
    if not reason:
        raise AccessRefused("no_reason", resource=name, level=level)
    return AskedFor(resource=resource, level=level, duration=duration, reason=reason)
