"""Command registry and roles: help, suggestions and permissions come from one declaration."""

from __future__ import annotations

import pytest

from bot.access.roles import Role, RolePolicy
from bot.commands.catalog import CommandCatalog
from bot.commands.context import Arg, Command


async def _noop(ctx):  # type: ignore[no-untyped-def]
    return None


def _registry() -> CommandCatalog:
    registry = CommandCatalog()
    registry.add(
        Command("deploy", _noop, role=Role.ONCALL, args=(Arg("version"),)),
        Command("runbook list", _noop),
        Command("runbook run", _noop, role=Role.ONCALL, args=(Arg("id"),), params=True),
        Command("status", _noop),
    )
    return registry


def test_longest_path_wins() -> None:
    command, rest = _registry().match(["runbook", "run", "deploy", "version=2"])
    assert command is not None and command.name == "runbook run"
    assert rest == ["deploy", "version=2"]


def test_match_is_case_insensitive_and_keeps_argument_case() -> None:
    command, rest = _registry().match(["Deploy", "V2"])
    assert command is not None and command.name == "deploy"
    assert rest == ["V2"]


def test_suggestions_for_typos() -> None:
    registry = _registry()
    assert registry.suggest(["deplyo"]) == "deploy"
    assert registry.suggest(["runbok", "lst"]) in {"runbook list", "runbook"}
    assert registry.suggest(["zzzzzz"]) is None


def test_registering_twice_is_an_error() -> None:
    registry = _registry()
    with pytest.raises(ValueError, match="twice"):
        registry.add(Command("status", _noop))


def test_roles_are_ordered() -> None:
    policy = RolePolicy.from_ids(admins={"UA"}, engineers={"UO"})
    assert policy.role_of("UA") is Role.ADMIN
    assert policy.role_of("UO") is Role.ONCALL
    assert policy.role_of("UX") is Role.VIEWER
    assert policy.allows("UA", Role.ONCALL)
    assert policy.allows("UO", Role.ONCALL)
    assert not policy.allows("UO", Role.ADMIN)
    assert not policy.allows("UX", Role.ONCALL)
