"""The runbooks the bot ships load against the real actions of every domain."""

from __future__ import annotations

from bot.app import BUNDLED_RUNBOOKS
from bot.deploy.actions import register_deploy_actions
from bot.runbook import ActionRegistry, load_runbooks


def test_bundled_runbooks_load_with_the_real_actions() -> None:
    actions = ActionRegistry()
    register_deploy_actions(actions)
    books = load_runbooks(BUNDLED_RUNBOOKS, actions=actions)
    assert {"deploy", "rollback"} <= set(books)
    # Production changes take the lock first and ask a human before the alias moves.
    for book in (books["deploy"], books["rollback"]):
        ids = [s.id for s in book.steps]
        assert ids[0] == "lock"
        assert ids.index("confirm") < ids.index("promote")
