"""Read one dropped file into raw record versions, keeping every row that cannot be read.

A whole file is refused (FileRejected) only when nothing in it can be trusted: wrong encoding,
missing required columns, not JSON Lines at all. Otherwise each unreadable row becomes a `BadRow`
with its reason and original text, so the caller can quarantine it and land the rest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from connectors.files.streams import RecordError, StreamSpec
from connectors.records import RawRecord, Reason
from connectors.till_export.mapping import ExportRules, RowError, map_rows

# A field longer than this is not a value (a broken quote swallowing the rest of the file, an
# embedded document): its row is held with the reason. Python's csv refuses fields beyond its
# limit with an error that would stop the whole file, so the limit is raised and we judge here.
MAX_FIELD_CHARS = 131_072
csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))


class FileRejected(ValueError):
    """The file as a whole cannot be landed; the message is the reason written next to it."""


@dataclass(frozen=True)
class BadRow:
    source_id: str | None
    reason: str
    text: str


@dataclass
class FileBatch:
    """What one file held. Every data row read (`rows_read`) is exactly one of: a record to land,
    a bad row (quarantined with its reason), or an exact repeat of an earlier row of the file
    (same id, same payload: it would land once anyway), kept in `repeats` as (row, the row it
    repeats) so the sync can report it; `flows.landing.commit` checks the three add up."""

    path: Path
    content_hash: str
    records: list[RawRecord] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)
    repeats: list[tuple[int, int]] = field(default_factory=list)
    rows_read: int = 0
    _seen: dict[tuple[str, bytes], int] = field(default_factory=dict, repr=False)
    # Where records go every `flush_every` records (the sync serialises them): a record as
    # Python objects takes ~30x its text, so a large file held whole would not fit in memory.
    sink: Callable[[list[RawRecord]], None] | None = field(default=None, repr=False)
    flush_every: int = 10_000
    flushed: int = 0

    def flush(self) -> None:
        """Hand the records read so far to `sink` (if any) and forget them."""
        if self.sink is not None and self.records:
            self.sink(self.records)
            self.flushed += len(self.records)
            self.records = []

    def add(self, item: RawRecord | BadRow, position: int | None = None) -> None:
        """Keep a row: as a record to land, as a bad row with its reason, or (a record equal to
        an earlier one) as a repeat of that row."""
        self.rows_read += 1
        if isinstance(item, BadRow):
            self.bad.append(item)
            return
        where = self.rows_read if position is None else position
        try:
            canonical = orjson.dumps(item.payload, option=orjson.OPT_SORT_KEYS)
        except (orjson.JSONEncodeError, TypeError):  # integers beyond 64 bits
            canonical = json.dumps(item.payload, sort_keys=True).encode()
        key = (item.source_id, hashlib.sha256(canonical).digest())
        first = self._seen.setdefault(key, where)
        if first != where:
            self.repeats.append((where, first))
        else:
            self.records.append(item)
            if len(self.records) >= self.flush_every:
                self.flush()

    def add_bad(self, row: BadRow) -> None:
        self.add(row)

    @property
    def total(self) -> int:
        return self.flushed + len(self.records) + len(self.bad)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_hash(path: Path) -> str:
    """`content_hash` of a file, read in 1 MB blocks (a large file is never held whole)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRejected(
            f"{path.name}: not UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r}); "
            "export the file as UTF-8"
        ) from None


def _to_record(spec: StreamSpec, payload: dict, text: str) -> RawRecord | BadRow:
    sid: str | None = None
    try:
        sid = spec.source_id(payload)
        updated = spec.updated_at(payload)
    except RecordError as exc:
        return BadRow(sid, Reason(exc.rule, exc.detail), text)
    return RawRecord(sid, updated, payload)


class _NotJson(ValueError):
    """A line that Python's json would read but that is not JSON (or not one record)."""


def _reject_constant(name: str) -> object:
    raise _NotJson(f"{name} is not a JSON number")


def _no_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise _NotJson(f"key(s) {twice} appear twice in one object")
    return out


