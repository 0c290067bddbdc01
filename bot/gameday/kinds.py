"""Registries of named kinds: the faults a drill injects, the probes it checks, the clean-ups.

A scenario file names kinds and gives them arguments; the loader checks each name against its
registry and each argument against the kind's parameters, so a typo stops start-up with the file
and the line. A new drill is one scenario file plus, when it needs a new fault, one fault module
that registers its kind (bot/gameday/faults/).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from bot.gameday.context import DrillContext

PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


@dataclass(frozen=True)
class Param:
    type: str
    required: bool = False
    default: Any = None
    description: str = ""
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ProbeResult:
    """Whether a probe held, and what it saw: a `kind` and its `facts`.

    No words here: `templates/probe_result.j2` words a result (the drill's timeline and report);
    `str()` is a short technical line for logs and the command line.
    """

    ok: bool
    kind: str
    facts: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return " ".join([self.kind, *(f"{k}={v!r}" for k, v in self.facts.items())])

    def as_facts(self) -> dict[str, Any]:
        """The result as `probe_result.j2` reads it (`result.kind`, `.ok`, `.facts`); JSON."""
        return {"kind": self.kind, "ok": self.ok, "facts": dict(self.facts)}


class Probe(Protocol):
    async def check(self, ctx: DrillContext) -> ProbeResult: ...


class Fault(Protocol):
    async def inject(self, ctx: DrillContext) -> dict[str, Any]:
        """Cause the fault; what `revert` needs to undo it (stored, so a restart can undo it)."""
        ...

    async def revert(self, ctx: DrillContext, state: dict[str, Any]) -> None:
        """Undo the fault; safe to run twice and after a restart."""
        ...


class CleanUp(Protocol):
    async def run(self, ctx: DrillContext) -> str: ...


T = TypeVar("T")


@dataclass(frozen=True)
class KindSpec(Generic[T]):
    name: str
    description: str
    build: Callable[[dict[str, Any]], T]
    params: Mapping[str, Param] = field(default_factory=dict)

    def check_args(self, args: Mapping[str, Any]) -> list[tuple[str | None, str]]:
        """Problems with these arguments as (argument or None, message)."""
        problems: list[tuple[str | None, str]] = []
        for name in args:
            if name not in self.params:
                allowed = ", ".join(sorted(self.params)) or "none"
                problems.append((name, f"unknown argument `{name}` of {self.name} ({allowed})"))
        for name, param in self.params.items():
            if name not in args:
                if param.required:
                    problems.append((None, f"{self.name} needs the argument `{name}`"))
                continue
            value = args[name]
            types = PARAM_TYPES[param.type]
            if not isinstance(value, types) or (param.type != "bool" and isinstance(value, bool)):
                problems.append((name, f"`{name}` of {self.name} must be a {param.type}"))
            elif param.choices and value not in param.choices:
                allowed = ", ".join(map(str, param.choices))
                problems.append((name, f"`{name}` of {self.name} is one of {allowed}"))
        return problems

    def make(self, args: Mapping[str, Any]) -> T:
        values = {n: p.default for n, p in self.params.items() if not p.required}
        values.update(args)
        return self.build(values)


class KindRegistry(Generic[T]):
    """Named kinds of one sort (faults, probes or clean-ups)."""

    def __init__(self, sort: str) -> None:
        self.sort = sort
        self._kinds: dict[str, KindSpec[T]] = {}

    def add(self, spec: KindSpec[T]) -> None:
        if spec.name in self._kinds:
            raise ValueError(f"{self.sort} kind {spec.name} registered twice")
        self._kinds[spec.name] = spec

    def get(self, name: str) -> KindSpec[T] | None:
        return self._kinds.get(name)

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds


@dataclass
class GamedayKinds:
    """Every kind a scenario may name."""

    faults: KindRegistry[Fault] = field(default_factory=lambda: KindRegistry("fault"))
    probes: KindRegistry[Probe] = field(default_factory=lambda: KindRegistry("probe"))
    cleanups: KindRegistry[CleanUp] = field(default_factory=lambda: KindRegistry("clean-up"))
