"""The whole alerting path with the real servers a team runs: Prometheus scrapes the bot's monitor
gauges, evaluates deploy/prometheus/rules.yml, Alertmanager posts to the bot's webhook, and an
incident thread opens in the Slack stand-in; normal traffic resolves it.

Prometheus and Alertmanager are Debian's packages (`make test` installs them) and run here bound
to 127.0.0.1 with one-second intervals; the rules are the shipped ones with their `for:`
durations shortened.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml

from bot.training.iris import FEATURES
from tests.harness import ModelBotHarness, start_model_harness
from tests.traffic import send, traffic

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
TOKEN = "prometheus-e2e-token"
PETAL_LENGTH = FEATURES.index("petal_length")


def _binary(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: `make test` installs Debian's prometheus packages"
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[ModelBotHarness]:
    harness = await start_model_harness(
        tmp_path,
        monitor_interval_seconds=1.0,
        monitor_alerts="prometheus",  # Alertmanager raises the alerts in this test
        alert_webhook_token=TOKEN,
        drift_window=200,
    )
    try:
        yield harness
    finally:
        await harness.stop()


@pytest.fixture
def servers(bot: ModelBotHarness, tmp_path: Path) -> Iterator[None]:
    """Prometheus and Alertmanager configured from deploy/prometheus/, pointed at this bot."""
    am_port, prom_port = _free_port(), _free_port()
    bot_target = bot.url.removeprefix("http://")
    model_target = bot.settings.model_server_url.removeprefix("http://")

    rules = (DEPLOY / "rules.yml").read_text()
    (tmp_path / "rules.yml").write_text(re.sub(r"for: \S+", "for: 0s", rules))

    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    prometheus["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] = [
        f"127.0.0.1:{am_port}"
    ]
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    jobs["oncall-bot"]["static_configs"][0]["targets"] = [bot_target]
    jobs["model-server"]["static_configs"][0]["targets"] = [model_target]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prometheus))

    alertmanager = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())
    alertmanager["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    hook = alertmanager["receivers"][0]["webhook_configs"][0]
    hook["url"] = f"{bot.url}/alerts/alertmanager"
    hook["http_config"]["authorization"] = {"type": "Bearer", "credentials": TOKEN}
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(alertmanager))

    log = open(tmp_path / "servers.log", "w")  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [
                _binary("prometheus-alertmanager"),
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=log,
        ),
        subprocess.Popen(
            [
                _binary("prometheus"),
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=log,
            stderr=log,
        ),
    ]
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


async def test_shifted_traffic_opens_a_drift_incident_through_prometheus_and_alertmanager(
    bot: ModelBotHarness, servers: None, tmp_path: Path
) -> None:
    await send(bot, traffic(250, seed=1, shift_sd=2.0))
    try:
        header = await bot.slack.wait_for(
            lambda m: "ModelInputDrift" in m.plain() and m.thread_ts is None, timeout=90
        )
    except AssertionError:
        print((tmp_path / "servers.log").read_text()[-3000:])
        raise
    assert header.channel == bot.slack.channel_id("incidents")
    assert re.search(r"INC-\d+", header.plain())
    assert "petal_length" in header.plain()  # the first diagnosis: the drift table

    # Normal traffic fills the drift window again; Prometheus resolves, Alertmanager says so.
    await send(bot, traffic(250, seed=2))
    await bot.slack.wait_for(
        lambda m: m.thread_ts == header.ts and "monitoring" in m.plain().lower(), timeout=90
    )
