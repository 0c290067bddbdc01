"""Stream landing files (CSV, JSON Lines, small JSON arrays) into `samples` / `quarantined_rows`.

Each file is one transaction: the `ingested_files` row (unique sha256), its samples and its
quarantined rows commit together, so a restart mid-file leaves nothing behind and the file is
simply ingested again. Files are read in chunks and inserted with one executemany per chunk, so
memory stays flat whatever the file size.

After the commit a file is moved to `<landing>/processed/`; a crash between commit and move is
harmless, because the next pass finds the same content hash, skips it and moves it then.

A new version of a file name that only appends lines to the version ingested before (same bytes
up to the old size) is ingested from the first new line, so its old rows are not duplicated. Any
other change is treated as a new file and ingested whole.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.data.bulk import Writer, bulk_writer, db_time
from bot.data.models import IngestedFile, QuarantinedRow, Sample
from bot.data.schemas import IngestReport
from bot.data.validation import (
    FEATURES,
    LABEL_KEYS,
    MAX_CM,
    RAW_LIMIT,
    Problem,
    canonical_class,
    check,
    check_mapping,
    normalize_key,
)
from bot.db import Database, utcnow

log = logging.getLogger(__name__)

SUFFIXES = (".csv", ".jsonl", ".json")
CHUNK_ROWS = 10_000
MAX_JSON_ARRAY_BYTES = 32 * 1024 * 1024
MAX_EXAMPLES = 5
PROCESSED = "processed"

_FILES = IngestedFile.__table__
_SAMPLE_COLS = (
    "source", "source_ref", "line", *FEATURES, "label", "file_id", "created_at",
)  # fmt: skip
_QUARANTINE_COLS = (
    "source", "source_ref", "line", "raw", "category", "reason", "file_id", "created_at",
)  # fmt: skip

# (line, values, label) for a good row; (line, raw, Problem) for a bad one.
Parsed = tuple[int, tuple[float, float, float, float], str] | tuple[int, str, Problem]


@dataclass
class _Tally:
    rows: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def problem(self, name: str, line: int, problem: Problem) -> None:
        self.quarantined += 1
        self.reasons[problem.category] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{name} line {line}: {problem.message}")


@dataclass(frozen=True)
class _Digest:
    sha256: str
    size: int
    # Hash of the first `previous.size` bytes and whether they end a line: the append check.
    prefix_sha256: str | None
    prefix_ends_line: bool


def ingest_landing(db: Database, *, landing_dir: Path, archive: bool = True) -> IngestReport:
    """Ingest every new *.csv / *.jsonl / *.json file in landing_dir (not recursive)."""
    start = time.perf_counter()
    tally = _Tally()
    files: list[str] = []
    skipped: list[str] = []
    landing_dir = Path(landing_dir)
    for path in landing_paths(landing_dir):
        try:
            done = _ingest_file(db, path, tally)
        except OSError as exc:  # unreadable file: report it, leave it, try again next pass
            log.warning("cannot read landing file %s: %s", path, exc)
            if len(tally.examples) < MAX_EXAMPLES:
                tally.examples.append(f"{path.name}: cannot read ({exc.strerror or exc})")
            continue
        (files if done else skipped).append(path.name)
        if archive:
            _archive(path, landing_dir / PROCESSED)
    return IngestReport(
        files=files,
        skipped=skipped,
        rows_added=tally.rows,
        rows_quarantined=tally.quarantined,
        reasons=dict(tally.reasons),
        examples=tally.examples,
        seconds=round(time.perf_counter() - start, 3),
    )


# Problems that make a whole file unreadable, as opposed to one bad row (which is quarantined).
FILE_PROBLEMS = ("bad header", "too large")


def landing_paths(landing_dir: Path) -> list[Path]:
    """The landing files of one folder that ingestion would take, in name order."""
    landing_dir = Path(landing_dir)
    return sorted(
        p
        for p in (landing_dir.iterdir() if landing_dir.is_dir() else [])
        # Dot-files are collectors' temporary files still being written (write, then rename).
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
    )


def file_problem(path: Path) -> Problem | None:
    """What makes the whole file unreadable (a header without the features, a JSON array that
    does not parse, an unreadable file), or None when its rows can be read one by one."""
    try:
        rows = _rows(path)
        try:
            first = next(rows, None)
        finally:
            rows.close()
    except OSError as exc:
        return Problem("unreadable", f"{path.name}: cannot read ({exc.strerror or exc})")
    if first is None or not isinstance(first[2], Problem):
        return None
    problem: Problem = first[2]
    # A malformed JSON array is reported with no raw text: the file, not a line, is broken.
    whole = problem.category in FILE_PROBLEMS or (
        problem.category == "malformed JSON" and not first[1]
    )
    return Problem(problem.category, f"{path.name}: {problem.message}") if whole else None


def _ingest_file(db: Database, path: Path, tally: _Tally) -> bool:
    """Ingest one file in one transaction; False when its content was ingested before."""
    with db.connection() as conn:
        previous = conn.execute(
            select(_FILES.c.size_bytes, _FILES.c.lines, _FILES.c.sha256)
            .where(_FILES.c.name == path.name)
            .order_by(_FILES.c.id.desc())
            .limit(1)
        ).first()
    digest = _digest(path, previous.size_bytes if previous else None)
    skip_lines = 0
    if previous and digest.prefix_sha256 == previous.sha256 and digest.prefix_ends_line:
        skip_lines = previous.lines
    file_tally = _Tally()
    try:
        with db.connection() as conn:
            if conn.scalar(select(_FILES.c.id).where(_FILES.c.sha256 == digest.sha256)):
                return False
            file_id = conn.execute(
                insert(_FILES).returning(_FILES.c.id),
                {
                    "name": path.name[:255],
                    "sha256": digest.sha256,
                    "size_bytes": digest.size,
                    "lines": 0,
                    "skipped_lines": skip_lines,
                    "rows": 0,
                    "quarantined": 0,
                    "ingested_at": utcnow(),
                },
            ).scalar_one()
            lines = _load(conn, path, file_id, skip_lines, file_tally)
            conn.execute(
                update(_FILES)
                .where(_FILES.c.id == file_id)
                .values(lines=lines, rows=file_tally.rows, quarantined=file_tally.quarantined)
            )
    except IntegrityError:
        # Another worker committed the same content first: for us it is a duplicate.
        return False
    tally.rows += file_tally.rows
    tally.quarantined += file_tally.quarantined
    tally.reasons.update(file_tally.reasons)
    tally.examples.extend(file_tally.examples[: MAX_EXAMPLES - len(tally.examples)])
    return True


def _digest(path: Path, previous_size: int | None) -> _Digest:
    sha = hashlib.sha256()
    prefix: str | None = None
    ends_line = False
    offset = 0
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            if previous_size and prefix is None and offset + len(block) >= previous_size:
                # First block reaching the old size: cut >= 1, so the prefix's last byte is here.
                cut = previous_size - offset
                sha.update(block[:cut])
                prefix = sha.hexdigest()
                ends_line = block[cut - 1 : cut] == b"\n"
                sha.update(block[cut:])
            else:
                sha.update(block)
            offset += len(block)
    return _Digest(sha.hexdigest(), offset, prefix, ends_line)


def _load(conn: Connection, path: Path, file_id: int, skip_lines: int, tally: _Tally) -> int:
    """Stream the file's rows into the database in chunks; returns the last line number read."""
    write_samples = bulk_writer(conn, Sample.__table__, _SAMPLE_COLS)
    write_quarantine = bulk_writer(conn, QuarantinedRow.__table__, _QUARANTINE_COLS)
    now = db_time(conn, utcnow())
    name = path.name[:255]
    good: list[tuple[Any, ...]] = []
    bad: list[tuple[Any, ...]] = []
    last_line = 0
    for line, first, second in _rows(path):
        last_line = line
        if line <= skip_lines:
            continue
        if isinstance(second, Problem):
            tally.problem(name, line, second)
            bad.append(
                ("landing", name, line, first[:RAW_LIMIT], second.category,
                 second.message[:500], file_id, now)
            )  # fmt: skip
            if len(bad) >= CHUNK_ROWS:
                _flush(conn, write_quarantine, bad)
            continue
        a, b, c, d = first
        good.append(("landing", name, line, a, b, c, d, second, file_id, now))
        if len(good) >= CHUNK_ROWS:
            tally.rows += len(good)
            _flush(conn, write_samples, good)
    tally.rows += len(good)
    _flush(conn, write_samples, good)
    _flush(conn, write_quarantine, bad)
    return last_line


