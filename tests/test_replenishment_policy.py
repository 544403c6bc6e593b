"""Intermittent items (quantile method), open purchase orders counted by arrival, projection."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from forecasting.replenishment import (
    PROJECTION_COLUMNS,
    count_quantile,
    normalize_open_purchase_orders,
    plan_replenishment,
)
from forecasting.settings import ReplenishmentSettings
from tests.test_replenishment import BASE, RUN, forecast, inventory, terms

pytestmark = pytest.mark.fast  # make test-fast


def intermittent_forecast(mean: float = 0.2, p90: float = 1.0, days: int = 56) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run_date": RUN,
            "sku": "S1",
            "location_id": "W1",
            "period_start": pl.date_range(RUN, RUN + timedelta(days=days - 1), eager=True),
            "mean": mean,
            "p10": 0.0,
            "p50": 0.0,
            "p90": p90,
            "model": "moving_average",
        }
    )


def poisson_quantile_by_hand(lam: float, q: float) -> int:
    k, term, cdf = 0, math.exp(-lam), math.exp(-lam)
    while cdf < q:
        k += 1
        term *= lam / k
        cdf += term
    return k


def test_intermittent_item_uses_quantile_method_poisson() -> None:
    # 0.2/day over L + R = 21 days: mean 4.2. Quantile spread var 21 * (1 / 2.563)^2 = 3.2 is
    # below the mean, so the count is Poisson(4.2); P(<= 7) = 0.936, P(<= 8) = 0.972.
    p = plan_replenishment(
        intermittent_forecast(),
        inventory([("S1", "W1", 0, 0, 0)]),
        terms(moq=1, case_pack=1),
        BASE,
        RUN,
    )
    rep = p.replenishment.row(0, named=True)
    assert rep["safety_stock_method"] == "quantile"
    assert poisson_quantile_by_hand(4.2, 0.95) == 8
    assert rep["order_up_to"] == 8
    assert rep["safety_stock"] == 3  # 8 - ceil(4.2)
    line = p.po_suggestions.row(0, named=True)
    assert line["suggested_qty"] == 8
    assert "intermittent demand" in line["reason"]


def test_lumpy_item_negative_binomial_differs_from_normal() -> None:
    # Mean 0.5/day, p90 3: var over 21 days = 21 * (3 / 2.563)^2 = 28.77 > mean 10.5.
    fc = intermittent_forecast(mean=0.5, p90=3.0).with_columns(demand_class=pl.lit("lumpy"))
    settings = ReplenishmentSettings(service_levels={"A": 0.98}, forecast_level_days=None)
    abc = pl.DataFrame({"sku": ["S1"], "abc_class": ["A"]})
    inv = inventory([("S1", "W1", 0, 0, 0)])
    st = terms(moq=1, case_pack=1)
    lumpy = plan_replenishment(fc, inv, st, settings, RUN, abc_class=abc)
    smooth = plan_replenishment(
        fc.with_columns(demand_class=pl.lit("smooth")), inv, st, settings, RUN, abc_class=abc
    )
    mu, var = 10.5, 21 * (3 / 2.563) ** 2
    stats = pytest.importorskip("scipy.stats")
    nb_p = mu / var
    nb_r = mu * mu / (var - mu)
    expected = int(stats.nbinom.ppf(0.98, nb_r, nb_p))
    assert lumpy.replenishment["safety_stock_method"][0] == "quantile"
    assert lumpy.replenishment["order_up_to"][0] == expected
    z = 2.053749
    assert smooth.replenishment["safety_stock_method"][0] == "normal"
    assert smooth.replenishment["order_up_to"][0] == math.ceil(mu + z * math.sqrt(var))
    # The skewed count distribution needs more stock than the symmetric normal at 98%.
    assert expected > math.ceil(mu + z * math.sqrt(var))


def test_smooth_class_overrides_zero_median_heuristic() -> None:
    fc = intermittent_forecast().with_columns(demand_class=pl.lit("smooth"))
    p = plan_replenishment(fc, inventory([("S1", "W1", 0, 0, 0)]), terms(), BASE, RUN)
    assert p.replenishment["safety_stock_method"][0] == "normal"


def test_count_quantile_matches_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    mean = np.array([0.0, 0.3, 4.2, 10.5, 250.0, 900.0, 3.0])
    var = np.array([0.0, 0.3, 3.0, 28.77, 2000.0, 900.0, 30.0])
    q = np.array([0.95, 0.9, 0.95, 0.98, 0.9, 0.95, 0.5])
    got = count_quantile(mean, var, q)
    for m, v, qq, g in zip(mean, var, q, got, strict=True):
        if m == 0:
            assert g == 0
        elif v <= m:
            assert g == stats.poisson.ppf(qq, m)
        else:
            assert g == stats.nbinom.ppf(qq, m * m / (v - m), m / v)


def open_pos(rows: list[tuple[str, int, date]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(po, "SUP1", "S1", "W1", qty, exp) for po, qty, exp in rows],
        schema={
            "po_id": pl.String,
            "supplier_id": pl.String,
            "sku": pl.String,
            "location_id": pl.String,
            "quantity_open": pl.Int64,
            "expected_at": pl.Date,
        },
        orient="row",
    )


def test_open_pos_counted_by_arrival_date() -> None:
    # L = 14, R = 7. Day 5: in full. Day 17: (21 - 17) / 7 = 4/7 of 70 = 40. Day 30: nothing.
    pos = open_pos(
        [
            ("PO-1", 50, RUN + timedelta(days=5)),
            ("PO-2", 70, RUN + timedelta(days=17)),
            ("PO-3", 30, RUN + timedelta(days=30)),
        ]
    )
    p = plan_replenishment(
        forecast(),
        inventory([("S1", "W1", 112, 40, 150)]),
        terms(),
        BASE,
        RUN,
        open_purchase_orders=pos,
    )
    rep = p.replenishment.row(0, named=True)
    assert rep["on_order"] == 90
    assert rep["inventory_position"] == 72 + 90
    line = p.po_suggestions.row(0, named=True)
    assert "60 more on order arrive too late to count in full" in line["reason"]
    # Stock 72 - 10/day; +50 on day 5 -> first negative at end of day 12 (72 + 50 - 130).
    assert line["projected_stockout_date"] == RUN + timedelta(days=12)
    assert line["suggested_qty"] == 72  # 226 - 162 = 64 -> MOQ 50 -> 6 cases


def test_overdue_po_counts_fully_and_design_shape_is_accepted() -> None:
    design = pl.DataFrame(
        {
            "po_id": ["PO-1", "PO-2", "PO-3"],
            "supplier_id": ["SUP1"] * 3,
            "sku": ["S1"] * 3,
            "location_id": ["W1"] * 3,
            "quantity_ordered": [100, 40, 500],
            "quantity_received": [20, 0, 0],
            "ordered_at": [RUN - timedelta(days=30)] * 3,
            "expected_at": [RUN - timedelta(days=2)] * 3,
            "status": ["partial", "open", "cancelled"],
        }
    )
    norm = normalize_open_purchase_orders(design)
    assert norm["quantity_open"].to_list() == [80, 40]
    p = plan_replenishment(
        forecast(),
        inventory([("S1", "W1", 0, 0, 0)]),
        terms(),
        BASE,
        RUN,
        open_purchase_orders=design,
    )
    assert p.replenishment["on_order"][0] == 120


def test_projection_with_and_without_order() -> None:
    p = plan_replenishment(
        forecast(),
        inventory([("S1", "W1", 50, 0, 0)]),
        terms(),
        BASE,
        RUN,
    )
    line = p.po_suggestions.row(0, named=True)
    proj = p.projection
    assert proj.columns == PROJECTION_COLUMNS
    assert proj.height == 56
    day0 = proj.row(0, named=True)
    assert day0["stock_without_order"] == pytest.approx(40.0)
    d14 = proj.filter(pl.col("period_start") == RUN + timedelta(days=14)).row(0, named=True)
    assert d14["stock_without_order"] == pytest.approx(50 - 150)
    assert d14["stock_with_order"] == pytest.approx(50 - 150 + line["suggested_qty"])
