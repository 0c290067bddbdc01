"""Load runbooks from Markdown files with YAML front matter and check them against the action catalog.

Every problem is a `RunbookError` that names the file and the line, because the person fixing it
is reading the file, not a pydantic error dump. Lines come from PyYAML's node marks: the front
matter is composed into a node tree, each (key, index, ...) path is mapped to the line its key
starts on, and errors are reported at the deepest known prefix of their path.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

import yaml
from jinja2 import TemplateSyntaxError
from pydantic import ValidationError

from bot.runbook.actions import ActionCatalog
from bot.runbook.errors import RunbookError, RunbookInputError
from bot.runbook.params import coerce_value
from bot.runbook.schema import RESERVED_NAMES, OnFailure, Runbook, Step, is_identifier
from bot.runbook.templating import iter_strings, references

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

FENCE = "---"
# libyaml when PyYAML was built with it (the wheels are), else the same loader in Python.
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def split_front_matter(text: str) -> tuple[str, str, int]:
    """(front matter YAML, Markdown body, number of file lines before the YAML)."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    if not lines or lines[0].strip() != FENCE:
        raise ValueError("the file must start with a '---' line opening the YAML front matter")
    for i in range(1, len(lines)):
        if lines[i].strip() in (FENCE, "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :]).lstrip("\n"), 1
    raise ValueError("the YAML front matter is not closed by a '---' line")


def _line_map(node: yaml.Node) -> dict[Loc, int]:
    """Path -> 0-based line within the YAML text; raises ValueError on duplicate keys."""
    lines: dict[Loc, int] = {(): node.start_mark.line}

    def walk(n: yaml.Node, path: Loc) -> None:
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in n.value:
                key = str(key_node.value)
                line = key_node.start_mark.line
                # PyYAML keeps the last duplicate silently; a doubled `args:` is always a mistake.
                if key in seen:
                    raise _DuplicateKey(key, line, seen[key])
                seen[key] = line
                lines[(*path, key)] = line
                walk(value_node, (*path, key))
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                lines[(*path, i)] = item.start_mark.line
                walk(item, (*path, i))

    walk(node, ())
    return lines


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int) -> None:
        self.key, self.line, self.first = key, line, first


def parse_runbook(text: str, *, path: Path | str, actions: ActionCatalog) -> Runbook:
    """Parse and check one runbook file's text; raises RunbookError naming `path` and a line."""
    try:
        front, body, offset = split_front_matter(text)
    except ValueError as exc:
        raise RunbookError(str(exc), path=path, line=1) from None

    def file_line(yaml_line: int) -> int:
        return yaml_line + 1 + offset

    try:
        # One parse gives the node tree (for line numbers) and the data built from it; libyaml's
        # parser, when installed, is several times faster than the pure-Python one.
        loader = _YamlLoader(front)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = file_line(mark.line) if mark is not None else None
        raise RunbookError(f"invalid YAML: {exc.problem or exc}", path=path, line=line) from None
    if node is None or not isinstance(data, dict):
        raise RunbookError("the front matter must be a YAML mapping", path=path, line=1 + offset)
    try:
        lines = _line_map(node)
    except _DuplicateKey as dup:
        raise RunbookError(
            f"duplicate key '{dup.key}' (first on line {file_line(dup.first)})",
            path=path,
            line=file_line(dup.line),
        ) from None

    def line_of(loc: Iterable[str | int]) -> int:
        loc = tuple(loc)
        for end in range(len(loc), -1, -1):
            if loc[:end] in lines:
                return file_line(lines[loc[:end]])
        return 1 + offset  # pragma: no cover - () is always mapped

    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        where = _dotted(loc) or "front matter"
        raise RunbookError(f"{where}: {err['msg']}", path=path, line=line_of(loc)) from None

    problems = check_runbook(runbook, actions)
    if problems:
        problems.sort(key=lambda p: line_of(p[0]))
        first_path, message = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise RunbookError(message + more, path=path, line=line_of(first_path))
    return runbook.model_copy(update={"body": body, "source": str(path)})


