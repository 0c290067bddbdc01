"""The commander reminder's buttons ("Post update", "Snooze 30 min") and the update modal."""

from __future__ import annotations

from bot.access.roles import Role
from bot.commands.context import UserError
from bot.incidents.models import IncidentView
from bot.messages import Rendered
from bot.services import Services
from bot.slack.handlers.incident_common import answer, by_id, updates
from bot.slack.interactions import Button, Interaction, Modal, Submission
from bot.slack.reminder_poster import UPDATE_MODAL, update_modal
from bot.updates.reminders import CommanderReminders, ReminderView, news_since_update

# The modal's one input (templates/incident_update_modal.j2).
UPDATE_BLOCK, UPDATE_INPUT = "update", "text"


def _reminders(services: Services) -> CommanderReminders:
    found = updates(services).reminders
    if found is None:
        raise UserError("incident_answer", kind="not_set_up")
    return found


async def _reminded(click: Interaction) -> tuple[ReminderView, IncidentView]:
    reminders = _reminders(click.services)
    reminder = await reminders.reminder(int(click.value)) if click.value.isdigit() else None
    if reminder is None:
        raise UserError("incident_answer", kind="not_found", wanted="that reminder")
    return reminder, await by_id(click.services, reminder.incident_id)


async def on_snooze(click: Interaction) -> Rendered | None:
    """Snooze the update reminder."""
    services = click.services
    reminder, incident = await _reminded(click)
    if not incident.is_open:
        return answer(services, click.slash, "update_closed", incident=incident)
    done, after = await _reminders(services).snooze(reminder_id=reminder.id, user=click.user_id)
    if not done or after is None or after.snoozed_until is None:
        return answer(services, click.slash, "reminder_answered")
    return answer(services, click.slash, "snoozed", incident=incident, until=after.snoozed_until)


async def on_post_update(click: Interaction) -> Rendered | None:
    """Write a stakeholder update in a form prefilled from the timeline."""
    reminder, incident = await _reminded(click)
    if not incident.is_open:
        return answer(click.services, click.slash, "update_closed", incident=incident)
    view = update_modal(
        click.services.renderer,
        slash=click.slash,
        incident=incident,
        news=news_since_update(incident),
        metadata={"incident": incident.id, "reminder": reminder.id, "channel": click.channel_id},
    )
    # The trigger id lives 3 s from the click; nothing slow happens before this call.
    await click.reply.client.views_open(trigger_id=click.trigger_id, view=view)
    return None


def check_update(submission: Submission) -> dict[str, str] | None:
    if submission.text(UPDATE_BLOCK, UPDATE_INPUT):
        return None
    return {UPDATE_BLOCK: answer(submission.services, submission.slash, "update_empty").text}


async def on_update_submitted(submission: Submission) -> Rendered | None:
    """Send a stakeholder update (the modal's Send)."""
    services = submission.services
    incident = await by_id(services, _int(submission.metadata.get("incident")))
    if not incident.is_open:
        return answer(services, submission.slash, "update_closed", incident=incident)
    await updates(services).send_update(
        incident_id=incident.id,
        text=submission.text(UPDATE_BLOCK, UPDATE_INPUT),
        actor=submission.user_id,
    )
    reminder_id = _int(submission.metadata.get("reminder"))
    if reminder_id is not None:
        await _reminders(services).updated(reminder_id=reminder_id, user=submission.user_id)
    return answer(services, submission.slash, "update_sent", incident=incident)


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return None


BUTTONS = (
    Button("incident.reminder.snooze", on_snooze, role=Role.ONCALL),
    Button("incident.reminder.update", on_post_update, role=Role.ONCALL),
    Modal(UPDATE_MODAL, on_update_submitted, role=Role.ONCALL, check=check_update),
)
