"""Incidents: alerts in (Alertmanager and the bot's monitors), a Slack thread per incident."""
