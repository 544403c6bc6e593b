"""Policy simulation: mechanics on a hand-checkable synthetic store, and a tiny sandbox run."""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest

from forecasting.settings import ReplenishmentSettings
from forecasting.simulation import simulate_replenishment

pytestmark = pytest.mark.fast  # make test-fast

END = date(2026, 10, 31)


def synthetic(days: int = 120, demand: int = 10, on_hand: int = 100) -> pl.DataFrame:
    dates = [END - timedelta(days=days - 1 - i) for i in range(days)]
    return pl.DataFrame(
        {
            "date": dates,
            "sku": "S1",
            "location_id": "W1",
            "true_demand": demand,
            "units_sold": demand,
            "on_hand_eod": on_hand,
            "is_stockout": False,
            "is_active": True,
        }
    )


def terms(lead: int = 7, std: float = 0.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "supplier_id": ["SUP1"],
            "supplier_name": ["Sup"],
            "sku": ["S1"],
            "unit_cost": [Decimal("2.00")],
            "currency": ["EUR"],
            "lead_time_days": [lead],
            "lead_time_std_days": [std],
            "moq": [1],
            "case_pack": [1],
        }
    )


def exact(level: float = 10.0):
    """A forecaster that knows the demand: flat ``level``, no spread (p10 = p50 = p90)."""

    def forecast(history: pl.DataFrame, run_date: date, horizon: int) -> pl.DataFrame:
        keys = history.select("sku", "location_id").unique()
        days = pl.DataFrame(
            {"period_start": [run_date + timedelta(days=k) for k in range(horizon)]}
        )
        return keys.join(days, how="cross").with_columns(
            run_date=pl.lit(run_date),
            period_days=pl.lit(1, dtype=pl.Int32),
            mean=pl.lit(level),
            p10=pl.lit(level),
            p50=pl.lit(level),
            p90=pl.lit(level),
            model=pl.lit("exact"),
        )

    return forecast


def test_constant_demand_never_stocks_out() -> None:
    # With a forecast that knows the demand: S = 10/day * (L 7 + R 7) = 140, no safety stock
    # (no spread, no lead-time variance). Start with 100: order 40 on day 0, arriving day 7
    # when 30 are left, then ~70 a week.
    res = simulate_replenishment(
        synthetic(), terms(), ReplenishmentSettings(), weeks=6, warmup_weeks=2, forecaster=exact()
    )
    p = res.policy
    assert res.series == 1
    assert p.fill_rate == 1.0 and p.lost_units == 0
    assert p.cycle_service_level == 1.0
    assert p.order_cycles >= 5
    assert p.demand_units == 6 * 7 * 10
    # On hand oscillates between 70 (after receipt) and 0 (end of day before): mean 30 units,
    # valued at 2.00.
    assert p.avg_inventory_units == pytest.approx(30.0)
    assert p.avg_inventory_value == pytest.approx(60.0)
    # The days-of-cover rule reaches the same fill rate with cover 0 (same levels), never better.
    assert res.days_of_cover.fill_rate == 1.0
    assert res.days_of_cover.avg_inventory_value >= p.avg_inventory_value - 1e-9
    d = res.as_dict()
    assert d["policy"]["fill_rate"] == 1.0 and "inventory_reduction" in d


def test_constant_demand_with_the_naive_engine_baseline() -> None:
    # The default forecaster is the engine restricted to its naive models: on constant demand
    # both forecast 10 a day, but the band stays Poisson (p10 6 .. p90 14: a count is at least
    # that variable), so the policy carries some safety stock on top of the 30 above.
    from forecasting.simulation import baseline_forecaster

    fc = baseline_forecaster()(
        synthetic().select(
            "date", "sku", "location_id", units_ordered="units_sold", is_stockout="is_stockout"
        ),
        END + timedelta(days=1),
        14,
    )
    assert fc["mean"].to_list() == [10.0] * 14
    assert fc["model"][0] in ("seasonal_naive", "moving_average")
    assert (fc["p10"] < 10).all() and (fc["p90"] > 10).all()
    res = simulate_replenishment(
        synthetic(), terms(), ReplenishmentSettings(), weeks=6, warmup_weeks=2
    )
    p = res.policy
    assert p.fill_rate == 1.0 and p.lost_units == 0 and p.cycle_service_level == 1.0
    assert 30.0 < p.avg_inventory_units < 30.0 + 2 * 24  # no more than the plan's safety stock
    assert res.days_of_cover.fill_rate == 1.0


def test_tiny_sandbox_runs_fast_and_is_consistent() -> None:
    from sandbox import generate_store
    from sandbox.catalog import BOOK_RATE

    started = time.perf_counter()
    store = generate_store(seed=7, scale="tiny", end_date=END)
    t = store.truth
    res = simulate_replenishment(
        t["demand"],
        t["supplier_terms"],
        ReplenishmentSettings(),
        weeks=8,
        warmup_weeks=6,
        open_purchase_orders=t["purchase_orders"],
        fx_to_base=BOOK_RATE,
        seed=1,
        bisection_steps=10,
    )
    assert time.perf_counter() - started < 30
    assert res.series > 10
    assert res.reviews == 14
    assert res.measure_end == END
    assert res.measure_start == END - timedelta(days=8 * 7 - 1)
    for o in (res.policy, res.days_of_cover):
        assert 0.0 <= o.fill_rate <= 1.0
        assert 0.0 <= o.cycle_service_level <= 1.0
        assert o.avg_inventory_value > 0
    assert res.policy.target_service_level == pytest.approx(0.95)
    # Tuned to (at least) the policy's fill rate, when reachable.
    assert res.days_of_cover.fill_rate >= res.policy.fill_rate - 1e-9
