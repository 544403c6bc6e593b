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
    order_checks,
    txt,
)

ORDER_LINES: dict[str, OrderLines] = {"orders": ("line_items", "quantity", "sku")}

STRUCTURES: dict[str, dict] = {
    "orders": {
        "currency": V, "total": V, "shipping_total": V, "total_tax": V,
        "line_items": [{"quantity": V, "total": V, "sku": V}],
    },
    "refunds": {"order_id": V, "amount": V},
}  # fmt: skip


def _parts() -> str:
    """Line totals, shipping and tax of a Woo order (null where one is not a number)."""
    total = dec("i['total']")
    lines = f"list_transform({items('line_items')}, lambda i: {total})"
    return (
        f"case when {items_ok('line_items')} then list_concat({lines}, "
        f"[{dec(txt('shipping_total'))}, {dec(txt('total_tax'))}]) else [null] end"
    )


CHECKS: dict[str, tuple[Check, ...]] = {
    "orders": (
        ID,
        TIME,
        Check("currency", "currencies", txt("currency")),
        Check("total_price", "decimal", txt("total")),
        Check("line_total_gap", "gap", gap(txt("total"), _parts())),
        *order_checks(ORDER_LINES["orders"]),
    ),
    "refunds": (
        ID,
        TIME,
        Check("order_id", "present", f"nullif({txt('order_id')}, '')"),
        Check("amount", "decimal", txt("amount")),
    ),
    "customers": (ID, TIME),
    # API-only stream: id and updated time only
    "products": BASIC,
}
