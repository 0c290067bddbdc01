from __future__ import annotations

import pytest

from bot.runbook import RunbookInputError
from bot.runbook.params import coerce_params, coerce_value
from bot.runbook.schema import Parameter, ParamType, Runbook, Step


@pytest.mark.parametrize("raw", ["v2", "V2", "2", "iris_classifier_v2", 2])
def test_version_forms(raw: object) -> None:
    assert coerce_value("version", Parameter(type=ParamType.VERSION), raw) == 2


@pytest.mark.parametrize("raw", ["latest", "v0", "2.1", "-1", ""])
def test_bad_versions(raw: str) -> None:
    with pytest.raises(RunbookInputError, match="must be a model version"):
        coerce_value("version", Parameter(type=ParamType.VERSION), raw)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (ParamType.INT, "42", 42),
        (ParamType.FLOAT, "0.5", 0.5),
        (ParamType.BOOL, "yes", True),
        (ParamType.BOOL, "off", False),
        (ParamType.USER, "<@U123ABC|alice>", "U123ABC"),
        (ParamType.USER, "<@W42>", "W42"),
        (ParamType.USER, "U99", "U99"),
        (ParamType.STRING, "  padded  ", "padded"),
    ],
)
def test_types(kind: ParamType, raw: str, expected: object) -> None:
    assert coerce_value("p", Parameter(type=kind), raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [(ParamType.INT, "4.5"), (ParamType.BOOL, "maybe"), (ParamType.USER, "@alice")],
)
def test_type_errors_are_readable(kind: ParamType, raw: str) -> None:
    with pytest.raises(RunbookInputError) as info:
        coerce_value("p", Parameter(type=kind), raw)
    assert info.value.param == "p"
    assert str(info.value).startswith("`p` must be")


def test_choices() -> None:
    param = Parameter(choices=["fast", "safe"])
    assert coerce_value("mode", param, "safe") == "safe"
    with pytest.raises(RunbookInputError, match="one of fast, safe"):
        coerce_value("mode", param, "yolo")


def test_required_and_defaults() -> None:
    runbook = Runbook(
        id="x",
        title="X",
        parameters={
            "version": Parameter(type=ParamType.VERSION, required=True),
            "dry_run": Parameter(type=ParamType.BOOL, default=False),
            "note": Parameter(),
        },
        steps=[Step(id="a", action="flow.confirm")],
    )
    assert coerce_params(runbook, {"version": "v3"}) == {
        "version": 3,
        "dry_run": False,
        "note": None,
    }
    with pytest.raises(RunbookInputError, match="missing required parameter `version`"):
        coerce_params(runbook, {"version": " "})
    with pytest.raises(RunbookInputError, match="unknown parameter `verison`"):
        coerce_params(runbook, {"verison": "2"})
