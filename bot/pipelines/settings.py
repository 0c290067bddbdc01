"""The data pipeline's settings (Dagster), part of `bot.config.Settings` (same environment names)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PipelineSettings(BaseModel):
    dagster_url: str | None = Field(
        None,
        description="A team's Dagster webserver; unset: `oncall-bot run` starts one beside the bot.",
    )
    dagster_port: int = Field(
        3070, ge=0, le=65535, description="Port of the Dagster beside the bot."
    )
    dagster_embedded: bool = Field(
        True, description="Start Dagster beside the bot when DAGSTER_URL is unset."
    )
    pipeline_webhook_token: str | None = Field(
        None,
        description="Bearer token of POST /pipelines/dagster (generated for the embedded Dagster).",
    )
    pipeline_poll_seconds: float = Field(60.0, ge=0, description="Poll Dagster every N s (0: off).")
