"""How files of the Shopify streams name their records (REST shapes, docs/raw-contract.md)."""

from __future__ import annotations

from connectors.records import StreamSpec, id_field, ts_field

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("shop", "orders", "jsonl", id_field("id"), ts_field("updated_at")),
    StreamSpec("shop", "customers", "jsonl", id_field("id"), ts_field("updated_at")),
    StreamSpec("shop", "products", "jsonl", id_field("id"), ts_field("updated_at")),
)
