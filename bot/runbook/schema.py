"""Pydantic models: the runbook front matter (what a file declares) and run state (what happened).

The front matter models forbid unknown keys, so a typo such as `on_fail:` is an error with a line
number instead of a silently ignored setting. Cross-field checks that need other files or the action
catalog (unknown actions, template references, duplicate ids) live in `loader.py`, where the
line of the offending value is known.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Step and parameter ids end up as Jinja attribute names (`steps.preflight.x`), so they must be
# plain identifiers.
IDENTIFIER = r"^[a-z][a-z0-9_]*$"
# Names every template sees besides the declared parameters.
RESERVED_NAMES = frozenset({"params", "steps", "run"})
CONFIRM_ACTION = "flow.confirm"


class ParamType(StrEnum):
    STRING = "string"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    VERSION = "version"  # "v2", "2" or "iris_classifier_v2" -> 2
    USER = "user"  # "<@U123>", "<@U123|alice>" or "U123" -> "U123"


class OnFailure(StrEnum):
    STOP = "stop"  # end the run as failed
    CONTINUE = "continue"  # mark the step failed and go on
    ROLLBACK = "rollback"  # run the runbook's rollback steps, end as rolled_back


class Parameter(BaseModel):
    """One input of a runbook, typed so `/iris run deploy version=v2` is checked before any step."""

    model_config = ConfigDict(extra="forbid")

    type: ParamType = ParamType.STRING
    required: bool = False
    default: Any = None
    description: str = ""
    choices: list[str] | None = None

    @model_validator(mode="after")
    def _required_has_no_default(self) -> Parameter:
        if self.required and self.default is not None:
            raise ValueError("a required parameter cannot have a default")
        return self


class Step(BaseModel):
    """One step: an action with templated arguments, an optional confirmation and a failure policy."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=IDENTIFIER, max_length=64)
    title: str = ""
    action: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    confirm: bool = False
    # Question shown next to the Confirm button; a template like the args.
    confirm_prompt: str | None = None
    # A Jinja expression; when it is false the step is skipped (for example `not dry_run`).
    when: str | None = None
    timeout_seconds: float | None = Field(default=None, gt=0)
    on_failure: OnFailure = OnFailure.STOP

    @model_validator(mode="after")
    def _defaults(self) -> Step:
        if not self.title:
            self.title = self.id.replace("_", " ").capitalize()
        # flow.confirm exists only to ask a human; without confirm it would be a no-op.
        if self.action == CONFIRM_ACTION:
            self.confirm = True
        return self


class Runbook(BaseModel):
    """A whole runbook: front matter plus the Markdown body and the file it came from."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)
    title: str = Field(min_length=1)
    scenario: str = ""
    objective: str = ""
    triggers: list[str] = Field(default_factory=list)
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    rollback: list[Step] = Field(default_factory=list)
    # Filled by the loader, not by the front matter.
    body: str = ""
    source: str | None = None

    def all_steps(self) -> list[Step]:
        """Main steps followed by rollback steps: the order of a run's step rows."""
        return [*self.steps, *self.rollback]


# --- Run state ---------------------------------------------------------------------------------


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_CONFIRMATION = "waiting_confirmation"
    ROLLING_BACK = "rolling_back"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in FINISHED_RUN_STATUSES


FINISHED_RUN_STATUSES = frozenset(
    {
        RunStatus.SUCCEEDED,
        RunStatus.FAILED,
        RunStatus.ROLLED_BACK,
        RunStatus.ROLLBACK_FAILED,
        RunStatus.CANCELLED,
    }
)


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING_CONFIRMATION = "waiting_confirmation"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class StepPhase(StrEnum):
    MAIN = "main"
    ROLLBACK = "rollback"


class StepState(BaseModel):
    """What happened to one step of a run."""

    index: int
    step_id: str
    title: str
    action: str
    phase: StepPhase = StepPhase.MAIN
    status: StepStatus = StepStatus.PENDING
    # Action summary when done; the confirmation question while waiting.
    summary: str | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    confirmed_by: str | None = None


class RunState(BaseModel):
    """A run as the reporter, the Slack layer and the tests see it: a plain snapshot."""

    id: int
    runbook_id: str
    runbook_title: str
    params: dict[str, Any]
    actor: str
    status: RunStatus
    current_step: int
    steps: list[StepState]
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None
    incident_id: int | None = None
    error: str | None = None
    cancelled_by: str | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @property
    def main_steps(self) -> list[StepState]:
        return [s for s in self.steps if s.phase == StepPhase.MAIN]

    @property
    def rollback_steps(self) -> list[StepState]:
        return [s for s in self.steps if s.phase == StepPhase.ROLLBACK]

    def step(self, step_id: str) -> StepState:
        """The step with that id (KeyError if none)."""
        for s in self.steps:
            if s.step_id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def waiting_step(self) -> StepState | None:
        return next((s for s in self.steps if s.status == StepStatus.WAITING_CONFIRMATION), None)


def is_identifier(name: str) -> bool:
    return re.match(IDENTIFIER, name) is not None
