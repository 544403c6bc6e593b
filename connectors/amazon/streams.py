"""How files of the Amazon streams name their records (docs/raw-contract.md)."""

from __future__ import annotations

from connectors.records import StreamSpec, id_field, joined_ids, ts_field

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec("amazon", "orders", "jsonl", id_field("AmazonOrderId"), ts_field("LastUpdateDate")),
    StreamSpec(
        "amazon", "order_items", "jsonl", id_field("AmazonOrderId"), ts_field("LastUpdateDate")
    ),
    StreamSpec(
        "amazon",
        "financial_events",
        "jsonl",
        joined_ids("EventType", "AmazonOrderId", "PostedDate"),
        ts_field("PostedDate"),
    ),
)
