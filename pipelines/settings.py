"""Settings the Dagster processes read from their environment (the bot's `make run` sets them)."""

from __future__ import annotations

import json
import os
from pathlib import Path

# The first day a landing partition exists; a backfill cannot reach before it.
PARTITIONS_START = os.environ.get("PIPELINE_PARTITIONS_START", "2026-01-01")
# "off" keeps the daily/hourly schedules stopped (tests and benchmarks launch runs themselves).
SCHEDULES_ON = os.environ.get("PIPELINE_SCHEDULES", "on").lower() != "off"
WEBHOOK_FILE = "iris-bot-webhook.json"


def webhook_target() -> tuple[str, str] | None:
    """Where the failure sensor posts, and its bearer token.

    PIPELINE_WEBHOOK_URL / PIPELINE_WEBHOOK_TOKEN name a bot explicitly; otherwise a bot that
    runs beside this Dagster writes `$DAGSTER_HOME/iris-bot-webhook.json` when it starts.
    """
    url = os.environ.get("PIPELINE_WEBHOOK_URL")
    token = os.environ.get("PIPELINE_WEBHOOK_TOKEN", "")
    if url:
        return url, token
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return None
    path = Path(home) / WEBHOOK_FILE
    try:
        data = json.loads(path.read_text())
        return str(data["url"]), str(data.get("token", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return None
