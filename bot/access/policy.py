"""The access policy: which resources exist, their levels and longest grants, who approves, and
what each runbook needs. Read from a versioned TOML file (`access.toml`) at start-up; a mistake
is a `PolicyError` that names the file and the line, so a bad edit stops the bot, not a grant."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

PROVIDERS = ("mlflow", "postgres", "slack", "manual")
# Levels in the order they widen; a level not listed here ranks by its place in the file.
LEVEL_ORDER = ("VIEW", "MEMBER", "READ", "EDIT", "MANAGE")
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "h": 3600, "d": 86400}


class PolicyError(ValueError):
    """The policy file is wrong at `path`:`line`."""

    def __init__(self, path: Path, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path, self.line, self.problem = path, line, problem


def parse_duration(text: str) -> timedelta | None:
    """`30m`, `4h`, `7d` -> a timedelta; None for anything else."""
    match = _DURATION.match(str(text))
    if match is None or int(match.group(1)) == 0:
        return None
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])


def format_duration(value: timedelta) -> str:
    """The short form people type back: 90 minutes -> `1h30m`, 2 days -> `2d`."""
    seconds = int(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    return "".join(parts) or "0m"


@dataclass(frozen=True)
class Resource:
    """One thing access is granted to: `registry:iris_classifier`, `data:training`."""

    name: str
    provider: str
    target: tuple[str, ...]
    levels: dict[str, timedelta]
    approvers: frozenset[str] | None  # None: the bot's admins
    approvers_channel: str | None = None
    self_extend: bool = False

    def rank(self, level: str) -> int:
        return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)

    @property
    def default_level(self) -> str:
        return min(self.levels, key=self.rank)


@dataclass(frozen=True)
class Need:
    """A runbook needs `level` (or wider) on `resource`."""

    resource: str
    level: str


@dataclass(frozen=True)
class AccessPolicy:
    version: int
    path: Path
    resources: dict[str, Resource]
    needs: dict[str, tuple[Need, ...]] = field(default_factory=dict)
    pending: timedelta = timedelta(hours=24)
    break_glass: timedelta = timedelta(hours=1)

    def resource(self, name: str) -> Resource | None:
        return self.resources.get(name)

    def approvers_of(self, resource: Resource, admins: frozenset[str]) -> frozenset[str]:
        return resource.approvers if resource.approvers is not None else admins


def _line(text: str, *needles: str) -> int:
    """The line of the first needle found in order (a table header, then a key in it)."""
    start = 0
    line = 1
    for needle in needles:
        at = text.find(needle, start)
        if at == -1:
            break
        start = at
        line = text.count("\n", 0, at) + 1
    return line


def load_policy(path: Path) -> AccessPolicy:
    """Read and check the policy file; PolicyError names the file and line of any mistake."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(path, 0, f"cannot read the access policy: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = int(m.group(1)) if (m := re.search(r"line (\d+)", str(exc))) else 1
        raise PolicyError(path, line, f"not valid TOML: {exc}") from None
    return _checked(path, text, data)


def _checked(path: Path, text: str, data: dict[str, Any]) -> AccessPolicy:
    def fail(problem: str, *needles: str) -> PolicyError:
        return PolicyError(path, _line(text, *needles), problem)

    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise fail("`version` must be a whole number of 1 or more", "version")
    resources: dict[str, Resource] = {}
    tables = data.get("resources")
    if not isinstance(tables, dict) or not tables:
        raise fail('no [resources."..."] tables: name at least one resource', "[resources")
    for name, table in tables.items():
        header = f'[resources."{name}"]'
        if not re.fullmatch(r"[a-z]+:[\w.-]+", name):
            raise fail(f"resource name {name!r} must look like `kind:name`", header)
        if not isinstance(table, dict):
            raise fail(f"resource {name!r} must be a table", header)
        provider = table.get("provider")
        if provider not in PROVIDERS:
            raise fail(
                f"{name}: provider must be one of {', '.join(PROVIDERS)}", header, "provider"
            )
        target = table.get("target")
        targets = (target,) if isinstance(target, str) else tuple(target or ())
        if not targets or not all(isinstance(t, str) and t for t in targets):
            raise fail(f"{name}: `target` must be a name or a list of names", header, "target")
        if provider == "postgres" and not all(re.fullmatch(r"\w+\.\w+", t) for t in targets):
            raise fail(f"{name}: postgres targets are `schema.table`", header, "target")
        raw_levels = table.get("levels")
        if not isinstance(raw_levels, dict) or not raw_levels:
            raise fail(f"{name}: `levels` maps each level to its longest grant", header, "levels")
        levels: dict[str, timedelta] = {}
        for level, cap in raw_levels.items():
            duration = parse_duration(str(cap))
            if not re.fullmatch(r"[A-Z_]+", level) or duration is None:
                raise fail(
                    f"{name}: level {level!r} = {cap!r}: levels are UPPERCASE, caps like 8h or 7d",
                    header,
                    level,
                )
            levels[level] = duration
        approvers = table.get("approvers", "admins")
        if approvers == "admins":
            approver_ids = None
        elif (
            isinstance(approvers, list) and approvers and all(isinstance(a, str) for a in approvers)
        ):
            approver_ids = frozenset(approvers)
        else:
            raise fail(f'{name}: approvers is "admins" or a list of user ids', header, "approvers")
        channel = table.get("approvers_channel")
        if channel is not None and not isinstance(channel, str):
            raise fail(f"{name}: approvers_channel is a channel name", header, "approvers_channel")
        resources[name] = Resource(
            name=name,
            provider=provider,
            target=targets,
            levels=levels,
            approvers=approver_ids,
            approvers_channel=channel,
            self_extend=bool(table.get("self_extend", False)),
        )
    needs: dict[str, tuple[Need, ...]] = {}
    for runbook, items in (data.get("needs") or {}).items():
        parsed = []
        for item in items if isinstance(items, list) else [None]:
            resource, _, level = str(item).rpartition(":")
            if resource not in resources or level not in resources[resource].levels:
                raise fail(
                    f"needs.{runbook}: {item!r} is not `<resource>:<level>` of a resource above",
                    "[needs]",
                    runbook,
                )
            parsed.append(Need(resource, level))
        needs[runbook] = tuple(parsed)
    hours = {}
    for key, default in (("pending_hours", 24), ("break_glass_hours", 1)):
        value = data.get(key, default)
        if not isinstance(value, int | float) or value <= 0:
            raise fail(f"`{key}` must be a positive number of hours", key)
        hours[key] = timedelta(hours=value)
    return AccessPolicy(
        version=version,
        path=path,
        resources=resources,
        needs=needs,
        pending=hours["pending_hours"],
        break_glass=hours["break_glass_hours"],
    )
