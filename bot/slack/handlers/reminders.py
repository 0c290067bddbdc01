"""The commander reminder's buttons ("Post update", "Snooze 30 min") and the update modal."""

from __future__ import annotations

from bot.access.roles import Role
from bot.commands.context import UserError
from bot.commands.registry import CommandRegistry
from bot.incidents.models import IncidentView
from bot.messages import Rendered
from bot.services import Services
from bot.slack.handlers.incident_common import IncidentHandlers
from bot.slack.interactions import Interaction, InteractionRegistry, Submission
from bot.slack.reminder_poster import UPDATE_MODAL, update_modal
from bot.updates.reminders import CommanderReminders, ReminderView, news_since_update

# The modal's one input (templates/incident_update_modal.j2).
UPDATE_BLOCK, UPDATE_INPUT = "update", "text"


def register(
    services: Services, commands: CommandRegistry, interactions: InteractionRegistry
) -> None:
    kit = IncidentHandlers(services)
    answer = kit.answer

    def reminders() -> CommanderReminders:
        found = kit.updates().reminders
        if found is None:
            raise UserError("incident_answer", kind="not_set_up")
        return found

    async def reminded(click: Interaction) -> tuple[ReminderView, IncidentView]:
        reminder = await reminders().reminder(int(click.value)) if click.value.isdigit() else None
        if reminder is None:
            raise UserError("incident_answer", kind="not_found", wanted="that reminder")
        return reminder, await kit.by_id(reminder.incident_id)

    @interactions.action(
        "incident.reminder.snooze", role=Role.ONCALL, summary="Snooze the update reminder"
    )
    async def on_snooze(click: Interaction) -> Rendered | None:
        reminder, incident = await reminded(click)
        if not incident.is_open:
            return answer(click.slash, "update_closed", incident=incident)
        done, after = await reminders().snooze(reminder_id=reminder.id, user=click.user_id)
        if not done or after is None or after.snoozed_until is None:
            return answer(click.slash, "reminder_answered")
        return answer(click.slash, "snoozed", incident=incident, until=after.snoozed_until)

    @interactions.action(
        "incident.reminder.update",
        role=Role.ONCALL,
        summary="Write a stakeholder update in a form prefilled from the timeline",
    )
    async def on_post_update(click: Interaction) -> Rendered | None:
        reminder, incident = await reminded(click)
        if not incident.is_open:
            return answer(click.slash, "update_closed", incident=incident)
        view = update_modal(
            services.renderer,
            slash=click.slash,
            incident=incident,
            news=news_since_update(incident),
            metadata={
                "incident": incident.id,
                "reminder": reminder.id,
                "channel": click.channel_id,
            },
        )
        # The trigger id lives 3 s from the click; nothing slow happens before this call.
        await click.reply.client.views_open(trigger_id=click.trigger_id, view=view)
        return None

    def check_update(submission: Submission) -> dict[str, str] | None:
        if submission.text(UPDATE_BLOCK, UPDATE_INPUT):
            return None
        return {UPDATE_BLOCK: answer(submission.slash, "update_empty").text}

    @interactions.view(
        UPDATE_MODAL,
        role=Role.ONCALL,
        summary="Send a stakeholder update",
        check=check_update,
    )
    async def on_update_submitted(submission: Submission) -> Rendered | None:
        incident = await kit.by_id(_int(submission.metadata.get("incident")))
        if not incident.is_open:
            return answer(submission.slash, "update_closed", incident=incident)
        await kit.updates().send_update(
            incident_id=incident.id,
            text=submission.text(UPDATE_BLOCK, UPDATE_INPUT),
            actor=submission.user_id,
        )
        reminder_id = _int(submission.metadata.get("reminder"))
        if reminder_id is not None:
            await reminders().updated(reminder_id=reminder_id, user=submission.user_id)
        return answer(submission.slash, "update_sent", incident=incident)


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None
