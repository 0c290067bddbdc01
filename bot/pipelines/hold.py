"""The retrain hold: while training data is stale or its pipeline failed, retrains wait.

An admin may override with `--force --reason "..."`; the reason goes to the audit record with the
command. Unknown freshness (the engine not answering) holds nothing: the bot does not block a
retrain on its own blindness.
"""

from __future__ import annotations

from typing import Any

from bot.pipelines.monitor import PipelineMonitor


def retrain_hold(
    monitor: PipelineMonitor, *, force: bool = False, reason: str = "", admin: bool = False
) -> dict[str, Any] | None:
    """Why a retrain must wait, or None when it may go (or an admin overrides with a reason)."""
    hold = monitor.retrain_hold()
    if hold is None:
        return None
    if force and admin and reason.strip():
        return None
    return hold
