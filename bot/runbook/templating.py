"""Step argument templates: rendering (engine) and static reference analysis (loader).

Templates are written by runbook authors, not by chat users, but they still run in a sandboxed,
StrictUndefined environment: a typo must fail loudly rather than deploy version "".

A value that is exactly one expression (`"{{ steps.preflight.from_version }}"`) keeps its native
type (an int stays an int); anything else (`"v{{ version }}"`) renders to a string.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.meta import find_undeclared_variables
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

# Immutable: a template cannot change `steps` or `params` for the steps after it.
ENV = ImmutableSandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)


def _single_expression(source: str) -> str | None:
    match = _SINGLE_EXPRESSION.match(source)
    if match is None:
        return None
    expr = match.group("expr")
    # "{{ a }} and {{ b }}" also matches the regex; it is a template, not one expression.
    if "{{" in expr or "}}" in expr:
        return None
    return expr


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate a bare Jinja expression (`when:`), raising on undefined names."""
    result = ENV.compile_expression(expression, undefined_to_none=False)(**context)
    if isinstance(result, Undefined):
        result._fail_with_undefined_error()
    return result


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render a step argument: strings as templates, lists and dicts recursively, others as-is."""
    if isinstance(value, str):
        if not is_template(value):
            return value
        expr = _single_expression(value)
        if expr is not None:
            return evaluate(expr, context)
        return ENV.from_string(value).render(**context)
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    return value


@dataclass
class References:
    """Names a template reads: top-level variables, `steps.<id>` and `params.<name>`."""

    names: set[str] = field(default_factory=set)
    steps: set[str] = field(default_factory=set)
    params: set[str] = field(default_factory=set)


def references(source: str, *, expression: bool = False) -> References:
    """Static analysis of a template (or a bare expression); raises TemplateSyntaxError."""
    text = "{{ " + source + " }}" if expression else source
    ast = ENV.parse(text)
    refs = References(names=set(find_undeclared_variables(ast)))
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        base = node.node
        if not isinstance(base, nodes.Name):
            continue
        if isinstance(node, nodes.Getattr):
            key: object = node.attr
        elif isinstance(node.arg, nodes.Const):
            key = node.arg.value
        else:
            continue  # steps[some_var]: dynamic, checked at run time by StrictUndefined
        if base.name == "steps" and isinstance(key, str):
            refs.steps.add(key)
        elif base.name == "params" and isinstance(key, str):
            refs.params.add(key)
    return refs


def iter_strings(
    value: Any, path: tuple[str | int, ...]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Every string inside a nested args value, with its path (for line numbers)."""
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in iter_strings(v, (*path, i))]
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in iter_strings(v, (*path, k))]
    return []
