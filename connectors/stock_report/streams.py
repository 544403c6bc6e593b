"""How stock report rows name their records."""

from __future__ import annotations

from connectors.records import StreamSpec, joined_ids, ts_field

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "tpl",
        "stock",
        "table",
        joined_ids("location_id", "sku", "counted_at"),
        ts_field("counted_at"),
        ("sku", "location_id", "on_hand", "counted_at"),
    ),
)
