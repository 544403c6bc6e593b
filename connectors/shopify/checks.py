"""Landing-gate checks of the Shopify streams (vocabulary: `connectors.checks`)."""

from __future__ import annotations

from connectors.checks import (
    BASIC,
    ID,
    TIME,
    UNREADABLE,
    Check,
    OrderLines,
    V,
    gap,
    item_values,
    items,
    items_ok,
    negative_prices,
    order_checks,
    txt,
    unreadable_times,
)

# The order lines the order checks read: (list key, quantity field, SKU field).
ORDER_LINES: dict[str, OrderLines] = {"orders": ("line_items", "quantity", "sku")}

# What the checks read of each stream's payload (DuckDB `json_transform` structures).
STRUCTURES: dict[str, dict] = {
    "orders": {
        "currency": V, "total_price": V, "total_line_items_price": V,
        "created_at": V, "processed_at": V, "cancelled_at": V,
        "line_items": [{"id": V, "quantity": V, "price": V, "sku": V}],
        "refunds": [{"created_at": V, "refund_line_items": [{"line_item_id": V, "quantity": V}]}],
        "fulfillments": [{"location_id": V, "created_at": V}],
        "fulfillment_orders": [{"assigned_location_id": V}],
    },
    "products": {"variants": [{"sku": V}]},
}  # fmt: skip


def _line_parts() -> str:
    """price × quantity of every Shopify line (null where either is not a number)."""
    return (
        f"case when {items_ok('line_items')} then list_transform({items('line_items')}, "
        "lambda i: try_cast(i['price'] as decimal(18, 4)) * "
        "try_cast(i['quantity'] as decimal(18, 4))) else [null] end"
    )


def _over_refunded() -> str:
    """How many lines have more units refunded (over all the order's refunds) than sold."""
    refunded = (
        f"flatten(list_transform({items('refunds')}, "
        "lambda r: coalesce(r['refund_line_items'], [])))"
    )
    of_line = (
        f"coalesce(list_sum(list_transform(list_filter({refunded}, "
        "lambda x: trim(x['line_item_id']) = trim(l['id'])), "
        "lambda x: try_cast(x['quantity'] as decimal(18, 4)))), 0)"
    )
    return (
        f"len(list_filter({items('line_items')}, "
        f"lambda l: try_cast(l['quantity'] as decimal(18, 4)) < {of_line}))"
    )


def _fulfilment_locations() -> str:
    """The Shopify locations an order was fulfilled from or assigned to (empty where a list is
    unreadable: the list checks report that)."""
    shipped = f"list_transform({items('fulfillments')}, lambda f: trim(f['location_id']))"
    assigned = (
        f"list_transform({items('fulfillment_orders')}, lambda f: trim(f['assigned_location_id']))"
    )
    return (
        f"list_concat(case when {items_ok('fulfillments')} then {shipped} else [] end, "
        f"case when {items_ok('fulfillment_orders')} then {assigned} else [] end)"
    )


CHECKS: dict[str, tuple[Check, ...]] = {
    "orders": (
        ID,
        TIME,
        Check("currency", "currencies", txt("currency")),
        # the models date an order by it (not null in staging): one without would stop the build
        Check("created_at", "present", f"nullif({txt('created_at')}, '')"),
        Check("total_price", "decimal", txt("total_price")),
        Check("line_total_gap", "gap", gap(txt("total_line_items_price"), _line_parts())),
        *order_checks(ORDER_LINES["orders"]),
        Check("fulfillment_locations", "channel_locations", _fulfilment_locations()),
        unreadable_times(
            ("created_at", "processed_at", "cancelled_at"),
            (("refunds", "created_at"), ("fulfillments", "created_at")),
        ),
        negative_prices("line_items", "price"),
        Check(
            "over_refunded",
            "none",
            _over_refunded(),
            says="no line has more units refunded than sold",
        ),
    ),
    "customers": (ID, TIME),
    "products": (
        ID,
        TIME,
        Check(
            "variants_without_sku",
            "between",
            f"case when {items_ok('variants')} then cast(len(list_filter("
            f"{item_values('variants', 'sku')}, lambda s: coalesce(s, '') in ('', 'false', '0')"
            f")) as varchar) else '{UNREADABLE}' end",
            high=0,
        ),
    ),
    # API-only streams: id and updated time only
    "locations": BASIC,
    "inventory_levels": BASIC,
}
