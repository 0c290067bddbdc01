"""The access runbook's settings, part of `bot.config.Settings` (same environment names)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

REPO_ROOT = Path(__file__).resolve().parents[2]


class AccessSettings(BaseModel):
    access_policy_file: Path = Field(
        REPO_ROOT / "access.toml",
        description="The access policy: resources, levels, longest grants, approvers (TOML).",
    )
    access_control: bool = Field(
        False,
        description=(
            "Grant registry access through an MLflow auth server; without ACCESS_MLFLOW_URL the "
            "bot starts one embedded (SQLite, default permission NO_PERMISSIONS)."
        ),
    )
    access_mlflow_url: str | None = Field(
        None, description="A team's MLflow server with the basic-auth app, where grants are made."
    )
    access_mlflow_username: str = Field("iris-bot", description="The bot's MLflow admin user.")
    access_mlflow_password: str | None = Field(
        None, description="The bot's MLflow admin password (generated for the embedded server)."
    )
    access_postgres_dsn: str | None = Field(
        None, description="PostgreSQL holding the training data tables; GRANT/REVOKE run there."
    )
    access_account_prefix: str = Field(
        "", description="Prefix of each person's MLflow user and PostgreSQL role."
    )
    access_sweep_seconds: float = Field(
        30.0, gt=0, description="How often unanswered requests lapse and overdue grants end."
    )
    access_retry_seconds: float = Field(
        2.0, gt=0, description="First wait before a failed grant or revocation is tried again."
    )
