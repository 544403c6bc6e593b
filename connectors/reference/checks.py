"""Landing-gate checks of the reference files (vocabulary: `connectors.checks`)."""

from __future__ import annotations

from connectors.checks import ID, MAX_STOCK, TIME, Check, V, txt, unreadable_times, whole_in_range


def _given(field: str) -> str:
    """1 when the field is there and not blank, else 0 (SQL)."""
    return f"(case when coalesce({txt(field)}, '') <> '' then 1 else 0 end)"


def _date(field: str) -> str:
    return f"try_cast(left(nullif({txt(field)}, ''), 10) as date)"


# A location, or blank / `all` for every location (null: GX skips it, so it passes).
_LOCATION_OR_ALL = (
    f"case when lower(coalesce({txt('location_id')}, '')) in ('', 'all') then null "
    f"else {txt('location_id')} end"
)


STRUCTURES: dict[str, dict] = {
    "supplier_terms": {
        "currency": V, "unit_cost": V, "moq": V, "case_pack": V, "lead_time_days": V,
        "lead_time_std_days": V,
    },
    "purchase_orders": {
        "quantity_ordered": V, "quantity_received": V, "status": V, "location_id": V,
        "expected_at": V, "ordered_at": V,
    },
    "purchase_order_receipts": {"quantity_received": V, "location_id": V, "received_at": V},
    "buyer_decisions": {"quantity_ordered": V, "location_id": V, "sku": V},
    "fx_rates": {"currency": V, "rate": V, "date": V},
    "bundle_components": {"bundle_sku": V, "component_sku": V, "quantity": V},
    "promotions": {
        "sku": V, "category": V, "location_id": V, "start": V, "end": V, "uplift": V,
        "units": V, "status": V,
    },
    "forecast_overrides": {
        "location_id": V, "period_start": V, "units": V, "factor": V, "reason": V, "author": V,
    },
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
        unreadable_times(("expected_at", "ordered_at"), cast="date"),
    ),
    "purchase_order_receipts": (
        ID,
        # the receipt's time is its updated time: unreadable or missing, the reader holds the
        # row; dated in the future, this holds it
        TIME,
        # a delivery of no units is not a receipt, and a negative one (a return to the
        # supplier) would make a line look received in full when it is not
        *whole_in_range("quantity_received", low=1, high=MAX_STOCK),
        Check("location_id", "locations", txt("location_id")),
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
    "bundle_components": (
        ID,
        # units of the component in one bundle: a zero or negative quantity would make the
        # bundle's availability (floor(available / quantity)) and its exploded demand meaningless
        *whole_in_range("quantity", low=1, high=MAX_STOCK),
        Check(
            "self_component",
            "none",
            f"case when {txt('bundle_sku')} = {txt('component_sku')} then 1 else 0 end",
            says="a bundle is not its own component",
        ),
    ),
    # The promotion calendar (forecasting/adjustments.py): a row the forecast cannot place in
    # time or on SKUs is held with its reason rather than guessed at.
    "promotions": (
        ID,
        Check(
            "target",
            "none",
            f"case when {_given('sku')} + {_given('category')} = 1 then 0 else 1 end",
            says="a promotion names one target: sku, category, or all",
        ),
        Check(
            "period",
            "none",
            f"2 - {_given('start')} - {_given('end')}",
            says="a promotion has a start and an end date",
        ),
        unreadable_times(("start", "end"), cast="date"),
        Check(
            "period",
            "none",
            f"case when {_date('end')} < {_date('start')} then 1 else 0 end",
            says="a promotion's end is not before its start",
        ),
        Check("uplift", "decimal", f"nullif({txt('uplift')}, '')"),
        Check("units", "decimal", f"nullif({txt('units')}, '')"),
        Check(
            "effect",
            "none",
            f"case when {_given('uplift')} + {_given('units')} = 2 then 1 else 0 end",
            says="a promotion gives an uplift factor or units, not both",
        ),
        Check("location_id", "locations", _LOCATION_OR_ALL),
        Check(
            "status",
            "in_set",
            f"nullif(lower({txt('status')}), '')",
            values=("planned", "active", "cancelled"),
        ),
    ),
    "forecast_overrides": (
        ID,
        Check("location_id", "locations", txt("location_id")),
        unreadable_times(("period_start",), cast="date"),
        Check(
            "period_start",
            "none",
            f"case when isodow({_date('period_start')}) <> 1 then 1 else 0 end",
            says="period_start is the Monday a forecast week starts on",
        ),
        Check("units", "decimal", f"nullif({txt('units')}, '')"),
        Check("factor", "decimal", f"nullif({txt('factor')}, '')"),
        Check(
            "effect",
            "none",
            f"case when {_given('units')} + {_given('factor')} = 1 then 0 else 1 end",
            says="an override gives units or a factor (one of them)",
        ),
        Check(
            "signed",
            "none",
            f"2 - {_given('reason')} - {_given('author')}",
            says="an override gives its reason and its author",
        ),
    ),
}