def parse_record(line: str) -> object:
    """One JSON Lines record, strictly: NaN/Infinity (they would land as null), a key given twice
    (the second would silently win, and with `id` make this another order's version), a lone
    UTF-16 surrogate (not text: it cannot be stored) and nesting deeper than Python can follow
    are errors of this record, not of the file."""
    try:
        payload = json.loads(
            line, parse_constant=_reject_constant, object_pairs_hook=_no_repeated_keys
        )
    except RecursionError:
        raise _NotJson("nested too deeply") from None
    if "\\ud" in line.lower():  # only then can a string hold a surrogate (\ud800-\udfff)
        try:
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise _NotJson("a lone UTF-16 surrogate in a string") from None
    return payload


def _lines(raw: Iterable[str]) -> Iterator[str]:
    """The non-blank lines of JSON Lines, one at a time, from a file opened with newline="\n":
    lines end at "\n" (an optional "\r" before it is dropped), as JSON Lines defines, not at the
    other characters `str.splitlines` breaks on (U+2028 may stand in a JSON string)."""
    for line in raw:
        line = line.rstrip("\n")
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip():
            yield line


def _read_jsonl_file(
    spec: StreamSpec,
    path: Path,
    sink: Callable[[list[RawRecord]], None] | None,
    flush_every: int = 10_000,
) -> FileBatch:
    """A JSON Lines file read line by line from disk: neither its bytes nor its text are ever
    held whole (with `sink`, memory is bounded by a batch of records, whatever the file's size).
    The content hash is taken first, in blocks; the sync compares it again before moving."""
    batch = FileBatch(path=path, content_hash=file_hash(path), sink=sink, flush_every=flush_every)
    try:
        with path.open("r", encoding="utf-8-sig", newline="\n") as f:
            _read_jsonl(spec, path, _lines(f), batch)
    except UnicodeDecodeError:
        _decode(path, path.read_bytes())  # the error path: name the byte, as for other files
        raise
    if batch.rows_read == 0:
        raise FileRejected(f"{path.name}: empty file")
    return batch


def _read_jsonl(spec: StreamSpec, path: Path, lines: Iterable[str], batch: FileBatch) -> None:
    for n, line in enumerate(lines, start=1):
        try:
            payload = parse_record(line)
        except json.JSONDecodeError as exc:
            batch.add_bad(BadRow(None, Reason("malformed JSON", f"line {n}: {exc.msg}"), line))
            continue
        except _NotJson as exc:
            batch.add_bad(BadRow(None, Reason(f"not valid JSON: {exc}", f"line {n}"), line))
            continue
        if not isinstance(payload, dict):
            batch.add_bad(BadRow(None, Reason("expected a JSON object", f"line {n}"), line))
            continue
        item = _to_record(spec, payload, line)
        batch.add(item, n)


