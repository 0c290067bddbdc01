"""`python -m pipelines.daemon run -m pipelines`: dagster-daemon with a shorter loop when asked.

Dagster's backfill daemon looks for new backfills every 30 s and its sensor loop waits at least
5 s. On one machine, where the bot launches a backfill and then watches it, PIPELINE_DAEMON_INTERVAL
(seconds) shortens both so a backfill starts within that interval; unset, Dagster's own
intervals apply. Everything else is the stock `dagster-daemon` command.
"""

import os
import sys

from dagster._daemon import controller, sensor
from dagster._daemon.cli import main


def _tune() -> None:
    value = os.environ.get("PIPELINE_DAEMON_INTERVAL")
    if not value:
        return
    seconds = max(0.2, float(value))
    controller.DEFAULT_DAEMON_INTERVAL_SECONDS = seconds
    sensor.MIN_INTERVAL_LOOP_TIME = seconds


if __name__ == "__main__":
    _tune()
    sys.exit(main())
