"""Messages: every user-visible word is a Jinja2 template in `templates/`."""

from bot.messages.render import Rendered, TemplateRenderer

__all__ = ["Rendered", "TemplateRenderer"]
