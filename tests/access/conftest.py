"""One MLflow auth server for the whole session (started at the first access test, so the quick
tests run while it boots), a PostgreSQL schema with a training table, and a policy file that
points at both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from bot.access.mlflow_server import MlflowAuthServer
from tests.conftest import PG_ADMIN_DSN

ADMIN_USER, ADMIN_PASSWORD = "iris-bot", "bot-admin-secret-1"
USER_PASSWORD = "user-secret-12345"
POLICY = """
version = 3
pending_hours = 24
break_glass_hours = 1

[resources."registry:iris_classifier"]
provider = "mlflow"
target = "{model}"
levels = {{ READ = "7d", EDIT = "8h" }}
approvers = "admins"
approvers_channel = "oncall"

[resources."data:training"]
provider = "postgres"
target = ["{schema}.training_rows"]
levels = {{ READ = "24h" }}
approvers = "admins"
approvers_channel = "oncall"

[needs]
deploy = ["registry:iris_classifier:EDIT"]
debug = ["registry:iris_classifier:READ", "data:training:READ"]
"""


@pytest.fixture(scope="session")
def _mlflow_booting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowAuthServer]:
    server = MlflowAuthServer(
        tmp_path_factory.mktemp("mlflow-auth"), username=ADMIN_USER, password=ADMIN_PASSWORD
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _start_mlflow_early(request: pytest.FixtureRequest) -> None:
    """Starts (not waits for) the server as soon as the first test of this folder runs."""
    request.getfixturevalue("_mlflow_booting")


@pytest.fixture(scope="session")
def mlflow_auth(_mlflow_booting: MlflowAuthServer) -> MlflowAuthServer:
    _mlflow_booting.wait_ready()
    return _mlflow_booting


@dataclass
class AccessWorld:
    """What one test's bot grants access to: a registered model, a table, the user's accounts."""

    mlflow_url: str
    model: str
    schema: str
    prefix: str
    policy: Path

    def account(self, user: str) -> str:
        return f"{self.prefix}{user}".lower()


def admin_call(url: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(
        method, f"{url}{path}", auth=(ADMIN_USER, ADMIN_PASSWORD), timeout=60, **kwargs
    )  # type: ignore[arg-type]


def user_reads_model(world: AccessWorld, user: str) -> int:
    """The user's own credentials against MLflow's REST API: the status of reading the model."""
    response = httpx.get(
        f"{world.mlflow_url}/api/2.0/mlflow/registered-models/get",
        params={"name": world.model},
        auth=(world.account(user), USER_PASSWORD),
        timeout=60,
    )
    return response.status_code


def user_selects(world: AccessWorld, user: str) -> bool:
    """Connects as the user's own role and reads the training table."""
    dsn = PG_ADMIN_DSN.replace("postgres@", f"{world.account(user)}@", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(
                sql.SQL("SELECT count(*) FROM {}.training_rows").format(
                    sql.Identifier(world.schema)
                )
            )
            return True
        except psycopg.errors.InsufficientPrivilege:
            return False


@pytest.fixture
def world(mlflow_auth: MlflowAuthServer, tmp_path: Path) -> Iterator[AccessWorld]:
    tag = uuid.uuid4().hex[:8]
    w = AccessWorld(
        mlflow_url=mlflow_auth.url,
        model=f"iris_classifier_{tag}",
        schema=f"access_{tag}",
        prefix=f"t{tag}_",
        policy=tmp_path / "access.toml",
    )
    w.policy.write_text(POLICY.format(model=w.model, schema=w.schema))
    admin_call(
        w.mlflow_url, "POST", "/api/2.0/mlflow/registered-models/create", json={"name": w.model}
    ).raise_for_status()
    users = ("U0ONCALL", "U0ADMIN")
    for user in users:
        admin_call(
            w.mlflow_url,
            "POST",
            "/api/2.0/mlflow/users/create",
            json={"username": w.account(user), "password": USER_PASSWORD},
        ).raise_for_status()
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(w.schema)))
        conn.execute(
            sql.SQL("CREATE TABLE {}.training_rows (sepal_length real, species text)").format(
                sql.Identifier(w.schema)
            )
        )
        for user in users:
            role = sql.Identifier(w.account(user))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(w.schema), role)
            )
    yield w
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(w.schema)))
        for user in users:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(w.account(user))))
