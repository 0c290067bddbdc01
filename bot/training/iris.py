"""Pure training functions: data, the fixed holdout, estimators, fitting and evaluation.

No MLflow here. Everything is a top-level function over plain arrays, so a process pool can
pickle the call (`pool.submit(train, "knn", {}, X, y)`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import numpy as np

from bot.model_registry.errors import InvalidParams, UnknownEstimator
from bot.model_registry.schemas import Evaluation

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
CLASSES = ["setosa", "versicolor", "virginica"]

# The holdout is part of the contract: changing these changes every holdout version.
HOLDOUT_FRACTION = 0.3
HOLDOUT_SEED = 20240917


# --- data -----------------------------------------------------------------------------------------
def iris_base_frame() -> Any:
    """The bundled Iris data as a DataFrame: the four FEATURES plus `species` (class names)."""
    import pandas as pd  # seconds to import, and only this helper needs it

    X, y = _iris_arrays()
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["species"] = y
    return frame


@cache
def _iris_arrays() -> tuple[np.ndarray, np.ndarray]:
    # scikit-learn takes seconds to import; only training and evaluation need it.
    from sklearn.datasets import load_iris

    bunch = load_iris()
    X = np.ascontiguousarray(bunch.data, dtype=np.float64)
    y = np.asarray(CLASSES, dtype=object)[bunch.target].astype(str)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def data_hash(X: Any, y: Any) -> str:
    """Content hash of a data set (features rounded to 1e-9, labels as text); order matters."""
    arr = np.round(np.ascontiguousarray(np.asarray(X, dtype=np.float64)), 9)
    digest = hashlib.sha256(arr.tobytes())
    digest.update(str(arr.shape).encode())
    digest.update("\x1f".join(str(v) for v in np.asarray(y)).encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Split:
    """Training rows and the fixed holdout; `holdout_version` is the holdout's content hash."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_holdout: np.ndarray
    y_holdout: np.ndarray
    holdout_version: str


@cache
def _holdout() -> tuple[np.ndarray, np.ndarray, str]:
    from sklearn.model_selection import train_test_split

    X, y = _iris_arrays()
    _, X_hold, _, y_hold = train_test_split(
        X, y, test_size=HOLDOUT_FRACTION, stratify=y, random_state=HOLDOUT_SEED
    )
    # Sort so the version depends only on which rows are held out, not on split order.
    order = np.lexsort((*X_hold.T[::-1], y_hold))
    X_hold, y_hold = np.ascontiguousarray(X_hold[order]), y_hold[order]
    return X_hold, y_hold, data_hash(X_hold, y_hold)


def holdout_split(X: Any = None, y: Any = None) -> Split:
    """Split data (default: base Iris) into training rows and the fixed, stratified holdout.

    The holdout is always drawn from base Iris; any row of `X, y` equal to a holdout row is
    dropped from training, so the holdout never leaks in, whatever data a retrain brings.
    """
    X_hold, y_hold, version = _holdout()
    if X is None:
        X, y = _iris_arrays()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(str)
    held = {(*np.round(row, 9), label) for row, label in zip(X_hold, y_hold, strict=True)}
    keep = np.fromiter(
        ((*np.round(row, 9), label) not in held for row, label in zip(X, y, strict=True)),
        dtype=bool,
        count=len(y),
    )
    return Split(X[keep], y[keep], X_hold, y_hold, version)


@dataclass(frozen=True)
class GoldenSample:
    """A clear-cut record with the class any sane model must predict."""

    features: dict[str, float]
    expected: str


