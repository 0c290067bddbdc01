"""Fault kinds, one module per runbook. A new drill's fault is a new module registered here."""

from __future__ import annotations

from bot.gameday.faults import communication, deploy, monitoring, retrain
from bot.gameday.kinds import Fault, KindRegistry


def register_faults(faults: KindRegistry[Fault]) -> None:
    """Every fault kind available in this build."""
    deploy.register(faults)
    retrain.register(faults)
    monitoring.register(faults)
    communication.register(faults)
