"""Runbooks as executable documents: Markdown files whose YAML front matter lists steps.

The engine is framework-free: it never imports Slack, Starlette or APScheduler. The composition
root builds an `ActionCatalog` (domain services register their actions), loads `runbooks/` with
`load_runbooks` (an invalid runbook stops start-up), builds a `RunbookEngine` with a
`ProgressReporter` (the Slack checklist message) and calls `resume_incomplete()`.
"""

from bot.runbook.actions import (
    ActionCatalog,
    ActionContext,
    ActionFailed,
    ActionResult,
    ActionSpec,
)
from bot.runbook.checklist import ChecklistItem, ChecklistView, build_checklist
from bot.runbook.engine import RunbookEngine
from bot.runbook.errors import (
    AlreadyConfirmedError,
    ConfirmDeniedError,
    RunbookError,
    RunbookInputError,
    RunError,
    RunNotFoundError,
    RunStateError,
)
from bot.runbook.guards import Authorize
from bot.runbook.loader import load_runbook, load_runbooks, parse_runbook, runbooks_for_alert
from bot.runbook.reporter import NullReporter, ProgressReporter
from bot.runbook.schema import (
    OnFailure,
    Parameter,
    ParamType,
    Runbook,
    RunState,
    RunStatus,
    Step,
    StepState,
    StepStatus,
)

__all__ = [
    "ActionContext",
    "ActionFailed",
    "ActionCatalog",
    "ActionResult",
    "ActionSpec",
    "AlreadyConfirmedError",
    "Authorize",
    "ChecklistItem",
    "ChecklistView",
    "ConfirmDeniedError",
    "NullReporter",
    "OnFailure",
    "ParamType",
    "Parameter",
    "ProgressReporter",
    "RunError",
    "RunNotFoundError",
    "RunState",
    "RunStateError",
    "RunStatus",
    "Runbook",
    "RunbookEngine",
    "RunbookError",
    "RunbookInputError",
    "Step",
    "StepState",
    "StepStatus",
    "build_checklist",
    "load_runbook",
    "load_runbooks",
    "parse_runbook",
    "runbooks_for_alert",
]
