"""Messages: every user-visible word is a Jinja2 template in `templates/`."""

from bot.messages.check import (
    TemplateError,
    TemplateProblem,
    check_templates,
    require_valid_templates,
)
from bot.messages.render import Rendered, TemplateRenderer
from bot.messages.validate import validate_blocks

__all__ = [
    "Rendered",
    "TemplateError",
    "TemplateProblem",
    "TemplateRenderer",
    "check_templates",
    "require_valid_templates",
    "validate_blocks",
]
