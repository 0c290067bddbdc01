"""The action catalog: names that runbook steps refer to, mapped to async functions.

Domain packages (model registry, serving, deploy lock) register their actions at start-up; the
loader checks every step against the catalog, so a typo in a runbook stops start-up instead of
failing at 3am. Actions get an `ActionContext` and keyword arguments and return an `ActionResult`.

Actions must be idempotent: after a crash the engine re-runs the step that was running (see
`RunbookEngine.resume_incomplete`). "Set production to v2" is fine; "increment a counter" is not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.runbook.schema import CONFIRM_ACTION

# The engine's own words about steps (skipped, timed out, confirmed...), by `kind`.
STEP_WORDS = "runbook_step"


class ActionFailed(Exception):
    """Raised by an action to fail its step with a line meant for the humans in the channel.

    The line's words come from a template: `template` names a file in `templates/` and `facts`
    are its variables (the engine renders them when the step ends, as `DeployRefused` does for a
    command). `message` carries words that already exist: a template rendered by the action, or
    a domain error's own message.
    """

    def __init__(
        self,
        message: str = "",
        *,
        template: str | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> None:
        self.message = message
        self.template = template
        self.facts: dict[str, Any] = dict(facts or {})
        super().__init__(message or f"{template}: {self.facts.get('kind', '')}")


@dataclass(frozen=True)
class ActionResult:
    """What an action reports: ok or not, one line for the checklist, outputs for later steps.

    The line is `template` rendered with `facts` when a template is named, else `summary`.
    """

    ok: bool = True
    summary: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)
    template: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionContext:
    """What the engine knows of the step being run. The domain services an action uses are
    its own typed dependencies, given to its domain's `register_*_actions` (bot/app.py)."""

    run_id: int
    runbook_id: str
    step_id: str
    actor: str
    params: Mapping[str, Any]
    # Outputs of the steps that already succeeded, by step id.
    outputs: Mapping[str, Mapping[str, Any]]
    confirmed_by: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    incident_id: int | None = None


class ActionFn(Protocol):
    def __call__(self, ctx: ActionContext, /, **args: Any) -> Awaitable[ActionResult]: ...


@dataclass(frozen=True)
class ActionSpec:
    """A registered action: its function, its arguments (name -> required) and a description."""

    name: str
    fn: Callable[..., Awaitable[ActionResult]]
    params: Mapping[str, bool]
    description: str = ""

    @property
    def required(self) -> frozenset[str]:
        return frozenset(name for name, required in self.params.items() if required)


class ActionCatalog:
    """Action name -> ActionSpec. Comes with the built-in `flow.confirm`."""

    def __init__(self) -> None:
        self._actions: dict[str, ActionSpec] = {}
        self.register(
            CONFIRM_ACTION,
            _confirm,
            params={"message": False},
            description="Waits for a human to click Confirm, then passes.",
        )

    def register(
        self,
        name: str,
        fn: Callable[..., Awaitable[ActionResult]],
        *,
        params: Iterable[str] | Mapping[str, bool] = (),
        description: str = "",
    ) -> ActionSpec:
        """Register `fn` under `name`; params is a set (all required) or a name -> required map."""
        if name in self._actions:
            raise ValueError(f"action {name!r} is already registered")
        if isinstance(params, Mapping):
            spec_params = {str(k): bool(v) for k, v in params.items()}
        else:
            spec_params = dict.fromkeys(params, True)
        spec = ActionSpec(name=name, fn=fn, params=spec_params, description=description)
        self._actions[name] = spec
        return spec

    def action(
        self,
        name: str,
        *,
        params: Iterable[str] | Mapping[str, bool] = (),
        description: str = "",
    ) -> Callable[[Callable[..., Awaitable[ActionResult]]], Callable[..., Awaitable[ActionResult]]]:
        """Decorator form of `register`; the description defaults to the docstring's first line."""

        def decorate(
            fn: Callable[..., Awaitable[ActionResult]],
        ) -> Callable[..., Awaitable[ActionResult]]:
            doc = (fn.__doc__ or "").strip().splitlines()
            self.register(
                name, fn, params=params, description=description or (doc[0] if doc else "")
            )
            return fn

        return decorate

    def get(self, name: str) -> ActionSpec:
        """The spec for `name` (KeyError if unknown)."""
        return self._actions[name]

    def __contains__(self, name: object) -> bool:
        return name in self._actions

    def names(self) -> list[str]:
        """Registered action names, sorted (for help text and error messages)."""
        return sorted(self._actions)


async def _confirm(ctx: ActionContext, message: str = "") -> ActionResult:
    # The engine only calls this after someone clicked Confirm; the pause is the whole point.
    # Who confirmed is on the step row (`confirmed_by`); the checklist renders it as a mention.
    who = ctx.confirmed_by or ctx.actor
    if message:
        return ActionResult(summary=message, outputs={"confirmed_by": who})
    return ActionResult(
        template=STEP_WORDS, facts={"kind": "confirmed"}, outputs={"confirmed_by": who}
    )
