"""How files of the WooCommerce streams name their records (docs/raw-contract.md)."""

from __future__ import annotations

from connectors.records import StreamSpec, id_field, ts_field

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("woo", "orders", "jsonl", id_field("id"), ts_field("date_modified_gmt")),
    StreamSpec("woo", "refunds", "jsonl", id_field("id"), ts_field("date_created_gmt")),
    StreamSpec("woo", "customers", "jsonl", id_field("id"), ts_field("date_modified_gmt")),
)
