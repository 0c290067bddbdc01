"""A run-failure sensor that tells the bot at once (`POST /pipelines/dagster`).

The bot also polls the run list, so a push that never arrives is found within one poll interval;
a push that fails here fails the tick, and Dagster evaluates the same failure again next tick.
"""

import httpx
from dagster import DefaultSensorStatus, RunFailureSensorContext, run_failure_sensor

from pipelines.settings import webhook_target

ERROR_EXCERPT = 2000


def _ended(context: RunFailureSensorContext) -> float | None:
    record = context.instance.get_run_record_by_id(context.dagster_run.run_id)
    return record.end_time if record is not None else None


def failure_payload(context: RunFailureSensorContext) -> dict:
    """The failed run as the bot's endpoint reads it."""
    run = context.dagster_run
    steps = []
    for event in context.get_step_failure_events():
        data = event.event_specific_data
        error = getattr(data, "error", None)
        message = error.message if error is not None else (event.message or "")
        steps.append({"step_key": event.step_key, "error": message.strip()[:ERROR_EXCERPT]})
    return {
        "event": "run_failure",
        "run_id": run.run_id,
        "job_name": run.job_name,
        "partition": run.tags.get("dagster/partition"),
        "message": (context.failure_event.message or "")[:ERROR_EXCERPT],
        "failed_at": _ended(context),
        "failed_steps": steps,
    }


@run_failure_sensor(
    name="iris_bot_on_failure",
    minimum_interval_seconds=1,
    default_status=DefaultSensorStatus.RUNNING,
    description="Posts every failed run to the Iris oncall bot.",
)
def notify_bot_of_failure(context: RunFailureSensorContext) -> None:
    target = webhook_target()
    if target is None:
        context.log.warning("no bot to tell: set PIPELINE_WEBHOOK_URL")
        return
    url, token = target
    response = httpx.post(
        url,
        json=failure_payload(context),
        headers={"Authorization": f"Bearer {token}"},
        timeout=10.0,
    )
    response.raise_for_status()
