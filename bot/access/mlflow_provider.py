"""Registry access through MLflow's own permissions (the `basic-auth` app of `mlflow server`).

The bot is an MLflow admin and talks REST: `users/get|create` under /api/2.0/mlflow/ and the
per-user permission calls `users/permissions/grant|revoke|get` under /api/3.0/mlflow/ (the form
MLflow 3 serves; `get` answers the user's effective permission the way a real request would be
judged, so `check` sees what the user sees). MLflow grants never expire: the bot revokes them.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from bot.access.policy import Resource
from bot.access.providers import Probe, ProviderError, probe_many

NONE = "NO_PERMISSIONS"
PROBE_USER = "iris-access-probe"


class MlflowAuthProvider:
    name = "mlflow"

    def __init__(
        self,
        url: str,
        *,
        username: str,
        password: str,
        account_of: Callable[[str], str],
        timeout: float = 20.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.auth = (username, password)
        self.account_of = account_of
        self.timeout = timeout

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            async with httpx.AsyncClient(auth=self.auth, timeout=self.timeout) as client:
                response = await client.request(method, f"{self.url}{path}", **kwargs)
            # A client per call: the URL may change (a team moves its server) and nothing leaks
            # when the bot stops; the server's credential cache keeps the call cheap.
        except httpx.HTTPError as exc:
            raise ProviderError(
                f"MLflow at {self.url} is unreachable ({type(exc).__name__})"
            ) from None
        if response.status_code in (401, 403):
            raise ProviderError(
                f"MLflow refused the bot's admin credentials ({response.status_code})", retry=False
            )
        if response.status_code >= 500:
            raise ProviderError(f"MLflow answered {response.status_code}")
        return response

    async def _account(self, user: str) -> str:
        account = self.account_of(user)
        response = await self._call(
            "GET", "/api/2.0/mlflow/users/get", params={"username": account}
        )
        if response.status_code == 404:
            raise ProviderError(f"no MLflow user {account!r}: sign up on MLflow first", retry=False)
        return account

    def _permission_body(self, account: str, resource: Resource) -> dict[str, str]:
        return {
            "username": account,
            "resource_type": "registered_model",
            "resource_id": resource.target[0],
        }

    async def check(self, user: str, resource: Resource) -> Probe:
        account = self.account_of(user)
        try:
            await self._account(user)
        except ProviderError as exc:
            return Probe(level=None, account=account, problem=exc.problem)
        response = await self._call(
            "GET",
            "/api/3.0/mlflow/users/permissions/get",
            params=self._permission_body(account, resource),
        )
        if response.status_code != 200:
            return Probe(level=None, account=account, problem=response.text[:200])
        permission = str(response.json().get("permission") or NONE)
        return Probe(level=None if permission == NONE else permission, account=account)

    async def grant(self, user: str, resource: Resource, level: str, until: datetime) -> None:
        # One call: MLflow answers 404 itself when the user has no account.
        account = self.account_of(user)
        response = await self._call(
            "POST",
            "/api/3.0/mlflow/users/permissions/grant",
            json={**self._permission_body(account, resource), "permission": level},
        )
        if response.status_code == 404:
            raise ProviderError(f"no MLflow user {account!r}: sign up on MLflow first", retry=False)
        if response.status_code != 200:
            raise ProviderError(f"MLflow refused the grant: {response.text[:200]}", retry=False)

    async def revoke(self, user: str, resource: Resource) -> None:
        account = self.account_of(user)
        response = await self._call(
            "POST",
            "/api/3.0/mlflow/users/permissions/revoke",
            json=self._permission_body(account, resource),
        )
        # 404: no such grant (or user) any more: revoked is what we wanted.
        if response.status_code not in (200, 404):
            raise ProviderError(f"MLflow refused the revocation: {response.text[:200]}")

    async def list_grants(self, resource: Resource, users: list[str]) -> dict[str, str | None]:
        return await probe_many(self, resource, users)

    async def health(self) -> str:
        """Checks the admin credentials and that the server's default permission is
        NO_PERMISSIONS (else a READ grant means nothing: everyone reads already)."""
        create = await self._call(
            "POST",
            "/api/2.0/mlflow/users/create",
            json={"username": PROBE_USER, "password": secrets.token_urlsafe(24)},
        )
        if create.status_code not in (200, 400, 409):
            return f"cannot create the probe user ({create.status_code})"
        # The Default experiment (id 0) always exists and nobody is granted anything on it.
        response = await self._call(
            "GET",
            "/api/3.0/mlflow/users/permissions/get",
            params={"username": PROBE_USER, "resource_type": "experiment", "resource_id": "0"},
        )
        if response.status_code != 200:
            return f"cannot read permissions ({response.status_code})"
        default = str(response.json().get("permission") or "")
        if default != NONE:
            return f"default_permission is {default}, not {NONE}: every user can already {default}"
        return ""
