"""Runbook 3: accuracy, input drift, prediction drift and serving health monitors, and alerts."""

from bot.monitoring.service import MonitoringService, MonitorSnapshot
from bot.monitoring.sink import AlertSink, Diagnosis, DiagnosisProvider

__all__ = ["AlertSink", "Diagnosis", "DiagnosisProvider", "MonitorSnapshot", "MonitoringService"]
