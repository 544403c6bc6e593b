"""How the reference files name their records."""

from __future__ import annotations

from connectors.records import StreamSpec, date_field, id_field, joined_ids, no_time, ts_field

_PROMOTION_ID = id_field("promotion_id")


def promotion_row_id(rec: dict) -> str:
    """A calendar row: its promotion and the target it names (one promotion may list several
    SKUs, categories or locations), ``promotion_id:sku:category:location_id``; blanks stay blank
    (a missing target is the gate's to judge, with its reason, not a missing id)."""
    rest = (str(rec.get(k) or "").strip() for k in ("sku", "category", "location_id"))
    return ":".join((_PROMOTION_ID(rec), *rest))


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
        # `ordered_at` (the order date, from which lead times are measured) is read when the
        # file has it; it is not required, so PO files written before it still land.
    ),
    # Receipts against purchase order lines: one row per delivery, several per line when a
    # line arrives in parts. A line's receipts are told apart by their time, so the id is the
    # line's id plus `received_at`; the updated time is the receipt's own (a receipt dated in
    # the future is held).
    StreamSpec(
        "files",
        "purchase_order_receipts",
        "table",
        joined_ids("po_id", "sku", "location_id", "received_at"),
        ts_field("received_at"),
        ("po_id", "sku", "location_id", "received_at", "quantity_received"),
    ),
    StreamSpec(
        "files",
        "buyer_decisions",
        "decisions",
        joined_ids("po_id", "sku", "location_id"),
        ts_field("updated_at"),
    ),
    # A bill of materials: one row per bundle (or kit) x component, `quantity` units of the
    # component in one unit of the bundle. Its SKUs are its id: a row with either missing is
    # held by the reader (no id), with the reason.
    StreamSpec(
        "files",
        "bundle_components",
        "table",
        joined_ids("bundle_sku", "component_sku"),
        no_time,
        ("bundle_sku", "component_sku", "quantity"),
    ),
    StreamSpec(
        "files",
        "fx_rates",
        "table",
        joined_ids("date", "currency"),
        date_field("date"),
        ("date", "currency", "rate"),
    ),
    # The promotion calendar (forecasting/adjustments.py): `sku` or `category` (or `all` in
    # either) and optionally `location_id`, `uplift` (factor) or `units`, `status`.
    StreamSpec(
        "files",
        "promotions",
        "table",
        promotion_row_id,
        no_time,
        ("promotion_id", "start", "end"),
    ),
    # The buyers' forecast overrides: one forecast week of one SKU at one location.
    StreamSpec(
        "files",
        "forecast_overrides",
        "table",
        joined_ids("sku", "location_id", "period_start"),
        no_time,
        ("sku", "location_id", "period_start", "reason", "author"),
    ),
)
