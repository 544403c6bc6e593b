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
# The contract fields a till's `mapping:` may map (our field -> the column name in the export),
# or `constants:` may set for every row (docs/raw-contract.md `tills__orders`).
MAPPING_FIELDS = (
    "order_id",
    "line_id",  # none: numbered within the order in file order
    "ordered_at",
    "location_id",  # none: the channel's default_location
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "currency",  # none: the channel's currency
    "customer_id",
    "customer_email",
    "customer_name",
    "country",
    "title",
    "category",
    "line_type",  # product | shipping | fee | discount | gift_card | adjustment, or codes
    "credit_note",  # a flag column: true = the document is a credit note
    "original_order_id",  # the order a credit note refunds
    "cancelled",
)
# What every row must have, from a column or a constant (location_id and currency may come from
# the channel's default_location and currency; line_id may be generated).
REQUIRED_MAPPING_FIELDS = (
    "order_id",
    "ordered_at",
    "sku",
    "quantity",
    "unit_price",
)
