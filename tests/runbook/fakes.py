"""Fake actions with the names the bundled runbooks use, plus a recording reporter.

Each fake records its calls; a test makes one fail (`fail`), raise (`crash`) or block on an event
(`block`) by name, without sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.runbook import ActionCatalog, ActionContext, ActionFailed, ActionResult, RunState

# name -> (params: name -> required, outputs the fake returns)
DOMAIN_ACTIONS: dict[str, tuple[dict[str, bool], dict[str, Any]]] = {
    "model.preflight": (
        {"version": True, "require_gate": False},
        {"from_version": 1, "to_version": 2},
    ),
    "model.resolve_rollback_target": ({"version": False}, {"from_version": 2, "to_version": 1}),
    "model.set_production": ({"version": True, "policy": False}, {}),
    "deploy.acquire_lock": ({}, {"lock": "held"}),
    "deploy.release_lock": ({}, {}),
    "serving.wait_for_version": ({"version": True}, {}),
    "serving.smoke_test": ({"version": False}, {"latency_ms": 12.5}),
    "deploy.record": (
        {"from_version": False, "to_version": False, "outcome": True, "reason": False},
        {},
    ),
    "capacity.plan": ({"replicas": True}, {"before": {"mode": "manual", "replicas": 1}}),
    "capacity.apply": ({"replicas": True}, {"wanted": 2}),
    "capacity.wait_healthy": ({}, {"running": 2}),
    "capacity.restore": ({}, {}),
}


@dataclass
class Call:
    action: str
    args: dict[str, Any]
    run_id: int
    confirmed_by: str | None


@dataclass
class FakeActions:
    """A registry whose actions record calls and misbehave on request."""

    registry: ActionCatalog = field(default_factory=ActionCatalog)
    calls: list[Call] = field(default_factory=list)
    fail: dict[str, str] = field(default_factory=dict)
    crash: set[str] = field(default_factory=set)
    not_ok: set[str] = field(default_factory=set)
    # action -> (started, release): the action sets `started` and waits for `release`.
    block: dict[str, tuple[asyncio.Event, asyncio.Event]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, name: str, params: Mapping[str, bool], outputs: dict[str, Any]) -> None:
        self.outputs[name] = outputs

        async def fn(ctx: ActionContext, **args: Any) -> ActionResult:
            self.calls.append(Call(name, args, ctx.run_id, ctx.confirmed_by))
            if name in self.block:
                started, release = self.block[name]
                started.set()
                await release.wait()
            if name in self.crash:
                raise RuntimeError("database password is hunter2")  # must not reach the user
            if name in self.fail:
                raise ActionFailed(self.fail[name])
            if name in self.not_ok:
                return ActionResult(ok=False, summary=f"{name} said no")
            return ActionResult(summary=f"{name} ok", outputs=dict(self.outputs[name]))

        self.registry.register(name, fn, params=dict(params), description=f"fake {name}")

    def names(self) -> list[str]:
        return [c.action for c in self.calls]

    def count(self, name: str) -> int:
        return sum(1 for c in self.calls if c.action == name)


def fake_actions() -> FakeActions:
    fakes = FakeActions()
    for name, (params, outputs) in DOMAIN_ACTIONS.items():
        fakes.add(name, params, outputs)
    fakes.add("test.echo", {"value": False, "extra": False}, {})
    return fakes


class RecordingReporter:
    """Keeps every state it is given; can fail on demand; posts a message on first update."""

    def __init__(self, *, fail: bool = False) -> None:
        self.states: list[RunState] = []
        self.fail = fail

    async def update(self, run: RunState) -> str | None:
        self.states.append(run)
        if self.fail:
            raise RuntimeError("slack is down")
        return None if run.message_ts else f"ts-{run.id}"
