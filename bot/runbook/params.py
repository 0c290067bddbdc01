"""Typed runbook parameters: turn what a user typed in Slack into checked, normalised values.

Values usually arrive as strings (`version=v2`); already-typed values (from a button or a test) are
accepted too. Every error is a `RunbookInputError` whose message can be shown to the user as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bot.runbook.errors import RunbookInputError
from bot.runbook.schema import Parameter, ParamType, Runbook

# "2", "v2", "V2", "iris_classifier_v2": the registry name prefix is the action's business.
_VERSION = re.compile(r"^(?:[A-Za-z0-9_.\-]*_)?[vV]?(?P<n>\d+)$")
# Slack sends mentions as <@U123> or <@U123|name>; a bare id is accepted for tests and the CLI.
_USER = re.compile(r"^(?:<@(?P<m>[UW][A-Z0-9]+)(?:\|[^>]*)?>|(?P<id>[UW][A-Z0-9]+))$")
_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


def coerce_value(name: str, param: Parameter, raw: Any) -> Any:
    """One value converted to the parameter's type, or a RunbookInputError that says why not."""
    text = str(raw).strip() if not isinstance(raw, bool | int | float) else raw
    try:
        value = _convert(param.type, text)
    except (ValueError, TypeError):
        raise RunbookInputError(
            f"`{name}` must be {_describe(param.type)} (got {raw!r})", param=name
        ) from None
    if param.choices is not None and str(value) not in param.choices:
        choices = ", ".join(param.choices)
        raise RunbookInputError(f"`{name}` must be one of {choices} (got {raw!r})", param=name)
    return value


def _convert(kind: ParamType, raw: Any) -> Any:
    if kind is ParamType.STRING:
        return str(raw)
    if kind is ParamType.INT:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError(raw)
        return int(raw)
    if kind is ParamType.FLOAT:
        if isinstance(raw, bool):
            raise ValueError(raw)
        return float(raw)
    if kind is ParamType.BOOL:
        if isinstance(raw, bool):
            return raw
        lowered = str(raw).lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(raw)
    if kind is ParamType.VERSION:
        if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0:
            return raw
        match = _VERSION.match(str(raw))
        if match is None or int(match.group("n")) < 1:
            raise ValueError(raw)
        return int(match.group("n"))
    if kind is ParamType.USER:
        match = _USER.match(str(raw))
        if match is None:
            raise ValueError(raw)
        return match.group("m") or match.group("id")
    raise ValueError(kind)  # pragma: no cover - the enum is exhaustive


def _describe(kind: ParamType) -> str:
    return {
        ParamType.STRING: "text",
        ParamType.INT: "a whole number",
        ParamType.FLOAT: "a number",
        ParamType.BOOL: "true or false",
        ParamType.VERSION: "a model version like v2, 2 or iris_classifier_v2",
        ParamType.USER: "a user mention like @alice",
    }[kind]


def coerce_params(runbook: Runbook, raw: Mapping[str, Any]) -> dict[str, Any]:
    """All parameters of a run: unknown names, missing required ones and bad types are errors."""
    unknown = sorted(set(raw) - set(runbook.parameters))
    if unknown:
        known = ", ".join(runbook.parameters) or "none"
        raise RunbookInputError(
            f"unknown parameter `{unknown[0]}` for runbook {runbook.id} (parameters: {known})",
            param=unknown[0],
        )
    values: dict[str, Any] = {}
    for name, param in runbook.parameters.items():
        given = raw.get(name)
        if given is None or (isinstance(given, str) and given.strip() == ""):
            if param.required:
                hint = f": {param.description}" if param.description else ""
                raise RunbookInputError(f"missing required parameter `{name}`{hint}", param=name)
            values[name] = (
                None if param.default is None else coerce_value(name, param, param.default)
            )
            continue
        values[name] = coerce_value(name, param, given)
    return values
