"""The access flows: check, request, approve or deny, break-glass, revoke, extend, list, export.

Every decision is checked here (policy, approvers, no self-approval) and written to the audit
trail; the lifecycle (bot/access/lifecycle.py) then makes, reminds and revokes the grant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.access import service
from bot.access.export import export_grants
from bot.access.lifecycle import GrantLifecycle
from bot.access.models import (
    ACTIVE,
    APPROVED,
    DENIED,
    LAPSED,
    LIVE,
    MERGED,
    OPEN,
    PENDING,
    GrantView,
)
from bot.access.policy import AccessPolicy, Need, format_duration
from bot.access.ports import AccessNotifier, IncidentPort
from bot.access.providers import AccessProvider, Probe
from bot.access.requests import AccessRefused, parse_request
from bot.db import Database


@dataclass(frozen=True)
class ResourceAccess:
    resource: str
    provider: str
    probe: Probe
    grant: GrantView | None  # the bot's live grant, if any


@dataclass(frozen=True)
class AccessReport:
    """`/iris access check`: what the user reaches, and what each runbook still misses."""

    user: str
    rows: list[ResourceAccess]
    missing: dict[str, list[Need]]
    warnings: dict[str, str] = field(default_factory=dict)


class AccessFlows:
    def __init__(
        self,
        *,
        db: Database,
        policy: AccessPolicy,
        providers: dict[str, AccessProvider],
        lifecycle: GrantLifecycle,
        notifier: AccessNotifier,
        admins: frozenset[str],
        now: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.policy = policy
        self.providers = providers
        self.lifecycle = lifecycle
        self.notifier = notifier
        self.admins = admins
        self.now = now
        # Provider -> what is wrong with it, found at start (e.g. MLflow's default permission).
        self.warnings: dict[str, str] = {}

    async def check_providers(self) -> dict[str, str]:
        """Each provider's health at start; problems are kept and shown by `access check`."""
        for name, provider in self.providers.items():
            try:
                problem = await provider.health()
            except Exception as exc:  # a provider down at start is a warning, not a crash
                problem = str(exc)
            if problem:
                self.warnings[name] = problem
            else:
                self.warnings.pop(name, None)
        return dict(self.warnings)

    async def get(self, grant_id: int) -> GrantView:
        grant = await self.db.call(service.get, grant_id=grant_id)
        if grant is None:
            raise AccessRefused("unknown_grant", ref=f"G-{grant_id}")
        return grant

    # --- diagnosis -----------------------------------------------------------------------
    async def check(self, user: str) -> AccessReport:
        """Probe every resource live, in parallel, and compare with what each runbook needs."""
        resources = list(self.policy.resources.values())
        probes = await asyncio.gather(
            *(self.providers[r.provider].check(user, r) for r in resources)
        )
        grants = {g.resource: g for g in await self.listing(user) if g.state in LIVE}
        rows = []
        for r, p in zip(resources, probes, strict=True):
            if p.manual:  # nothing to probe: the bot's own record of the checklist is the answer
                held = grants.get(r.name)
                p = Probe(
                    level=held.level if held and held.state == ACTIVE else None,
                    account=p.account,
                    manual=True,
                )
            rows.append(ResourceAccess(r.name, r.provider, p, grants.get(r.name)))
        held = {row.resource: row.probe.level for row in rows}
        missing: dict[str, list[Need]] = {}
        for runbook, needs in self.policy.needs.items():
            for need in needs:
                level = held.get(need.resource)
                resource = self.policy.resources[need.resource]
                if level is None or resource.rank(level) < resource.rank(need.level):
                    missing.setdefault(runbook, []).append(need)
        return AccessReport(user=user, rows=rows, missing=missing, warnings=dict(self.warnings))

    # --- asking and deciding ---------------------------------------------------------------
    async def request(self, *, requester: str, words: list[str]) -> GrantView:
        """A request for the requester; the card goes to the resource's approvers."""
        asked = parse_request(words, self.policy)
        mine = await self.listing(requester)
        for g in mine:
            if g.resource == asked.resource.name and g.level == asked.level and g.state in OPEN:
                raise AccessRefused("already", grant=g)
        grant = await self.db.call(
            service.create,
            user_id=requester,
            resource=asked.resource.name,
            level=asked.level,
            reason=asked.reason,
            requested_by=requester,
            duration_seconds=int(asked.duration.total_seconds()),
            now=self.now(),
            policy_version=self.policy.version,
        )
        await self._audit(requester, "request", grant, "pending", asked.reason)
        await self._card(grant)
        return grant

    async def _card(self, grant: GrantView) -> None:
        resource = self.policy.resources[grant.resource]
        approvers = self.policy.approvers_of(resource, self.admins)
        where = await self.notifier.request_card(grant, approvers, resource.approvers_channel)
        if where is not None:
            await self.db.call(
                service.set_fields, grant_id=grant.id, card_channel=where[0], card_ts=where[1]
            )

    def _decider(self, grant: GrantView, approver: str) -> None:
        if approver in (grant.user_id, grant.requested_by):
            raise AccessRefused("self_approval", grant=grant)
        resource = self.policy.resource(grant.resource)
        if resource is None or approver not in self.policy.approvers_of(resource, self.admins):
            raise AccessRefused("not_approver", grant=grant)

    async def may_decide(self, *, grant_id: int, approver: str) -> GrantView:
        """Refuse early (before a modal opens) an approver who may not decide this request."""
        grant = await self.get(grant_id)
        self._decider(grant, approver)
        if grant.state != PENDING:
            raise AccessRefused("decided", grant=grant)
        return grant

    async def approve(self, *, grant_id: int, approver: str) -> GrantView:
        """Approve once (a second click finds it decided) and make the grant."""
        grant = await self.get(grant_id)
        self._decider(grant, approver)
        # One transaction for the decision and its audit record: the click's effect waits on as
        # few database round trips as it can.
        moved = await self.db.call(
            service.decide, grant=grant, to_state=APPROVED, approver=approver, approved_by=approver
        )
        if not moved:
            raise AccessRefused("decided", grant=await self.get(grant_id))
        grant = grant.model_copy(update={"state": APPROVED, "approved_by": approver})
        if grant.extends_id is not None:
            done = await self._merge_extension(grant)
        else:
            done = await self.lifecycle.apply(grant.id, view=grant) or grant
        # The card after the grant: the click's effect does not wait on a message edit.
        await self.notifier.refresh_card(await self.get(grant_id))
        return done

    async def deny(self, *, grant_id: int, approver: str, reason: str) -> GrantView:
        grant = await self.get(grant_id)
        self._decider(grant, approver)
        if not reason.strip():
            raise AccessRefused("no_deny_reason", grant=grant)
        moved = await self.db.call(
            service.move,
            grant_id=grant.id,
            from_states=[PENDING],
            to_state=DENIED,
            denied_by=approver,
            deny_reason=reason.strip(),
            ended_at=self.now(),
        )
        if not moved:
            raise AccessRefused("decided", grant=await self.get(grant_id))
        grant = await self.get(grant_id)
        await self._audit(approver, "deny", grant, "ok", reason)
        await self.notifier.refresh_card(grant)
        await self.notifier.notify("denied", grant, "user")
        return grant

    async def break_glass(
        self,
        *,
        actor: str,
        user: str,
        incident_ref: str | None,
        words: list[str],
        incidents: IncidentPort,
    ) -> GrantView:
        """An emergency grant during an open incident, by its commander or an admin."""
        incident = await incidents.find(incident_ref)
        if incident is None or not incident.is_open:
            raise AccessRefused("no_open_incident", ref=incident_ref)
        if actor != incident.commander and actor not in self.admins:
            raise AccessRefused("not_commander", ref=incident.ref, commander=incident.commander)
        asked = parse_request(words, self.policy, cap=self.policy.break_glass)
        grant = await self.db.call(
            service.create,
            user_id=user,
            resource=asked.resource.name,
            level=asked.level,
            reason=asked.reason,
            requested_by=actor,
            duration_seconds=int(asked.duration.total_seconds()),
            now=self.now(),
            policy_version=self.policy.version,
            state=APPROVED,
            break_glass=True,
            incident_id=incident.id,
        )
        await self._audit(actor, "break_glass", grant, "ok", f"{incident.ref}: {asked.reason}")
        await incidents.record(
            incident.id,
            "break_glass",
            actor,
            asked.reason,
            {
                "grant": grant.ref,
                "user": user,
                "resource": grant.resource,
                "level": grant.level,
                "for": format_duration(asked.duration),
            },
        )
        return await self.lifecycle.apply(grant.id) or grant

    # --- ending and extending --------------------------------------------------------------
    def _may_change(self, grant: GrantView, actor: str) -> bool:
        resource = self.policy.resource(grant.resource)
        approvers = self.policy.approvers_of(resource, self.admins) if resource else frozenset()
        return actor in (grant.user_id, grant.requested_by) or actor in approvers | self.admins

    async def revoke(self, *, grant_id: int, actor: str) -> GrantView:
        grant = await self.get(grant_id)
        if not self._may_change(grant, actor):
            raise AccessRefused("not_yours", grant=grant)
        if grant.state == PENDING:
            await self.db.call(
                service.move,
                grant_id=grant.id,
                from_states=[PENDING],
                to_state=LAPSED,
                ended_at=self.now(),
                end_reason="withdrawn",
            )
            grant = await self.get(grant_id)
            await self._audit(actor, "withdraw", grant, "ok")
            await self.notifier.refresh_card(grant)
            return grant
        if grant.state not in LIVE:
            raise AccessRefused("not_live", grant=grant)
        return await self.lifecycle.end(grant, actor=actor, reason="revoked") or grant

    async def extend(self, *, grant_id: int, actor: str, text: str) -> GrantView:
        """Longer, within the level's cap: at once if the policy lets the holder, else a new
        request for approval."""
        grant = await self.get(grant_id)
        if not self._may_change(grant, actor):
            raise AccessRefused("not_yours", grant=grant)
        if grant.state != ACTIVE or grant.until is None:
            raise AccessRefused("not_live", grant=grant)
        resource = self.policy.resources[grant.resource]
        more = parse_request([grant.resource, grant.level, text, "because", "extend"], self.policy)
        cap = resource.levels[grant.level]
        if grant.until + more.duration - self.now() > cap:
            raise AccessRefused(
                "over_cap",
                resource=grant.resource,
                level=grant.level,
                asked=format_duration(grant.until + more.duration - self.now()),
                cap=format_duration(cap),
            )
        if not resource.self_extend:
            request = await self.db.call(
                service.create,
                user_id=grant.user_id,
                resource=grant.resource,
                level=grant.level,
                reason=f"extend {grant.ref}: {grant.reason}",
                requested_by=actor,
                duration_seconds=int(more.duration.total_seconds()),
                now=self.now(),
                policy_version=self.policy.version,
                extends_id=grant.id,
            )
            await self._audit(actor, "extend_request", request, "pending")
            await self._card(request)
            return request
        return await self._lengthen(grant, more.duration, actor)

    async def _lengthen(self, grant: GrantView, more: timedelta, actor: str) -> GrantView:
        assert grant.until is not None
        until = grant.until + more
        await self.db.call(
            service.set_fields,
            grant_id=grant.id,
            until=until,
            duration_seconds=grant.duration_seconds + int(more.total_seconds()),
            reminders=[],
        )
        grant = await self.get(grant.id)
        self.lifecycle.schedule(grant)
        await self._audit(actor, "extend", grant, "ok", until.isoformat())
        await self.notifier.notify("extended", grant, "user")
        return grant

    async def _merge_extension(self, request: GrantView) -> GrantView:
        assert request.extends_id is not None
        grant = await self.get(request.extends_id)
        await self.db.call(
            service.move,
            grant_id=request.id,
            from_states=[APPROVED],
            to_state=MERGED,
            ended_at=self.now(),
            end_reason=f"extends {grant.ref}",
        )
        if grant.state != ACTIVE:
            raise AccessRefused("not_live", grant=grant)
        return await self._lengthen(
            grant, timedelta(seconds=request.duration_seconds), request.approved_by or "system"
        )

    # --- reading -------------------------------------------------------------------------
    async def listing(self, user: str | None, *, everything: bool = False) -> list[GrantView]:
        states = OPEN if not everything else (*OPEN, "revoked", DENIED, LAPSED, "failed", MERGED)
        return await self.db.call(service.of_user, user_id=user, states=states)

    async def export(self, *, since: timedelta, fmt: str) -> tuple[str, str]:
        """The audit export of requests, approvals, grants and revocations: (content, name)."""
        return await self.db.call(export_grants, since=self.now() - since, fmt=fmt, now=self.now())

    async def sweep(self) -> list[int]:
        """Pending requests nobody answered lapse, and say so; overdue grants are revoked."""
        lapsed = []
        for grant in await self.db.call(
            service.lapsed_requests, older_than=self.now() - self.policy.pending
        ):
            if await self.db.call(
                service.move,
                grant_id=grant.id,
                from_states=[PENDING],
                to_state=LAPSED,
                ended_at=self.now(),
                end_reason="nobody answered",
            ):
                grant = await self.get(grant.id)
                await self._audit("system", "lapse", grant, "ok")
                await self.notifier.refresh_card(grant)
                await self.notifier.notify("lapsed", grant, "user")
                lapsed.append(grant.id)
        for grant in await self.db.call(service.live):
            if grant.state == ACTIVE and grant.until is not None and grant.until <= self.now():
                await self.lifecycle.expire(grant.id)
        return lapsed

    async def _audit(
        self, actor: str, action: str, grant: GrantView, result: str, detail: str = ""
    ) -> None:
        await self.db.call(
            service.record, actor=actor, action=action, grant=grant, result=result, detail=detail
        )