def _dotted(loc: Loc) -> str:
    """('steps', 3, 'on_failure') -> 'steps[3].on_failure', the way authors think of it."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def check_runbook(runbook: Runbook, actions: ActionCatalog) -> list[Problem]:
    """Cross-field checks pydantic cannot do: ids, actions, arguments, template references."""
    problems: list[Problem] = []
    for name, param in runbook.parameters.items():
        where: Loc = ("parameters", name)
        if not is_identifier(name):
            problems.append((where, f"parameter name '{name}' must match [a-z][a-z0-9_]*"))
        elif name in RESERVED_NAMES:
            problems.append((where, f"parameter name '{name}' is reserved"))
        if param.default is not None:
            try:
                coerce_value(name, param, param.default)
            except RunbookInputError as exc:
                problems.append(((*where, "default"), f"bad default: {exc}"))

    seen: dict[str, Loc] = {}
    phases: list[tuple[str, list[Step]]] = [
        ("steps", runbook.steps),
        ("rollback", runbook.rollback),
    ]
    main_ids = [s.id for s in runbook.steps]
    for section, steps in phases:
        for i, step in enumerate(steps):
            where = (section, i)
            if step.id in seen:
                problems.append(((*where, "id"), f"duplicate step id '{step.id}'"))
            seen.setdefault(step.id, (*where, "id"))
            # Main steps see the steps before them; rollback steps also see every main step
            # (rolling back needs e.g. the version preflight recorded).
            before = main_ids[:i] if section == "steps" else main_ids + [s.id for s in steps[:i]]
            problems += _check_step(runbook, step, where, before, actions)
            if step.on_failure is OnFailure.ROLLBACK:
                if section == "rollback":
                    problems.append(
                        ((*where, "on_failure"), "a rollback step cannot itself roll back")
                    )
                elif not runbook.rollback:
                    problems.append(
                        ((*where, "on_failure"), "on_failure: rollback needs a `rollback:` section")
                    )
    return problems


def _check_step(
    runbook: Runbook, step: Step, where: Loc, before: list[str], actions: ActionCatalog
) -> list[Problem]:
    problems: list[Problem] = []
    if step.action not in actions:
        close = difflib.get_close_matches(step.action, actions.names(), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        problems.append(((*where, "action"), f"unknown action '{step.action}'{hint}"))
    else:
        spec = actions.get(step.action)
        for arg in step.args:
            if arg not in spec.params:
                accepted = ", ".join(sorted(spec.params)) or "no arguments"
                problems.append(
                    (
                        (*where, "args", arg),
                        f"unknown argument '{arg}' for action '{step.action}' (accepts: {accepted})",
                    )
                )
        for arg in sorted(spec.required - set(step.args)):
            problems.append(((*where, "args"), f"action '{step.action}' needs argument '{arg}'"))

    templates: list[tuple[Loc, str, bool]] = [
        (p, s, False) for p, s in iter_strings(step.args, (*where, "args"))
    ]
    if step.confirm_prompt is not None:
        templates.append(((*where, "confirm_prompt"), step.confirm_prompt, False))
    if step.when is not None:
        templates.append(((*where, "when"), step.when, True))
    for path, source, is_expression in templates:
        problems += _check_template(runbook, step, path, source, is_expression, before)
    return problems


def _check_template(
    runbook: Runbook, step: Step, path: Loc, source: str, is_expression: bool, before: list[str]
) -> list[Problem]:
    try:
        refs = references(source, expression=is_expression)
    except TemplateSyntaxError as exc:
        return [(path, f"template syntax error: {exc.message}")]
    problems: list[Problem] = []
    declared = set(runbook.parameters)
    for name in sorted(refs.names - declared - RESERVED_NAMES):
        problems.append((path, f"template uses undeclared parameter '{name}'"))
    for name in sorted(refs.params - declared):
        problems.append((path, f"template uses undeclared parameter 'params.{name}'"))
    all_ids = {s.id for s in runbook.all_steps()}
    for ref in sorted(refs.steps - set(before)):
        if ref == step.id:
            problems.append((path, f"step '{step.id}' cannot use its own outputs"))
        elif ref in all_ids:
            problems.append((path, f"template uses step '{ref}', which runs after this step"))
        else:
            problems.append((path, f"template uses unknown step '{ref}'"))
    return problems


def load_runbook(path: Path, *, actions: ActionCatalog) -> Runbook:
    """Read and check one runbook file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunbookError(f"cannot read: {exc}", path=path) from None
    return parse_runbook(text, path=path, actions=actions)


def load_runbooks(folder: Path, *, actions: ActionCatalog) -> dict[str, Runbook]:
    """Every `*.md` in `folder` (sorted), by runbook id; the first invalid file raises."""
    if not folder.is_dir():
        raise RunbookError("runbooks folder does not exist", path=folder)
    runbooks: dict[str, Runbook] = {}
    for path in sorted(folder.glob("*.md")):
        runbook = load_runbook(path, actions=actions)
        if runbook.id in runbooks:
            other = runbooks[runbook.id].source
            raise RunbookError(
                f"runbook id '{runbook.id}' is also used by {other}",
                path=path,
                line=_id_line(path),
            )
        runbooks[runbook.id] = runbook
    return runbooks


def _id_line(path: Path) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("id:"):
            return number
    return None


def runbooks_for_alert(runbooks: dict[str, Runbook], alert_name: str) -> list[Runbook]:
    """Runbooks whose `triggers` list the alert, in id order (for "suggested runbook" buttons)."""
    return [rb for _, rb in sorted(runbooks.items()) if alert_name in rb.triggers]
