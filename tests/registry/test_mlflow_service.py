from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.model_registry.bootstrap import BOOTSTRAP_TAG, bootstrap
from bot.model_registry.errors import InvalidTags, UnknownVersion, UntrustedModelTypes
from bot.model_registry.mlflow_backend import MlflowModelService
from bot.model_registry.service import ModelService, parse_version_text
from bot.training import iris
from bot.training.iris import FEATURES, GOLDEN_SAMPLES

GOLDEN_X = np.array([[g.features[f] for f in FEATURES] for g in GOLDEN_SAMPLES])
GOLDEN_Y = [g.expected for g in GOLDEN_SAMPLES]


def _double(X):
    return X * 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [("v2", 2), ("2", 2), ("V2", 2), (" v1 ", 1), ("iris_classifier_v2", 2), ("iris_classifier/2", 2),
     ("`v2`", 2), (2, 2), ("v0", None), ("latest", None), ("v2.1", None), ("other_model_v2", None), ("", None), (True, None)],
)  # fmt: skip
def test_parse_version_text(text, expected):
    assert parse_version_text(text, model_name="iris_classifier") == expected


def test_service_satisfies_the_protocol(shared_service):
    assert isinstance(shared_service, ModelService)


@pytest.mark.parametrize("text", ["v2", "2", "iris_classifier_v2", 2])
def test_resolve_accepts_all_spellings(shared_service, text):
    assert shared_service.resolve(text) == 2


@pytest.mark.parametrize(
    ("text", "shown"),
    [("v7", "v7"), ("7", "v7"), ("iris_classifier_v9", "v9"), ("latest", "latest")],
)
def test_resolve_unknown_lists_existing_versions(shared_service, text, shown):
    with pytest.raises(UnknownVersion) as err:
        shared_service.resolve(text)
    assert err.value.available == [1, 2]
    assert str(err.value) == f"there is no {shown}; versions are v1, v2"


def test_bootstrap_registered_v1_v2_with_production_on_v1(shared_service):
    versions = shared_service.list_versions()
    assert [v.version for v in versions] == [1, 2]
    assert [v.estimator for v in versions] == ["logistic_regression", "random_forest"]
    assert [v.tags[BOOTSTRAP_TAG] for v in versions] == ["v1", "v2"]
    assert shared_service.production_version() == 1
    assert (
        versions[0].aliases == ["production"]
        and versions[0].is_production
        and not versions[1].aliases
    )


def test_bootstrap_is_idempotent(fresh_service):
    fresh_service.set_production(2)
    result = bootstrap(fresh_service)
    assert result.created == [] and result.versions == {"v1": 1, "v2": 2}
    assert [v.version for v in fresh_service.list_versions()] == [1, 2]
    assert fresh_service.production_version() == 2  # a re-run never undoes a deploy


def test_versions_carry_metrics_and_lineage(shared_service):
    split = iris.holdout_split()
    for v in shared_service.list_versions():
        assert v.accuracy is not None and v.accuracy >= 0.9 and v.macro_f1 >= 0.9
        assert set(v.per_class_recall) == set(iris.CLASSES)
        assert v.holdout_version == split.holdout_version and v.holdout_n == 45
        assert v.training_data_hash == iris.data_hash(split.X_train, split.y_train)
        assert v.trained_by == "bootstrap" and v.trained_at is not None and v.code_version
        assert v.validation_status == "passed"
        assert v.params and v.evaluation is not None and v.evaluation.accuracy == v.accuracy
    assert shared_service.describe(2).params["n_estimators"] == 50


def test_describe_unknown_version(shared_service):
    with pytest.raises(UnknownVersion, match="versions are v1, v2"):
        shared_service.describe(9)


def test_input_signature(shared_service):
    sig = shared_service.input_signature(1)
    assert [f.name for f in sig.features] == FEATURES and sig.classes == iris.CLASSES


def test_models_are_skops_and_load_with_pickle_disabled(shared_service, monkeypatch, tmp_path):
    import mlflow.sklearn
    from mlflow.exceptions import MlflowException

    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    uri = shared_service.client.get_model_version_download_uri("iris_classifier", "2")
    mlmodel = yaml.safe_load(Path(uri.removeprefix("file://"), "MLmodel").read_text())
    assert mlmodel["flavors"]["sklearn"]["serialization_format"] == "skops"
    # MLflow's own loader refuses with the flag off, which is why we load skops ourselves.
    with pytest.raises(MlflowException):
        mlflow.sklearn.load_model(uri)
    cold = MlflowModelService(
        shared_service.tracking_uri, shared_service.artifact_root, "iris_classifier"
    )
    for version in (1, 2):
        model = cold.load(version)
        assert model.predict(GOLDEN_X).tolist() == GOLDEN_Y
    assert cold.load(2) is cold.load(2)  # cached: versions are immutable


def test_evaluate_on_holdout_matches_registered_metrics(shared_service):
    for v in shared_service.list_versions():
        ev = shared_service.evaluate(v.version)
        assert (
            ev.n == 45 and ev.accuracy == v.accuracy and ev.per_class_recall == v.per_class_recall
        )


def test_set_production_moves_the_alias(fresh_service):
    assert fresh_service.set_production(2) == 1
    assert fresh_service.production_version() == 2
    assert [v.aliases for v in fresh_service.list_versions()] == [[], ["production"]]
    with pytest.raises(UnknownVersion):
        fresh_service.set_production(5)
    assert fresh_service.production_version() == 2


def test_set_tags_merges_and_protects_lineage(fresh_service):
    updated = fresh_service.set_tags(2, {"owner": "ml-team", "validation_status": "failed"})
    assert updated.tags["owner"] == "ml-team" and updated.validation_status == "failed"
    with pytest.raises(InvalidTags, match="holdout.accuracy"):
        fresh_service.set_tags(2, {"holdout.accuracy": "1.0"})
    with pytest.raises(InvalidTags, match="validation_status"):
        fresh_service.set_tags(2, {"validation_status": "great"})


def test_register_new_version(fresh_service):
    split = iris.holdout_split()
    params = iris.validate_params("knn", {"n_neighbors": 7})
    model = iris.train("knn", params, split.X_train, split.y_train)
    ev = iris.evaluate(
        model, split.X_holdout, split.y_holdout, holdout_version=split.holdout_version
    )
    mv = fresh_service.register(
        model,
        estimator="knn",
        params=params,
        metrics=ev,
        tags={"reason": "test"},
        trained_by="U123",
    )
    assert mv.version == 3 and mv.estimator == "knn" and mv.params["n_neighbors"] == 7
    assert (
        mv.trained_by == "U123"
        and mv.tags == {"reason": "test"}
        and mv.validation_status == "pending"
    )
    cold = MlflowModelService(
        fresh_service.tracking_uri, fresh_service.artifact_root, "iris_classifier"
    )
    assert cold.load(3).predict(GOLDEN_X).tolist() == GOLDEN_Y


def test_register_refuses_models_needing_untrusted_types(shared_service):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    split = iris.holdout_split()
    model = make_pipeline(FunctionTransformer(_double), LogisticRegression(max_iter=1000)).fit(
        split.X_train, split.y_train
    )
    ev = iris.evaluate(model, split.X_holdout, split.y_holdout)
    with pytest.raises(UntrustedModelTypes):
        shared_service.register(model, estimator="custom", params={}, metrics=ev, trained_by="x")
    assert len(shared_service.list_versions()) == 2
