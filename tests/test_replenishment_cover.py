"""Reorder sanity (issue 15): no line for a position that covers lead time plus review.

The demo's buyer file once held lines for slow lumpy items with months of cover: the demand
errors measured over the last year (a 28-day moving average's errors over L + R) were applied
as they were, at the level and with the window noise of the year's busier months, to an item
now selling a tenth of a unit a day.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from forecasting.quantiles import count_quantiles
from forecasting.replenishment import measure_demand_errors, plan_replenishment
from forecasting.schemas import DAILY_DEMAND_INPUT
from forecasting.settings import ReplenishmentSettings

pytestmark = pytest.mark.fast

RUN = date(2026, 12, 2)
LEAD, REVIEW = 50, 7


def _history(seed: int = 5) -> pl.DataFrame:
    """A lumpy item: orders of 2-6 units, busy (one every 8 days) until summer, rare since."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(365, 0, -1):
        d = RUN - timedelta(days=k)
        p_order = 1 / 8 if k > 150 else 1 / 45
        units = int(rng.integers(2, 7)) if rng.random() < p_order else 0
        rows.append((d, "LUMP", "WH", units, False))
    return pl.DataFrame(
        rows,
        schema=DAILY_DEMAND_INPUT,
        orient="row",
    )


def _forecast(mean_per_day: float, days: int = 56) -> pl.DataFrame:
    # the engine's daily shape for a slow lumpy item: p10 0, p50 0, a long p90
    return pl.DataFrame(
        {
            "run_date": RUN,
            "sku": "LUMP",
            "location_id": "WH",
            "period_start": pl.date_range(RUN, RUN + timedelta(days=days - 1), eager=True),
            "mean": mean_per_day,
            "p10": 0.0,
            "p50": 0.0,
            "p90": 0.6,
            "model": "sba",
            "demand_class": "lumpy",
        }
    )


def _terms() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "supplier_id": ["SUP"],
            "supplier_name": ["Sup"],
            "sku": ["LUMP"],
            "unit_cost": [Decimal("12.00")],
            "currency": ["EUR"],
            "lead_time_days": [LEAD],
            "lead_time_std_days": [2.0],
            "moq": [24],
            "case_pack": [6],
        },
        schema_overrides={"unit_cost": pl.Decimal(18, 4)},
    )


def _inventory(on_hand: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"sku": ["LUMP"], "location_id": ["WH"], "on_hand": [on_hand], "committed": [0]}
    ).with_columns(on_order=pl.lit(0, dtype=pl.Int64))


def test_position_covering_lead_time_plus_review_gets_no_line() -> None:
    settings = ReplenishmentSettings()
    history = _history()
    recent = history.filter(pl.col("date") >= RUN - timedelta(days=120))
    rate = recent["units_ordered"].sum() / 120  # what it sells now, about 0.08 a day
    assert 0.03 < rate < 0.15
    p = LEAD + REVIEW
    # What covering L + R at the service level means, from this item's own recent demand:
    # the 98% quantile of a negative binomial with the mean over L + R and a variance of
    # lumps of ~4 units (variance / mean = 5): far below the 24 on hand.
    mean_p = rate * p
    covered = count_quantiles(np.array([mean_p]), np.array([5.0]), 0.98)[0]
    on_hand = 24
    assert covered < on_hand
    errors = measure_demand_errors(history, _terms(), settings, RUN)
    plan = plan_replenishment(
        _forecast(rate),
        _inventory(on_hand),
        _terms(),
        settings,
        RUN,
        abc_class=pl.DataFrame({"sku": ["LUMP"], "abc_class": ["A"]}),
        demand_errors=errors,
    )
    rep = plan.replenishment.row(0, named=True)
    assert plan.po_suggestions.height == 0, rep
    assert rep["reorder_point"] < on_hand
    # and a position that does not cover L + R still gets its line
    short = plan_replenishment(
        _forecast(rate),
        _inventory(2),
        _terms(),
        settings,
        RUN,
        abc_class=pl.DataFrame({"sku": ["LUMP"], "abc_class": ["A"]}),
        demand_errors=errors,
    )
    line = short.po_suggestions.row(0, named=True)
    assert line["suggested_qty"] >= 24
    # days of cover come from the same daily demand as the reorder point: d_p / (L + R)
    assert line["days_of_cover"] == pytest.approx(2 / rate, rel=0.02)
