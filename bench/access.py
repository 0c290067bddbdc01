"""Access runbook speed: approval click -> grant effective (the user's own MLflow call succeeds),
and deadline -> revoked (the same call refused). Goals: effective within 1 s of the click,
revoked within 60 s of the deadline. Prints the figures and the goals they are compared with.

Runs a real MLflow auth server (boot not measured), the bot over real HTTP and the Slack
stand-in; PostgreSQL is not needed."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.access import service  # noqa: E402
from bot.access.mlflow_server import MlflowAuthServer  # noqa: E402
from bot.db.base import utcnow  # noqa: E402
from tests.harness import ADMIN, ONCALL, start_harness  # noqa: E402

ROUNDS = 5
PASSWORD = "bench-user-secret-1"
GOAL_EFFECTIVE_S, GOAL_REVOKED_S = 1.0, 60.0


def reads(url: str, model: str, user: str) -> int:
    return httpx.get(
        f"{url}/api/2.0/mlflow/registered-models/get",
        params={"name": model},
        auth=(user, PASSWORD),
        timeout=30,
    ).status_code


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bench-access-"))
    server = MlflowAuthServer(tmp / "mlflow", username="iris-bot", password="bench-admin-1")
    server.start()
    try:
        server.wait_ready()
        tag = uuid.uuid4().hex[:6]
        model, account = f"iris_classifier_{tag}", f"b{tag}_{ONCALL}".lower()
        admin = ("iris-bot", "bench-admin-1")
        httpx.post(
            f"{server.url}/api/2.0/mlflow/registered-models/create",
            json={"name": model},
            auth=admin,
            timeout=60,
        ).raise_for_status()
        httpx.post(
            f"{server.url}/api/2.0/mlflow/users/create",
            json={"username": account, "password": PASSWORD},
            auth=admin,
            timeout=60,
        ).raise_for_status()
        policy = tmp / "access.toml"
        policy.write_text(
            f'version = 1\n[resources."registry:iris_classifier"]\nprovider = "mlflow"\n'
            f'target = "{model}"\nlevels = {{ READ = "7d" }}\napprovers = "admins"\n'
            'approvers_channel = "oncall"\n'
        )
        bot = await start_harness(
            tmp / "bot",
            access_policy_file=policy,
            access_mlflow_url=server.url,
            access_mlflow_password="bench-admin-1",
            access_account_prefix=f"b{tag}_",
            access_sweep_seconds=30.0,
        )
        effective: list[float] = []
        lags: list[float] = []
        try:
            for _ in range(ROUNDS):
                since = bot.slack.seq
                await bot.command(
                    "access request registry:iris_classifier READ for 1h because bench", user=ONCALL
                )
                card = await bot.slack.wait_for(
                    lambda m: "Access request" in m.plain() and bool(m.buttons),
                    timeout=30,
                    since=since,
                )
                grant_id = int(card.buttons[0][2] or 0)
                # The user has been trying (and failing) already: their password check is warm on
                # the server, so the figure is the grant's, not MLflow's password hashing.
                assert await asyncio.to_thread(reads, server.url, model, account) == 403
                clicked = time.perf_counter()
                await bot.slack.click(ADMIN, card, "access.approve")
                while await asyncio.to_thread(reads, server.url, model, account) != 200:
                    await asyncio.sleep(0.01)
                effective.append(time.perf_counter() - clicked)
                # The deadline one second ahead, armed like any grant's; lag = refused - deadline.
                until = utcnow() + timedelta(seconds=1)
                with bot.app.services.db.connection() as conn:
                    service.set_fields(conn, grant_id=grant_id, until=until)
                    grant = service.get(conn, grant_id=grant_id)
                assert grant is not None
                bot.app.services.access.lifecycle.schedule(grant)
                while await asyncio.to_thread(reads, server.url, model, account) != 403:
                    await asyncio.sleep(0.02)
                lags.append(max(0.0, (utcnow() - until).total_seconds()))
        finally:
            await bot.stop()
    finally:
        server.stop()
    print(
        f"access: approval click -> grant effective over {ROUNDS} rounds: "
        f"p50 {statistics.median(effective):.3f} s, max {max(effective):.3f} s (goal {GOAL_EFFECTIVE_S:.0f} s)"
    )
    print(
        f"access: deadline -> revoked: p50 {statistics.median(lags):.3f} s, max {max(lags):.3f} s "
        f"(goal {GOAL_REVOKED_S:.0f} s; baseline without the deadline job: the "
        f"{bot.settings.access_sweep_seconds:.0f} s sweep)"
    )


if __name__ == "__main__":
    asyncio.run(main())
