"""Settings: one pydantic-settings object, read from the environment and an optional `oncall.toml`.

Environment variables win over the TOML file; the TOML file uses the same names in lower case
(`slack_api_url = "..."`). A bad value stops start-up with one line naming the setting
(`SettingsError`), which the CLI turns into exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.access.settings import AccessSettings
from bot.capacity.settings import CapacitySettings
from bot.pipelines.settings import PipelineSettings
from bot.quality.settings import QualityAndDrillSettings

UserIds = Annotated[frozenset[str], NoDecode]
Mode = Literal["socket", "http", "local"]


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and says what is wrong."""


class Settings(
    CapacitySettings, BaseSettings, AccessSettings, PipelineSettings, QualityAndDrillSettings
):
    """Every knob the bot has. The README's configuration table is generated from these fields."""

    model_config = SettingsConfigDict(
        env_prefix="",
        case_sensitive=False,
        extra="ignore",
        toml_file="oncall.toml",
    )

    # --- Slack -------------------------------------------------------------------------------
    slack_bot_token: str | None = Field(
        None,
        description="Bot token (xoxb-...). With a signing secret: HTTP mode; with an app token: Socket Mode.",
    )
    slack_signing_secret: str | None = Field(
        None, description="Signing secret that verifies requests from Slack (HTTP mode)."
    )
    slack_app_token: str | None = Field(
        None, description="App-level token (xapp-...) for Socket Mode."
    )
    slack_api_url: str = Field(
        "https://slack.com/api/",
        description="Base URL of the Slack Web API; the local stand-in in local mode and tests.",
    )
    slash_command: str = Field("/iris", description="The slash command the bot answers.")
    oncall_channel: str = Field(
        "oncall", description="Channel for retrain reports and monitor findings (name or id)."
    )
    incident_channel: str = Field(
        "incidents", description="Channel where incident threads open (name or id)."
    )
    stakeholder_channel: str = Field(
        "ml-stakeholders", description="Channel subscribed to stakeholder updates by default."
    )
    oncall_admins: UserIds = Field(
        frozenset(), description="Comma-separated Slack user ids with the `admin` role."
    )
    oncall_engineers: UserIds = Field(
        frozenset(), description="Comma-separated Slack user ids with the `oncall` role."
    )

    # --- Process -----------------------------------------------------------------------------
    port: int = Field(
        3000,
        ge=0,
        le=65535,
        description="Port of the bot's web server (HTTP mode: /slack/events, /healthz, /metrics).",
    )
    host: str = Field(
        "127.0.0.1", description="Interface the web servers bind to (0.0.0.0 in a container)."
    )
    oncall_data_dir: Path = Field(
        Path("./var"),
        description="Folder for the SQLite database, MLflow store, datasets and postmortems.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default a SQLite file in the data dir. postgresql+psycopg://... for PostgreSQL.",
    )
    templates_dir: Path | None = Field(
        None, description="Folder of message templates that overrides the bundled `templates/`."
    )
    runbooks_dir: Path | None = Field(
        None, description="Folder of runbooks that overrides the bundled `runbooks/`."
    )
    local_slack_port: int = Field(
        3100,
        ge=0,
        le=65535,
        description="Port of the built-in Slack stand-in in local mode (0: any free port).",
    )
    worker_processes: int = Field(
        2,
        ge=1,
        le=64,
        description="Size of the process pool for CPU-bound work (training, evaluation).",
    )
    leader_check_seconds: float = Field(
        5.0,
        gt=0,
        description=(
            "How often each bot process on one database tries to become the one that runs the "
            "scheduler; a standby takes over within about this long after the leader dies."
        ),
    )
    log_level: str = Field("INFO", description="Python log level.")

    # --- Models ------------------------------------------------------------------------------
    mlflow_tracking_uri: str | None = Field(
        None,
        description="MLflow tracking/registry URI; default an embedded SQLite store in the data dir.",
    )
    model_name: str = Field("iris_classifier", description="Registered model name in MLflow.")
    model_server_url: str = Field(
        "http://127.0.0.1:8080", description="Where the bot reaches the model server."
    )
    model_server_port: int = Field(
        8080, ge=1, le=65535, description="Port `oncall-bot serve-model` listens on."
    )
    model_poll_seconds: float = Field(
        0.5, gt=0, le=60, description="How often the model server checks the `production` alias."
    )
    accuracy_floor: float = Field(
        0.85,
        ge=0,
        le=1,
        description="Minimum holdout accuracy (and macro-F1) a version needs to reach production.",
    )
    accuracy_tolerance: float = Field(
        0.02,
        ge=0,
        le=1,
        description="How much worse than production a candidate may be on holdout metrics.",
    )
    recall_tolerance: float = Field(
        0.05, ge=0, le=1, description="How much any class's recall may drop against production."
    )
    smoke_latency_ms: float = Field(
        250.0, gt=0, description="Latency bound for the post-deploy smoke test."
    )
    deploy_wait_seconds: float = Field(
        10.0,
        gt=0,
        description="How long a deploy waits for the model server to report the new version.",
    )
    deploy_lock_ttl_seconds: float = Field(
        1800.0,
        gt=0,
        description="A deploy lock older than this is free even if its run never finished.",
    )

    # --- Retraining ---------------------------------------------------------------------------
    retrain_cron: str = Field(
        "",
        description="Cron expression (`0 3 * * 1`, UTC) for scheduled retraining; empty: off.",
    )
    auto_promote: bool = Field(
        False,
        description="Let a scheduled retrain promote its candidate when it passed the gate.",
    )
    ingest_interval_seconds: float = Field(
        300.0,
        ge=0,
        description="How often the landing folder is ingested (also once at start-up); 0: off.",
    )

    # --- Incidents -----------------------------------------------------------------------------
    alert_webhook_token: str | None = Field(
        None,
        description="Bearer token Alertmanager sends to POST /alerts/alertmanager (its http_config authorization).",
    )
    alert_webhook_user: str | None = Field(
        None, description="Basic-auth user for POST /alerts/alertmanager (instead of a token)."
    )
    alert_webhook_password: str | None = Field(
        None, description="Basic-auth password that goes with ALERT_WEBHOOK_USER."
    )
    incident_quiet_minutes: float = Field(
        30.0,
        gt=0,
        description="An incident whose alerts all resolved closes after this many quiet minutes.",
    )
    update_cadence_sev1_minutes: int = Field(
        30, ge=0, description="Minutes between scheduled stakeholder updates of a SEV1 (0: none)."
    )
    update_cadence_sev2_minutes: int = Field(
        60, ge=0, description="Minutes between scheduled stakeholder updates of a SEV2 (0: none)."
    )
    update_cadence_sev3_minutes: int = Field(
        240, ge=0, description="Minutes between scheduled stakeholder updates of a SEV3 (0: none)."
    )
    update_cadence_sev4_minutes: int = Field(
        0, ge=0, description="Minutes between scheduled stakeholder updates of a SEV4 (0: none)."
    )

    # --- Monitoring ---------------------------------------------------------------------------
    monitor_alerts: Literal["bot", "prometheus"] = Field(
        "bot",
        description="Who raises alerts from the monitors: `bot` (its own findings open incidents) or `prometheus` (only gauges on /metrics; Alertmanager alerts on deploy/prometheus/rules.yml).",
    )
    monitor_interval_seconds: float = Field(
        60.0, ge=0, description="How often the accuracy, drift and serving monitors run; 0: off."
    )
    accuracy_window: int = Field(
        200,
        ge=1,
        description="Latest labelled predictions (feedback by id) the accuracy monitor uses.",
    )
    accuracy_min_feedback: int = Field(
        30, ge=1, description="Fewest labelled predictions the accuracy monitor judges."
    )
    drift_window: int = Field(
        500, ge=1, description="Latest served inputs of the production version checked for drift."
    )
    drift_min_window: int = Field(
        30, ge=1, description="Fewest served inputs (and predictions) the drift monitors judge."
    )
    drift_ks_pvalue: float = Field(
        0.05, gt=0, lt=1, description="A feature drifts when its KS test p-value is at most this."
    )
    drift_wasserstein_threshold: float = Field(
        0.1,
        gt=0,
        description="A feature drifts when its Wasserstein distance / reference std is at least this.",
    )
    drift_reference_ks_max_rows: int = Field(
        1000,
        ge=0,
        description="KS test up to this many reference rows, normalised Wasserstein above.",
    )
    drift_share: float = Field(
        0.5, gt=0, le=1, description="The data set drifts when at least this share of features do."
    )
    prediction_drift_pvalue: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Predicted classes drift when the chi-square p-value against the holdout is at most this.",
    )
    serving_error_rate_max: float = Field(
        0.05, ge=0, le=1, description="Highest share of 5xx predict answers between two checks."
    )
    serving_p99_seconds: float = Field(
        0.5, gt=0, description="Highest p99 predict latency between two checks."
    )
    serving_min_requests: int = Field(
        20,
        ge=1,
        description="Fewest predict requests between two checks to judge errors and latency.",
    )
    alert_repeat_seconds: float = Field(
        1800.0, gt=0, description="How often a monitor alert that keeps firing is sent again."
    )

    @field_validator("oncall_admins", "oncall_engineers", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("slash_command")
    @classmethod
    def _slash(cls, value: str) -> str:
        if not value.startswith("/") or " " in value or len(value) < 2:
            raise ValueError("must look like /iris")
        return value

    @field_validator("slack_api_url", "model_server_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins base_url + method name, so the base must end with a slash.
        return value if value.endswith("/") else value + "/"

    @field_validator("retrain_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        value = (value or "").strip()
        if value:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value, timezone="UTC")
            except ValueError as exc:
                raise ValueError(f"not a valid cron expression: {exc}") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.startswith("postgres://") or value.startswith("postgresql://"):
            # Heroku-style URLs: use psycopg 3, the driver we ship.
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        if not value.startswith(("sqlite", "postgresql+psycopg")):
            raise ValueError("must be sqlite:///path or postgresql+psycopg://user@host/db")
        return value

    @model_validator(mode="after")
    def _webhook_basic_auth_pair(self) -> Settings:
        # Half a pair would leave the alert webhook open to a blank password (or unusable).
        user, password = bool(self.alert_webhook_user), bool(self.alert_webhook_password)
        if user != password:
            have, missing = (
                ("ALERT_WEBHOOK_USER", "ALERT_WEBHOOK_PASSWORD")
                if user
                else ("ALERT_WEBHOOK_PASSWORD", "ALERT_WEBHOOK_USER")
            )
            raise ValueError(f"{missing}: missing; {have} is set, and basic auth needs both")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    # --- Derived values ------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        """Socket Mode with an app token, HTTP with a signing secret, otherwise the local workspace."""
        if self.slack_app_token and self.slack_bot_token:
            return "socket"
        if self.slack_bot_token and self.slack_signing_secret:
            return "http"
        return "local"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.oncall_data_dir / 'oncall.db').resolve()}"

    @property
    def resolved_mlflow_uri(self) -> str:
        return (
            self.mlflow_tracking_uri
            or f"sqlite:///{(self.oncall_data_dir / 'mlflow.db').resolve()}"
        )

    @property
    def mlflow_artifact_root(self) -> Path:
        return (self.oncall_data_dir / "mlflow-artifacts").resolve()


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning pydantic's error into one line that names the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        if not first["loc"]:  # a rule across settings: its message names them (no values)
            message = str(first.get("ctx", {}).get("error") or first["msg"])
            raise SettingsError(message) from None
        name = ".".join(str(p) for p in first["loc"])
        raise SettingsError(
            f"{name.upper()}: {first['msg']} (got {first.get('input')!r})"
        ) from None
    except ValueError as exc:  # malformed oncall.toml
        raise SettingsError(f"oncall.toml: {exc}") from None
