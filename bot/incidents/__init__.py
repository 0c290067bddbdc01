"""Incidents: the lifecycle, the timeline, the Slack thread's header, postmortems, the status page."""
