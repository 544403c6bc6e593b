"""New items, short histories and honest baselines (issue 15), on small hand-made stores.

The store these mimic: no product categories (every SKU in "(none)"), established items selling
tens a week, and small newcomers selling 1-2 a week. The old engine pulled the newcomers towards
the store-wide level and scaled a first partial week up to a full one.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from forecasting import models as M
from forecasting.engine import (
    NAIVE_MODELS,
    ForecastSettings,
    accuracy_summary,
    forecast_all,
    launch_backtest,
)
from forecasting.schemas import DAILY_DEMAND_INPUT
from forecasting.series import build_series

pytestmark = pytest.mark.fast

MONDAY = date(2025, 1, 6)
SCHEMA = DAILY_DEMAND_INPUT


def _daily(rows: list[tuple[date, str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(d, sku, "WH", u, False) for d, sku, u in rows], schema=SCHEMA, orient="row"
    )


def _store(weeks: int, seed: int = 3) -> list[tuple[date, str, int]]:
    """Established items selling ~20-40 a week, one row a day, from the first Monday."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(12):
        rate = (20 + 2 * i) / 7
        for d in range(7 * weeks):
            rows.append((MONDAY + timedelta(days=d), f"OLD-{i:02d}", int(rng.poisson(rate))))
    return rows


def test_first_week_is_not_inflated_nor_censored() -> None:
    run = MONDAY + timedelta(weeks=4)
    friday = MONDAY + timedelta(days=4)
    sunday = MONDAY + timedelta(days=6)
    rows = [(friday, "FRI", 1), (sunday, "SUN", 2)]
    rows += [(MONDAY + timedelta(weeks=w), sku, 1) for w in (1, 2, 3) for sku in ("FRI", "SUN")]
    s = build_series(_daily(rows), run)
    first = s.filter(pl.col("period_start") == MONDAY).sort("sku")
    # one unit sold on a Friday is one unit that week, not 7 / 3 of it
    assert first["units"].to_list() == [1.0, 2.0]
    assert not first["censored"].any()  # a first sale on Sunday is not a censored week
    assert s.group_by("sku").len()["len"].to_list() == [4, 4]


def test_new_small_item_is_forecast_near_what_it_sold() -> None:
    weeks = 60
    rows = _store(weeks)
    run = MONDAY + timedelta(weeks=weeks)
    # past launches: small items that kept selling about what they sold at first
    rng = np.random.default_rng(9)
    for j in range(6):
        start = 20 + 5 * j
        for d in range(7 * start, 7 * weeks):
            rows.append((MONDAY + timedelta(days=d), f"LAUNCH-{j}", int(rng.poisson(2 / 7))))
    # the newcomers: 1-2 a week over their first 3-5 weeks
    new_sales = {"NEW-A": [1, 2, 1, 2], "NEW-B": [2, 1, 1], "NEW-C": [1, 1, 2, 1, 2]}
    for sku, sales in new_sales.items():
        first = weeks - len(sales)
        for w, u in enumerate(sales):
            rows.append((MONDAY + timedelta(weeks=first + w, days=2), sku, u))
    fc, acc = forecast_all(_daily(rows), run, ForecastSettings(), workers=1)
    for sku, sales in new_sales.items():
        sold = float(np.mean(sales))
        mean = fc.filter(pl.col("sku") == sku)["mean"].mean()
        assert isinstance(mean, float)
        assert sold / 1.5 <= mean <= sold * 1.5, (sku, sold, mean)
        row = acc.filter((pl.col("sku") == sku) & pl.col("chosen"))
        assert row["demand_class"].item() == "new"
    # the band is wider than the old items' relative band, the mean is not moved
    new_fc = fc.filter(pl.col("sku").str.starts_with("NEW")).head(1)
    assert new_fc["p90"].item() >= 2 * new_fc["mean"].item()


def test_forty_weeks_report_seasonal_naive_as_not_available() -> None:
    weeks = 40
    rows = _store(weeks)
    fc, acc = forecast_all(_daily(rows), MONDAY + timedelta(weeks=weeks), workers=1)
    assert fc.height > 0
    assert acc.filter(pl.col("model") == M.SEASONAL_NAIVE).height == 0
    assert not (acc["model"] == M.SEASONAL_NAIVE).any()
    summary = accuracy_summary(acc)
    sn = summary.filter((pl.col("scope") == "overall") & (pl.col("model_set") == "seasonal_naive"))
    assert sn["series"].item() == 0 and sn["mase_mean"].item() is None
    assert "not available" in sn["note"].item()
    # the other baselines are always there, with mean and median MASE and WAPE
    overall = summary.filter(pl.col("scope") == "overall")
    assert set(overall["model_set"]) == {"chosen", "naive", "moving_average_4", "seasonal_naive"}
    for m in ("chosen", "naive", "moving_average_4"):
        r = overall.filter(pl.col("model_set") == m).row(0, named=True)
        assert r["series"] == 12 and r["mase_mean"] > 0 and r["mase_median"] > 0 and r["wape"] > 0


