"""Reorder maths on hand-computed examples."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest

from forecasting.replenishment import (
    NEEDS_ATTENTION_COLUMNS,
    PO_COLUMNS,
    REPLENISHMENT_COLUMNS,
    ReplenishmentPlan,
    plan_replenishment,
)
from forecasting.settings import ReplenishmentSettings

pytestmark = pytest.mark.fast  # make test-fast

RUN = date(2026, 11, 25)
# The hand-computed cases check the daily-noise and lead-time terms; the forecast level term has
# its own test (test_forecast_level_uncertainty_term).
BASE = ReplenishmentSettings(forecast_level_days=None)
SIGMA_SPREAD = 2.563  # p90 - p10 for sigma_d = 1


def forecast(
    sku: str = "S1", loc: str = "W1", mean: float = 10.0, sigma: float = 2.0, days: int = 56
) -> pl.DataFrame:
    half = sigma * SIGMA_SPREAD / 2
    return pl.DataFrame(
        {
            "run_date": RUN,
            "sku": sku,
            "location_id": loc,
            "period_start": pl.date_range(RUN, RUN + timedelta(days=days - 1), eager=True),
            "mean": mean,
            "p10": mean - half,
            "p50": mean,
            "p90": mean + half,
            "model": "seasonal_naive",
        }
    )


def inventory(rows: list[tuple[str, str, int, int, int]]) -> pl.DataFrame:
    """rows: sku, location, on_hand, committed, on_order."""
    return pl.DataFrame(
        [(s, loc, oh, c, oh - c, oo, oh - c + oo) for s, loc, oh, c, oo in rows],
        schema={
            "sku": pl.String,
            "location_id": pl.String,
            "on_hand": pl.Int64,
            "committed": pl.Int64,
            "available": pl.Int64,
            "on_order": pl.Int64,
            "inventory_position": pl.Int64,
        },
        orient="row",
    )


def terms(
    sku: str = "S1",
    moq: int = 50,
    case_pack: int = 12,
    lead: int = 14,
    lead_std: float = 0.0,
    cost: str = "2.35",
    supplier: str = "SUP1",
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "supplier_id": [supplier],
            "supplier_name": [f"{supplier} Ltd"],
            "supplier_email": [f"{supplier.lower()}@example.com"],
            "sku": [sku],
            "unit_cost": [Decimal(cost)],
            "currency": ["EUR"],
            "lead_time_days": [lead],
            "lead_time_std_days": [lead_std],
            "moq": [moq],
            "case_pack": [case_pack],
        },
        schema_overrides={"unit_cost": pl.Decimal(18, 4)},
    )


def plan(ip_rows=None, fc=None, st=None, settings=None, abc=None) -> ReplenishmentPlan:
    # IP 100 = 112 on hand - 40 committed + 28 on order; available 72.
    inv = inventory(ip_rows or [("S1", "W1", 112, 40, 28)])
    return plan_replenishment(
        fc if fc is not None else forecast(),
        inv,
        st if st is not None else terms(),
        settings or BASE,
        RUN,
        abc_class=abc,
    )


def only_line(p: ReplenishmentPlan) -> dict:
    assert p.po_suggestions.height == 1
    return p.po_suggestions.row(0, named=True)


def test_levels_hand_computed() -> None:
    p = plan()
    assert p.replenishment.columns == REPLENISHMENT_COLUMNS
    rep = p.replenishment.row(0, named=True)
    # Protection interval P = L + R = 21 days. z(0.95) = 1.6449;
    # SS = 1.6449 * sqrt(21 * 2^2 + 10^2 * 0^2) = 15.075 -> S = ceil(210 + 15.075) = 226.
    assert rep["service_level"] == 0.95
    assert rep["lead_time_demand"] == pytest.approx(210.0)  # 10/day over L + R = 21 days
    assert rep["order_up_to"] == 226
    assert rep["reorder_point"] == 226
    assert rep["safety_stock"] == 16  # 226 - 210
    assert rep["inventory_position"] == 100
    assert rep["policy"] == "periodic_review_order_up_to"
    assert rep["safety_stock_method"] == "normal"
    assert (rep["lead_time_days"], rep["review_period_days"]) == (14, 7)
    assert (rep["on_hand"], rep["committed"], rep["on_order"]) == (112, 40, 28)


def test_lead_time_variability_and_abc_service_level() -> None:
    abc = pl.DataFrame({"sku": ["S1"], "abc_class": ["A"]})
    p = plan(st=terms(lead_std=2.0), abc=abc)
    rep = p.replenishment.row(0, named=True)
    z = NormalDist().inv_cdf(0.98)
    ss = z * (21 * 4 + 10**2 * 2**2) ** 0.5  # sqrt(484) = 22 -> 45.18
    assert ss == pytest.approx(45.1825, abs=1e-3)
    assert rep["service_level"] == 0.98
    assert rep["order_up_to"] == 256  # ceil(210 + 45.18)
    assert rep["safety_stock"] == 46


def test_forecast_level_uncertainty_term() -> None:
    # Default: the level is estimated from 28 days, so its error adds P^2 sigma^2 / 28 =
    # 21^2 * 4 / 28 = 63 to the 84 of daily noise: SS = 1.6449 * sqrt(147) = 19.94 -> S = 230.
    p = plan(settings=ReplenishmentSettings())
    rep = p.replenishment.row(0, named=True)
    assert pytest.approx(19.943, abs=1e-3) == 1.644854 * 147**0.5
    assert rep["order_up_to"] == 230
    assert rep["safety_stock"] == 20
    # A level from 84 days: 441 * 4 / 84 = 21 -> sqrt(105) * 1.6449 = 16.85 -> S = 227.
    p = plan(settings=ReplenishmentSettings(forecast_level_days=84))
    assert p.replenishment["order_up_to"][0] == 227
    with pytest.raises(ValueError, match="forecast_level_days"):
        ReplenishmentSettings(forecast_level_days=0)


def test_order_rounded_up_to_case_pack() -> None:
    line = only_line(plan())
    assert line["suggested_qty"] == 132  # S - IP = 126 -> 11 cases of 12
    assert "rounded up to case pack of 12" in line["reason"]
    assert line["reason"].startswith(
        "below reorder point: position 100 <= 226 (112 on hand, 40 committed, 28 on order)"
    )
    assert "projected stockout 2026-12-02" in line["reason"]
    # 72 available, 10/day: end of day 7 (2026-12-02) is at -8; the 28 on order (no date given)
    # are assumed to arrive after the lead time, on 2026-12-09.
    assert line["projected_stockout_date"] == date(2026, 12, 2)
    assert line["days_of_cover"] == pytest.approx(10.0)
    assert line["days_of_cover_after"] == pytest.approx(23.2)  # (100 + 132) / 10
    assert line["expected_receipt_date"] == date(2026, 12, 9)
    assert "10.0 days of cover now, 23.2 after receipt on 2026-12-09" in line["reason"]
    assert line["approved_qty"] is None
    assert line["reorder_point"] == 226 and line["order_up_to"] == 226
    assert (line["on_hand"], line["committed"], line["on_order"]) == (112, 40, 28)
    assert (line["moq"], line["case_pack"], line["lead_time_days"]) == (50, 12, 14)


def test_order_raised_to_moq_then_case_pack() -> None:
    line = only_line(plan(st=terms(moq=200)))
    assert line["suggested_qty"] == 204  # MOQ 200 -> 17 cases
    assert "need 126 raised to MOQ 200" in line["reason"]


def test_order_capped_by_days_of_cover() -> None:
    settings = BASE.replace(max_days_of_cover=20)
    line = only_line(plan(settings=settings))
    # (100 + qty) / 10 <= 20 -> qty <= 100 -> 8 cases = 96
    assert line["suggested_qty"] == 96
    assert "capped from 132 to stay within 20 days of cover" in line["reason"]


def test_cap_never_goes_below_moq() -> None:
    settings = BASE.replace(max_days_of_cover=20)
    line = only_line(plan(st=terms(moq=120), settings=settings))
    assert line["suggested_qty"] == 120
    assert (
        "capped from 132 toward 20 days of cover, but not below the minimum order of 120"
        in (line["reason"])
    )
    # An MOQ above the cap on its own: 10/day, cap 20 days, IP 190 -> need 36, MOQ 300.
    line = only_line(plan(ip_rows=[("S1", "W1", 190, 0, 0)], st=terms(moq=300), settings=settings))
    assert line["suggested_qty"] == 300
    # (190 + 300) / 10 = 49 days: 290 units beyond the 20 days, said and valued (unit cost 2.50)
    assert "the minimum order takes it beyond 20 days of cover (290 units" in line["reason"]
    assert line["beyond_max_cover"] is True
    assert line["excess_value"] == line["unit_cost"] * 290
    assert line["days_of_cover"] == 19.0 and line["days_of_cover_after"] == 49.0


def test_nothing_ordered_at_or_above_order_up_to() -> None:
    for on_hand in (226, 230, 1000):
        p = plan(ip_rows=[("S1", "W1", on_hand, 0, 0)])
        assert p.po_suggestions.height == 0
        assert p.po_suggestions.columns == PO_COLUMNS
        assert p.replenishment.height == 1
        assert p.projection.height == 0


def test_one_unit_below_orders_moq_in_cases() -> None:
    line = only_line(plan(ip_rows=[("S1", "W1", 225, 0, 0)]))
    assert line["suggested_qty"] == 60  # need 1 -> MOQ 50 -> 5 cases of 12
    assert "need 1 raised to MOQ 50" in line["reason"]


def test_negative_stock_is_planned_and_flagged() -> None:
    p = plan(ip_rows=[("S1", "W1", -5, 0, 0)])
    line = only_line(p)
    assert line["inventory_position"] == -5
    assert line["suggested_qty"] == 240  # 226 + 5 = 231 -> 20 cases
    assert line["projected_stockout_date"] == RUN
    assert p.needs_attention["reason"].str.starts_with("negative stock").any()


def test_lead_time_beyond_horizon_extrapolates_average_day() -> None:
    p = plan(fc=forecast(days=10))
    rep = p.replenishment.row(0, named=True)
    assert rep["lead_time_demand"] == pytest.approx(210.0)
    assert rep["order_up_to"] == 226
    line = only_line(p)
    assert line["projected_stockout_date"] == date(2026, 12, 2)


def test_line_value_is_exact_decimal() -> None:
    p = plan(st=terms(cost="0.3333", moq=0, case_pack=1))
    line = only_line(p)
    assert p.po_suggestions.schema["line_value"] == pl.Decimal(38, 4)
    assert isinstance(line["line_value"], Decimal)
    assert line["suggested_qty"] == 126
    assert line["line_value"] == Decimal("41.9958")
    assert line["unit_cost"] == Decimal("0.3333")


def test_float_unit_cost_is_converted_exactly() -> None:
    st = terms().with_columns(pl.lit(2.35).alias("unit_cost"))
    line = only_line(plan(st=st))
    assert line["line_value"] == Decimal("310.20")


def test_shortest_lead_time_supplier_is_used() -> None:
    st = pl.concat([terms(supplier="SLOW", lead=30), terms(supplier="FAST", lead=14)])
    line = only_line(plan(st=st))
    assert line["supplier_id"] == "FAST"
    assert line["supplier_name"] == "FAST Ltd"


def test_needs_attention_rows() -> None:
    fc = pl.concat([forecast("S1"), forecast("NOINV"), forecast("NOTERMS"), forecast("NOLT")])
    inv = inventory(
        [
            ("S1", "W1", 112, 40, 28),
            ("NOTERMS", "W1", 5, 0, 0),
            ("NOHIST", "W1", 7, 0, 0),
            ("NEG", "W1", -4, 0, 0),
            ("NOLT", "W1", 0, 0, 0),
        ]
    )
    st = pl.concat(
        [
            terms("S1"),
            terms("NOINV"),
            terms("NOHIST"),
            terms("NEG"),
            terms("NOLT").with_columns(pl.lit(None, dtype=pl.Int64).alias("lead_time_days")),
        ]
    )
    p = plan_replenishment(fc, inv, st, ReplenishmentSettings(), RUN)
    na = p.needs_attention
    assert na.columns == NEEDS_ATTENTION_COLUMNS
    reasons = {(r["sku"], r["reason"].split(":")[0]) for r in na.iter_rows(named=True)}
    assert reasons == {
        ("NOTERMS", "no supplier terms for this SKU"),
        ("NOHIST", "no demand history"),
        ("NEG", "no demand history"),
        ("NEG", "negative stock"),
        ("NOINV", "no inventory record"),
        ("NOLT", "supplier terms have no lead_time_days"),
    }
    assert "-4 on hand" in na.filter(pl.col("reason").str.starts_with("negative"))["reason"][0]
    # Series without a forecast or without usable terms get no levels and no lines.
    assert sorted(p.replenishment["sku"].to_list()) == ["NOINV", "S1"]
    assert sorted(p.po_suggestions["sku"].to_list()) == ["NOINV", "S1"]
    noinv = p.po_suggestions.filter(pl.col("sku") == "NOINV").row(0, named=True)
    assert noinv["projected_stockout_date"] == RUN
    assert noinv["inventory_position"] == 0


def test_zero_demand_series_orders_nothing() -> None:
    fc = forecast(mean=0.0, sigma=0.0)
    p = plan(fc=fc, ip_rows=[("S1", "W1", 0, 0, 0)])
    assert p.po_suggestions.height == 0
    assert p.replenishment["reorder_point"].to_list() == [0]


def test_duplicate_forecast_rows_rejected() -> None:
    fc = pl.concat([forecast(), forecast().with_columns(model=pl.lit("moving_average"))])
    with pytest.raises(ValueError, match="one model per series"):
        plan(fc=fc)


def test_settings_validation() -> None:
    with pytest.raises(ValueError, match="service_levels.A"):
        ReplenishmentSettings(service_levels={"A": 1.2})
    with pytest.raises(ValueError, match="review_period_days"):
        ReplenishmentSettings(review_period_days=0)
    s = ReplenishmentSettings()
    assert s.service_level_for("A") == 0.98
    assert s.service_level_for("Z") == 0.95
    assert s.service_level_for(None) == 0.95


def test_forecast_to_plan_end_to_end() -> None:
    from forecasting.engine import naive_forecast

    start = RUN - timedelta(days=60)
    rows = [
        (start + timedelta(days=i), "S1", "W1", 10, 0, Decimal("5.00"), False) for i in range(60)
    ]
    dd = pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "sku": pl.String,
            "location_id": pl.String,
            "units_ordered": pl.Int64,
            "units_returned": pl.Int64,
            "revenue": pl.Decimal(18, 2),
            "is_stockout": pl.Boolean,
        },
        orient="row",
    )
    fc, _ = naive_forecast(dd, RUN, 56)
    p = plan(fc=fc)
    rep = p.replenishment.row(0, named=True)
    assert rep["lead_time_demand"] == pytest.approx(210.0)
    # Constant demand, constant lead time: the engine's band is still Poisson (a count is at
    # least that variable), p10 6 .. p90 14 a day -> SS = 1.6449 * sqrt(21) * 8 / 2.563 = 23.5.
    assert fc["p10"].unique().to_list() == [6.0] and fc["p90"].unique().to_list() == [14.0]
    assert rep["safety_stock"] == 24
    assert rep["order_up_to"] == 234
    line = only_line(p)
    assert line["suggested_qty"] == 144  # S = 234, IP = 100 -> 134 -> 12 cases


def test_empty_inputs_give_empty_outputs_with_columns() -> None:
    p = plan_replenishment(
        forecast().head(0),
        inventory([]),
        terms().head(0),
        ReplenishmentSettings(),
        RUN,
    )
    assert p.replenishment.columns == REPLENISHMENT_COLUMNS
    assert p.po_suggestions.columns == PO_COLUMNS
    assert p.needs_attention.columns == NEEDS_ATTENTION_COLUMNS
    assert (p.replenishment.height, p.po_suggestions.height, p.needs_attention.height) == (0, 0, 0)


def test_measured_demand_errors_hand_computed() -> None:
    from forecasting.replenishment import demand_error_variance

    # Window 2, P = 2. Origin 2: forecast 2 * mean(1, 3) = 4, actual 5 + 7 = 12, error 8.
    # Origin 3: forecast 2 * mean(3, 5) = 8, actual 7 + 9 = 16, error 8. MSE 64 from 2 origins,
    # which share a day: 2 / P = 1 independent interval. A flat series has no error.
    units = np.array([[1.0, 4.0], [3.0, 4.0], [5.0, 4.0], [7.0, 4.0], [9.0, 4.0]])
    mse, n_eff = demand_error_variance(units, np.array([2, 2]), window_days=2)
    assert mse.tolist() == [64.0, 0.0]
    assert n_eff.tolist() == [1.0, 1.0]
    # A censored day (stockout: demand unknown) drops the intervals and windows that contain it.
    units[4, 0] = np.nan
    mse, n_eff = demand_error_variance(units, np.array([2, 2]), window_days=2)
    assert (mse[0], n_eff[0]) == (64.0, 0.5)
    # Nothing measurable: zeros (the planner then keeps the forecast's own spread).
    mse, n_eff = demand_error_variance(units[:3], np.array([2, 2]), window_days=2)
    assert mse.tolist() == [0.0, 0.0] and n_eff.tolist() == [0.0, 0.0]


def test_measure_demand_errors_from_daily_demand() -> None:
    from forecasting.replenishment import demand_error_variance, measure_demand_errors

    settings = BASE.replace(error_history_days=120)
    start = RUN - timedelta(days=150)
    units = [(i % 7) + (i // 30) * 3 for i in range(150)]
    dd = pl.DataFrame(
        {
            "date": [start + timedelta(days=i) for i in range(150)],
            "sku": "S1",
            "location_id": "W1",
            "units_ordered": units,
            "is_stockout": [i == 140 for i in range(150)],
        }
    )
    got = measure_demand_errors(dd, terms(lead=14), settings, RUN).row(0, named=True)
    window = np.array(units[30:], dtype=float)[:, None]
    window[110, 0] = np.nan  # day 140 of the frame: a stockout
    mse, n_eff = demand_error_variance(window, np.array([21]))
    assert got["error_var"] == pytest.approx(mse[0]) and got["error_var"] > 0
    assert got["error_n"] == pytest.approx(n_eff[0])
    # Origins 28..99 of the 120 days (a 28-day window before, 21 days after), less the 10 whose
    # interval holds the stockout (day 110): 62 origins, 62 / 21 independent intervals.
    assert got["error_n"] == pytest.approx(62 / 21)


def test_measured_errors_set_the_safety_stock() -> None:
    # Model variance over P = 21 days: 21 * 2^2 = 84. Measured: MSE 400 from 6 independent
    # intervals, weighed against the model's 84 counted as error_prior_weight = 2 intervals:
    # (6 * 400 + 2 * 84) / 8 = 321 -> SS = 1.6449 * sqrt(321) = 29.47 -> S = ceil(239.47) = 240.
    errors = pl.DataFrame(
        {"sku": ["S1"], "location_id": ["W1"], "error_var": [400.0], "error_n": [6.0]}
    )
    inv = inventory([("S1", "W1", 112, 40, 28)])
    p = plan_replenishment(forecast(), inv, terms(), BASE, RUN, demand_errors=errors)
    assert pytest.approx(29.47, abs=0.01) == NormalDist().inv_cdf(0.95) * 321**0.5
    assert p.replenishment["order_up_to"][0] == 240
    # The lead-time term still adds on top: sigma_L 2 -> 321 + 10^2 * 4 = 721 -> 44.17 -> 255.
    p = plan_replenishment(forecast(), inv, terms(lead_std=2.0), BASE, RUN, demand_errors=errors)
    assert p.replenishment["order_up_to"][0] == 255
    # A series without measured errors (or with none measurable) keeps the model: S = 226.
    none = errors.with_columns(error_n=pl.lit(0.0))
    p = plan_replenishment(forecast(), inv, terms(), BASE, RUN, demand_errors=none)
    assert p.replenishment["order_up_to"][0] == 226
    with pytest.raises(ValueError, match="error_prior_weight"):
        ReplenishmentSettings(error_prior_weight=-1.0)
    with pytest.raises(ValueError, match="error_history_days"):
        ReplenishmentSettings(error_history_days=0)


def test_reorder_point_below_order_up_to_when_the_moq_lasts_several_reviews() -> None:
    # 1/day (sigma_d 1), L 14, R 7, MOQ 50: a review's demand is 7 of the smallest order of 50,
    # so phi = 0.14 of the reviews order. Order-up-to: 21 + 1.6449 * sqrt(21) = 28.54 -> 29.
    # Reorder point: exposed to L + R (1 + phi) / 2 = 17.99 days (f = 17.99 / 21) plus the
    # undershoot's variance (1 - phi) * 7^2 / 12 = 3.51: 17.99 + 1.6449 * sqrt(17.99 + 3.51)
    # = 25.62 -> 26.
    fc = forecast(mean=1.0, sigma=1.0)
    p = plan(fc=fc, st=terms(moq=50, case_pack=1), ip_rows=[("S1", "W1", 27, 0, 0)])
    rep = p.replenishment.row(0, named=True)
    assert (rep["order_up_to"], rep["reorder_point"]) == (29, 26)
    assert rep["safety_stock"] == 29 - 21
    # Position 27 is below S but above s: no order (the next review can still order in time).
    assert p.po_suggestions.height == 0
    p = plan(fc=fc, st=terms(moq=50, case_pack=1), ip_rows=[("S1", "W1", 26, 0, 0)])
    assert only_line(p)["suggested_qty"] == 50  # need 29 - 26 = 3, raised to the MOQ
    # When the smallest order is no more than a review's demand, every review orders: s = S.
    p = plan(fc=fc, st=terms(moq=5, case_pack=1), ip_rows=[("S1", "W1", 27, 0, 0)])
    rep = p.replenishment.row(0, named=True)
    assert rep["reorder_point"] == rep["order_up_to"] == 29
