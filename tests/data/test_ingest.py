"""Landing files: CSV / JSON Lines ingestion, quarantine with reasons, duplicate files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.data.models import IngestedFile, QuarantinedRow, Sample
from bot.data.service import ingest_landing
from bot.db import Database
from tests.data.conftest import HEADER

GOOD_CSV = (
    HEADER + "5.1,3.5,1.4,0.2,setosa\n6.0,2.2,4.0,1.0,Iris-versicolor\n7.7,3.0,6.1,2.3,VIRGINICA\n"
)

BAD_CSV = (
    HEADER
    + "5.1,3.5,1.4,abc,setosa\n"  # line 2: not a number
    + "5.1,3.5,1.4,0.2,rose\n"  # line 3: unknown class
    + ",3.5,1.4,0.2,setosa\n"  # line 4: missing
    + "5.1,3.5,1.4,nan,setosa\n"  # line 5: not finite
    + "45,3.5,1.4,0.2,setosa\n"  # line 6: out of range
    + "5.1,3.5,1.4,0,setosa\n"  # line 7: out of range (zero)
    + "5.1,3.5,1.4\n"  # line 8: wrong field count
    + "\n"  # line 9: blank, ignored
    + "6.3,3.3,6.0,2.5,virginica\n"  # line 10: fine
)


def _quarantine(db: Database) -> list[QuarantinedRow]:
    with db.session() as session:
        return list(session.scalars(select(QuarantinedRow).order_by(QuarantinedRow.id)))


def _samples(db: Database) -> list[Sample]:
    with db.session() as session:
        return list(session.scalars(select(Sample).order_by(Sample.id)))


def test_good_csv_rows_are_ingested_and_the_file_archived(db: Database, landing: Path) -> None:
    (landing / "batch1.csv").write_text(GOOD_CSV)
    report = ingest_landing(db, landing_dir=landing)
    assert report.files == ["batch1.csv"] and report.skipped == []
    assert (report.rows_added, report.rows_quarantined) == (3, 0)
    rows = _samples(db)
    assert [r.label for r in rows] == ["setosa", "versicolor", "virginica"]
    assert [r.line for r in rows] == [2, 3, 4]
    assert rows[0].source == "landing" and rows[0].source_ref == "batch1.csv"
    assert (rows[0].sepal_length, rows[0].petal_width) == (5.1, 0.2)
    assert not (landing / "batch1.csv").exists()
    assert (landing / "processed" / "batch1.csv").exists()


def test_bad_rows_are_quarantined_with_file_line_and_reason(db: Database, landing: Path) -> None:
    (landing / "bad.csv").write_text(BAD_CSV)
    report = ingest_landing(db, landing_dir=landing)
    assert report.rows_added == 1
    assert report.rows_quarantined == 7
    assert report.reasons == {
        "not a number": 1,
        "unknown class": 1,
        "missing": 1,
        "not finite": 1,
        "out of range": 2,
        "wrong field count": 1,
    }
    assert report.examples[0] == "bad.csv line 2: petal_width: not a number ('abc')"
    assert len(report.examples) == 5
    rows = _quarantine(db)
    by_line = {r.line: r for r in rows}
    assert set(by_line) == {2, 3, 4, 5, 6, 7, 8}
    assert by_line[3].reason.startswith("species: unknown class 'rose'")
    assert by_line[4].reason == "sepal_length: missing"
    assert by_line[5].reason == "petal_width: not finite ('nan')"
    assert "out of range" in by_line[6].reason and by_line[6].category == "out of range"
    assert by_line[8].category == "wrong field count"
    assert by_line[2].raw == "5.1,3.5,1.4,abc,setosa"
    assert all(r.source == "landing" and r.source_ref == "bad.csv" for r in rows)
    [meta] = _files(db)
    assert (meta.rows, meta.quarantined) == (1, 7)


def _files(db: Database) -> list[IngestedFile]:
    with db.session() as session:
        return list(session.scalars(select(IngestedFile).order_by(IngestedFile.id)))


def test_jsonl_good_and_bad_lines(db: Database, landing: Path) -> None:
    lines = [
        json.dumps(
            {
                "sepal_length": 5.0,
                "sepal_width": 3.4,
                "petal_length": 1.5,
                "petal_width": 0.2,
                "label": "setosa",
            }
        ),  # fmt: skip
        json.dumps(
            {
                "sepal_length": "6.1",
                "sepal_width": 2.8,
                "petal_length": 4.7,
                "petal_width": 1.2,
                "class": "Iris-Versicolor",
            }
        ),  # fmt: skip
        "{not json",
        json.dumps([1, 2, 3]),
        json.dumps(
            {
                "sepal_length": 5.0,
                "sepal_width": 3.4,
                "petal_length": 1.5,
                "petal_width": True,
                "species": "setosa",
            }
        ),  # fmt: skip
        "",
        json.dumps(
            {"sepal_length": 5.0, "sepal_width": 3.4, "petal_length": 1.5, "species": "setosa"}
        ),  # fmt: skip
    ]
    (landing / "fb.jsonl").write_text("\n".join(lines) + "\n")
    report = ingest_landing(db, landing_dir=landing)
    assert report.rows_added == 2
    assert report.reasons == {"malformed JSON": 1, "not an object": 1, "not a number": 1,
                              "missing": 1}  # fmt: skip
    by_line = {r.line: r for r in _quarantine(db)}
    assert by_line[3].reason.startswith("malformed JSON")
    assert by_line[3].raw == "{not json"
    assert by_line[5].reason == "petal_width: not a number (True)"
    assert by_line[7].reason == "petal_width: missing"
    assert [s.label for s in _samples(db)] == ["setosa", "versicolor"]


def test_json_array_and_header_aliases(db: Database, landing: Path) -> None:
    records = [{"Sepal Length (cm)": 5.0, "Sepal Width (cm)": 3.0, "Petal Length (cm)": 1.6,
                "Petal Width (cm)": 0.2, "Class": "setosa"}]  # fmt: skip
    (landing / "a.json").write_text(json.dumps(records))
    (landing / "semi.csv").write_text("Sepal_Length;sepal_width;petal_length;petal_width;Label\n"
                                      "5.0;3.0;1.6;0.2;setosa\n")  # fmt: skip
    report = ingest_landing(db, landing_dir=landing)
    assert sorted(report.files) == ["a.json", "semi.csv"]
    assert report.rows_added == 2 and report.rows_quarantined == 0


def test_missing_header_column_is_one_quarantine_entry(db: Database, landing: Path) -> None:
    (landing / "h.csv").write_text("sepal_length,sepal_width,petal_length,species\n1,2,3,setosa\n")
    report = ingest_landing(db, landing_dir=landing)
    assert report.rows_added == 0 and report.reasons == {"bad header": 1}
    assert "missing column petal_width" in _quarantine(db)[0].reason


def test_same_file_twice_and_same_content_under_another_name(db: Database, landing: Path) -> None:
    (landing / "one.csv").write_text(GOOD_CSV)
    ingest_landing(db, landing_dir=landing, archive=False)
    again = ingest_landing(db, landing_dir=landing, archive=False)
    assert again.files == [] and again.skipped == ["one.csv"] and again.rows_added == 0
    (landing / "copy.csv").write_text(GOOD_CSV)
    copy = ingest_landing(db, landing_dir=landing)
    assert sorted(copy.skipped) == ["copy.csv", "one.csv"] and copy.rows_added == 0
    assert len(_samples(db)) == 3 and len(_files(db)) == 1
    assert not list(landing.glob("*.csv"))  # skipped duplicates are archived too


def test_changed_file_is_ingested_and_appended_rows_are_not_duplicated(
    db: Database, landing: Path
) -> None:
    (landing / "daily.csv").write_text(GOOD_CSV)
    ingest_landing(db, landing_dir=landing)
    (landing / "daily.csv").write_text(GOOD_CSV + "5.0,3.6,1.4,0.2,setosa\n")
    appended = ingest_landing(db, landing_dir=landing)
    assert appended.files == ["daily.csv"] and appended.rows_added == 1
    assert [s.line for s in _samples(db)] == [2, 3, 4, 5]
    # An edit in the middle is a different file: ingested whole.
    (landing / "daily.csv").write_text(HEADER + "4.4,2.9,1.4,0.2,setosa\n")
    edited = ingest_landing(db, landing_dir=landing)
    assert edited.rows_added == 1 and len(_files(db)) == 3
    assert (landing / "processed" / "daily.1.csv").exists()


def test_only_landing_files_are_read(db: Database, landing: Path) -> None:
    (landing / "notes.txt").write_text("hello")
    (landing / ".partial.csv").write_text(GOOD_CSV)
    (landing / "processed").mkdir()
    (landing / "processed" / "old.csv").write_text(GOOD_CSV)
    report = ingest_landing(db, landing_dir=landing)
    assert report.files == [] and report.rows_added == 0
    missing = ingest_landing(db, landing_dir=landing / "nope")
    assert missing.files == []


def test_a_failed_file_leaves_nothing_behind(db: Database, landing: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.data import ingest

    (landing / "x.csv").write_text(GOOD_CSV * 1)
    monkeypatch.setattr(ingest, "CHUNK_ROWS", 1)
    calls = {"n": 0}
    real = ingest._flush

    def boom(conn, write, rows):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("crash mid-file")
        real(conn, write, rows)

    monkeypatch.setattr(ingest, "_flush", boom)
    with pytest.raises(RuntimeError):
        ingest_landing(db, landing_dir=landing)
    assert _samples(db) == [] and _files(db) == []
    monkeypatch.setattr(ingest, "_flush", real)
    assert ingest_landing(db, landing_dir=landing).rows_added == 3
