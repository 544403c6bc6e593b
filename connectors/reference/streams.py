"""How the reference files name their records."""

from __future__ import annotations

from connectors.records import StreamSpec, date_field, joined_ids, no_time, ts_field

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "files",
        "supplier_terms",
        "table",
        joined_ids("supplier_id", "sku"),
        no_time,
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
        joined_ids("po_id", "sku", "location_id"),
        ts_field("updated_at"),
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
        joined_ids("po_id", "sku", "location_id"),
        ts_field("updated_at"),
    ),
    StreamSpec(
        "files",
        "fx_rates",
        "table",
        joined_ids("date", "currency"),
        date_field("date"),
        ("date", "currency", "rate"),
    ),
)
