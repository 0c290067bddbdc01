"""The contract as pandera schemas: rows for ingestion and re-validation, windows for the server.

pandera takes ~2 s to import (pandas, typeguard), so it is imported on first use: a bot or model
server that never validates a frame or a window does not pay for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bot.quality.contract import Contract
from bot.quality.overrides import MonitorLimits

# The window checks, in the order they are shown.
WINDOW_CHECKS = ("range", "zeros", "constant", "unit")


def warm_up() -> None:
    """Import pandera now (in a worker thread at start-up), not on the first scrape."""
    import pandera.pandas  # noqa: F401


def row_schema(contract: Contract) -> Any:
    """Each row's values: a number in the contract's range; null only where the contract allows."""
    import pandera.pandas as pa  # slow import, see the module docstring

    return pa.DataFrameSchema(
        {
            f.name: pa.Column(
                float,
                pa.Check.in_range(f.minimum, f.maximum, name="range"),
                nullable=f.nullable,
                coerce=True,
            )
            for f in contract.features
        },
        strict=False,
    )


def row_problems(records: list[dict[str, Any]], contract: Contract) -> dict[int, str]:
    """Index → the first problem of each row that breaks the contract (empty: all valid)."""
    import pandas as pd
    import pandera.errors as pe

    frame = pd.DataFrame.from_records(records, columns=list(contract.names))
    frame = frame.apply(pd.to_numeric, errors="coerce")
    try:
        row_schema(contract).validate(frame, lazy=True)
    except pe.SchemaErrors as exc:
        problems: dict[int, str] = {}
        for case in exc.failure_cases.itertuples():
            index = case.index
            if index is None or (isinstance(index, float) and np.isnan(index)):
                continue
            column = case.column
            check = str(case.check)
            text = (
                f"{column}: missing or not a number"
                if "nullable" in check or "not_nullable" in check
                else f"{column}: out of range ({case.failure_case})"
            )
            problems.setdefault(int(index), text)
        return problems
    return {}


def window_schema(contract: Contract, limits: MonitorLimits) -> Any:
    """The latest rows as a whole: in range, not mostly zeros, not constant, not 10× the unit."""
    import pandera.pandas as pa  # slow import, see the module docstring

    ratio = limits.unit_change_ratio
    columns = {}
    for f in contract.features:
        checks = [
            pa.Check(lambda s, lo=f.minimum, hi=f.maximum: s.dropna().between(lo, hi).mean() >= 0.5,
                     name="range"),
            pa.Check(lambda s: (s.dropna() == 0).mean() <= limits.zero_share_max, name="zeros"),
            pa.Check(lambda s: s.dropna().nunique() > 1, name="constant"),
        ]  # fmt: skip
        if f.median:
            checks.append(
                pa.Check(
                    lambda s, m=f.median: 1 / ratio <= abs(s.dropna().mean() / m) <= ratio,
                    name="unit",
                )
            )
        columns[f.name] = pa.Column(float, checks, nullable=True)
    return pa.DataFrameSchema(columns)


def window_failures(
    X: np.ndarray, contract: Contract, limits: MonitorLimits
) -> dict[str, list[str]]:
    """Feature → the window checks its latest values fail."""
    import pandas as pd
    import pandera.errors as pe

    values = np.where(np.isfinite(X), X, np.nan)
    frame = pd.DataFrame(values, columns=list(contract.names))
    try:
        window_schema(contract, limits).validate(frame, lazy=True)
    except pe.SchemaErrors as exc:
        failed: dict[str, list[str]] = {}
        for case in exc.failure_cases.itertuples():
            check = str(case.check)
            if check in WINDOW_CHECKS and check not in failed.setdefault(str(case.column), []):
                failed[str(case.column)].append(check)
        return failed
    return {}
