"""The runbooks the bot ships load against the real actions of every domain."""

from __future__ import annotations

from bot.app import BUNDLED_RUNBOOKS, domain_actions
from bot.runbook import load_runbooks
from tests.runbook.fakes import DOMAIN_ACTIONS


def test_bundled_runbooks_load_with_the_real_actions() -> None:
    books = load_runbooks(BUNDLED_RUNBOOKS, actions=domain_actions())
    assert {"deploy", "rollback", "retrain"} <= set(books)
    # Production changes take the lock first and ask a human before the alias moves.
    for book in (books["deploy"], books["rollback"]):
        ids = [s.id for s in book.steps]
        assert ids[0] == "lock"
        assert ids.index("confirm") < ids.index("promote")


def test_the_engine_tests_fakes_take_the_real_actions_arguments() -> None:
    # The engine tests run the shipped runbooks with these fakes; same arguments, same checks.
    real = domain_actions()
    for name, (params, _) in DOMAIN_ACTIONS.items():
        assert dict(real.get(name).params) == params, name