GOLDEN_SAMPLES: list[GoldenSample] = [
    GoldenSample(
        {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}, "setosa"
    ),
    GoldenSample(
        {"sepal_length": 4.9, "sepal_width": 3.1, "petal_length": 1.5, "petal_width": 0.1}, "setosa"
    ),
    GoldenSample(
        {"sepal_length": 5.8, "sepal_width": 2.7, "petal_length": 4.1, "petal_width": 1.0},
        "versicolor",
    ),
    GoldenSample(
        {"sepal_length": 5.7, "sepal_width": 2.8, "petal_length": 4.1, "petal_width": 1.3},
        "versicolor",
    ),
    GoldenSample(
        {"sepal_length": 7.7, "sepal_width": 3.0, "petal_length": 6.1, "petal_width": 2.3},
        "virginica",
    ),
    GoldenSample(
        {"sepal_length": 6.7, "sepal_width": 3.3, "petal_length": 5.7, "petal_width": 2.5},
        "virginica",
    ),
]


# --- estimators -----------------------------------------------------------------------------------
ParamKind = Literal["int", "float", "choice", "int_or_none"]


@dataclass(frozen=True)
class ParamSpec:
    """One tunable hyper-parameter: its type, default and allowed range or choices."""

    kind: ParamKind
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class EstimatorSpec:
    """A scikit-learn estimator we offer by name, with the parameters users may set."""

    name: str
    description: str
    build: Callable[[dict[str, Any]], Any]
    params: dict[str, ParamSpec] = field(default_factory=dict)

    @property
    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.params.items()}


