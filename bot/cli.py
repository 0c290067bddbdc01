"""`oncall-bot`: run, serve, serve-model, bootstrap, migrate, manifest."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from types import ModuleType

from bot.config import Settings, SettingsError, load_settings
from bot.db.migrate import upgrade_to_head
from bot.messages import TemplateError, TemplateRenderer, require_valid_templates
from bot.quality.overrides import QualityFileError, load_quality_file
from bot.slack.manifest import ManifestError, ManifestOptions, manifest_yaml

uvloop: ModuleType | None
try:  # optional: a faster event loop where it is installed
    import uvloop
except ImportError:
    uvloop = None

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oncall-bot", description="ML oncall ChatOps bot")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="start in the mode the settings select (socket, http or local)"
    )
    run.add_argument(
        "--no-shell", action="store_true", help="local mode: serve without the terminal shell"
    )
    serve = sub.add_parser("serve", help="force HTTP mode (Slack posts to /slack/events)")
    serve.add_argument("--port", type=int, default=None)
    model = sub.add_parser("serve-model", help="serve the production model over HTTP")
    model.add_argument("--port", type=int, default=None)
    model.add_argument(
        "--engine", choices=("local", "ray"), default=None, help="default: SERVING_ENGINE"
    )
    model.add_argument("--replicas", type=int, default=None, help="default: SERVING_REPLICAS")
    sub.add_parser(
        "bootstrap", help="train and register v1 and v2, point production at v1 (idempotent)"
    )
    sub.add_parser("migrate", help="apply database migrations")
    manifest = sub.add_parser("manifest", help="print the Slack app manifest (YAML)")
    where = manifest.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="HTTP mode: the bot's public base URL (https://...)")
    where.add_argument("--socket", action="store_true", help="Socket Mode: no request URLs")
    gameday = sub.add_parser("gameday", help="game day drills of the runbooks")
    gameday.add_argument("action", choices=("list", "run"))
    gameday.add_argument("scenario", nargs="?", help="the scenario to run (see `gameday list`)")
    gameday.add_argument("--speed", type=float, default=60.0, help="compress waits N times")
    gameday.add_argument("--force", action="store_true", help="even with a real incident open")
    return parser


def print_manifest(settings: Settings, *, url: str | None) -> int:
    try:
        print(manifest_yaml(ManifestOptions(slash_command=settings.slash_command, url=url)), end="")
    except ManifestError as exc:
        print(f"oncall-bot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Each poll of the model server would be an INFO line; keep the log for what matters.
    for noisy in ("httpx", "httpcore", "alembic", "mlflow"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))


def _run_async(coro: object) -> None:
    if uvloop is not None:
        uvloop.run(coro)  # type: ignore[arg-type]
    else:
        asyncio.run(coro)  # type: ignore[arg-type]


def _http_settings(settings: Settings) -> Settings:
    """`serve` is HTTP mode whatever else is set: it needs the bot token and the signing secret
    (every request to /slack/events is verified with it), and ignores an app token."""
    if settings.slack_app_token and not settings.slack_signing_secret:
        raise SettingsError(
            "SLACK_SIGNING_SECRET: missing; `serve` takes Slack requests over HTTP and must "
            "verify them (with only SLACK_APP_TOKEN, use `oncall-bot run` for Socket Mode)"
        )
    if not (settings.slack_bot_token and settings.slack_signing_secret):
        raise SettingsError(
            "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET: both are needed for `serve` (HTTP mode)"
        )
    return settings.model_copy(update={"slack_app_token": None})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "serve":
            settings = _http_settings(settings)
    except SettingsError as exc:
        print(f"oncall-bot: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "manifest":
        return print_manifest(settings, url=None if args.socket else args.url)
    if args.command in ("run", "serve"):
        # Checked before anything starts (model server, registry), so a broken template is
        # one line on stderr; BotApp.build checks again, which costs nothing once it passed.
        try:
            require_valid_templates(TemplateRenderer(settings.templates_dir))
        except TemplateError as exc:
            print(f"oncall-bot: template error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    if args.command in ("run", "serve", "serve-model"):
        # quality.toml (feature contract overrides): a typo is one line with its file and line.
        try:
            load_quality_file(settings.quality_file)
        except QualityFileError as exc:
            print(f"oncall-bot: quality file error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    _configure_logging(settings)
    if args.command == "migrate":
        settings.oncall_data_dir.mkdir(parents=True, exist_ok=True)
        print(
            f"oncall-bot: applying database migrations in {settings.oncall_data_dir}…", flush=True
        )
        upgrade_to_head(settings.resolved_database_url)
        print("database is up to date")
        return 0
    # These load MLflow and scikit-learn (seconds), which `manifest` and `migrate` never need.
    from bot import runtime
    from bot.model_registry.bootstrap import bootstrap_from_settings
    from bot.serving.engines import run_serving

    if args.command == "gameday":
        return _gameday(settings, args)
    if args.command == "serve":
        _run_async(runtime.serve_http(settings, port=args.port))
    elif args.command == "run":
        if settings.mode == "socket":
            _run_async(runtime.serve_socket(settings))
        elif settings.mode == "http":
            _run_async(runtime.serve_http(settings))
        else:
            _run_async(runtime.run_local(settings, shell=not args.no_shell))
    elif args.command == "serve-model":
        run_serving(
            settings,
            port=args.port or settings.model_server_port,
            engine=args.engine or settings.serving_engine,
            replicas=args.replicas,
        )
    elif args.command == "bootstrap":
        # Silent for most of a minute the first time otherwise (training and registering).
        print(
            "oncall-bot: model registry: training and registering v1 and v2 if missing "
            "(the first time about a minute)…",
            flush=True,
        )
        print(bootstrap_from_settings(settings).summary)
    return 0


def _gameday(settings: Settings, args: argparse.Namespace) -> int:
    from bot import gameday_local
    from bot.gameday.scenario import ScenarioError

    try:
        if args.action == "list":
            print("\n".join(gameday_local.listing_lines(settings)))
            return 0
    except ScenarioError as exc:
        print(f"oncall-bot: scenario error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if not args.scenario:
        print("oncall-bot: gameday run needs a scenario (see `gameday list`)", file=sys.stderr)
        return EXIT_CONFIG
    outcome: list[int] = []

    async def drill() -> None:
        outcome.append(
            await gameday_local.run_from_shell(
                settings, args.scenario, speed=args.speed, force=args.force
            )
        )

    _run_async(drill())
    return outcome[0] if outcome else 1


if __name__ == "__main__":
    sys.exit(main())
