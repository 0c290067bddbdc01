"""`ModelService` on MLflow's registry: an embedded SQLite store by default, or a team's server.

Models are stored with skops, never pickle, and loaded by us with our own trusted-type list:
`mlflow.sklearn.load_model` trusts the list stored inside the artifact (and refuses everything
when MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false), so we read the artifact directly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.model_registry.errors import (
    InvalidTags,
    ModelLoadError,
    RegistryError,
    RegistryUnavailable,
    UnknownVersion,
    UntrustedModelTypes,
)
from bot.model_registry.mlflow_tags import (
    RESERVED_TAGS,
    T_CLASSES,
    T_FEATURES,
    T_RECALL,
    T_TRAINED_AT,
    T_TRAINED_BY,
    T_VALIDATION,
    VALIDATION_STATUSES,
    tags_for_registration,
    version_from_mlflow,
)
from bot.model_registry.schemas import (
    PRODUCTION_ALIAS,
    Evaluation,
    FeatureSpec,
    InputSignature,
    ModelVersion,
)
from bot.model_registry.service import resolve_version_text
from bot.quality.contract import derive_contract
from bot.training import iris

log = logging.getLogger(__name__)

# Every non-default type our estimators need to load with skops. Explicit on purpose: a model
# needing anything else is refused at registration and at load.
SKOPS_TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.tree._tree.Tree",
)


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
_quiet_once = threading.Event()


def _quiet_mlflow() -> None:
    """Silence MLflow's chatter (migrations, pip resolution, telemetry) once per process."""
    if _quiet_once.is_set():
        return
    # No internet in most deployments, and nobody asked for usage pings.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    _quiet_once.set()


def get_client(tracking_uri: str) -> Any:
    """One MlflowClient per URI per process: the first one runs the SQLite migrations (seconds)."""
    with _clients_lock:
        client = _clients.get(tracking_uri)
        if client is None:
            _quiet_mlflow()
            if tracking_uri.startswith("sqlite:///"):
                Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
                    parents=True, exist_ok=True
                )
            with warnings.catch_warnings():
                # MLflow's SQL store trips SQLAlchemy deprecation warnings that we cannot act on.
                warnings.simplefilter("ignore", DeprecationWarning)
                from mlflow import MlflowClient

                client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
                client._tracking_client.store  # noqa: B018 - force store init (migrations) now, once
                client._get_registry_client().store  # noqa: B018
            _clients[tracking_uri] = client
        return client


