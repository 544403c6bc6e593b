"""How till export rows name their records, and the fields a till's column mapping may name."""

from __future__ import annotations

from connectors.records import StreamSpec, joined_ids, ts_field

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "tills",
        "orders",
        "table",
        joined_ids("order_id", "line_id"),
        ts_field("ordered_at", tz_field="timezone"),
    ),
)
# The contract fields a till's `mapping:` may map (column name in the export -> field), and the
# ones it must.
MAPPING_FIELDS = (
    "order_id",
    "line_id",
    "ordered_at",
    "location_id",
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "currency",
    "customer_email",
    "cancelled",
)
REQUIRED_MAPPING_FIELDS = (
    "order_id",
    "line_id",
    "ordered_at",
    "location_id",
    "sku",
    "quantity",
    "unit_price",
)
