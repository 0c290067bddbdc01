"""The embedded MLflow tracking server with its auth app (`mlflow server --app-name
basic-auth`, SQLite stores under the data directory), for `make run` with access control on.

A team with its own server sets ACCESS_MLFLOW_URL instead and none of this runs. The server's
`basic_auth.ini` is written here with `default_permission = NO_PERMISSIONS`, so a user reaches a
model only through a grant, and the bot as its admin.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

INI = """[mlflow]
default_permission = NO_PERMISSIONS
database_uri = sqlite:///{auth_db}
admin_username = {username}
admin_password = {password}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
# A checked password is remembered for a minute: MLflow hashes it on every request otherwise,
# which is most of a request's cost. Permissions are still read on every request.
auth_cache_ttl_seconds = 60
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class MlflowAuthServer:
    """One `mlflow server --app-name basic-auth` process on 127.0.0.1."""

    directory: Path
    username: str
    password: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process (it is ready some seconds later: `wait_ready`)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        ini = self.directory / "basic_auth.ini"
        ini.write_text(
            INI.format(
                auth_db=self.directory / "auth.db", username=self.username, password=self.password
            )
        )
        secret = self.directory / "flask_secret"
        if not secret.exists():
            secret.write_text(secrets.token_hex(16))
        env = {
            **os.environ,
            "MLFLOW_AUTH_CONFIG_PATH": str(ini),
            "MLFLOW_FLASK_SERVER_SECRET_KEY": secret.read_text().strip(),
        }
        command = [
            str(Path(sys.executable).with_name("mlflow")),
            "server",
            "--app-name",
            "basic-auth",
            "--backend-store-uri",
            f"sqlite:///{self.directory / 'mlflow.db'}",
            "--default-artifact-root",
            str(self.directory / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        log = (self.directory / "server.log").open("ab")
        self.process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the MLflow server exited; see {self.directory}/server.log")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"the MLflow server did not answer on {self.url}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Its own session: uvicorn's worker goes with it.
        os.killpg(self.process.pid, 15)
        try:
            self.process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()
