"""Model server: serves the `production` version over HTTP and records what it served."""

from bot.serving.app import create_model_app
from bot.serving.models import ServedPrediction
from bot.serving.recorder import PredictionRecorder, ServedRecord, recent_served
from bot.serving.server import run_model_server

__all__ = [
    "PredictionRecorder",
    "ServedPrediction",
    "ServedRecord",
    "create_model_app",
    "recent_served",
    "run_model_server",
]
