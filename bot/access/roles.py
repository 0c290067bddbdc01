"""Roles: viewer (everyone), oncall (ONCALL_ENGINEERS), admin (ONCALL_ADMINS).

An admin can do everything an oncall engineer can, and an oncall engineer everything a viewer can.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Role(enum.StrEnum):
    VIEWER = "viewer"
    ONCALL = "oncall"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.VIEWER: 0, Role.ONCALL: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class RolePolicy:
    """Maps Slack user ids to roles."""

    admins: frozenset[str]
    engineers: frozenset[str]

    @classmethod
    def from_ids(cls, *, admins: Iterable[str], engineers: Iterable[str]) -> RolePolicy:
        return cls(admins=frozenset(admins), engineers=frozenset(engineers))

    def role_of(self, user_id: str) -> Role:
        if user_id in self.admins:
            return Role.ADMIN
        if user_id in self.engineers:
            return Role.ONCALL
        return Role.VIEWER

    def allows(self, user_id: str, needed: Role) -> bool:
        return self.role_of(user_id).allows(needed)
