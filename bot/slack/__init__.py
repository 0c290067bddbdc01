"""The Slack adapter: Bolt listeners, the Web API client and the web/socket front doors."""
