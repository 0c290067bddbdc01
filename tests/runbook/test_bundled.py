"""The runbooks the bot ships load against the real actions of every domain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.roles import RolePolicy
from bot.app import BUNDLED_RUNBOOKS, domain_actions
from bot.capacity.actions import CapacityDeps
from bot.capacity.build import build_capacity
from bot.db import Database
from bot.deploy.actions import DeployDeps
from bot.deploy.model_server import ModelServerClient
from bot.messages import TemplateRenderer
from bot.model_registry.mlflow_backend import MlflowModelService
from bot.pipelines.actions import PipelineActionDeps
from bot.pipelines.wiring import make_ingestor, pipeline_engine
from bot.process_pool import ProcessPool
from bot.retrain.actions import RetrainDeps
from bot.runbook import ActionCatalog, load_runbooks
from bot.scheduling import make_scheduler
from bot.slack.access_wiring import build_access
from tests.harness import make_settings
from tests.runbook.fakes import DOMAIN_ACTIONS


class _NoReports:
    async def post_report(self, *, channel: str, thread_ts: str | None, facts: dict) -> None:
        raise AssertionError("loading runbooks runs no action")


@pytest.fixture
def real_actions(tmp_path: Path) -> Iterator[ActionCatalog]:
    # The real dependencies, built as the composition root builds them; nothing here connects
    # (the registry, the model server and the pool are reached only when an action runs).
    settings = make_settings(tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'bot.db'}")
    models = MlflowModelService.from_settings(settings)
    deploy = DeployDeps(
        db=db,
        models=models,
        model_server=ModelServerClient(settings.model_server_url),
        roles=RolePolicy.from_ids(admins=frozenset(), engineers=frozenset()),
        renderer=TemplateRenderer(settings.templates_dir),
        settings=settings,
    )
    engine = pipeline_engine(dagster_url=None, timeout=1.0)
    ingestor = make_ingestor(
        service=engine, dagster_url=None, database_url=str(db.engine.url), data_dir=tmp_path
    )
    access = build_access(
        settings,
        db=db,
        scheduler=make_scheduler(db.engine),
        client=AsyncWebClient(),
        renderer=TemplateRenderer(settings.templates_dir),
        admins=frozenset(),
        bot="runbook-test",
    )
    retrain = RetrainDeps(
        db=db,
        models=models,
        pool=ProcessPool(1),
        reports=_NoReports(),
        settings=settings,
        ingestor=ingestor,
    )
    capacity = CapacityDeps(
        capacity=build_capacity(settings),
        db=db,
        renderer=TemplateRenderer(settings.templates_dir),
        slash=settings.slash_command,
    )
    yield domain_actions(
        deploy, retrain, access.flows, PipelineActionDeps(pipelines=engine), capacity
    )
    db.dispose()


def test_bundled_runbooks_load_with_the_real_actions(real_actions: ActionCatalog) -> None:
    books = load_runbooks(BUNDLED_RUNBOOKS, actions=real_actions)
    assert {"deploy", "rollback", "retrain"} <= set(books)
    # Production changes take the lock first and ask a human before the alias moves.
    for book in (books["deploy"], books["rollback"]):
        ids = [s.id for s in book.steps]
        assert ids[0] == "lock"
        assert ids.index("confirm") < ids.index("promote")


def test_the_engine_tests_fakes_take_the_real_actions_arguments(
    real_actions: ActionCatalog,
) -> None:
    # The engine tests run the shipped runbooks with these fakes; same arguments, same checks.
    for name, (params, _) in DOMAIN_ACTIONS.items():
        assert dict(real_actions.get(name).params) == params, name
