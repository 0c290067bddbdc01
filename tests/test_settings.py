"""Configuration: environment, oncall.toml, derived mode, and one-line errors with exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import SettingsError, load_settings

CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("SLACK_", "ONCALL_", "DATABASE_", "PORT"))
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in list(os.environ):
        if key.startswith(("SLACK_", "ONCALL_", "DATABASE_")) or key in {
            "PORT",
            "SLASH_COMMAND",
            "MLFLOW_TRACKING_URI",
        }:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_select_the_local_workspace(clean_env: Path) -> None:
    settings = load_settings()
    assert settings.mode == "local"
    assert settings.port == 3000
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.slash_command == "/iris"
    assert settings.resolved_database_url.endswith("var/oncall.db")


def test_mode_follows_the_tokens(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    assert load_settings().mode == "http"
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1")
    assert load_settings().mode == "socket"


def test_user_lists_are_comma_separated(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONCALL_ADMINS", "U1, U2,,")
    monkeypatch.setenv("ONCALL_ENGINEERS", "U3")
    settings = load_settings()
    assert settings.oncall_admins == {"U1", "U2"}
    assert settings.oncall_engineers == {"U3"}


def test_toml_file_is_read_and_the_environment_wins(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (clean_env / "oncall.toml").write_text(
        'slash_command = "/ml"\nport = 4000\nincident_channel = "inc"\n'
    )
    monkeypatch.setenv("PORT", "5000")
    settings = load_settings()
    assert settings.slash_command == "/ml"
    assert settings.incident_channel == "inc"
    assert settings.port == 5000


def test_postgres_urls_use_psycopg(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert load_settings().resolved_database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("PORT", "abc", "PORT"),
        ("PORT", "70000", "PORT"),
        ("SLACK_API_URL", "ftp://x", "SLACK_API_URL"),
        ("SLASH_COMMAND", "iris", "SLASH_COMMAND"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
    ],
)
def test_bad_settings_name_the_setting(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=expected):
        load_settings()


def run_cli(command: str, *, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`oncall-bot <command>` in a fresh interpreter, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {**CLEAN_ENV, "PORT": "not-a-port"}
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "PORT" in lines[0]


def test_cli_serve_needs_the_http_credentials(tmp_path: Path) -> None:
    result = run_cli("serve", env=CLEAN_ENV, cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_SIGNING_SECRET" in result.stderr


def test_malformed_toml_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "oncall.toml").write_text("port = = 3\n")
    result = run_cli("run", env=CLEAN_ENV, cwd=tmp_path)
    assert result.returncode == 2
    assert "oncall.toml" in result.stderr


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"ALERT_WEBHOOK_USER": "am"}, "ALERT_WEBHOOK_PASSWORD"),
        ({"ALERT_WEBHOOK_PASSWORD": "pw"}, "ALERT_WEBHOOK_USER"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}, "SLACK_SIGNING_SECRET"),
    ],
)
def test_half_configured_credentials_stop_serve_with_one_line(
    tmp_path: Path, extra: dict[str, str], named: str
) -> None:
    env = {k: v for k, v in CLEAN_ENV.items() if not k.startswith("ALERT_")} | extra
    result = run_cli("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr
    assert "pw" not in lines[0].replace("PASSWORD", "")  # no value is echoed
