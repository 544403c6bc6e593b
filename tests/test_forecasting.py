"""The naive baseline: the forecast engine restricted to seasonal naive and moving average.

Daily series with a known answer (``forecasting.engine.naive_forecast``, the simulation's
forecaster), and the dense demand grid the series are built from (censoring, quiet days).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import polars as pl
import pytest

from forecasting import models as M
from forecasting.engine import NAIVE_MODELS, naive_forecast
from forecasting.schemas import ACCURACY_COLUMNS, FORECAST_COLUMNS
from forecasting.series import history_grid

pytestmark = pytest.mark.fast  # make test-fast

RUN = date(2026, 11, 25)  # a Wednesday
START = date(2026, 6, 1)
PATTERN = [5, 8, 10, 12, 20, 30, 15]  # Monday .. Sunday
SCHEMA = {
    "date": pl.Date,
    "sku": pl.String,
    "location_id": pl.String,
    "units_ordered": pl.Int64,
    "units_returned": pl.Int64,
    "revenue": pl.Decimal(18, 2),
    "is_stockout": pl.Boolean,
}


def demand(rows: list[tuple[date, str, str, int, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(d, s, loc, u, 0, Decimal(u) * Decimal("9.99"), so) for d, s, loc, u, so in rows],
        schema=SCHEMA,
        orient="row",
    )


def days(start: date = START, end: date = RUN) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def periodic(sku: str = "P", loc: str = "W1") -> list[tuple[date, str, str, int, bool]]:
    return [(d, sku, loc, PATTERN[d.weekday()], False) for d in days()]


def test_periodic_series_forecast_repeats_weekly_pattern() -> None:
    fc, acc = naive_forecast(demand(periodic()), RUN, 56)
    assert fc.columns == FORECAST_COLUMNS
    assert fc.height == 56
    assert fc["period_start"].to_list() == [RUN + timedelta(days=i) for i in range(56)]
    expected = [float(PATTERN[d.weekday()]) for d in fc["period_start"].to_list()]
    assert fc["mean"].to_list() == pytest.approx(expected)
    assert set(fc["model"]) == {"seasonal_naive"}
    assert set(fc["run_date"]) == {RUN}
    assert (fc["period_days"] == 1).all()
    # No forecast error: the band is the count's own (Poisson) spread around the pattern.
    assert ((fc["p10"] <= fc["mean"]) & (fc["mean"] <= fc["p90"])).all()
    assert acc.columns == ACCURACY_COLUMNS


def test_only_the_naive_models_compete() -> None:
    rng = np.random.default_rng(5)
    rows = [(d, "N", "W1", int(rng.poisson(3)), False) for d in days()]
    _, acc = naive_forecast(demand(rows + periodic()), RUN, 28)
    assert set(acc.filter("chosen")["model"]) <= set(NAIVE_MODELS)
    # the reported baselines are scored beside them, never chosen
    assert set(acc["model"]) == {*NAIVE_MODELS, *M.BASELINES}
    assert acc.group_by("sku").agg(pl.col("chosen").sum())["chosen"].to_list() == [1, 1]


def test_stockout_days_are_missing_not_zero() -> None:
    rows = periodic()
    # The last two Fridays (Friday demand is 20) were stockouts with almost no sales.
    fridays = {RUN - timedelta(days=5), RUN - timedelta(days=12)}
    rows = [(d, s, loc, 1 if d in fridays else u, d in fridays) for d, s, loc, u, _ in rows]
    grid = history_grid(demand(rows), RUN - timedelta(days=28), RUN)
    censored = grid.filter(pl.col("date").is_in(list(fridays)))
    assert censored["units"].null_count() == 2
    fc, acc = naive_forecast(demand(rows), RUN, 14)
    # The Friday a week back was censored: its imputed demand (the mean of the observed days
    # among the 8 before it: Thursday back to Thursday, the censored Friday skipped) stands
    # in, not the 1 unit sold.
    friday = fc.filter(pl.col("period_start").dt.weekday() == 5)
    imputed = sum(PATTERN[w] for w in (3, 2, 1, 0, 6, 5, 3)) / 7
    assert friday["mean"].to_list() == pytest.approx([imputed] * friday.height)
    # Scored on observed days only: the pattern is still forecast without error.
    sn = acc.filter(pl.col("model") == "seasonal_naive").row(0, named=True)
    assert sn["chosen"] is True


def test_missing_days_are_zero_demand_after_first_sale() -> None:
    # Sparse mart: only Saturdays appear (30 units); other days are zero-demand days.
    rows = [(d, "S", "W1", 30, False) for d in days() if d.weekday() == 5]
    grid = history_grid(demand(rows), RUN - timedelta(days=28), RUN)
    assert grid.height == 28 and grid["units"].sum() == 4 * 30
    fc, _ = naive_forecast(demand(rows), RUN, 56)
    sat = fc.filter(pl.col("period_start").dt.weekday() == 6)
    other = fc.filter(pl.col("period_start").dt.weekday() != 6)
    assert sat["mean"].to_list() == pytest.approx([30.0] * sat.height)
    assert other["mean"].to_list() == pytest.approx([0.0] * other.height)


def test_quantiles_ordered_and_non_negative() -> None:
    rng = np.random.default_rng(7)
    rows = []
    for d in days():
        rows.append((d, "HI", "W1", int(rng.poisson(3 * PATTERN[d.weekday()])), False))
        rows.append((d, "LO", "W1", int(rng.poisson(0.3)), False))
        rows.append((d, "NB", "W2", int(rng.negative_binomial(1, 0.1)), bool(rng.random() < 0.1)))
    fc, _ = naive_forecast(demand(rows), RUN, 56)
    assert fc.height == 3 * 56
    assert fc.filter(pl.col("p10") < 0).height == 0
    assert fc.filter(pl.col("p10") > pl.col("p50")).height == 0
    assert fc.filter(pl.col("p50") > pl.col("p90")).height == 0
    assert fc.filter(pl.col("mean") < 0).height == 0
    # Noisy series get a real interval, in whole units (what a buyer can stock).
    hi = fc.filter(pl.col("sku") == "HI")
    assert (hi["p90"] - hi["p10"]).min() > 0
    assert all(float(v).is_integer() for v in fc["p90"].to_list())


def test_no_history_before_run_date_gives_empty_forecast() -> None:
    rows = [(RUN + timedelta(days=1), "F", "W1", 3, False)]
    fc, acc = naive_forecast(demand(rows), RUN)
    assert fc.height == 0 and acc.height == 0
    assert fc.columns == FORECAST_COLUMNS
    assert acc.columns == ACCURACY_COLUMNS


def test_backtest_chooses_seasonal_naive_for_weekly_series() -> None:
    _, acc = naive_forecast(demand(periodic()), RUN)
    assert acc.height == 4  # the two candidates and the two reported baselines
    sn = acc.filter(pl.col("model") == "seasonal_naive").row(0, named=True)
    ma = acc.filter(pl.col("model") == "moving_average").row(0, named=True)
    assert sn["mase"] == pytest.approx(0.0)
    assert sn["wape"] == pytest.approx(0.0)
    assert sn["bias"] == pytest.approx(0.0)
    assert sn["coverage_p10_p90"] == pytest.approx(1.0)
    assert ma["mase"] > 0.5
    assert sn["chosen"] is True
    assert ma["chosen"] is False


def test_backtest_chooses_moving_average_for_flat_noisy_series() -> None:
    rng = np.random.default_rng(11)
    rows = [(d, "N", "W1", int(rng.poisson(20)), False) for d in days()]
    fc, acc = naive_forecast(demand(rows), RUN)
    by_model = {r["model"]: r for r in acc.iter_rows(named=True)}
    assert by_model["moving_average"]["mase"] < by_model["seasonal_naive"]["mase"]
    assert by_model["moving_average"]["chosen"] is True
    assert by_model["seasonal_naive"]["chosen"] is False
    assert set(fc["model"]) == {"moving_average"}
    assert fc["mean"].n_unique() == 1 and 17 < fc["mean"][0] < 23  # flat, near 20


def test_backtest_one_choice_per_series_and_handles_all_zero_series() -> None:
    rows = periodic("P") + [(d, "Z", "W1", 0, False) for d in days()]
    fc, acc = naive_forecast(demand(rows), RUN)
    chosen = acc.group_by("sku").agg(pl.col("chosen").sum()).sort("sku")
    assert chosen["chosen"].to_list() == [1, 1]
    zero = acc.filter(pl.col("sku") == "Z")
    # Nothing sold and nothing to scale by: metrics undefined rather than divided by zero.
    assert zero["mase"].null_count() == 4
    assert zero["wape"].null_count() == 4
    assert fc.filter(pl.col("sku") == "Z")["p90"].to_list() == [0.0] * 56


def test_forecast_is_fast_enough_for_many_series() -> None:
    import time

    rng = np.random.default_rng(3)
    n_series = 500
    dates = days(RUN - timedelta(days=120))
    frame = pl.DataFrame(
        {
            "date": np.tile(np.array(dates, dtype="datetime64[D]"), n_series),
            "sku": np.repeat([f"S{i:04d}" for i in range(n_series)], len(dates)),
            "location_id": "W1",
            "units_ordered": rng.poisson(4, n_series * len(dates)),
            "units_returned": 0,
            "revenue": pl.Series(
                [Decimal("1.00")] * (n_series * len(dates)), dtype=pl.Decimal(18, 2)
            ),
            "is_stockout": rng.random(n_series * len(dates)) < 0.05,
        }
    ).with_columns(pl.col("date").cast(pl.Date), pl.col("units_ordered").cast(pl.Int64))
    t0 = time.perf_counter()
    fc, acc = naive_forecast(frame, RUN)
    assert fc.height == n_series * 56
    assert acc.filter(pl.col("chosen")).height == n_series
    assert time.perf_counter() - t0 < 10
