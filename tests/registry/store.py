"""One bootstrapped MLflow store per test process, copied for tests that change it.

MLflow's first SQLite initialisation runs migrations and bootstrap trains two models: seconds.
Copies share the template's artifact folder (artifact URIs in the DB are absolute); that is
fine because registry artifacts are write-once.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

from bot.model_registry.bootstrap import bootstrap
from bot.model_registry.mlflow_backend import MlflowModelService

MODEL = "iris_classifier"
_lock = threading.Lock()
_template: Path | None = None


def sqlite_uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def template_store() -> Path:
    """The folder of the bootstrapped template store (created on first call)."""
    global _template
    with _lock:
        if _template is None:
            folder = Path(tempfile.mkdtemp(prefix="oncall-mlflow-template-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            service = MlflowModelService(sqlite_uri(folder), folder / "artifacts", MODEL)
            bootstrap(service)
            _template = folder
        return _template


def copy_store(dest: Path) -> MlflowModelService:
    """A fresh service on a copy of the template store (same versions, own alias/tags)."""
    src = template_store()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "mlflow.db", dest / "mlflow.db")
    return MlflowModelService(sqlite_uri(dest), src / "artifacts", MODEL)