def _table_rows(path: Path, data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    if path.suffix.lower() == ".parquet":
        try:
            table = pq.read_table(io.BytesIO(data))
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise FileRejected(f"{path.name}: not a readable Parquet file ({exc})") from None
        rows = [
            {k: ("" if v is None else str(v)) for k, v in row.items()} for row in table.to_pylist()
        ]
        return table.column_names, rows
    if data[:4] == b"PK\x03\x04" or path.suffix.lower() in (".xlsx", ".xls"):
        raise FileRejected(
            f"{path.name}: a spreadsheet, not a CSV file: export it as CSV (UTF-8) and drop that"
        )
    text = _decode(path, data)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise FileRejected(f"{path.name}: empty file (no header row)")
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise FileRejected(
            f"{path.name}: column(s) {repeated} appear more than once in the header; which one "
            "is meant cannot be known"
        )
    reader.fieldnames = header
    rows = []
    for row in reader:
        if None in row:  # more cells than header columns: a shifted row
            row["__extra__"] = ",".join(row.pop(None))
        if any(v is None for v in row.values()):  # fewer cells: a truncated row
            row = {k: v for k, v in row.items() if v is not None}
            row["__short__"] = "1"
        longest = max((len(v) for v in row.values() if isinstance(v, str)), default=0)
        if longest > MAX_FIELD_CHARS:
            row["__long__"] = str(longest)  # held whole, with the reason
        rows.append(row)
    return header, rows


def _read_table(
    spec: StreamSpec,
    path: Path,
    data: bytes,
    batch: FileBatch,
    mapping: dict[str, str],
    extra: dict[str, str],
    rules: ExportRules | None = None,
) -> None:
    header, rows = _table_rows(path, data)
    if rules is not None:
        wanted = rules.columns()
    else:
        wanted = list(mapping.values()) if mapping else list(spec.columns)
    missing = [src for src in wanted if src not in header]
    if missing:
        raise FileRejected(f"{path.name}: missing column(s) {missing}; found {header}")
    readable: list[tuple[int, dict[str, str]]] = []
    for n, row in enumerate(rows, start=2):  # line 1 is the header
        text = json.dumps(row, sort_keys=True)
        if "__extra__" in row:
            batch.add_bad(BadRow(None, Reason("more cells than columns", f"row {n}"), text))
            continue
        if "__short__" in row:
            batch.add_bad(
                BadRow(None, Reason("fewer cells than columns (truncated?)", f"row {n}"), text)
            )
            continue
        if "__long__" in row:
            batch.add_bad(BadRow(
                None, Reason(f"a field of more than {MAX_FIELD_CHARS:,} characters (not a value "
                             "of this file)", f"row {n}: {int(row['__long__']):,} characters"),
                text,
            ))  # fmt: skip
            continue
        readable.append((n, row))
    if rules is not None:
        # an export read by its rules: every column kept, lines numbered, credit notes told
        mapped = map_rows([row for _, row in readable], rules, {**extra, "source_file": path.name})
        for (n, row), got in zip(readable, mapped, strict=True):
            text = json.dumps(row, sort_keys=True)
            if isinstance(got, RowError):  # the rule as the reason, the value as its detail
                batch.add_bad(BadRow(None, Reason(got.rule, f"row {n}: {got.detail}"), text))
            else:
                batch.add(_to_record(spec, got, text), n)
        return
    for n, row in readable:
        text = json.dumps(row, sort_keys=True)
        if mapping:
            payload = {ours: row[theirs] for ours, theirs in mapping.items()}
        else:
            payload = dict(row)
        payload.update(extra)
        item = _to_record(spec, payload, text)
        batch.add(item, n)


def _read_decisions(spec: StreamSpec, path: Path, data: bytes, batch: FileBatch) -> None:
    """A buyer's returned reorder file (CSV or xlsx with approved_qty filled in) -> open POs."""
    from datetime import UTC, datetime

    from connectors.files.decisions import (
        DecisionError,
        decision_date,
        decisions_to_purchase_orders,
        read_decision_rows,
    )

    try:
        found = read_decision_rows(data, path.name)
        decided = decision_date(found, datetime.now(UTC).date())
        rows = decisions_to_purchase_orders(found, decided, source=path.name)
    except DecisionError as exc:
        raise FileRejected(f"{path.name}: {exc}") from None
    for row in rows.to_dicts():
        payload = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        item = _to_record(spec, payload, json.dumps(payload, sort_keys=True, default=str))
        batch.add(item)


def read_file(
    spec: StreamSpec,
    path: Path,
    mapping: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
    rules: ExportRules | None = None,
    sink: Callable[[list[RawRecord]], None] | None = None,
    flush_every: int = FileBatch.flush_every,
) -> FileBatch:
    """Parse `path` as `spec`'s stream. `mapping` renames a table file's columns (ours -> theirs);
    `extra` adds constant payload keys (the till's time zone); `rules` reads a till export
    (connectors/till_export/mapping.py: constants, line numbers, formats, line types, credit
    notes, every source column kept, `source_file`) instead of `mapping`. With `sink`, records
    are handed to it in batches as they are read (the batch keeps only the last, unflushed ones):
    memory stays bounded by the batch (`flush_every` records), not the file."""
    try:
        if spec.fmt == "jsonl":
            return _read_jsonl_file(spec, path, sink, flush_every)
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileRejected(f"{path}: file not found") from None
    batch = FileBatch(
        path=path, content_hash=content_hash(data), sink=sink, flush_every=flush_every
    )
    if not data.strip():
        raise FileRejected(f"{path.name}: empty file")
    if spec.fmt == "decisions":
        _read_decisions(spec, path, data, batch)
    else:
        _read_table(spec, path, data, batch, mapping or {}, extra or {}, rules)
    return batch
