from __future__ import annotations

from pathlib import Path

import pytest

from bot.runbook import RunbookError, load_runbook, load_runbooks, runbooks_for_alert
from bot.runbook.schema import OnFailure, ParamType
from tests.runbook.conftest import SHIPPED_RUNBOOKS
from tests.runbook.fakes import FakeActions

GOOD = """\
---
id: sample
title: Sample runbook
scenario: Something happened.
objective: Make it right.
triggers: [model_accuracy_drop]
parameters:
  version: {type: version, required: true, description: Version}
  reason: {type: string, default: ""}
steps:
  - id: preflight
    title: Preflight checks
    action: model.preflight
    args: {version: "{{ version }}"}
  - id: confirm
    action: flow.confirm
    confirm_prompt: "Deploy v{{ version }} over v{{ steps.preflight.from_version }}?"
  - id: promote
    action: model.set_production
    args:
      version: "{{ version }}"
    on_failure: rollback
  - id: record
    action: deploy.record
    when: reason != ""
    args:
      to_version: "{{ params.version }}"
      outcome: deployed
      reason: "{{ reason }}"
    on_failure: continue
rollback:
  - id: restore
    action: model.set_production
    args: {version: "{{ steps.preflight.from_version }}"}
---
# Sample

The human procedure.
"""


def write(tmp_path: Path, text: str, name: str = "sample.md") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in text")


def load_error(tmp_path: Path, text: str, fakes: FakeActions) -> RunbookError:
    path = write(tmp_path, text)
    with pytest.raises(RunbookError) as info:
        load_runbook(path, actions=fakes.registry)
    assert str(path) in str(info.value)
    return info.value


def test_good_file_loads(tmp_path: Path, fakes: FakeActions) -> None:
    path = write(tmp_path, GOOD)
    runbook = load_runbook(path, actions=fakes.registry)
    assert runbook.id == "sample"
    assert runbook.triggers == ["model_accuracy_drop"]
    assert runbook.parameters["version"].type is ParamType.VERSION
    assert [s.id for s in runbook.steps] == ["preflight", "confirm", "promote", "record"]
    assert runbook.steps[1].confirm is True  # flow.confirm always asks
    assert runbook.steps[1].title == "Confirm"  # defaulted from the id
    assert runbook.steps[2].on_failure is OnFailure.ROLLBACK
    assert runbook.body.startswith("# Sample")
    assert runbook.source == str(path)


