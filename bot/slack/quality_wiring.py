"""Builds the data-quality service of one bot: its monitor, source clock and Slack poster."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.db import Database
from bot.messages import TemplateRenderer
from bot.model_registry.service import ModelService
from bot.monitoring.sink import AlertSink, LoggingAlertSink
from bot.quality.overrides import load_quality_file
from bot.quality.service import QualityService
from bot.quality.sources import SourceClock
from bot.slack.quality_poster import SlackQualityPoster


def build_quality(
    settings: Settings,
    *,
    db: Database,
    models: ModelService,
    sink: AlertSink,
    renderer: TemplateRenderer,
    client: AsyncWebClient,
) -> QualityService:
    """The quality service; a typo in quality.toml stops start-up here (QualityFileError)."""
    quality = load_quality_file(settings.quality_file)

    def describe_alert(**facts: Any) -> str:
        return renderer.render("quality_alert_text", **facts).text.strip()

    def describe_source(state: Any) -> str:
        return renderer.render("quality_source_late", state=state).text.strip()

    return QualityService(
        db=db,
        models=models,
        quality=quality,
        model_server_url=settings.model_server_url,
        sources=SourceClock.from_settings(settings, db),
        # Like the other monitors: with MONITOR_ALERTS=prometheus the rules raise the alerts.
        sink=sink if settings.monitor_alerts == "bot" else LoggingAlertSink(),
        model=settings.model_name,
        repeat_seconds=settings.alert_repeat_seconds,
        describe_alert=describe_alert,
        describe_source=describe_source,
        poster=SlackQualityPoster(client, renderer, slash=settings.slash_command),
    )
