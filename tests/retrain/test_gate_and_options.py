"""The regression gate and `/iris retrain` option parsing: pure functions."""

from __future__ import annotations

import pytest

from bot.messages import TemplateRenderer
from bot.model_registry.schemas import Evaluation
from bot.retrain.gate import run_gate
from bot.retrain.options import RetrainOptionsError, parse_include, parse_retrain_options

CLASSES = ["setosa", "versicolor", "virginica"]


def ev(
    acc: float, f1: float | None = None, recall: tuple[float, ...] = (1, 1, 1), holdout: str = "h1"
) -> Evaluation:
    return Evaluation(
        accuracy=acc,
        macro_f1=acc if f1 is None else f1,
        per_class_recall=dict(zip(CLASSES, recall, strict=True)),
        confusion_matrix=[[15, 0, 0], [0, 15, 0], [0, 0, 15]],
        labels=CLASSES,
        holdout_version=holdout,
        n=45,
    )


def gate(candidate: Evaluation, production: Evaluation | None):  # type: ignore[no-untyped-def]
    return run_gate(candidate, production, floor=0.85, tolerance=0.02, recall_tolerance=0.05)


def said(verdict):  # type: ignore[no-untyped-def]
    """The gate's reasons as the people reading the report and the refusals see them."""
    renderer = TemplateRenderer()
    return [renderer.render("validation_reason", reason=r).text for r in verdict.reasons]


def test_a_candidate_as_good_as_production_passes() -> None:
    verdict = gate(ev(0.97, recall=(1, 0.93, 1)), ev(0.98, recall=(1, 0.93, 1)))
    assert verdict.passed and verdict.status == "passed" and verdict.reasons == []


def test_without_production_only_the_floors_apply() -> None:
    assert gate(ev(0.9), None).passed
    verdict = gate(ev(0.8), None)
    assert not verdict.passed and "accuracy 0.800 < floor 0.850" in said(verdict)[0]


def test_below_the_floor_is_rejected() -> None:
    verdict = gate(ev(0.84, recall=(1, 0.8, 0.8)), ev(0.84, recall=(1, 0.8, 0.8)))
    assert verdict.status == "rejected"
    assert any("accuracy 0.840 < floor" in r for r in said(verdict))
    assert any("macro-F1 0.840 < floor" in r for r in said(verdict))


def test_worse_than_production_beyond_tolerance_is_rejected() -> None:
    verdict = gate(ev(0.93, f1=0.95), ev(0.978, f1=0.96))
    assert not verdict.passed
    assert said(verdict) == [
        "accuracy 0.930 vs production 0.978 (worse by 0.048 > tolerance 0.020)"
    ]


def test_macro_f1_regression_alone_rejects() -> None:
    verdict = gate(ev(0.97, f1=0.90), ev(0.97, f1=0.97))
    assert [c.name for c in verdict.checks if not c.ok] == ["macro_f1_regression"]


def test_a_class_recall_drop_rejects_even_with_equal_accuracy() -> None:
    verdict = gate(ev(0.978, recall=(1, 1, 0.933)), ev(0.978, recall=(1, 0.933, 1)))
    assert not verdict.passed
    assert said(verdict) == [
        "virginica recall 0.933 vs production 1.000 (drop 0.067 > tolerance 0.050)"
    ]


def test_different_holdouts_are_not_comparable() -> None:
    verdict = gate(ev(0.98, holdout="a"), ev(0.98, holdout="b"))
    assert not verdict.passed and "different holdouts" in said(verdict)[0]


def test_options_default_to_the_production_estimator_and_all_data() -> None:
    options = parse_retrain_options(
        params={}, options={}, flags=set(), default_estimator="random_forest"
    )
    assert options.estimator == "random_forest" and options.params["n_estimators"] == 50
    assert options.include == ("base", "landing", "feedback") and not options.force


def test_options_parse_estimator_params_include_and_force() -> None:
    options = parse_retrain_options(
        params={"n_neighbors": "7"},
        options={"estimator": "knn", "include": "feedback"},
        flags={"force"},
        default_estimator="random_forest",
    )
    assert options.estimator == "knn" and options.params["n_neighbors"] == 7
    assert options.include == ("base", "feedback") and options.force


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(RetrainOptionsError) as caught:
        parse_retrain_options(
            params={"n_estimators": "-5", "bogus": "1"},
            options={"estimator": "random_forest", "include": "landing,attic"},
            flags={"fast"},
            default_estimator=None,
        )
    text = " | ".join(caught.value.problems)
    assert "`n_estimators`: must be ≥ 1" in text and "`bogus`: unknown parameter" in text
    assert "unknown source attic" in text and "--fast" in text


def test_unknown_estimator_lists_the_choices() -> None:
    with pytest.raises(RetrainOptionsError) as caught:
        parse_retrain_options(
            params={}, options={"estimator": "xgboost"}, flags=(), default_estimator=None
        )
    assert "random_forest" in caught.value.problems[0]


def test_include_always_keeps_base() -> None:
    assert parse_include("landing") == ("base", "landing")
    assert parse_include("") == ("base", "landing", "feedback")
