"""Training-data access as PostgreSQL privileges: `GRANT SELECT` / `REVOKE SELECT` on the
training tables to the user's own role. Identifiers are always quoted with
`psycopg.sql.Identifier`; nothing a person typed is ever pasted into SQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import psycopg
from psycopg import sql

from bot.access.policy import Resource
from bot.access.providers import Probe, ProviderError, probe_many

PRIVILEGE = {"READ": "SELECT"}


def _table(target: str) -> sql.Composable:
    schema, table = target.split(".", 1)
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


class PostgresRoleProvider:
    name = "postgres"

    def __init__(self, dsn: str, *, account_of: Callable[[str], str], timeout: int = 5) -> None:
        self.dsn = dsn.replace("postgresql+psycopg://", "postgresql://", 1)
        self.account_of = account_of
        self.timeout = timeout

    def _run(self, fn: Callable[[psycopg.Connection], object]) -> object:
        try:
            with psycopg.connect(self.dsn, autocommit=True, connect_timeout=self.timeout) as conn:
                return fn(conn)
        except psycopg.OperationalError as exc:
            raise ProviderError(f"PostgreSQL is unreachable: {str(exc).splitlines()[0]}") from None

    async def _call(self, fn: Callable[[psycopg.Connection], object]) -> object:
        return await asyncio.to_thread(self._run, fn)

    def _role_exists(self, conn: psycopg.Connection, role: str) -> bool:
        row = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        return row is not None

    async def check(self, user: str, resource: Resource) -> Probe:
        role = self.account_of(user)

        def probe(conn: psycopg.Connection) -> str | None:
            if not self._role_exists(conn, role):
                raise ProviderError(f"no PostgreSQL role {role!r}", retry=False)
            for target in resource.target:
                row = conn.execute(
                    "SELECT has_table_privilege(%s, %s, 'SELECT')", (role, target)
                ).fetchone()
                if not row or not row[0]:
                    return None
            return "READ"

        try:
            level = await self._call(probe)
        except ProviderError as exc:
            return Probe(level=None, account=role, problem=exc.problem)
        except psycopg.Error as exc:
            return Probe(level=None, account=role, problem=str(exc).splitlines()[0])
        return Probe(level=level if isinstance(level, str) else None, account=role)

    def _statement(self, verb: str, role: str, resource: Resource) -> sql.Composed:
        tables = sql.SQL(", ").join(_table(t) for t in resource.target)
        word = "TO" if verb == "GRANT" else "FROM"
        return sql.SQL("{} SELECT ON TABLE {} {} {}").format(
            sql.SQL(verb), tables, sql.SQL(word), sql.Identifier(role)
        )

    async def grant(self, user: str, resource: Resource, level: str, until: datetime) -> None:
        role = self.account_of(user)

        def run(conn: psycopg.Connection) -> None:
            if not self._role_exists(conn, role):
                raise ProviderError(f"no PostgreSQL role {role!r}", retry=False)
            conn.execute(self._statement("GRANT", role, resource))

        try:
            await self._call(run)
        except psycopg.Error as exc:
            raise ProviderError(str(exc).splitlines()[0], retry=False) from None

    async def revoke(self, user: str, resource: Resource) -> None:
        role = self.account_of(user)

        def run(conn: psycopg.Connection) -> None:
            if self._role_exists(conn, role):  # a dropped role holds nothing
                conn.execute(self._statement("REVOKE", role, resource))

        try:
            await self._call(run)
        except psycopg.Error as exc:
            raise ProviderError(str(exc).splitlines()[0]) from None

    async def list_grants(self, resource: Resource, users: list[str]) -> dict[str, str | None]:
        return await probe_many(self, resource, users)

    async def health(self) -> str:
        try:
            await self._call(lambda conn: conn.execute("SELECT 1"))
        except ProviderError as exc:
            return exc.problem
        return ""