def test_young_item_sees_the_stores_christmas_ramp() -> None:
    """An item younger than a year takes the store's seasonal shape (top-down index)."""
    weeks = 100  # the store has seen one Christmas; the run is in early December
    rng = np.random.default_rng(4)
    start = date(2024, 12, 30) - timedelta(weeks=weeks)
    rows = []

    def rate(d: date) -> float:  # a December ramp, three times the rest of the year
        return 3.0 if d.month == 12 else 1.0

    for i in range(15):
        for k in range(7 * weeks):
            d = start + timedelta(days=k)
            rows.append((d, f"OLD-{i:02d}", int(rng.poisson(rate(d) * 10 / 7))))
    for k in range(7 * (weeks - 30), 7 * (weeks - 4)):  # 26 weeks old at the run date
        d = start + timedelta(days=k)
        rows.append((d, "YOUNG", int(rng.poisson(rate(d) * 10 / 7))))
    run = start + timedelta(weeks=weeks - 4)  # early December
    assert run.month == 12 or (run + timedelta(days=7)).month == 12
    rows = [r for r in rows if r[0] < run]
    fc, acc = forecast_all(_daily(rows), run, ForecastSettings(horizon_periods=8), workers=1)
    young = fc.filter(pl.col("sku") == "YOUNG").sort("period_start")
    december = young.filter(pl.col("period_start").dt.month() == 12)["mean"].mean()
    january = young.filter(
        (pl.col("period_start").dt.month() == 1) & (pl.col("period_start").dt.day() > 7)
    )["mean"].mean()
    assert isinstance(december, float) and isinstance(january, float)
    assert december > 1.8 * january, (december, january)


def test_accuracy_table_says_when_no_year_of_history_exists(tmp_path) -> None:
    from forecasting.accuracy_table import accuracy_markdown

    weeks = 40
    _, acc = forecast_all(_daily(_store(weeks)), MONDAY + timedelta(weeks=weeks), workers=1)
    md = accuracy_markdown(acc)
    assert "No series has a year of history" in md
    assert "| overall | naive (last period) | 12 |" in md
    assert "| overall | moving average, 4 periods | 12 |" in md
    assert "| overall | seasonal naive (a season ago) | 0 | n/a | n/a | n/a |" in md


def test_launch_curve_is_measured_on_past_launches() -> None:
    from forecasting.series import launch_curve

    weeks = 60
    rows = _store(weeks)
    # past launches at one location: 1 a week for two weeks, then 3 a week (a ramp)
    for j in range(6):
        first = 10 + 3 * j
        for w in range(first, weeks):
            rows.append((MONDAY + timedelta(weeks=w), f"L-{j}", 1 if w < first + 2 else 3))
    s = build_series(_daily(rows), MONDAY + timedelta(weeks=weeks))
    curve = dict(launch_curve(s).select("age", "growth").iter_rows())
    assert curve[2] == pytest.approx(3.0)  # after two weeks at 1: three times that next
    assert curve[6] == pytest.approx((3 * 13) / (1 * 2 + 3 * 4) * 6 / 13, rel=1e-6)
    # a newcomer two weeks old at 1 a week is forecast along the store's curve
    rows.append((MONDAY + timedelta(weeks=weeks - 2), "NEW", 1))
    rows.append((MONDAY + timedelta(weeks=weeks - 1), "NEW", 1))
    run = MONDAY + timedelta(weeks=weeks)
    fc, _ = forecast_all(_daily(rows), run, ForecastSettings(launch_growth=True), workers=1)
    new_mean = fc.filter(pl.col("sku") == "NEW")["mean"][0]
    assert 2.0 < new_mean <= 3.0
    # off by default: its own 1 a week shrunk a third towards the launches' first weeks (2.7)
    fc, _ = forecast_all(_daily(rows), run, workers=1)
    assert fc.filter(pl.col("sku") == "NEW")["mean"][0] < 2.0


def _seasonal_store(launches_follow_the_season: bool) -> pl.DataFrame:
    """Three years of 12 items with a strong yearly season, and 24 launches spread over the
    last two years that either follow that season or sell at a flat rate from launch on."""
    rng = np.random.default_rng(21)
    weeks = 156
    season = 1.0 + 0.8 * np.sin(2 * np.pi * np.arange(weeks) / 52.0)
    rows = []
    for i in range(12):
        for w in range(weeks):
            units = int(rng.poisson((20 + i) * season[w]))
            rows.append((MONDAY + timedelta(weeks=w), f"OLD-{i:02d}", units))
    for j in range(24):
        launch = 52 + 4 * j
        for w in range(launch, weeks):
            rate = 3.0 * (season[w] if launches_follow_the_season else 1.0)
            rows.append((MONDAY + timedelta(weeks=w), f"NEW-{j:02d}", int(rng.poisson(rate)) + 1))
    return _daily(rows)


