"""Bad input against the gate-enabled model server: clear 4xx, never 5xx, and it keeps serving.
Also the contract file and the contract itself."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.quality.contract import derive_contract
from bot.quality.overrides import QualityFileError, load_quality_file, parse_quality_file
from bot.training.iris import FEATURES, holdout_split
from tests.serving.conftest import RECORD

GOOD = RECORD


BAD_VALUES = (
        (b'{"sepal_length": NaN, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}',
         422, "sepal_length", "missing"),
        (b'{"sepal_length": 5.1, "sepal_width": Infinity, "petal_length": 1.4, "petal_width": 0.2}',
         422, "sepal_width", "finite"),
        (b'{"sepal_length": 5.1, "sepal_width": -Infinity, "petal_length": 1.4, "petal_width": 0.2}',
         422, "sepal_width", "finite"),
        (b'{"sepal_length": "5.1", "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}',
         422, "sepal_length", "must be a number, got a string"),
        (b'{"sepal_length": {"cm": 5.1}, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}',
         422, "sepal_length", "got an object"),
        (b'{"sepal_length": [5.1], "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}',
         422, "sepal_length", "got an array"),
        (b'{"sepal_length": 51, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}',
         422, "sepal_length", "out of range: 51 cm; expected 0.7"),
)  # fmt: skip


async def test_bad_values_are_422_naming_the_field(gated) -> None:
    for raw, status, field, problem in BAD_VALUES:
        r = await gated.post(
            "/v1/predict", content=raw, headers={"content-type": "application/json"}
        )
        assert r.status_code == status, r.text
        assert r.json()["field"] == field and problem in r.json()["problem"], r.text
    r = await gated.post("/v1/predict", json=GOOD)
    assert r.status_code == 200


async def test_batches_huge_bodies_and_unit_changes(gated) -> None:
    """Huge batches and bodies are 4xx; a batch over the missing share is refused whole with the
    share; a unit change fails the derived range; the server keeps serving throughout."""
    r = await gated.post("/v1/predict", json={"instances": [GOOD] * 10_000})
    assert r.status_code in (413, 422) and r.json()["field"] in ("instances", "body")
    body = b'{"instances": [' + b",".join([b'{"sepal_length": 5.1}'] * 500_000) + b"]}"
    assert len(body) > 10_000_000
    r = await gated.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] == "body"
    r = await gated.post("/v1/predict", json={"instances": [GOOD, GOOD]})
    assert r.status_code == 200 and len(r.json()["predictions"]) == 2

    rows = [GOOD] * 4 + [{k: v for k, v in GOOD.items() if k != "petal_width"}] * 6
    r = await gated.post("/v1/predict", json={"instances": rows})
    assert r.status_code == 422
    assert r.json()["field"] == "instances"
    assert "petal_width is missing in 60% of the 10 rows" in r.json()["problem"]
    assert "at most 50%" in r.json()["problem"]

    millimetres = {**GOOD, "petal_length": GOOD["petal_length"] * 10 * 10}
    r = await gated.post("/v1/predict", json=millimetres)
    assert r.status_code == 422 and r.json()["field"] == "petal_length"
    state = (await gated.get("/v1/quality")).json()
    assert state["contract"]["petal_length"]["maximum"] == 12.8
    assert state["samples"][-1]["petal_length"] == 140.0

    bad = [b"[", b'{"instances": {}}', b'{"sepal_length": null}', b"\xff"] * 5
    answers = await asyncio.gather(
        *(gated.post("/v1/predict", content=b) for b in bad),
        *(gated.post("/v1/predict", json=GOOD) for _ in range(5)),
    )
    assert all(r.status_code < 500 for r in answers)
    assert sum(r.status_code == 200 for r in answers) == 5


def test_the_contract_is_derived_from_the_training_rows() -> None:
    split = holdout_split()
    contract = derive_contract(split.X_train, FEATURES)
    width = contract.get("petal_width")
    assert width is not None and width.median == float(
        sorted(split.X_train[:, 3])[len(split.X_train) // 2]
    )
    assert width.minimum == 0.0 and 2.5 < width.maximum < 25 and not width.nullable


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("[features.petal_widht]\nmaximum = 3\n", "quality.toml:1", "unknown feature `petal_widht`"),
        ("[defaults]\nmax_missing_share = 0.5\n\n[features.petal_width]\nmaxium = 3\n",
         "quality.toml:5", "unknown key `maxium`"),
        ("[features.petal_width]\nminimum = 3\nmaximum = 2\n", "quality.toml:3", "above minimum"),
        ("[monitor]\nrate_threshold = 5\n", "quality.toml:2", "share between 0 and 1"),
        ("[monitor]\nrate_threshold = \n", "quality.toml:2", "Invalid value"),
        ("[sources.kafka]\ncadence_minutes = 5\n", "quality.toml:1", "unknown source"),
    ],
)  # fmt: skip
def test_a_typo_in_the_contract_file_is_refused_with_file_and_line(text, where, problem) -> None:
    with pytest.raises(QualityFileError) as caught:
        parse_quality_file(text, "quality.toml")
    assert caught.value.where == where and problem in caught.value.problem


def test_the_bundled_contract_file_is_valid_and_a_missing_named_file_is_refused(
    tmp_path: Path,
) -> None:
    bundled = load_quality_file(None)
    assert bundled.monitor.rate_threshold == 0.05 and bundled.cadence_minutes["feedback"] > 0
    with pytest.raises(QualityFileError, match="file not found"):
        load_quality_file(tmp_path / "nope.toml")


def test_the_model_server_refuses_to_start_on_a_broken_contract_file(tmp_path: Path) -> None:
    from bot.serving.server import build_model_app
    from tests.harness import make_settings

    broken = tmp_path / "quality.toml"
    broken.write_text("[features.petal_width]\nmaximum = 'big'\n")
    settings = make_settings(tmp_path, quality_file=broken)
    with pytest.raises(QualityFileError, match="quality.toml:2"):
        build_model_app(settings)