# Each estimator imports its own scikit-learn module, so a bot that never trains loads none.
def _logistic_regression(p: dict[str, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**p)


def _random_forest(p: dict[str, Any]) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(**p)


def _gradient_boosting(p: dict[str, Any]) -> Any:
    from sklearn.ensemble import GradientBoostingClassifier

    return GradientBoostingClassifier(**p)


def _knn(p: dict[str, Any]) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(**p)


def _svc(p: dict[str, Any]) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    # SVC(probability=True) is deprecated in scikit-learn 1.9; this is its documented replacement.
    return CalibratedClassifierCV(SVC(**p), ensemble=False)


def _decision_tree(p: dict[str, Any]) -> Any:
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(**p)


_SEED = ParamSpec("int", 0, 0, 2**31 - 1)
_DEPTH = ParamSpec("int_or_none", None, 1, 64)

ESTIMATORS: dict[str, EstimatorSpec] = {
    spec.name: spec
    for spec in [
        EstimatorSpec(
            "logistic_regression",
            "Multinomial logistic regression",
            _logistic_regression,
            {
                "C": ParamSpec("float", 1.0, 1e-6, 1e6),
                "max_iter": ParamSpec("int", 1000, 10, 100_000),
            },
        ),
        EstimatorSpec(
            "random_forest",
            "Random forest",
            _random_forest,
            # 50 trees: as accurate as 100 on Iris, and half the per-request serving cost.
            {
                "n_estimators": ParamSpec("int", 50, 1, 1000),
                "max_depth": _DEPTH,
                "min_samples_leaf": ParamSpec("int", 1, 1, 100),
                "random_state": _SEED,
            },
        ),
        EstimatorSpec(
            "gradient_boosting",
            "Gradient-boosted trees",
            _gradient_boosting,
            {
                "n_estimators": ParamSpec("int", 50, 1, 1000),
                "learning_rate": ParamSpec("float", 0.1, 1e-4, 1.0),
                "max_depth": ParamSpec("int", 3, 1, 16),
                "random_state": _SEED,
            },
        ),
        EstimatorSpec(
            "knn",
            "k-nearest neighbours",
            _knn,
            {
                "n_neighbors": ParamSpec("int", 5, 1, 50),
                "weights": ParamSpec("choice", "uniform", choices=("uniform", "distance")),
            },
        ),
        EstimatorSpec(
            "svc",
            "Support vector classifier (calibrated probabilities)",
            _svc,
            {
                "C": ParamSpec("float", 1.0, 1e-6, 1e6),
                "kernel": ParamSpec("choice", "rbf", choices=("linear", "rbf", "poly")),
                "random_state": _SEED,
            },
        ),
        EstimatorSpec(
            "decision_tree",
            "Single decision tree",
            _decision_tree,
            {
                "max_depth": _DEPTH,
                "min_samples_leaf": ParamSpec("int", 1, 1, 100),
                "criterion": ParamSpec("choice", "gini", choices=("gini", "entropy", "log_loss")),
                "random_state": _SEED,
            },
        ),
    ]
}


def _coerce(spec: ParamSpec, value: Any) -> Any:
    """Turn a value (possibly text typed in Slack) into the spec's type; ValueError says why."""
    if spec.kind == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            raise ValueError(f"must be one of {', '.join(spec.choices)} (got {value!r})")
        return value
    if spec.kind == "int_or_none" and (
        value is None or (isinstance(value, str) and value.lower() in {"none", "null"})
    ):
        return None
    if isinstance(value, bool):
        raise ValueError(f"must be a number, not {value!r}")
    want_int = spec.kind in {"int", "int_or_none"}
    try:
        number = float(value) if isinstance(value, str) else value
        if not isinstance(number, int | float) or not np.isfinite(number):
            raise TypeError
    except (TypeError, ValueError):
        raise ValueError(
            f"must be {'an integer' if want_int else 'a number'} (got {value!r})"
        ) from None
    if want_int:
        if float(number) != int(number):
            raise ValueError(f"must be an integer (got {value!r})")
        number = int(number)
    else:
        number = float(number)
    if spec.minimum is not None and number < spec.minimum:
        raise ValueError(f"must be ≥ {spec.minimum:g} (got {number})")
    if spec.maximum is not None and number > spec.maximum:
        raise ValueError(f"must be ≤ {spec.maximum:g} (got {number})")
    return number


def estimator_spec(name: str) -> EstimatorSpec:
    """The spec for an estimator name, or UnknownEstimator listing the choices."""
    try:
        return ESTIMATORS[name]
    except KeyError:
        raise UnknownEstimator(name, list(ESTIMATORS)) from None


def validate_params(estimator_name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults merged with `params`, each checked and coerced; InvalidParams lists every problem."""
    spec = estimator_spec(estimator_name)
    merged = spec.defaults
    problems: dict[str, str] = {}
    for key, value in (params or {}).items():
        if key not in spec.params:
            problems[key] = f"unknown parameter; allowed: {', '.join(spec.params)}"
            continue
        try:
            merged[key] = _coerce(spec.params[key], value)
        except ValueError as exc:
            problems[key] = str(exc)
    if problems:
        raise InvalidParams(estimator_name, problems)
    return merged


def build_estimator(estimator_name: str, params: dict[str, Any] | None = None) -> Any:
    """An unfitted estimator with validated parameters."""
    return estimator_spec(estimator_name).build(validate_params(estimator_name, params))


def train(estimator_name: str, params: dict[str, Any] | None, X: Any, y: Any) -> Any:
    """Fit the named estimator on X (n×4 floats, FEATURES order) and y (class names)."""
    model = build_estimator(estimator_name, params)
    # Plain float arrays, never DataFrames: the server predicts on numpy and must not warn.
    model.fit(np.asarray(X, dtype=np.float64), np.asarray(y).astype(str))
    return model


def evaluate(model: Any, X: Any, y: Any, *, holdout_version: str | None = None) -> Evaluation:
    """Accuracy, macro-F1, per-class recall and confusion matrix of `model` on X, y."""
    # scikit-learn takes seconds to import; see _iris_arrays.
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    X = np.asarray(X, dtype=np.float64)
    y_true = np.asarray(y).astype(str)
    y_pred = np.asarray(model.predict(X)).astype(str)
    recalls = recall_score(y_true, y_pred, labels=CLASSES, average=None, zero_division=0)
    return Evaluation(
        accuracy=round(float(accuracy_score(y_true, y_pred)), 6),
        macro_f1=round(
            float(f1_score(y_true, y_pred, labels=CLASSES, average="macro", zero_division=0)), 6
        ),
        per_class_recall={c: round(float(r), 6) for c, r in zip(CLASSES, recalls, strict=True)},
        confusion_matrix=confusion_matrix(y_true, y_pred, labels=CLASSES).tolist(),
        labels=list(CLASSES),
        holdout_version=holdout_version or data_hash(X, y_true),
        n=len(y_true),
    )