@pytest.mark.parametrize("follow", [True, False])
def test_past_launches_decide_whether_new_items_take_the_parents_season(follow: bool) -> None:
    daily = _seasonal_store(follow)
    run = MONDAY + timedelta(weeks=156)
    verdict = launch_backtest(build_series(daily, run), ForecastSettings())
    assert verdict["points"] > 100
    assert verdict["season"] is follow
    worse = verdict["mase_plain"] if follow else verdict["mase_season"]
    better = verdict["mase_season"] if follow else verdict["mase_plain"]
    assert better < worse
    # a run whose models forecast no new item (the naive baseline) does not pay for it
    naive = launch_backtest(build_series(daily, run), ForecastSettings(models=NAIVE_MODELS))
    assert naive["points"] == 0 and naive["season"] is True
    # forecast_all applies it: a batch on its own reaches the same verdict as the whole store
    fc, _ = forecast_all(daily, run, ForecastSettings(batch_size=8), workers=1)
    fc1, _ = forecast_all(daily, run, ForecastSettings(), workers=1)
    assert fc.equals(fc1)


def _launch_store(weeks: int, ramps: bool, launches: int = 30) -> list[tuple[date, str, int]]:
    """Established items plus ``launches`` weekly launches (one row a week, on Mondays) that
    either sell 1 a week for their first 4 weeks and 3 a week after (a ramp), or about 2 a
    week throughout (Poisson)."""
    rows = _store(weeks)
    rng = np.random.default_rng(5)
    for j in range(launches):
        first = 10 + j
        for w in range(first, weeks):
            units = (1 if w < first + 4 else 3) if ramps else int(rng.poisson(2.0))
            rows.append((MONDAY + timedelta(weeks=w), f"L-{j:02d}", units))
    return rows


def test_launch_ramp_is_measured_per_age_on_past_launches() -> None:
    weeks = 60
    run = MONDAY + timedelta(weeks=weeks)
    ramp = launch_backtest(
        build_series(_daily(_launch_store(weeks, True)), run), ForecastSettings()
    )["ramp"]
    assert ramp is not None and len(ramp) == ForecastSettings().new_periods
    # three weeks at 1, then 3 a week: the launches sold far more than their first weeks said
    assert ramp[3] == pytest.approx(2.0)  # the grid's top: the median week was 3, not 1
    # the older the launch, the more of the ramp its own weeks already show
    assert ramp[12] < ramp[7] < ramp[3]
    # launches that sell what they sold from the start: nothing to climb (a young item's few
    # noisy weeks are, if anything, trusted less: under absolute error that means lower)
    flat = launch_backtest(
        build_series(_daily(_launch_store(weeks, False)), run), ForecastSettings()
    )
    assert flat["ramp"] is not None and np.all(flat["ramp"] <= 1.0)
    assert np.all(ramp[2:] > flat["ramp"][2:])
    # too few launches to measure an age (fewer than RAMP_MIN_POINTS): factor 1
    few = launch_backtest(
        build_series(_daily(_launch_store(weeks, True, launches=8)), run), ForecastSettings()
    )
    assert few["ramp"] is not None and np.all(few["ramp"] == 1.0)


def test_new_item_follows_the_stores_launch_ramp() -> None:
    from forecasting.engine import forecast_batch
    from forecasting.series import parent_shape

    weeks = 60
    run = MONDAY + timedelta(weeks=weeks)
    s = ForecastSettings()
    for ramps in (True, False):
        rows = _launch_store(weeks, ramps)
        # a newcomer three weeks old, selling 1 a week
        rows += [(MONDAY + timedelta(weeks=w), "NEW", 1) for w in range(weeks - 3, weeks)]
        series = build_series(_daily(rows), run)
        parent = parent_shape(series)
        lb = launch_backtest(series, s, parent)
        kw = dict(parent=parent, new_season=lb["season"], returns=None)
        fc, acc = forecast_batch(series, run, s, new_ramp=lb["ramp"], **kw)
        plain, _ = forecast_batch(series, run, s, new_ramp=None, **kw)
        assert acc.filter(pl.col("chosen") & (pl.col("sku") == "NEW"))["model"][0] == M.NEW_ITEM
        new = fc.filter(pl.col("sku") == "NEW")["mean"].to_numpy()
        without = plain.filter(pl.col("sku") == "NEW")["mean"].to_numpy()
        # its forecast is the plain new-item forecast times the ramp at its age (3 weeks)
        assert new == pytest.approx(lb["ramp"][3] * without)
        if ramps:  # the store's launches tripled after such a start: twice the plain forecast
            assert lb["ramp"][3] == pytest.approx(2.0)
        else:  # the store's launches sold what they started at: no more than the plain one
            assert np.all(new <= without + 1e-9)
        # established items are not touched
        assert fc.filter(pl.col("sku") != "NEW").equals(plain.filter(pl.col("sku") != "NEW"))
        # forecast_all measures it once on the whole store: batching does not change it
        small, _ = forecast_all(_daily(rows), run, ForecastSettings(batch_size=7), workers=1)
        whole, _ = forecast_all(_daily(rows), run, s, workers=1)
        assert small.equals(whole)
        assert whole.filter(pl.col("sku") == "NEW")["mean"].to_numpy() == pytest.approx(new)
