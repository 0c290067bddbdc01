"""A local Slack stand-in: a fake workspace over real HTTP for running and testing the bot.

slack = LocalSlack(request_url=None)          # None: Socket Mode; else signed HTTP
await slack.start()
client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
await slack.slash(user="U0ONCALL", channel="oncall", text="status")
msg = await slack.wait_for_text("Status", channel="oncall")
"""

from .api import ApiCall
from .models import AckResult, Channel, Message, Revision, User, View
from .slack import LocalSlack

__all__ = ["AckResult", "ApiCall", "Channel", "LocalSlack", "Message", "Revision", "User", "View"]
