"""Landing-gate checks of stock counts (vocabulary: `connectors.checks`)."""

from __future__ import annotations

from connectors.checks import (
    ID,
    MAX_STOCK,
    ONE_SKU,
    TIME,
    Check,
    V,
    txt,
    unreadable_times,
    whole_in_range,
)

STRUCTURES: dict[str, dict] = {"stock": {"on_hand": V, "location_id": V, "sku": V, "counted_at": V}}

CHECKS: dict[str, tuple[Check, ...]] = {
    "stock": (
        ID,
        TIME,
        *whole_in_range("on_hand", low=0, high=MAX_STOCK, bound="max_stock"),
        Check("location_id", "locations", txt("location_id")),
        Check("skus", "known_skus", ONE_SKU, critical=False),
        unreadable_times(("counted_at",)),
    ),
}
