from __future__ import annotations

import pickle
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from bot.model_registry.errors import InvalidParams, UnknownEstimator
from bot.training import iris
from bot.training.iris import CLASSES, ESTIMATORS, FEATURES, GOLDEN_SAMPLES


def test_base_frame_has_features_and_species():
    frame = iris.iris_base_frame()
    assert list(frame.columns) == [*FEATURES, "species"]
    assert len(frame) == 150
    assert set(frame["species"]) == set(CLASSES)


def test_holdout_is_fixed_stratified_and_disjoint():
    a, b = iris.holdout_split(), iris.holdout_split()
    assert a.holdout_version == b.holdout_version == iris.data_hash(a.X_holdout, a.y_holdout)
    assert Counter(a.y_holdout.tolist()) == {"setosa": 15, "versicolor": 15, "virginica": 15}
    held = {tuple(r) for r in a.X_holdout}
    assert not any(tuple(r) in held for r in a.X_train)
    assert len(a.X_train) + len(a.X_holdout) <= 150


def test_holdout_never_enters_custom_training_data():
    base = iris.holdout_split()
    extra_X = np.vstack([base.X_holdout, [[5.0, 3.0, 1.5, 0.2]]])
    extra_y = np.concatenate([base.y_holdout, ["setosa"]])
    split = iris.holdout_split(extra_X, extra_y)
    assert split.X_train.tolist() == [[5.0, 3.0, 1.5, 0.2]]
    assert split.holdout_version == base.holdout_version


def test_data_hash_is_content_sensitive():
    X = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert iris.data_hash(X, ["setosa"]) == iris.data_hash(X.copy(), np.array(["setosa"]))
    assert iris.data_hash(X, ["setosa"]) != iris.data_hash(X + 0.1, ["setosa"])
    assert iris.data_hash(X, ["setosa"]) != iris.data_hash(X, ["virginica"])


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_estimator_trains_evaluates_and_gets_golden_samples_right(name):
    split = iris.holdout_split()
    model = iris.train(name, {}, split.X_train, split.y_train)
    ev = iris.evaluate(
        model, split.X_holdout, split.y_holdout, holdout_version=split.holdout_version
    )
    assert ev.accuracy >= 0.9 and ev.macro_f1 >= 0.9
    assert list(ev.per_class_recall) == CLASSES
    assert (
        np.array(ev.confusion_matrix).shape == (3, 3)
        and np.array(ev.confusion_matrix).sum() == ev.n == 45
    )
    assert ev.holdout_version == split.holdout_version
    golden = np.array([[g.features[f] for f in FEATURES] for g in GOLDEN_SAMPLES])
    assert model.predict(golden).tolist() == [g.expected for g in GOLDEN_SAMPLES]


def test_unknown_estimator_lists_choices():
    with pytest.raises(UnknownEstimator) as err:
        iris.train("xgboost", {}, [[1, 2, 3, 4]], ["setosa"])
    assert "logistic_regression" in str(err.value) and err.value.available == list(ESTIMATORS)


def test_bad_params_name_every_problem():
    with pytest.raises(InvalidParams) as err:
        iris.validate_params(
            "random_forest", {"n_estimators": "many", "max_depht": 3, "min_samples_leaf": 0}
        )
    assert set(err.value.problems) == {"n_estimators", "max_depht", "min_samples_leaf"}
    assert "unknown parameter" in err.value.problems["max_depht"]
    assert "integer" in err.value.problems["n_estimators"]
    with pytest.raises(InvalidParams, match="one of uniform, distance"):
        iris.validate_params("knn", {"weights": "closest"})
    with pytest.raises(InvalidParams, match="integer"):
        iris.validate_params("knn", {"n_neighbors": 2.5})
    with pytest.raises(InvalidParams, match="number"):
        iris.validate_params("logistic_regression", {"C": True})


def test_params_coerce_text_and_merge_defaults():
    params = iris.validate_params("random_forest", {"n_estimators": "20", "max_depth": "none"})
    assert params == {
        "n_estimators": 20,
        "max_depth": None,
        "min_samples_leaf": 1,
        "random_state": 0,
    }
    assert iris.validate_params("logistic_regression", {"C": "0.5"})["C"] == 0.5


def test_training_runs_in_a_process_pool():
    split = iris.holdout_split()
    pickle.dumps(iris.train)
    with ProcessPoolExecutor(max_workers=1) as pool:
        model = pool.submit(
            iris.train, "decision_tree", {"max_depth": 3}, split.X_train, split.y_train
        ).result(timeout=60)
    assert iris.evaluate(model, split.X_holdout, split.y_holdout).accuracy >= 0.9
