"""Feedback: by features, by prediction id, refused and quarantined feedback."""

from __future__ import annotations

from sqlalchemy import insert, select

from bot.data.models import QuarantinedRow, Sample
from bot.data.service import FeedbackItem, record_feedback, record_feedback_many
from bot.db import Database, utcnow
from bot.serving.models import ServedPrediction

FEATURES = {"sepal_length": 6.4, "sepal_width": 3.2, "petal_length": 4.5, "petal_width": 1.5}


def served(db: Database, pid: str = "a" * 32, **features: float) -> str:
    values = {**FEATURES, **features}
    with db.connection() as conn:
        conn.execute(
            insert(ServedPrediction.__table__),
            {"prediction_id": pid, "model_version": 3, "predicted_class": "virginica",
             "max_probability": 0.6, "created_at": utcnow(), **values},
        )  # fmt: skip
    return pid


def test_feedback_by_features(db: Database) -> None:
    result = record_feedback(db, label="Versicolor", features=FEATURES)
    assert result.accepted and result.sample_id and result.reason is None
    with db.session() as session:
        sample = session.get(Sample, result.sample_id)
    assert sample is not None
    assert (sample.source, sample.label, sample.petal_length) == ("feedback", "versicolor", 4.5)


def test_feedback_by_prediction_id_uses_the_recorded_inputs(db: Database) -> None:
    pid = served(db, petal_width=1.7)
    result = record_feedback(db, label="versicolor", prediction_id=pid)
    assert result.accepted
    with db.session() as session:
        sample = session.get(Sample, result.sample_id)
    assert sample is not None and sample.source_ref == pid and sample.petal_width == 1.7
    # A retry is idempotent; a different label for the same prediction is a conflict.
    assert record_feedback(db, label="versicolor", prediction_id=pid).sample_id == result.sample_id
    conflict = record_feedback(db, label="setosa", prediction_id=pid)
    assert not conflict.accepted and "conflicts" in (conflict.reason or "")


def test_unknown_prediction_id_is_refused_with_a_reason(db: Database) -> None:
    result = record_feedback(db, label="setosa", prediction_id="nope")
    assert not result.accepted and result.sample_id is None
    assert "unknown prediction 'nope'" in (result.reason or "")
    with db.session() as session:
        assert session.scalars(select(QuarantinedRow)).first() is None


def test_bad_label_and_bad_features_are_quarantined(db: Database) -> None:
    pid = served(db)
    bad_label = record_feedback(db, label="rose", prediction_id=pid)
    assert not bad_label.accepted and "unknown class 'rose'" in (bad_label.reason or "")
    bad_value = record_feedback(db, label="setosa", features={**FEATURES, "sepal_width": "wide"})
    assert bad_value.reason == "sepal_width: not a number ('wide')"
    mismatch = record_feedback(db, label="setosa", prediction_id=pid,
                               features={**FEATURES, "sepal_length": 9.9})  # fmt: skip
    assert not mismatch.accepted and "differ" in (mismatch.reason or "")
    nothing = record_feedback(db, label="setosa")
    assert not nothing.accepted and "prediction_id" in (nothing.reason or "")
    with db.session() as session:
        rows = list(session.scalars(select(QuarantinedRow).order_by(QuarantinedRow.id)))
    assert [r.category for r in rows] == ["unknown class", "not a number", "mismatch"]
    assert rows[0].source == "feedback" and rows[0].source_ref == pid and "rose" in rows[0].raw


def test_batch_is_one_result_per_item(db: Database) -> None:
    pid = served(db)
    results = record_feedback_many(
        db,
        items=[
            FeedbackItem("virginica", prediction_id=pid),
            FeedbackItem("setosa", features={"sepal_length": 5.0}),
            FeedbackItem("setosa", features=FEATURES),
        ],
    )
    assert [r.accepted for r in results] == [True, False, True]
    assert "sepal_width: missing" in (results[1].reason or "")
