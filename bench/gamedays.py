"""Game days: every drill that can run unattended, end to end, and how each measures up.

    .venv/bin/python bench/gamedays.py               # every unattended drill at --speed 60
    .venv/bin/python bench/gamedays.py --speed 30 --only deploy-smoke-rollback

Each drill runs as `oncall-bot gameday run` runs it: a local workspace of its own (the Slack
stand-in, the model server on a bootstrapped registry, the bot) on a fresh data dir, the
scripted responder clicking what the runbook offers. Printed per drill: time to detect (fault ->
the alert, incident or failed step the scenario expects) and to mitigate (fault -> steady state
back), both in seconds and detection in monitor intervals; the chat actions the responder
needed; the messages sent to stakeholders; anything lost or duplicated.

The comparison is the goal each drill is held to, printed beside it in the same run: detected
within its scenario's monitor intervals (two by default), mitigated in three chat actions or
fewer, nothing lost or duplicated. Drills waiting for their runbook are listed as such.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.config import Settings  # noqa: E402
from bot.db.migrate import upgrade_to_head  # noqa: E402
from bot.gameday.report import GOAL_CHAT_ACTIONS  # noqa: E402
from bot.gameday.scenario import load_scenarios  # noqa: E402
from bot.gameday.wiring import BUNDLED_GAMEDAYS, gameday_kinds  # noqa: E402
from bot.gameday_local import drill_workspace, run_one  # noqa: E402


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


async def bench(speed: float, only: list[str]) -> list[dict[str, Any]]:
    kinds = gameday_kinds()
    scenarios = load_scenarios(BUNDLED_GAMEDAYS, kinds=kinds)
    rows: list[dict[str, Any]] = []
    for scenario in sorted(scenarios.values(), key=lambda s: s.id):
        if only and scenario.id not in only:
            continue
        if scenario.waiting_for(kinds) or not scenario.unattended:
            why = scenario.waiting_for(kinds)
            rows.append(
                {"scenario": scenario.id, "skipped": f"waits for {why}" if why else "attended"}
            )
            continue
        with tempfile.TemporaryDirectory(prefix="gameday-bench-") as tmp:
            settings = Settings(
                oncall_data_dir=Path(tmp) / "var",
                gameday_enabled=True,
                ingest_interval_seconds=0,
                model_poll_seconds=0.1,
                log_level="WARNING",
            )  # type: ignore[call-arg]
            settings.oncall_data_dir.mkdir(parents=True)
            upgrade_to_head(settings.resolved_database_url)
            async with drill_workspace(settings) as workspace:
                pace = max(speed, scenario.speed)
                report = await run_one(workspace, scenario.id, speed=pace, force=False)
        rows.append(report)
        print(f"  ran {scenario.id}: {report['outcome']}", flush=True)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = f"{'scenario':28} {'speed':>6} {'outcome':8} {'detect':>8} {'(intervals)':>11} {'mitigate':>9} {'chat':>5} {'msgs':>5} {'lost':>5} {'dup':>4}  goals met"
    lines = [head, "-" * len(head)]
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['scenario']:28} {r['skipped']}")
            continue
        intervals = "-" if r["detect_intervals"] is None else f"{r['detect_intervals']:.2f}"
        goals = r["goals"]
        met = ", ".join(
            f"{name} {'yes' if ok else 'NO'}"
            for name, ok in (
                (f"detect<={r['detect_goal_intervals']:g}", goals["detected"]),
                (f"chat<={GOAL_CHAT_ACTIONS}", goals["chat_actions"]),
                ("nothing lost", goals["nothing_lost"]),
            )
        )
        lines.append(
            f"{r['scenario']:28} {r['speed']:>6g} {r['outcome']:8} {_secs(r['detect_seconds']):>8} {intervals:>11} "
            f"{_secs(r['mitigate_seconds']):>9} {r['chat_actions']:>5} {r['messages']:>5} "
            f"{r['lost']:>5} {r['duplicated']:>4}  {met}"
            + (f"  [{r['reason']}: {r['reason_detail']}]" if r["reason"] else "")
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument("--only", action="append", default=[])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = asyncio.run(bench(args.speed, args.only))
    print()
    print(
        f"Game day drills at speed x{args.speed:g} (monitor interval 60 s -> {60 / args.speed:.1f} s)"
    )
    print(table(rows))
    print()
    print(
        "Goals: detected within two monitor intervals (or the scenario's own), mitigated in "
        f"{GOAL_CHAT_ACTIONS} chat actions or fewer, nothing lost or duplicated."
    )
    ran = [r for r in rows if "skipped" not in r]
    return 0 if all(r["outcome"] == "passed" for r in ran) else 1


if __name__ == "__main__":
    sys.exit(main())