def _is_missing(exc: Exception) -> bool:
    return getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST"


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn backend failures into RegistryUnavailable; our own errors pass through."""
    try:
        yield
    except RegistryError:
        raise
    except Exception as exc:
        raise RegistryUnavailable(f"MLflow registry failed to {what}: {exc}") from exc


class MlflowModelService:
    """ModelService on an MLflow tracking/registry URI (sqlite:///..., http(s)://...)."""

    def __init__(
        self, tracking_uri: str, artifact_root: str | Path | None, model_name: str
    ) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = Path(artifact_root) if artifact_root else None
        self.model_name = model_name
        self._models: dict[int, Any] = {}
        self._load_lock = threading.Lock()
        self._experiment_id: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> MlflowModelService:
        """Build from bot Settings (resolved MLflow URI, artifact root, model name)."""
        return cls(settings.resolved_mlflow_uri, settings.mlflow_artifact_root, settings.model_name)

    # --- plumbing ------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        return get_client(self.tracking_uri)

    def connect(self) -> None:
        """Initialise the store now (migrations, experiment) instead of on first use."""
        with _translated("connect"):
            self._experiment()

    def _experiment(self) -> str:
        if self._experiment_id is None:
            exp = self.client.get_experiment_by_name(self.model_name)
            if exp is not None:
                self._experiment_id = exp.experiment_id
            else:
                # A remote server chooses its own artifact store; locally we pin the folder.
                location = None
                if self.artifact_root and not self.tracking_uri.startswith(("http://", "https://")):
                    self.artifact_root.mkdir(parents=True, exist_ok=True)
                    location = self.artifact_root.resolve().as_uri()
                self._experiment_id = self.client.create_experiment(
                    self.model_name, artifact_location=location
                )
        return self._experiment_id

    def _aliases(self) -> dict[int, list[str]]:
        try:
            registered = self.client.get_registered_model(self.model_name)
        except Exception as exc:
            if _is_missing(exc):
                return {}
            raise
        by_version: dict[int, list[str]] = {}
        for alias, version in (registered.aliases or {}).items():
            by_version.setdefault(int(version), []).append(alias)
        return by_version

    def _to_schema(self, mv: Any, aliases: list[str] | None = None) -> ModelVersion:
        return version_from_mlflow(mv, aliases)

    def _get(self, version: int) -> Any:
        try:
            return self.client.get_model_version(self.model_name, str(version))
        except Exception as exc:
            if _is_missing(exc):
                raise UnknownVersion(f"v{version}", self._numbers()) from None
            raise

    def _numbers(self) -> list[int]:
        return [v.version for v in self.list_versions()]

    # --- ModelService -------------------------------------------------------------------------
    def list_versions(self) -> list[ModelVersion]:
        """Every version, oldest first."""
        with _translated("list versions"):
            aliases = self._aliases()
            found = self.client.search_model_versions(f"name = '{self.model_name}'")
            versions = [self._to_schema(mv, aliases.get(int(mv.version), [])) for mv in found]
        return sorted(versions, key=lambda v: v.version)

    def describe(self, version: int) -> ModelVersion:
        """One version with its metrics, tags and aliases; UnknownVersion if absent."""
        with _translated(f"describe v{version}"):
            return self._to_schema(self._get(version))

    def production_version(self) -> int | None:
        """The version the `production` alias points at, or None."""
        # Via the registered model's alias map: a missing alias is then None, not an error
        # code that differs between the SQL store and the REST server.
        with _translated("read the production alias"):
            for version, aliases in self._aliases().items():
                if PRODUCTION_ALIAS in aliases:
                    return version
            return None

    def resolve(self, text: str | int) -> int:
        """A user's `v2` / `2` / `iris_classifier_v2` → 2; UnknownVersion listing versions otherwise."""
        return resolve_version_text(text, model_name=self.model_name, existing=self._numbers())

    def load(self, version: int) -> Any:
        """The fitted estimator of a version, loaded with skops and our trusted-type list; cached."""
        model = self._models.get(version)
        if model is not None:
            return model
        with self._load_lock:
            if version in self._models:
                return self._models[version]
            with _translated(f"load v{version}"):
                self._get(version)
                uri = self.client.get_model_version_download_uri(self.model_name, str(version))
                model = self._load_artifact(uri, version)
            self._models[version] = model
            return model

    def _load_artifact(self, uri: str, version: int) -> Any:
        # mlflow and skops take seconds to import; a bot that only reads the registry skips them.
        import mlflow.artifacts
        import skops.io
        import yaml

        with tempfile.TemporaryDirectory(prefix="oncall-model-") as tmp:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=uri, dst_path=tmp, tracking_uri=self.tracking_uri
                )
            )
            try:
                flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["sklearn"]
            except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
                raise ModelLoadError(f"v{version} has no readable sklearn MLmodel: {exc}") from None
            fmt = flavor.get("serialization_format")
            if fmt != "skops":
                raise ModelLoadError(
                    f"v{version} is stored as {fmt!r}; only skops models are loaded (no pickle)"
                )
            path = local / flavor["pickled_model"]
            extra = set(skops.io.get_untrusted_types(file=path)) - set(SKOPS_TRUSTED_TYPES)
            if extra:
                raise UntrustedModelTypes(sorted(extra))
            return skops.io.load(path, trusted=list(SKOPS_TRUSTED_TYPES))

    def input_signature(self, version: int) -> InputSignature:
        """Feature names, ranges and classes a version expects and predicts."""
        mv = self.describe(version)
        raw = self._raw_tags(version)
        features = json.loads(raw[T_FEATURES]) if T_FEATURES in raw else iris.FEATURES
        classes = (
            json.loads(raw[T_CLASSES])
            if T_CLASSES in raw
            else (list(mv.per_class_recall) or iris.CLASSES)
        )
        return InputSignature(features=[FeatureSpec(name=f) for f in features], classes=classes)

    def _raw_tags(self, version: int) -> dict[str, str]:
        with _translated(f"read tags of v{version}"):
            return dict(self._get(version).tags or {})

    def set_production(self, version: int) -> int | None:
        """Point the `production` alias at `version`; returns the previous production version."""
        self.describe(version)
        previous = self.production_version()
        with _translated("move the production alias"):
            self.client.set_registered_model_alias(self.model_name, PRODUCTION_ALIAS, str(version))
        return previous

    def evaluate(self, version: int) -> Evaluation:
        """Re-evaluate a version on the fixed holdout (loads the model)."""
        split = iris.holdout_split()
        return iris.evaluate(
            self.load(version),
            split.X_holdout,
            split.y_holdout,
            holdout_version=split.holdout_version,
        )

    def set_tags(self, version: int, tags: dict[str, str]) -> ModelVersion:
        """Merge tags into a version; lineage tags are immutable, validation_status is checked."""
        protected = sorted(k for k in tags if k in RESERVED_TAGS or k.startswith(T_RECALL))
        if protected:
            raise InvalidTags(
                f"these tags are set at registration and cannot change: {', '.join(protected)}"
            )
        status = tags.get(T_VALIDATION)
        if status is not None and status not in VALIDATION_STATUSES:
            raise InvalidTags(f"validation_status must be one of {', '.join(VALIDATION_STATUSES)}")
        self.describe(version)
        with _translated(f"tag v{version}"):
            for key, value in tags.items():
                self.client.set_model_version_tag(self.model_name, str(version), key, str(value))
        return self.describe(version)

    def register(
        self,
        model: Any,
        *,
        estimator: str,
        params: dict[str, Any],
        metrics: Evaluation,
        tags: dict[str, str] | None = None,
        trained_by: str,
        training_data_hash: str | None = None,
        features: list[str] | None = None,
        training_data: Any = None,
        contract: str | None = None,
    ) -> ModelVersion:
        """Log the model with skops to a new run + logged model and register it as a new version.

        `features` names the columns the model takes (default: all of Iris); `training_data`,
        the training rows in that order, gives the version its feature contract (or `contract`,
        one derived already, as JSON).
        """
        import skops.io  # seconds to import; only registering a model needs it

        extra = set(skops.io.get_untrusted_types(data=skops.io.dumps(model))) - set(
            SKOPS_TRUSTED_TYPES
        )
        if extra:
            raise UntrustedModelTypes(sorted(extra))
        user_tags = {k: str(v) for k, v in (tags or {}).items()}
        if bad := sorted(k for k in user_tags if k in RESERVED_TAGS):
            raise InvalidTags(f"reserved tag names: {', '.join(bad)}")
        all_tags = tags_for_registration(
            estimator=estimator,
            params=params,
            metrics=metrics,
            trained_by=trained_by,
            training_data_hash=training_data_hash,
            classes=[str(c) for c in getattr(model, "classes_", iris.CLASSES)],
            user_tags=user_tags,
            features=list(features or iris.FEATURES),
            contract=contract
            or (
                None
                if training_data is None
                else derive_contract(training_data, list(features or iris.FEATURES)).to_json()
            ),
        )
        with _translated("register a model"):
            mv = self._log_and_register(
                model, estimator=estimator, params=params, metrics=metrics, tags=all_tags
            )
        version = int(mv.version)
        self._models[version] = model  # what we would load back; saves a round trip
        return self.describe(version)

    def _log_and_register(
        self,
        model: Any,
        *,
        estimator: str,
        params: dict[str, Any],
        metrics: Evaluation,
        tags: dict[str, str],
    ) -> Any:
        # mlflow's sklearn flavour and model types pull in scikit-learn: seconds, for training only.
        import mlflow.sklearn
        import sklearn
        import skops
        from mlflow.entities import Metric, Param
        from mlflow.models import ModelSignature
        from mlflow.types import ColSpec, Schema

        client = self.client
        exp_id = self._experiment()
        now = int(datetime.now(UTC).timestamp() * 1000)
        run = client.create_run(
            exp_id,
            run_name=f"{estimator}-{tags[T_TRAINED_AT]}",
            tags={"trained_by": tags[T_TRAINED_BY]},
        )
        run_id = run.info.run_id
        try:
            run_metrics = {
                "holdout_accuracy": metrics.accuracy,
                "holdout_macro_f1": metrics.macro_f1,
            }
            run_metrics |= {f"holdout_recall_{c}": r for c, r in metrics.per_class_recall.items()}
            client.log_batch(
                run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in run_metrics.items()],
                params=[Param(k, str(v)) for k, v in {"estimator": estimator, **params}.items()],
            )
            logged = client.create_logged_model(
                exp_id,
                name="model",
                source_run_id=run_id,
                params={k: str(v) for k, v in params.items()},
            )
            names = json.loads(tags[T_FEATURES])
            signature = ModelSignature(inputs=Schema([ColSpec("double", f) for f in names]))
            with tempfile.TemporaryDirectory(prefix="oncall-save-") as tmp:
                path = os.path.join(tmp, "model")
                mlflow.sklearn.save_model(
                    model,
                    path,
                    serialization_format="skops",
                    skops_trusted_types=list(SKOPS_TRUSTED_TYPES),
                    signature=signature,
                    # Explicit requirements: MLflow's inference re-imports the model in a
                    # subprocess and costs seconds.
                    pip_requirements=[
                        f"scikit-learn=={sklearn.__version__}",
                        f"skops=={skops.__version__}",
                    ],
                    pyfunc_predict_fn="predict_proba",
                )
                client.log_model_artifacts(logged.model_id, path)
            client.finalize_logged_model(logged.model_id, "READY")
            client.set_terminated(run_id, "FINISHED")
        except BaseException:
            client.set_terminated(run_id, "FAILED")
            raise
        try:
            client.create_registered_model(self.model_name)
        except Exception as exc:
            if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                raise
        # The concrete artifact location, not `models:/<id>`: MLflow's SQL store resolves the
        # latter through the process-global tracking URI, which need not be ours.
        return client.create_model_version(
            self.model_name,
            source=logged.artifact_location,
            run_id=run_id,
            tags=tags,
            model_id=logged.model_id,
        )
