"""`python -m bot.serving [--port N] [--no-record]`: the model server without the CLI wiring."""

from __future__ import annotations

import argparse
import sys

from bot.config import SettingsError, load_settings
from bot.serving.server import run_model_server


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, load Settings and serve."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.serving", description="Serve the production model."
    )
    parser.add_argument("--port", type=int, default=None, help="default: MODEL_SERVER_PORT")
    parser.add_argument("--no-record", action="store_true", help="do not record served predictions")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    run_model_server(settings, args.port, record=not args.no_record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
