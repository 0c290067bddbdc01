"""Scenario files (`gamedays/*.md` with YAML front matter, or `*.yaml`): load and check them.

Each problem is a `ScenarioError` naming the file and the line, like a runbook's: the fault,
probe and clean-up kinds must be registered (bot/gameday/kinds.py) and their arguments must fit.
A scenario that `waits_for` a runbook not built yet may name a fault kind nobody registered; it
is listed, and refused when someone runs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.gameday.kinds import GamedayKinds, KindRegistry
from bot.runbook.loader import split_front_matter

Loc = tuple[str | int, ...]

TOP_KEYS = {
    "id": "str",
    "title": "str",
    "runbook": "str",
    "hypothesis": "str",
    "unattended": "bool",
    "waits_for": "str",
    "steady_state": "list",
    "fault": "dict",
    "respond": "list",
    "detect": "list",
    "detect_within_intervals": "float",
    "mitigate": "list",
    "mitigate_within_seconds": "float",
    "abort": "dict",
    "cleanup": "list",
    "revert_when": "str",
    "speed": "float",
    "detected_by": "str",
}
DETECTED_BY = ("monitors", "runbook", "updates")
REVERT_WHEN = ("detected", "cleanup")
REQUIRED = ("id", "title", "runbook", "hypothesis", "steady_state", "fault", "detect")
ABORT_KEYS = {"after_seconds", "when"}
RESPOND_KEYS = {"click", "text"}


class ScenarioError(Exception):
    """A scenario file is invalid; the message names the file and the line."""

    def __init__(self, message: str, *, path: Path | str, line: int | None = None) -> None:
        self.path, self.line, self.reason = Path(path), line, message
        where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class KindCall:
    """One use of a kind: its name and its arguments, as written in the file."""

    kind: str
    args: dict[str, Any]


@dataclass(frozen=True)
class RespondStep:
    """What the scripted responder does: click the button `click` on a message saying `text`."""

    click: str
    text: str = ""


@dataclass(frozen=True)
class Scenario:
    id: str
    title: str
    runbook: str
    hypothesis: str
    path: Path
    steady_state: list[KindCall]
    fault: KindCall
    detect: list[KindCall]
    respond: list[RespondStep] = field(default_factory=list)
    mitigate: list[KindCall] = field(default_factory=list)
    cleanup: list[KindCall] = field(default_factory=list)
    abort_when: list[KindCall] = field(default_factory=list)
    abort_after_seconds: float = 600.0
    detect_within_intervals: float = 2.0
    mitigate_within_seconds: float = 600.0
    unattended: bool = True
    waits_for: str | None = None
    # "detected": the fault stops once the bot noticed it (traffic that ends), and mitigation
    # is the system clearing by itself; "cleanup": the fault stays until the clean-up.
    revert_when: str = "cleanup"
    # The least --speed the bench runs it at (a SEV1's half-hourly updates want more than 60).
    speed: float = 1.0
    # What notices the fault: the monitors (their interval is compressed by --speed, and the
    # goal counts compressed intervals), or a runbook step or the update clock (the goal counts
    # the monitors' configured interval, since --speed does not shorten those paths the same way).
    detected_by: str = "monitors"
    body: str = ""

    def waiting_for(self, kinds: GamedayKinds) -> str | None:
        """The runbook this scenario waits for (its fault kind is not available yet), or None."""
        if self.fault.kind in kinds.faults:
            return None
        return self.waits_for or self.runbook


def _line_map(node: yaml.Node) -> dict[Loc, int]:
    lines: dict[Loc, int] = {(): node.start_mark.line}

    def walk(n: yaml.Node, path: Loc) -> None:
        if isinstance(n, yaml.MappingNode):
            for key_node, value_node in n.value:
                lines[(*path, str(key_node.value))] = key_node.start_mark.line
                walk(value_node, (*path, str(key_node.value)))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*path, i)] = item.start_mark.line
                walk(item, (*path, i))

    walk(node, ())
    return lines


class _Reader:
    """Turns the parsed mapping into a Scenario, raising at the first problem with its line."""

    def __init__(self, path: Path, data: dict[str, Any], lines: dict[Loc, int], offset: int):
        self.path, self.data, self.lines, self.offset = path, data, lines, offset

    def fail(self, loc: Loc, message: str) -> ScenarioError:
        while loc and loc not in self.lines:
            loc = loc[:-1]
        return ScenarioError(message, path=self.path, line=self.lines.get(loc, 0) + 1 + self.offset)

    def calls(
        self, registry: KindRegistry[Any], loc: Loc, items: Any, *, optional: bool
    ) -> list[KindCall]:
        if not isinstance(items, list):
            raise self.fail(loc, f"`{loc[-1]}` must be a list of {registry.sort}s")
        return [
            self.call(registry, (*loc, i), item, optional=optional) for i, item in enumerate(items)
        ]

    def call(self, registry: KindRegistry[Any], loc: Loc, item: Any, *, optional: bool) -> KindCall:
        if not isinstance(item, dict) or not isinstance(item.get("kind"), str):
            raise self.fail(loc, f"each {registry.sort} is a mapping with a `kind`")
        kind = item["kind"]
        args = {k: v for k, v in item.items() if k != "kind"}
        spec = registry.get(kind)
        if spec is None:
            if optional:
                return KindCall(kind, args)
            known = ", ".join(registry.names()) or "none"
            raise self.fail(
                (*loc, "kind"), f"unknown {registry.sort} kind `{kind}` (known: {known})"
            )
        for arg, problem in spec.check_args(args):
            raise self.fail((*loc, arg) if arg else loc, problem)
        return KindCall(kind, args)

    def scenario(self, kinds: GamedayKinds, body: str) -> Scenario:
        d = self.data
        for key, value in d.items():
            if key not in TOP_KEYS:
                raise self.fail((key,), f"unknown key `{key}` (keys: {', '.join(TOP_KEYS)})")
            want = TOP_KEYS[key]
            ok = isinstance(
                value,
                {"str": str, "bool": bool, "list": list, "dict": dict, "float": (int, float)}[want],
            )
            if not ok or (want == "float" and isinstance(value, bool)):
                raise self.fail((key,), f"`{key}` must be a {want}")
        for key in REQUIRED:
            if key not in d:
                raise self.fail((), f"missing `{key}`")
        waits = d.get("waits_for")
        if d.get("detected_by", "monitors") not in DETECTED_BY:
            raise self.fail(("detected_by",), "`detected_by` is monitors, runbook or updates")
        if d.get("revert_when", "cleanup") not in REVERT_WHEN:
            raise self.fail(("revert_when",), "`revert_when` is detected or cleanup")
        abort = d.get("abort", {})
        for key in abort:
            if key not in ABORT_KEYS:
                raise self.fail(
                    ("abort", key), f"unknown key `{key}` of abort (after_seconds, when)"
                )
        respond = []
        for i, step in enumerate(d.get("respond", [])):
            if (
                not isinstance(step, dict)
                or not isinstance(step.get("click"), str)
                or set(step) - RESPOND_KEYS
            ):
                raise self.fail(
                    ("respond", i),
                    "a respond step is `click: <button action>` and maybe `text: <words on the message>`",
                )
            respond.append(RespondStep(step["click"], str(step.get("text", ""))))
        return Scenario(
            id=d["id"],
            title=d["title"],
            runbook=d["runbook"],
            hypothesis=d["hypothesis"],
            path=self.path,
            steady_state=self.calls(
                kinds.probes, ("steady_state",), d["steady_state"], optional=False
            ),
            fault=self.call(kinds.faults, ("fault",), d["fault"], optional=waits is not None),
            detect=self.calls(kinds.probes, ("detect",), d["detect"], optional=False),
            respond=respond,
            mitigate=self.calls(kinds.probes, ("mitigate",), d.get("mitigate", []), optional=False),
            cleanup=self.calls(kinds.cleanups, ("cleanup",), d.get("cleanup", []), optional=False),
            abort_when=self.calls(
                kinds.probes, ("abort", "when"), abort.get("when", []), optional=False
            ),
            abort_after_seconds=float(abort.get("after_seconds", 600.0)),
            detect_within_intervals=float(d.get("detect_within_intervals", 2.0)),
            mitigate_within_seconds=float(d.get("mitigate_within_seconds", 600.0)),
            unattended=bool(d.get("unattended", True)),
            waits_for=waits,
            revert_when=d.get("revert_when", "cleanup"),
            speed=float(d.get("speed", 1.0)),
            detected_by=d.get("detected_by", "monitors"),
            body=body,
        )


def parse_scenario(text: str, *, path: Path, kinds: GamedayKinds) -> Scenario:
    """One scenario file's text, checked; ScenarioError naming `path` and a line otherwise."""
    if path.suffix == ".md":
        try:
            front, body, offset = split_front_matter(text)
        except ValueError as exc:
            raise ScenarioError(str(exc), path=path, line=1) from None
    else:
        front, body, offset = text, "", 0
    try:
        node = yaml.compose(front)
        data = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 + offset if mark is not None else None
        raise ScenarioError(
            f"not valid YAML: {getattr(exc, 'problem', exc)}", path=path, line=line
        ) from None
    if node is None or not isinstance(data, dict):
        raise ScenarioError("the scenario must be a YAML mapping", path=path, line=1 + offset)
    return _Reader(path, data, _line_map(node), offset).scenario(kinds, body)


def load_scenarios(folder: Path, *, kinds: GamedayKinds) -> dict[str, Scenario]:
    """Every scenario in `folder` by id; the first bad file stops start-up (ScenarioError)."""
    found: dict[str, Scenario] = {}
    if not folder.is_dir():
        return found
    for path in sorted(p for p in folder.iterdir() if p.suffix in (".md", ".yaml", ".yml")):
        if path.name.lower() == "readme.md":
            continue
        scenario = parse_scenario(path.read_text(encoding="utf-8"), path=path, kinds=kinds)
        if scenario.id in found:
            raise ScenarioError(
                f"scenario id `{scenario.id}` is also used by {found[scenario.id].path.name}",
                path=path,
                line=None,
            )
        found[scenario.id] = scenario
    return found
