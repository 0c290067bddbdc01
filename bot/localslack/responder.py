"""The scripted responder of a game day: a user of the stand-in who clicks what the runbook
offers, as a person would, through the stand-in (signed requests to the bot), nothing patched."""

from __future__ import annotations

from bot.gameday.context import DrillContext
from bot.gameday.scenario import RespondStep
from bot.localslack.models import Message
from bot.localslack.slack import LocalSlack

# A person's patience; the drill cancels the responder when it ends, so this is only a bound.
WAIT_SECONDS = 600.0


class ScriptedResponder:
    def __init__(self, slack: LocalSlack, *, user: str) -> None:
        self.slack, self.user = slack, user

    async def respond(self, *, ctx: DrillContext, steps: list[RespondStep]) -> int:
        """Click each step's button on the first message that offers it; the clicks made."""
        clicks = 0
        for step in steps:

            def offers(m: Message, step: RespondStep = step) -> bool:
                return (
                    float(m.ts) >= ctx.started  # this drill's messages, not older cards
                    and not m.deleted
                    and any(action == step.click for action, _, _ in m.buttons)
                    and step.text in m.plain()
                )

            message = await self.slack.wait_for(offers, timeout=WAIT_SECONDS)
            await self.slack.click(self.user, message, step.click)
            clicks += 1
        return clicks

    async def duplicates(self, *, ctx: DrillContext, subscribers: list[str]) -> int:
        """Stakeholder updates a subscriber received more than once (same ledger row, seen in
        the message metadata of their DMs)."""
        extra = 0
        for subscriber in subscribers:
            seen: set[str] = set()
            for message in self.slack.dms(subscriber):
                payload = (message.metadata or {}).get("event_payload")
                if float(message.ts) < ctx.started or not payload:
                    continue
                key = repr(sorted(payload.items()))
                extra += key in seen
                seen.add(key)
        return extra
