"""Landing-gate checks of the reference files (vocabulary: `connectors.checks`)."""

from __future__ import annotations

from connectors.checks import ID, MAX_STOCK, TIME, Check, V, txt, unreadable_times, whole_in_range

STRUCTURES: dict[str, dict] = {
    "supplier_terms": {
        "currency": V, "unit_cost": V, "moq": V, "case_pack": V, "lead_time_days": V,
        "lead_time_std_days": V,
    },
    "purchase_orders": {
        "quantity_ordered": V, "quantity_received": V, "status": V, "location_id": V,
        "expected_at": V,
    },
    "buyer_decisions": {"quantity_ordered": V, "location_id": V, "sku": V},
    "fx_rates": {"currency": V, "rate": V, "date": V},
}  # fmt: skip

CHECKS: dict[str, tuple[Check, ...]] = {
    "supplier_terms": (
        ID,
        Check("currency", "currencies", txt("currency")),
        Check("unit_cost", "decimal", txt("unit_cost")),
        *whole_in_range("moq", low=1, high=MAX_STOCK),
        *whole_in_range("case_pack", low=1, high=MAX_STOCK),
        *whole_in_range("lead_time_days", low=0, high=730),
        Check("lead_time_std_days", "decimal", txt("lead_time_std_days")),
    ),
    "purchase_orders": (
        ID,
        TIME,
        *whole_in_range("quantity_ordered", low=0, high=MAX_STOCK),
        *whole_in_range("quantity_received", low=0, high=MAX_STOCK),
        Check(
            "status", "in_set", txt("status"), values=("open", "partial", "received", "cancelled")
        ),
        Check("location_id", "locations", txt("location_id")),
        unreadable_times(("expected_at",), cast="date"),
    ),
    "buyer_decisions": (
        ID,
        TIME,
        *whole_in_range("quantity_ordered", low=1, high=MAX_STOCK),
        Check("location_id", "locations", txt("location_id")),
        # An approved line no plan ever suggested may be deliberate (the buyer added it): it
        # lands, and is counted in the run summary and `oms check`.
        Check(
            "suggestion",
            "suggested",
            f"{txt('sku')} || chr(31) || {txt('location_id')}",
            critical=False,
        ),
    ),
    "fx_rates": (
        ID,
        TIME,
        Check("currency", "iso_currency", txt("currency")),
        Check("rate", "decimal", txt("rate")),
        Check("rate", "between", txt("rate"), low=1e-9),
        unreadable_times(("date",), cast="date"),
    ),
}
