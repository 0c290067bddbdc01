"""The bot's own Prometheus metrics, on a registry per app (tests build many apps per process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class BotMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "oncall_bot_commands_total",
            "Slash commands by command and result",
            ["command", "result"],
            registry=self.registry,
        )
        self.interactions = Counter(
            "oncall_bot_interactions_total",
            "Button clicks and view submissions by action and result",
            ["action", "result"],
            registry=self.registry,
        )
        self.ack_seconds = Histogram(
            "oncall_bot_ack_seconds",
            "Time from receiving a Slack request to its ack",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3),
            registry=self.registry,
        )
        self.background = Gauge(
            "oncall_bot_background_tasks", "Work running after its ack", registry=self.registry
        )
        self.up = Gauge("oncall_bot_up", "1 while the bot is serving", registry=self.registry)
        self.up.set(1)
