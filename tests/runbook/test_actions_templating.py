from __future__ import annotations

import pytest
from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from bot.runbook import ActionCatalog, ActionContext, ActionResult
from bot.runbook.templating import evaluate, references, render_value


def test_registry_register_and_decorator() -> None:
    registry = ActionCatalog()

    @registry.action("model.preflight", params={"version"})
    async def preflight(ctx: ActionContext, version: int) -> ActionResult:
        """Check a version can go to production."""
        return ActionResult(outputs={"version": version})

    async def smoke(ctx: ActionContext, **args: object) -> ActionResult:
        return ActionResult()

    registry.register("serving.smoke_test", smoke, params={"version": False}, description="Smoke")
    assert "model.preflight" in registry
    spec = registry.get("model.preflight")
    assert spec.description == "Check a version can go to production."
    assert spec.required == {"version"}
    assert registry.get("serving.smoke_test").required == frozenset()
    assert registry.names() == ["flow.confirm", "model.preflight", "serving.smoke_test"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register("model.preflight", smoke)


def test_single_expressions_keep_their_type() -> None:
    context = {"version": 2, "steps": {"preflight": {"from_version": 1, "meta": {"a": [1]}}}}
    assert render_value("{{ version }}", context) == 2
    assert render_value(" {{ steps.preflight.meta }} ", context) == {"a": [1]}
    assert render_value("v{{ version }}", context) == "v2"
    assert render_value("{{ version }} to {{ steps.preflight.from_version }}", context) == "2 to 1"
    assert render_value({"a": ["{{ version }}", 3, True]}, context) == {"a": [2, 3, True]}
    assert render_value("plain", context) == "plain"


def test_strict_and_sandboxed() -> None:
    with pytest.raises(UndefinedError):
        render_value("{{ missing }}", {})
    with pytest.raises(UndefinedError):
        render_value("v{{ steps.x.y }}", {"steps": {"x": {}}})
    with pytest.raises(SecurityError):
        render_value("{{ version.__class__ }}", {"version": 2})
    with pytest.raises(SecurityError):  # templates cannot change what later steps see
        render_value("{{ steps.update({'x': 1}) }}", {"steps": {}})
    assert evaluate("version > 1", {"version": 2}) is True


def test_references() -> None:
    refs = references("{{ version }} {{ steps.preflight.a }} {{ steps['lock'].b }} {{ params.x }}")
    assert refs.names == {"version", "steps", "params"}
    assert refs.steps == {"preflight", "lock"}
    assert refs.params == {"x"}
    loop = references("{% for v in versions %}{{ v }}{% endfor %}")
    assert loop.names == {"versions"}
    assert references("steps.a.b is not none", expression=True).steps == {"a"}