def _flush(conn: Connection, write: Writer, rows: list[tuple[Any, ...]]) -> None:
    write(conn, rows)
    rows.clear()


def _rows(path: Path) -> Iterator[Any]:
    suffix = path.suffix.lower()
    # utf-8-sig drops a BOM; undecodable bytes become U+FFFD and fail validation, not the file.
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as fh:
        if suffix == ".csv":
            yield from _csv_rows(fh)
        elif suffix == ".json" and _starts_array(fh):
            yield from _json_array_rows(fh, path.stat().st_size)
        else:
            yield from _jsonl_rows(fh)


def _starts_array(fh: Any) -> bool:
    head = fh.read(4096).lstrip()
    fh.seek(0)
    return head.startswith("[")


def _csv_rows(fh: Any) -> Iterator[Any]:
    first = fh.readline()
    fh.seek(0)
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(fh, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return
    columns = {normalize_key(h): i for i, h in enumerate(header)}
    label_key = next((k for k in LABEL_KEYS if k in columns), None)
    missing = [f for f in FEATURES if f not in columns] + ([] if label_key else ["species"])
    if missing:
        problem = Problem(
            "bad header",
            f"header: missing column {', '.join(missing)} (found: {', '.join(header)[:200]})",
        )
        yield 1, delimiter.join(header), problem
        return
    assert label_key is not None
    i0, i1, i2, i3 = (columns[f] for f in FEATURES)
    il = columns[label_key]
    width = len(header)
    lookup = canonical_class
    for row in reader:
        if len(row) != width:
            if not row or not any(cell.strip() for cell in row):
                continue  # blank line
            yield (
                reader.line_num,
                delimiter.join(row),
                Problem("wrong field count", f"row: {len(row)} fields, header has {width}"),
            )
            continue
        # Fast path: four floats in range and a known class, no allocations besides the tuple.
        try:
            a, b, c, d = float(row[i0]), float(row[i1]), float(row[i2]), float(row[i3])
        except ValueError:
            a = b = c = d = -1.0
        label = lookup(row[il])
        if label is not None and 0 < a <= MAX_CM and 0 < b <= MAX_CM and 0 < c <= MAX_CM and 0 < d <= MAX_CM:  # fmt: skip
            yield reader.line_num, (a, b, c, d), label
            continue
        result = check(
            [row[i0], row[i1], row[i2], row[i3]], row[il], header[il].strip() or "species"
        )
        if isinstance(result, Problem):
            yield reader.line_num, delimiter.join(row), result
        else:  # pragma: no cover - the fast path accepts every valid row
            yield reader.line_num, result.values, result.label


def _jsonl_rows(fh: Any) -> Iterator[Any]:
    for number, line in enumerate(fh, 1):
        text = line.strip()
        if not text:
            continue
        try:
            record = json.loads(text)
        except (ValueError, RecursionError) as exc:
            detail = getattr(exc, "msg", type(exc).__name__)
            yield number, text, Problem("malformed JSON", f"malformed JSON ({detail})")
            continue
        yield _record(number, text, record)


def _json_array_rows(fh: Any, size: int) -> Iterator[Any]:
    # A JSON array cannot be streamed with the standard library; small ones are fine whole.
    if size > MAX_JSON_ARRAY_BYTES:
        message = (
            f"JSON array file of {size} bytes is too large; send JSON Lines (one object per line)"
        )
        yield 1, "", Problem("too large", message)
        return
    try:
        items = json.load(fh)
    except (ValueError, RecursionError) as exc:
        detail = getattr(exc, "msg", type(exc).__name__)
        yield getattr(exc, "lineno", 1), "", Problem("malformed JSON", f"malformed JSON ({detail})")
        return
    # Line numbers of array files are item numbers (1-based): json.load keeps no positions.
    for number, record in enumerate(items, 1):
        yield _record(number, json.dumps(record)[:RAW_LIMIT], record)


def _record(number: int, raw: str, record: Any) -> Any:
    result = check_mapping(record)
    if isinstance(result, Problem):
        return number, raw, result
    return number, result.values, result.label


def _archive(path: Path, processed: Path) -> None:
    """Move a handled file out of the landing directory without overwriting an older one."""
    try:
        processed.mkdir(exist_ok=True)
        target = processed / path.name
        n = 1
        while target.exists():
            target = processed / f"{path.stem}.{n}{path.suffix}"
            n += 1
        os.replace(path, target)
    except OSError as exc:  # a read-only landing dir still ingests; the hash skip covers re-runs
        log.warning("could not move %s to %s: %s", path, processed, exc)
