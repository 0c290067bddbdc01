"""Alert intake: Alertmanager's webhook and the bot's own monitor findings, turned into incidents."""
