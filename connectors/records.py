"""The unit every connector yields (one record version as the source sent it), and how a stream
names its records: source id and updated time (docs/raw-contract.md).

Kept as data so that adding a stream is one entry, not a new parser. Pure Python: no flows, no
Prefect, no HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class RawRecord:
    """One record version: its id in the source, the source's updated time (UTC) and the payload
    exactly as received (lands in `raw.<channel>__<stream>._payload`)."""

    source_id: str
    source_updated_at: datetime | None
    payload: dict


class RecordError(ValueError):
    """A single record cannot be landed; the message is the quarantine reason. `rule` is what
    was broken (the same words for every record that breaks it, so quarantine counts group by
    it) and `detail` the record's own value, kept apart (ops.quarantine.details)."""

    def __init__(self, rule: str, detail: str | None = None) -> None:
        super().__init__(rule if detail is None else f"{rule}: {detail}")
        self.rule, self.detail = rule, detail


class Reason(str):
    """A quarantine reason (the rule, as text) that carries the record's detail (its row, its
    value) beside it, so the reason groups and the detail is kept (ops.quarantine.details)."""

    detail: str | None

    def __new__(cls, rule: str, detail: str | None = None) -> Reason:
        made = super().__new__(cls, rule)
        made.detail = detail
        return made


def parse_timestamp(value: object, tz: str | None = None) -> datetime:
    """Parse an ISO timestamp into UTC.

    Values without an offset are read in `tz` when given (till exports), else as UTC (WooCommerce
    `*_gmt`, Amazon `Z`). A value that is not a timestamp raises RecordError.
    """
    if not isinstance(value, str) or not value.strip():
        raise RecordError("timestamp missing or not text", repr(value))
    text = value.strip().replace("Z", "+00:00")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError("not an ISO timestamp", repr(value)) from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=ZoneInfo(tz) if tz else UTC)
    return ts.astimezone(UTC)


# --------------------------------------------------------------------- how a file record is named


def id_field(name: str) -> Callable[[dict], str]:
    """The source id is one field of the record (text, trimmed; missing or odd types fail)."""

    def get(rec: dict) -> str:
        value = rec.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RecordError(f"missing id field '{name}'")
        if isinstance(value, (dict, list, float)):
            raise RecordError(f"id field '{name}' has the wrong type", repr(value))
        return str(value).strip()

    return get


def joined_ids(*names: str) -> Callable[[dict], str]:
    """The source id is several fields joined with ':'."""
    getters = [id_field(n) for n in names]
    return lambda rec: ":".join(g(rec) for g in getters)


def ts_field(name: str, tz_field: str | None = None) -> Callable[[dict], datetime | None]:
    """The updated time is an ISO timestamp field (read in the zone named by `tz_field`)."""

    def get(rec: dict) -> datetime | None:
        return parse_timestamp(rec.get(name), rec.get(tz_field) if tz_field else None)

    return get


def date_field(name: str) -> Callable[[dict], datetime | None]:
    """The updated time is a YYYY-MM-DD date field (midnight UTC)."""

    def get(rec: dict) -> datetime | None:
        value = rec.get(name)
        try:
            d = datetime.strptime(str(value).strip(), "%Y-%m-%d")
        except ValueError:
            raise RecordError(f"'{name}' is not a YYYY-MM-DD date", repr(value)) from None
        return d.replace(tzinfo=UTC)

    return get


def no_time(rec: dict) -> datetime | None:
    """The stream has no updated time (supplier terms)."""
    return None


@dataclass(frozen=True)
class StreamSpec:
    """How the files of one raw stream are read: format, source id, updated time, columns."""

    channel: str
    stream: str
    fmt: str  # "jsonl", "table" (csv / parquet rows) or "decisions" (returned reorder files)
    source_id: Callable[[dict], str]
    updated_at: Callable[[dict], datetime | None]
    columns: tuple[str, ...] = ()  # required columns for table files

    @property
    def table(self) -> str:
        return f"{self.channel}__{self.stream}"
