"""Quarantine review: quarantined rows by reason, Release (re-validate) and Discard.

Release re-validates each row of a reason with the ingestion checks and the current feature
contract (pandera, `bot/quality/schema.py`): rows that pass become training samples, the others
stay with their new reason. Both write an audit record in the same transaction.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select

from bot.audit import service as audit
from bot.data.models import QuarantinedRow, Sample
from bot.data.validation import Problem, check, check_mapping
from bot.db import Database, utcnow
from bot.quality.contract import Contract
from bot.quality.schema import row_problems

SAMPLES_PER_REASON = 3


@dataclass(frozen=True)
class QuarantineGroup:
    """One reason (category): how many rows, and a few of them."""

    category: str
    count: int
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ReleaseResult:
    category: str
    released: int
    kept: int
    reasons: list[str] = field(default_factory=list)


def quarantine_summary(db: Database) -> list[QuarantineGroup]:
    """Quarantined rows grouped by reason, largest first, with samples."""
    with db.session() as session:
        counts = session.execute(
            select(QuarantinedRow.category, func.count())
            .group_by(QuarantinedRow.category)
            .order_by(func.count().desc(), QuarantinedRow.category)
        ).all()
        groups = []
        for category, count in counts:
            rows = session.execute(
                select(QuarantinedRow)
                .where(QuarantinedRow.category == category)
                .order_by(QuarantinedRow.id)
                .limit(SAMPLES_PER_REASON)
            ).scalars()
            samples = [
                {"source": r.source, "ref": r.source_ref, "line": r.line,
                 "raw": r.raw[:120], "reason": r.reason}
                for r in rows
            ]  # fmt: skip
            groups.append(QuarantineGroup(category, int(count), samples))
    return groups


def _revalidate(raw: str) -> Any:
    """A stored raw row (a JSON object or a CSV line in feature order) checked again."""
    text = raw.strip()
    if text.startswith("{"):
        try:
            return check_mapping(json.loads(text))
        except ValueError:
            return Problem("malformed JSON", "malformed JSON")
    delimiter = max((",", ";", "\t"), key=text.count)
    cells = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    if len(cells) != 5:
        return Problem("wrong field count", f"row: {len(cells)} fields, expected 5")
    return check(cells[:4], cells[4])


def release(db: Database, *, category: str, contract: Contract, actor: str) -> ReleaseResult:
    """Re-validate every row of `category`; valid rows become samples, the rest stay."""
    with db.session() as session:
        rows = list(
            session.execute(
                select(QuarantinedRow).where(QuarantinedRow.category == category)
            ).scalars()
        )
        checked = [(row, _revalidate(row.raw)) for row in rows]
        valid = [(row, r) for row, r in checked if not isinstance(r, Problem)]
        records = [dict(zip(contract.names, r.values, strict=False)) for _, r in valid]
        broken = row_problems(records, contract) if records else {}
        released, reasons = 0, []
        for index, (row, result) in enumerate(valid):
            if index in broken:
                row.category, row.reason = "contract", broken[index][:500]
                reasons.append(broken[index])
                continue
            a, b, c, d = result.values
            session.add(
                Sample(source=row.source, source_ref=row.source_ref, line=row.line,
                       sepal_length=a, sepal_width=b, petal_length=c, petal_width=d,
                       label=result.label, file_id=row.file_id, created_at=utcnow())
            )  # fmt: skip
            session.delete(row)
            released += 1
        for row, result in checked:
            if isinstance(result, Problem):
                row.reason = result.message[:500]
                reasons.append(result.message)
        kept = len(rows) - released
        audit.record(
            session, actor=actor, action="data.quarantine.release", arguments=category,
            result="ok", detail=json.dumps({"released": released, "kept": kept}),
        )  # fmt: skip
        session.commit()
    return ReleaseResult(category, released, kept, sorted(set(reasons))[:3])


def discard(db: Database, *, category: str, actor: str) -> int:
    """Delete every quarantined row of `category`; how many."""
    with db.session() as session:
        deleted = session.execute(
            delete(QuarantinedRow).where(QuarantinedRow.category == category)
        ).rowcount
        audit.record(
            session, actor=actor, action="data.quarantine.discard", arguments=category,
            result="ok", detail=json.dumps({"discarded": deleted}),
        )  # fmt: skip
        session.commit()
    return int(deleted or 0)
