"""A grant's life after approval: make it at the provider (retried with backoff while the
provider is down), remind before the end, revoke at the deadline (retried until it succeeds, the
admins alerted when it keeps failing), and reconcile the records with the providers' real state
at start-up (missed deadlines revoked at once, changes made by hand reported)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.access import service
from bot.access.models import ACTIVE, APPROVED, FAILED, LIVE, REVOKED, REVOKING, GrantView
from bot.access.policy import AccessPolicy, format_duration
from bot.access.ports import AccessNotifier, GrantClock
from bot.access.providers import AccessProvider, ProviderError
from bot.db import Database

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
EARLY = timedelta(seconds=2)


def backoff(attempts: int, *, base: float, cap: float) -> timedelta:
    """2 s, 4 s, 8 s ... up to `cap` between tries."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def reminder_marks(duration: timedelta) -> list[tuple[str, timedelta]]:
    """Reminders before the end: 1 h for grants of a day or less, 1 day and 1 h for longer."""
    if duration <= DAY:
        return [("1h", HOUR)]
    return [("1d", DAY), ("1h", HOUR)]


class GrantLifecycle:
    def __init__(
        self,
        *,
        db: Database,
        policy: AccessPolicy,
        providers: dict[str, AccessProvider],
        notifier: AccessNotifier,
        clock: GrantClock,
        now: Callable[[], datetime],
        retry_base_seconds: float = 2.0,
        retry_cap_seconds: float = 300.0,
        alert_after: int = 3,
    ) -> None:
        self.db = db
        self.policy = policy
        self.providers = providers
        self.notifier = notifier
        self.clock = clock
        self.now = now
        self.retry_base = retry_base_seconds
        self.retry_cap = retry_cap_seconds
        self.alert_after = alert_after

    def provider_of(self, grant: GrantView) -> tuple[AccessProvider, object]:
        resource = self.policy.resource(grant.resource)
        if resource is None:
            raise ProviderError(f"{grant.resource} is no longer in the policy", retry=False)
        return self.providers[resource.provider], resource

    async def _get(self, grant_id: int) -> GrantView | None:
        return await self.db.call(service.get, grant_id=grant_id)

    def schedule(self, grant: GrantView) -> None:
        """The deadline and the reminders of an active grant (replacing any earlier ones)."""
        if grant.until is None:
            return
        self.clock.at(grant.id, grant.until, "deadline")
        now = self.now()
        for mark, before in reminder_marks(timedelta(seconds=grant.duration_seconds)):
            if grant.until - before > now and mark not in grant.reminders:
                self.clock.at(grant.id, grant.until - before, f"remind:{mark}")

    # --- granting ------------------------------------------------------------------------
    async def apply(self, grant_id: int, *, view: GrantView | None = None) -> GrantView | None:
        """Make an approved grant at its provider; retried with backoff if the provider is down.
        `view`: the row as the caller just wrote it (saves reading it back)."""
        grant = view if view is not None else await self._get(grant_id)
        if grant is None or grant.state != APPROVED:
            return grant
        try:
            provider, resource = self.provider_of(grant)
            now = self.now()
            until = now + timedelta(seconds=grant.duration_seconds)
            await provider.grant(grant.user_id, resource, grant.level, until)  # type: ignore[arg-type]
        except ProviderError as exc:
            return await self._grant_failed(grant, exc)
        moved = await self.db.call(
            service.move,
            grant_id=grant.id,
            from_states=[APPROVED],
            to_state=ACTIVE,
            granted_at=now,
            until=until,
            last_error="",
        )
        grant = await self._get(grant.id)
        assert grant is not None
        if moved:
            if resource.provider == "manual":  # type: ignore[attr-defined]
                await self.notifier.notify("checklist_grant", grant, "admins", resource=resource)
            self.schedule(grant)
            await self._audit("system", "granted", grant, "ok")
            await self.notifier.notify("granted", grant, "user")
            await self.notifier.notify("granted", grant, "card")
        return grant

    async def _grant_failed(self, grant: GrantView, exc: ProviderError) -> GrantView | None:
        attempts = grant.attempts + 1
        if not exc.retry:
            await self.db.call(
                service.move,
                grant_id=grant.id,
                from_states=[APPROVED],
                to_state=FAILED,
                attempts=attempts,
                last_error=exc.problem,
                ended_at=self.now(),
                end_reason="grant_failed",
            )
            grant = await self._get(grant.id)
            assert grant is not None
            await self._audit("system", "grant", grant, "failed", exc.problem)
            await self.notifier.notify("grant_failed", grant, "user", problem=exc.problem)
            await self.notifier.notify("grant_failed", grant, "card", problem=exc.problem)
            return grant
        wait = backoff(attempts, base=self.retry_base, cap=self.retry_cap)
        await self.db.call(
            service.set_fields, grant_id=grant.id, attempts=attempts, last_error=exc.problem
        )
        self.clock.at(grant.id, self.now() + wait, f"retry_grant:{attempts}")
        grant = await self._get(grant.id)
        assert grant is not None
        await self._audit("system", "grant", grant, "retrying", exc.problem)
        await self.notifier.notify(
            "grant_retrying", grant, "card", problem=exc.problem, wait=int(wait.total_seconds())
        )
        return grant

    # --- revoking ------------------------------------------------------------------------
    async def expire(self, grant_id: int) -> GrantView | None:
        """The deadline job: revoke if the grant's (possibly extended) end has come."""
        grant = await self._get(grant_id)
        if grant is None or grant.state != ACTIVE or grant.until is None:
            return grant
        # A date job may fire a few milliseconds early; re-arming it then, while this instance
        # still runs, would be skipped by the scheduler (one instance per job). Early by at most
        # EARLY is revoked now, which is the safe side.
        if grant.until > self.now() + EARLY:
            self.schedule(grant)  # extended since this job was set
            return grant
        return await self.end(grant, actor="system", reason="expired")

    async def end(self, grant: GrantView, *, actor: str, reason: str) -> GrantView | None:
        """Start revoking a live grant (deadline, `revoke` command, start-up); then revoke."""
        moved = await self.db.call(
            service.move,
            grant_id=grant.id,
            from_states=[ACTIVE, APPROVED],
            to_state=REVOKING,
            end_reason=reason,
        )
        if moved:
            await self._audit(actor, "revoke", grant, "started", reason)
        return await self.revoke_now(grant.id)

    async def revoke_now(self, grant_id: int) -> GrantView | None:
        grant = await self._get(grant_id)
        if grant is None or grant.state != REVOKING:
            return grant
        try:
            provider, resource = self.provider_of(grant)
            await provider.revoke(grant.user_id, resource)  # type: ignore[arg-type]
        except ProviderError as exc:
            return await self._revoke_failed(grant, exc)
        moved = await self.db.call(
            service.move,
            grant_id=grant.id,
            from_states=[REVOKING],
            to_state=REVOKED,
            ended_at=self.now(),
            last_error="",
        )
        self.clock.cancel(grant.id)
        grant = await self._get(grant.id)
        assert grant is not None
        if moved:
            if resource.provider == "manual":  # type: ignore[attr-defined]
                await self.notifier.notify("checklist_revoke", grant, "admins", resource=resource)
            await self._audit("system", "revoked", grant, "ok", grant.end_reason)
            await self.notifier.notify("revoked", grant, "user")
        return grant

    async def _revoke_failed(self, grant: GrantView, exc: ProviderError) -> GrantView | None:
        attempts = grant.attempts + 1
        wait = backoff(attempts, base=self.retry_base, cap=self.retry_cap)
        await self.db.call(
            service.set_fields, grant_id=grant.id, attempts=attempts, last_error=exc.problem
        )
        # Retried whatever the error: access that should be gone must not stay by accident.
        self.clock.at(grant.id, self.now() + wait, f"retry_revoke:{attempts}")
        grant = await self._get(grant.id)
        assert grant is not None
        await self._audit("system", "revoke", grant, "retrying", exc.problem)
        if attempts == self.alert_after:
            await self.notifier.notify(
                "revoke_failing", grant, "admins", problem=exc.problem, attempts=attempts
            )
        return grant

    # --- reminders -----------------------------------------------------------------------
    async def remind(self, grant_id: int, mark: str) -> bool:
        grant = await self._get(grant_id)
        if grant is None or grant.state != ACTIVE or mark in grant.reminders:
            return False
        await self.db.call(
            service.set_fields, grant_id=grant.id, reminders=[*grant.reminders, mark]
        )
        # The Extend button asks for as much again as fits under the level's cap.
        resource = self.policy.resource(grant.resource)
        left = (grant.until - self.now()) if grant.until else timedelta(0)
        room = (resource.levels.get(grant.level, HOUR) if resource else HOUR) - left
        more = min(timedelta(seconds=grant.duration_seconds), max(room, timedelta(minutes=1)))
        await self.notifier.notify(
            "reminder", grant, "user", left=mark, extend_by=format_duration(more)
        )
        return True

    # --- start-up ------------------------------------------------------------------------
    async def reconcile(self) -> dict[str, list[int]]:
        """Records against the providers: finish what was left, revoke what is overdue, report
        what changed by hand. The grants touched, by what happened to them."""
        done: dict[str, list[int]] = {"revoked": [], "retried": [], "drift": [], "scheduled": []}
        now = self.now()
        for grant in await self.db.call(service.live):
            if grant.state == APPROVED:
                await self.apply(grant.id)
                done["retried"].append(grant.id)
            elif grant.state == REVOKING:
                await self.revoke_now(grant.id)
                done["retried"].append(grant.id)
            elif grant.until is not None and grant.until <= now:
                await self.end(grant, actor="system", reason="expired")
                done["revoked"].append(grant.id)
            else:
                if await self._drift(grant):
                    done["drift"].append(grant.id)
                self.schedule(grant)
                done["scheduled"].append(grant.id)
        return done

    async def _drift(self, grant: GrantView) -> bool:
        """Report (once per change) a grant removed or widened behind the bot's back."""
        try:
            provider, resource = self.provider_of(grant)
            probe = await provider.check(grant.user_id, resource)  # type: ignore[arg-type]
        except ProviderError:
            return False
        if probe.problem or probe.manual:
            return False
        if probe.level is None:
            drift = "removed"
        elif resource.rank(probe.level) > resource.rank(grant.level):  # type: ignore[attr-defined]
            drift = f"widened:{probe.level}"
        else:
            return False
        if drift == grant.drift:
            return False
        await self.db.call(service.set_fields, grant_id=grant.id, drift=drift)
        grant = grant.model_copy(update={"drift": drift})
        await self._audit("system", "drift", grant, "reported", drift)
        await self.notifier.notify("drift", grant, "admins", found=probe.level)
        return True

    async def _audit(
        self, actor: str, action: str, grant: GrantView, result: str, detail: str = ""
    ) -> None:
        await self.db.call(
            service.record, actor=actor, action=action, grant=grant, result=result, detail=detail
        )


__all__ = ["GrantLifecycle", "LIVE", "backoff", "reminder_marks"]
