"""Landing-gate checks of the WooCommerce streams (vocabulary: `connectors.checks`)."""

from __future__ import annotations

from connectors.checks import (
    BASIC,
    ID,
    TIME,
    Check,
    OrderLines,
    V,
    dec,
    gap,
    items,
    items_ok,
    negative_prices,
    order_checks,
    txt,
    unreadable_times,
)

# Woo's *_gmt times have no offset (UTC by name): the models read them as local timestamps.
_WOO_TIMES = ("date_created_gmt", "date_modified_gmt")

ORDER_LINES: dict[str, OrderLines] = {"orders": ("line_items", "quantity", "sku")}

STRUCTURES: dict[str, dict] = {
    "orders": {
        "currency": V, "total": V, "shipping_total": V, "total_tax": V,
        "date_created_gmt": V, "date_modified_gmt": V, "date_paid_gmt": V,
        "line_items": [{"quantity": V, "total": V, "sku": V}],
        "fee_lines": [{"total": V}],
    },
    "refunds": {"order_id": V, "amount": V, "date_created_gmt": V},
    "customers": {"date_created_gmt": V, "date_modified_gmt": V},
}  # fmt: skip


def _parts() -> str:
    """The parts of a Woo order's `total`, as WooCommerce adds them up
    (`WC_Abstract_Order::calculate_totals`): the line totals (after coupons: `coupon_lines` are
    already inside them), the fee lines' totals (payment or handling fees; negative for a fee
    given as a discount), `shipping_total` (the sum of `shipping_lines`) and `total_tax` (cart
    tax, fee tax and shipping tax: the sum of `tax_lines`). Null where one is not a number."""
    total = dec("i['total']")
    lines = f"list_transform({items('line_items')}, lambda i: {total})"
    fees = f"list_transform({items('fee_lines')}, lambda i: {total})"
    readable = f"{items_ok('line_items')} and {items_ok('fee_lines')}"
    return (
        f"case when {readable} then list_concat({lines}, {fees}, "
        f"[{dec(txt('shipping_total'))}, {dec(txt('total_tax'))}]) else [null] end"
    )


CHECKS: dict[str, tuple[Check, ...]] = {
    "orders": (
        ID,
        TIME,
        Check("currency", "currencies", txt("currency")),
        Check("date_created_gmt", "present", f"nullif({txt('date_created_gmt')}, '')"),
        Check("total_price", "decimal", txt("total")),
        Check("line_total_gap", "gap", gap(txt("total"), _parts())),
        *order_checks(ORDER_LINES["orders"]),
        unreadable_times((*_WOO_TIMES, "date_paid_gmt"), cast="timestamp"),
        negative_prices("line_items", "total"),
    ),
    "refunds": (
        ID,
        TIME,
        Check("order_id", "present", f"nullif({txt('order_id')}, '')"),
        Check("amount", "decimal", txt("amount")),
        unreadable_times(("date_created_gmt",), cast="timestamp"),
    ),
    "customers": (ID, TIME, unreadable_times(_WOO_TIMES, cast="timestamp")),
    # API-only stream: id and updated time only
    "products": BASIC,
}
