"""How each file-borne stream names its records: source id and updated time (docs/raw-contract.md).

Kept as data so that adding a stream is one entry, not a new parser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo


class RecordError(ValueError):
    """A single record cannot be landed; the message is the quarantine reason."""


def parse_timestamp(value: object, tz: str | None = None) -> datetime:
    """Parse an ISO timestamp into UTC.

    Values without an offset are read in `tz` when given (till exports), else as UTC (WooCommerce
    `*_gmt`, Amazon `Z`). A value that is not a timestamp raises RecordError.
    """
    if not isinstance(value, str) or not value.strip():
        raise RecordError(f"timestamp missing or not text: {value!r}")
    text = value.strip().replace("Z", "+00:00")
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(f"not an ISO timestamp: {value!r}") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=ZoneInfo(tz) if tz else UTC)
    return ts.astimezone(UTC)


def _field(name: str) -> Callable[[dict], str]:
    def get(rec: dict) -> str:
        value = rec.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RecordError(f"missing id field '{name}'")
        if isinstance(value, (dict, list, float)):
            raise RecordError(f"id field '{name}' has the wrong type: {value!r}")
        return str(value).strip()

    return get


def _joined(*names: str) -> Callable[[dict], str]:
    getters = [_field(n) for n in names]
    return lambda rec: ":".join(g(rec) for g in getters)


def _ts(name: str, tz_field: str | None = None) -> Callable[[dict], datetime | None]:
    def get(rec: dict) -> datetime | None:
        return parse_timestamp(rec.get(name), rec.get(tz_field) if tz_field else None)

    return get


def _date(name: str) -> Callable[[dict], datetime | None]:
    def get(rec: dict) -> datetime | None:
        value = rec.get(name)
        try:
            d = datetime.strptime(str(value).strip(), "%Y-%m-%d")
        except ValueError:
            raise RecordError(f"'{name}' is not a YYYY-MM-DD date: {value!r}") from None
        return d.replace(tzinfo=UTC)

    return get


@dataclass(frozen=True)
class StreamSpec:
    channel: str
    stream: str
    fmt: str  # "jsonl" or "table" (csv / parquet rows)
    source_id: Callable[[dict], str]
    updated_at: Callable[[dict], datetime | None]
    columns: tuple[str, ...] = ()  # required columns for table files

    @property
    def table(self) -> str:
        return f"{self.channel}__{self.stream}"


def _no_time(rec: dict) -> datetime | None:
    return None


STREAMS: dict[tuple[str, str], StreamSpec] = {
    (s.channel, s.stream): s
    for s in [
        StreamSpec("shop", "orders", "jsonl", _field("id"), _ts("updated_at")),
        StreamSpec("shop", "customers", "jsonl", _field("id"), _ts("updated_at")),
        StreamSpec("shop", "products", "jsonl", _field("id"), _ts("updated_at")),
        StreamSpec("amazon", "orders", "jsonl", _field("AmazonOrderId"), _ts("LastUpdateDate")),
        StreamSpec(
            "amazon", "order_items", "jsonl", _field("AmazonOrderId"), _ts("LastUpdateDate")
        ),
        StreamSpec(
            "amazon",
            "financial_events",
            "jsonl",
            _joined("EventType", "AmazonOrderId", "PostedDate"),
            _ts("PostedDate"),
        ),
        StreamSpec("woo", "orders", "jsonl", _field("id"), _ts("date_modified_gmt")),
        StreamSpec("woo", "refunds", "jsonl", _field("id"), _ts("date_created_gmt")),
        StreamSpec("woo", "customers", "jsonl", _field("id"), _ts("date_modified_gmt")),
        StreamSpec(
            "tills",
            "orders",
            "table",
            _joined("order_id", "line_id"),
            _ts("ordered_at", tz_field="timezone"),
        ),
        StreamSpec(
            "tpl",
            "stock",
            "table",
            _joined("location_id", "sku", "counted_at"),
            _ts("counted_at"),
            ("sku", "location_id", "on_hand", "counted_at"),
        ),
        StreamSpec(
            "files",
            "supplier_terms",
            "table",
            _joined("supplier_id", "sku"),
            _no_time,
            (
                "supplier_id",
                "sku",
                "unit_cost",
                "currency",
                "lead_time_days",
                "lead_time_std_days",
                "moq",
                "case_pack",
            ),
        ),
        StreamSpec(
            "files",
            "purchase_orders",
            "table",
            _joined("po_id", "sku", "location_id"),
            _ts("updated_at"),
            (
                "po_id",
                "supplier_id",
                "sku",
                "location_id",
                "quantity_ordered",
                "quantity_received",
                "expected_at",
                "status",
            ),
        ),
        StreamSpec(
            "files",
            "buyer_decisions",
            "decisions",
            _joined("po_id", "sku", "location_id"),
            _ts("updated_at"),
        ),
        StreamSpec(
            "files",
            "fx_rates",
            "table",
            _joined("date", "currency"),
            _date("date"),
            ("date", "currency", "rate"),
        ),
    ]
}
