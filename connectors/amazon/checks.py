"""Landing-gate checks of the Amazon streams (vocabulary: `connectors.checks`)."""

from __future__ import annotations

from connectors.checks import (
    BASIC,
    ID,
    TIME,
    UNREADABLE,
    Check,
    OrderLines,
    V,
    items,
    items_ok,
    order_checks,
    txt,
    unreadable_times,
)

ORDER_LINES: dict[str, OrderLines] = {
    "order_items": ("OrderItems", "QuantityOrdered", "SellerSKU"),
}

STRUCTURES: dict[str, dict] = {
    "orders": {
        "OrderTotal": {"CurrencyCode": V, "Amount": V},
        "PurchaseDate": V,
        "LastUpdateDate": V,
    },
    "order_items": {
        "OrderItems": [{"QuantityOrdered": V, "SellerSKU": V, "ItemPrice": {"CurrencyCode": V}}]
    },
    "financial_events": {"EventType": V, "PostedDate": V},
}

CHECKS: dict[str, tuple[Check, ...]] = {
    "orders": (
        ID,
        TIME,
        Check("currency", "currencies", txt("OrderTotal", "CurrencyCode")),
        Check("order_total", "decimal", txt("OrderTotal", "Amount")),
        Check("PurchaseDate", "present", f"nullif({txt('PurchaseDate')}, '')"),
        unreadable_times(("PurchaseDate", "LastUpdateDate")),
    ),
    "order_items": (
        ID,
        TIME,
        Check(
            "currency",
            "currencies",
            f"case when {items_ok('OrderItems')} "
            f"then trim({items('OrderItems')}[1]['ItemPrice']['CurrencyCode']) "
            f"else '{UNREADABLE}' end",
        ),
        *order_checks(ORDER_LINES["order_items"]),
    ),
    "financial_events": (
        ID,
        TIME,
        Check(
            "event_type",
            "in_set",
            txt("EventType"),
            values=("Shipment", "Refund", "GuaranteeClaim", "Chargeback"),
        ),
        unreadable_times(("PostedDate",)),
    ),
    # API-only stream: id and updated time only
    "inventory": BASIC,
}