def test_shipped_runbooks_load(fakes: FakeActions) -> None:
    books = {p.stem: load_runbook(p, actions=fakes.registry) for p in SHIPPED_RUNBOOKS}
    deploy = books["deploy"]
    assert deploy.parameters["version"].required
    assert [s.action for s in deploy.steps] == [
        "deploy.acquire_lock",
        "model.preflight",
        "flow.confirm",
        "model.set_production",
        "serving.wait_for_version",
        "serving.smoke_test",
        "deploy.record",
        "deploy.release_lock",
    ]
    assert deploy.body.lstrip().startswith("# Deploy a validated model")
    assert [rb.id for rb in runbooks_for_alert(books, "model_accuracy_drop")] == ["rollback"]


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        pytest.param(
            "action: model.set_production\n    args:\n      version",
            "action: model.set_prod\n    args:\n      version",
            "action: model.set_prod",
            "unknown action 'model.set_prod'; did you mean 'model.set_production'?",
            id="unknown-action",
        ),
        pytest.param(
            '      version: "{{ version }}"\n    on_failure: rollback',
            '      version: "{{ version }}"\n      force: true\n    on_failure: rollback',
            "force: true",
            "unknown argument 'force' for action 'model.set_production'",
            id="unknown-argument",
        ),
        pytest.param(
            '      version: "{{ version }}"\n    on_failure: rollback',
            "      {}\n    on_failure: rollback",
            ("    args:", 2),
            "action 'model.set_production' needs argument 'version'",
            id="missing-argument",
        ),
        pytest.param(
            'reason: "{{ reason }}"',
            'reason: "{{ reason }} by {{ operator }}"',
            "by {{ operator }}",
            "undeclared parameter 'operator'",
            id="undeclared-parameter",
        ),
        pytest.param(
            '"{{ params.version }}"',
            '"{{ params.versoin }}"',
            "params.versoin",
            "undeclared parameter 'params.versoin'",
            id="undeclared-params-attribute",
        ),
        pytest.param(
            'args: {version: "{{ version }}"}\n  - id: confirm',
            'args: {version: "{{ steps.promote.version }}"}\n  - id: confirm',
            "steps.promote.version",
            "uses step 'promote', which runs after this step",
            id="later-step",
        ),
        pytest.param(
            "over v{{ steps.preflight.from_version }}",
            "over v{{ steps.prefight.from_version }}",
            "steps.prefight",
            "unknown step 'prefight'",
            id="unknown-step",
        ),
        pytest.param(
            'when: reason != ""',
            'when: reason != "" and steps.nothere',
            "when: reason",
            "unknown step 'nothere'",
            id="when-unknown-step",
        ),
        pytest.param(
            "  - id: record\n",
            "  - id: promote\n",
            ("  - id: promote", 2),
            "duplicate step id 'promote'",
            id="duplicate-step-id",
        ),
        pytest.param(
            "on_failure: continue",
            "on_failure: retry",
            "on_failure: retry",
            "steps[3].on_failure: Input should be 'stop', 'continue' or 'rollback'",
            id="bad-on-failure",
        ),
        pytest.param(
            "    on_failure: continue",
            "    on_fail: continue",
            "on_fail: continue",
            "steps[3].on_fail: Extra inputs are not permitted",
            id="unknown-key",
        ),
        pytest.param(
            "reason: {type: string",
            "reason: {type: text",
            "reason: {type: text",
            "parameters.reason.type: Input should be",
            id="bad-parameter-type",
        ),
        pytest.param(
            "version: {type: version, required: true, description: Version}",
            "version: {type: version, default: latest}",
            "default: latest",
            "bad default: `version` must be a model version",
            id="bad-default",
        ),
        pytest.param(
            'reason: "{{ reason }}"',
            'reason: "{{ reason | }}"',
            "{{ reason | }}",
            "template syntax error",
            id="template-syntax",
        ),
        pytest.param(
            '    args: {version: "{{ steps.preflight.from_version }}"}\n---',
            '    args: {version: "{{ steps.preflight.from_version }}"}\n    on_failure: rollback\n---',
            ("on_failure: rollback", 2),
            "a rollback step cannot itself roll back",
            id="rollback-in-rollback",
        ),
        pytest.param(
            "  - id: record\n",
            "  - id: record\n    id: again\n",
            "id: again",
            "duplicate key 'id'",
            id="duplicate-yaml-key",
        ),
        pytest.param(
            "objective: Make it right.",
            "objective: [Make it right.",
            "triggers:",
            "invalid YAML",
            id="yaml-syntax",
        ),
    ],
)
def test_invalid_runbook_names_file_and_line(
    tmp_path: Path,
    fakes: FakeActions,
    old: str,
    new: str,
    needle: str | tuple[str, int],
    message: str,
) -> None:
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    error = load_error(tmp_path, text, fakes)
    # The line the error must point at: the n-th line containing the needle.
    expected = line_of(text, *needle) if isinstance(needle, tuple) else line_of(text, needle)
    assert message in str(error)
    assert error.line == expected, (str(error), expected)
    assert f"sample.md:{expected}:" in str(error)


def test_rollback_policy_needs_rollback_section(tmp_path: Path, fakes: FakeActions) -> None:
    start = GOOD.index("rollback:\n  - id: restore")
    text = GOOD[:start] + "---\n# Sample\n"
    error = load_error(tmp_path, text, fakes)
    assert "needs a `rollback:` section" in str(error)
    assert error.line == line_of(text, "on_failure: rollback")


def test_missing_front_matter(tmp_path: Path, fakes: FakeActions) -> None:
    error = load_error(tmp_path, "# Just markdown\n", fakes)
    assert error.line == 1
    assert "front matter" in str(error)


def test_unclosed_front_matter(tmp_path: Path, fakes: FakeActions) -> None:
    error = load_error(tmp_path, "---\nid: x\n", fakes)
    assert "not closed" in str(error)


def test_missing_required_field_points_at_its_parent(tmp_path: Path, fakes: FakeActions) -> None:
    text = GOOD.replace("    action: model.preflight\n", "", 1)
    error = load_error(tmp_path, text, fakes)
    assert "steps[0].action: Field required" in str(error)
    assert error.line == line_of(text, "- id: preflight")


def test_reserved_parameter_name(tmp_path: Path, fakes: FakeActions) -> None:
    text = GOOD.replace("  reason: {type: string", "  steps: {type: string", 1)
    error = load_error(tmp_path, text, fakes)
    assert "parameter name 'steps' is reserved" in str(error)
    assert error.line == line_of(text, "  steps: {type: string")


def test_duplicate_runbook_ids_across_files(tmp_path: Path, fakes: FakeActions) -> None:
    write(tmp_path, GOOD, "a.md")
    write(tmp_path, GOOD, "b.md")
    with pytest.raises(RunbookError) as info:
        load_runbooks(tmp_path, actions=fakes.registry)
    assert "b.md:2:" in str(info.value)
    assert "a.md" in str(info.value)


def test_missing_folder(tmp_path: Path, fakes: FakeActions) -> None:
    with pytest.raises(RunbookError, match="does not exist"):
        load_runbooks(tmp_path / "nope", actions=fakes.registry)
