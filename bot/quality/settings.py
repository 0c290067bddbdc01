"""Settings of the data quality runbook and of game days, part of `bot.config.Settings`.

Kept beside the quality domain (same environment names) so `bot/config.py` stays one screenful of
the core settings; the game day pair rides along because it is two fields.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class QualityAndDrillSettings(BaseModel):
    # --- Data quality (runbooks/data-quality.md) ---
    quality_file: Path | None = Field(
        None, description="Feature contract overrides and quality limits; default: quality.toml."
    )
    quality_checks: bool = Field(
        True,
        description="Model server: check feature contracts and apply missing-feature policies.",
    )
    quality_policy_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often the model server reads the feature policies."
    )
    quality_interval_seconds: float = Field(
        60.0, ge=0, description="How often the quality and source-cadence monitors run; 0: off."
    )

    # --- Game days (gamedays/) ---
    gameday_enabled: bool | None = Field(
        None,
        description="Allow game day drills (`oncall-bot gameday`, `/iris gameday run`); default: on in the local workspace only.",
    )
    gamedays_dir: Path | None = Field(
        None, description="Folder of game day scenarios that overrides the bundled `gamedays/`."
    )
