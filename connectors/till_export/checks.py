"""Landing-gate checks of till export lines (vocabulary: `connectors.checks`)."""

from __future__ import annotations

from connectors.checks import ID, MAX_UNITS, ONE_SKU, TIME, UNREADABLE, Check, V, txt

STRUCTURES: dict[str, dict] = {
    "orders": {
        "currency": V,
        "quantity": V,
        "unit_price": V,
        "location_id": V,
        "sku": V,
        "line_type": V,
    },
}

CHECKS: dict[str, tuple[Check, ...]] = {
    "orders": (
        ID,
        TIME,
        Check("currency", "currencies", txt("currency")),
        Check("quantity", "whole", txt("quantity")),
        Check(
            "quantity_abs",
            "between",
            # absent or unreadable quantities fail here too: a till line without one is no sale
            f"case when regexp_full_match(coalesce({txt('quantity')}, ''), '-?[0-9]+') "
            f"then cast(abs(cast({txt('quantity')} as hugeint)) as varchar) "
            f"else '{UNREADABLE}' end",
            high=MAX_UNITS,
            bound="max_units",
        ),
        # goods have a non-negative price; a bad-debt adjustment, a discount or a fee line may
        # carry its sign in the price (`Adjust bad debt`, price -11062.06)
        Check(
            "unit_price",
            "decimal",
            f"case when coalesce({txt('line_type')}, 'product') = 'product' then {txt('unit_price')} "
            f"else ltrim({txt('unit_price')}, '-') end",
        ),
        Check("location_id", "locations", txt("location_id")),
        # only goods are looked up in the catalogue (POSTAGE, a fee code, ... are no products)
        Check(
            "skus",
            "known_skus",
            f"case when coalesce({txt('line_type')}, 'product') = 'product' then {ONE_SKU} "
            "else [] end",
            critical=False,
        ),
    ),
}
