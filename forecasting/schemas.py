"""The planning tables, declared once: their keys, columns (in order) and types.

Every ``planning.*`` table the flow writes is a :class:`Table` here. The forecasting code builds
its frames in these column orders (``FORECAST_COLUMNS``, ``PO_COLUMNS``, ...), the buyer files
derive their column order from ``po_suggestions``, and ``flows/planning.py`` generates the DDL
(``create table`` and the ``add column`` upgrades of older warehouses) from the same
declarations, so a new column is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

# A demand series: one SKU at one location.
SERIES_KEYS: list[str] = ["sku", "location_id"]

# What the engine reads of ``marts.daily_demand``: one row per day and series (other columns
# are ignored). ``forecasting.series.build_series`` refuses a frame without these columns.
DAILY_DEMAND_INPUT: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "sku": pl.String(),
    "location_id": pl.String(),
    "units_ordered": pl.Int64(),
    "is_stockout": pl.Boolean(),
}

# The warehouse's money type (DuckDB ``decimal(18,4)``).
MONEY = pl.Decimal(18, 4)


def sql_type(dtype: pl.DataType) -> str:
    """The DuckDB type of a polars dtype used in the planning tables."""
    if isinstance(dtype, pl.Decimal):
        return f"decimal({dtype.precision},{dtype.scale})"
    for polars_type, sql in _SQL_TYPES:
        if dtype == polars_type:
            return sql
    raise ValueError(f"no warehouse type for {dtype!r}")


_SQL_TYPES: tuple[tuple[pl.DataType, str], ...] = (
    (pl.Date(), "date"),
    (pl.String(), "varchar"),
    (pl.Float64(), "double"),
    (pl.Int64(), "bigint"),
    (pl.Int32(), "integer"),
    (pl.Boolean(), "boolean"),
)


@dataclass(frozen=True)
class Table:
    """One planning table: name, key columns and every column with its polars type."""

    name: str
    keys: tuple[str, ...]
    schema: dict[str, pl.DataType]

    @property
    def columns(self) -> list[str]:
        return list(self.schema)

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.schema)

    def ddl(self) -> str:
        cols = ", ".join(f"{c} {sql_type(t)}" for c, t in self.schema.items())
        return f"create table if not exists planning.{self.name} ({cols})"


DEMAND_FORECAST = Table(
    "demand_forecast",
    keys=("run_date", "sku", "location_id", "period_start"),
    schema={
        "run_date": pl.Date(),
        "sku": pl.String(),
        "location_id": pl.String(),
        "period_start": pl.Date(),
        "period_days": pl.Int32(),
        "mean": pl.Float64(),
        "p10": pl.Float64(),
        "p50": pl.Float64(),
        "p90": pl.Float64(),
        "model": pl.String(),
        # What touched the model's number after selection (forecasting/adjustments.py): `none`,
        # `promotion` (a promotion of the calendar) or `override` (the buyer's override file;
        # it wins over a promotion). `unadjusted_mean` is the chosen model's own mean, so the
        # accuracy of the adjustments can be measured once the period has passed.
        "adjustment": pl.String(),
        "unadjusted_mean": pl.Float64(),
        "adjustment_note": pl.String(),
    },
)

FORECAST_ACCURACY = Table(
    "forecast_accuracy",
    keys=("run_date", "sku", "location_id", "model"),
    schema={
        "run_date": pl.Date(),
        "sku": pl.String(),
        "location_id": pl.String(),
        "model": pl.String(),
        "mase": pl.Float64(),
        "wape": pl.Float64(),
        "bias": pl.Float64(),
        "coverage_p10_p90": pl.Float64(),
        "chosen": pl.Boolean(),
        "demand_class": pl.String(),
        "n_points": pl.Int64(),
        "actual_sum": pl.Float64(),
    },
)

REPLENISHMENT = Table(
    "replenishment",
    keys=("run_date", "sku", "location_id"),
    schema={
        "run_date": pl.Date(),
        "sku": pl.String(),
        "location_id": pl.String(),
        "policy": pl.String(),
        "lead_time_demand": pl.Float64(),
        "safety_stock": pl.Float64(),
        "reorder_point": pl.Float64(),
        "order_up_to": pl.Float64(),
        "inventory_position": pl.Int64(),
        "service_level": pl.Float64(),
        "demand_class": pl.String(),
        "safety_stock_method": pl.String(),
        "lead_time_days": pl.Int32(),
        "review_period_days": pl.Int32(),
        "on_hand": pl.Int64(),
        "committed": pl.Int64(),
        "on_order": pl.Int64(),
    },
)

PO_SUGGESTIONS = Table(
    "po_suggestions",
    keys=("run_date", "supplier_id", "location_id", "sku"),
    schema={
        "run_date": pl.Date(),
        "supplier_id": pl.String(),
        "supplier_name": pl.String(),
        "location_id": pl.String(),
        "sku": pl.String(),
        "suggested_qty": pl.Int64(),
        "unit_cost": MONEY,
        "currency": pl.String(),
        "line_value": MONEY,
        "reason": pl.String(),
        "projected_stockout_date": pl.Date(),
        "days_of_cover": pl.Float64(),
        "days_of_cover_after": pl.Float64(),
        "inventory_position": pl.Int64(),
        "reorder_point": pl.Float64(),
        "order_up_to": pl.Float64(),
        "on_hand": pl.Int64(),
        "committed": pl.Int64(),
        "on_order": pl.Int64(),
        "lead_time_days": pl.Int32(),
        # measured (from receipts, marts.supplier_performance) or terms (the terms file)
        "lead_time_source": pl.String(),
        "expected_receipt_date": pl.Date(),
        "moq": pl.Int64(),
        "case_pack": pl.Int64(),
        # The minimum order (MOQ / case pack) takes the line beyond max_days_of_cover: the
        # buyer files list it in a section that can be skipped, with the excess's value.
        "beyond_max_cover": pl.Boolean(),
        "excess_value": MONEY,
        # If the line is not ordered (forecasting/revenue_at_risk.py): the units short at the
        # forecast mean before the next possible receipt (the next review's order, L + R days
        # away) and what they would have sold for, in revenue_currency (the base currency).
        "units_at_risk": pl.Float64(),
        "revenue_at_risk": MONEY,
        "revenue_currency": pl.String(),
    },
)

NEEDS_ATTENTION = Table(
    "needs_attention",
    keys=("run_date", "sku", "location_id"),
    schema={
        "run_date": pl.Date(),
        "sku": pl.String(),
        "location_id": pl.String(),
        "reason": pl.String(),
    },
)

# Stock moved between own locations before anything is bought (forecasting/transfers.py):
# one row per SKU, sending and receiving location; the purchase plan counts it as on order at
# the receiver and as gone from the sender. Money in the lane's currency (cost) and in the
# supplier's (the purchase it replaces).
TRANSFER_SUGGESTIONS = Table(
    "transfer_suggestions",
    keys=("run_date", "sku", "from_location_id", "to_location_id"),
    schema={
        "run_date": pl.Date(),
        "sku": pl.String(),
        "from_location_id": pl.String(),
        "to_location_id": pl.String(),
        "quantity": pl.Int64(),
        "lead_time_days": pl.Int32(),
        "expected_arrival_date": pl.Date(),
        "cost_per_unit": MONEY,
        "currency": pl.String(),
        "transfer_cost": MONEY,
        "supplier_id": pl.String(),
        "supplier_lead_time_days": pl.Int32(),
        "supplier_unit_cost": MONEY,
        "supplier_currency": pl.String(),
        "from_inventory_position": pl.Int64(),
        "from_order_up_to": pl.Float64(),
        "from_days_of_cover": pl.Float64(),
        "from_excess": pl.Boolean(),
        "to_inventory_position": pl.Int64(),
        "to_reorder_point": pl.Float64(),
        "to_order_up_to": pl.Float64(),
        "to_marketplace_fulfilled": pl.Boolean(),
        "reason": pl.String(),
    },
)

# What promotions and overrides added to the forecast, judged on forecast periods that ended
# before the run date (forecasting/adjustments.py `adjustment_accuracy`): one row per run date and
# adjustment kind ('promotion', 'override'); value_added = (abs_error_unadjusted -
# abs_error_adjusted) / actual, the WAPE points the adjustments saved (negative: made worse).
ADJUSTMENT_ACCURACY = Table(
    "adjustment_accuracy",
    keys=("run_date", "adjustment"),
    schema={
        "run_date": pl.Date(),
        "adjustment": pl.String(),
        "periods": pl.Int64(),
        "series": pl.Int64(),
        "actual": pl.Float64(),
        "forecast_adjusted": pl.Float64(),
        "forecast_unadjusted": pl.Float64(),
        "abs_error_adjusted": pl.Float64(),
        "abs_error_unadjusted": pl.Float64(),
        "wape_adjusted": pl.Float64(),
        "wape_unadjusted": pl.Float64(),
        "value_added": pl.Float64(),
    },
)

# Every table flows/planning.py creates, in creation order.
PLANNING_TABLES: tuple[Table, ...] = (
    DEMAND_FORECAST,
    FORECAST_ACCURACY,
    REPLENISHMENT,
    PO_SUGGESTIONS,
    NEEDS_ATTENTION,
    TRANSFER_SUGGESTIONS,
    ADJUSTMENT_ACCURACY,
)

# --- the frames' column lists, derived from the tables ---------------------------------------

FORECAST_COLUMNS: list[str] = DEMAND_FORECAST.columns
ACCURACY_COLUMNS: list[str] = FORECAST_ACCURACY.columns
REPLENISHMENT_COLUMNS: list[str] = REPLENISHMENT.columns
TRANSFER_COLUMNS: list[str] = TRANSFER_SUGGESTIONS.columns

# The buyer's decision: empty in the plan, filled in the returned files, never stored in
# planning.po_suggestions (the decision lands as an open purchase order instead).
APPROVED_QTY = "approved_qty"
APPROVED_QTY_TYPE: pl.DataType = pl.Int64()

# po_suggestions as plan_replenishment returns it: the table's columns plus the empty decision.
PO_COLUMNS: list[str] = [*PO_SUGGESTIONS.columns, APPROVED_QTY]
PO_SCHEMA: dict[str, pl.DataType] = {**PO_SUGGESTIONS.schema, APPROVED_QTY: APPROVED_QTY_TYPE}

# The buyer files show the same columns in the order a buyer decides in: the approval next to
# the suggestion, the long reason last so it does not push the numbers off screen.
_SUGGESTION_FIRST = [c for c in PO_COLUMNS if c not in (APPROVED_QTY, "reason")]
_AFTER = _SUGGESTION_FIRST.index("suggested_qty") + 1
BUYER_COLUMNS: list[str] = [
    *_SUGGESTION_FIRST[:_AFTER],
    APPROVED_QTY,
    *_SUGGESTION_FIRST[_AFTER:],
    "reason",
]

# needs_attention as plan_replenishment returns it (the flow adds the run date).
NEEDS_ATTENTION_COLUMNS: list[str] = [c for c in NEEDS_ATTENTION.columns if c != "run_date"]
