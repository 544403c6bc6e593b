"""End to end on synthetic daily demand: series, censoring, selection, fallback, outputs."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from forecasting import models as M
from forecasting.engine import (
    ACCURACY_COLUMNS,
    FORECAST_COLUMNS,
    ForecastSettings,
    accuracy_summary,
    forecast_all,
    forecast_batch,
    iter_batches,
    naive_forecast,
    to_daily,
    weekday_profile,
)
from forecasting.series import build_series

pytestmark = pytest.mark.fast  # make test-fast

FIRST_MONDAY = date(2023, 1, 2)


def daily_from_weekly(
    weekly: dict[tuple[str, str], np.ndarray],
    stockout_weeks: dict[tuple[str, str], list[int]] | None = None,
    start_week: dict[tuple[str, str], int] | None = None,
    returns: int = 0,
) -> pl.DataFrame:
    """``daily_demand``: each week's units on its Monday; stockout weeks sell nothing."""
    rows = []
    for (sku, loc), values in weekly.items():
        out = set((stockout_weeks or {}).get((sku, loc), []))
        for w, v in enumerate(values):
            if w < (start_week or {}).get((sku, loc), 0):
                continue
            for dday in range(7):
                so = w in out
                units = 0 if so else (int(v) if dday == 0 else 0)
                day = FIRST_MONDAY + timedelta(weeks=w, days=dday)
                rows.append((day, sku, loc, units, returns if units else 0, so))
    return pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "sku": pl.String,
            "location_id": pl.String,
            "units_ordered": pl.Int64,
            "units_returned": pl.Int64,
            "is_stockout": pl.Boolean,
        },
        orient="row",
    )


def after(weeks: int) -> date:
    return FIRST_MONDAY + timedelta(weeks=weeks)


def chosen(acc: pl.DataFrame, sku: str) -> str:
    return acc.filter((pl.col("sku") == sku) & pl.col("chosen"))["model"].item()


@pytest.fixture(scope="module")
def mixed():
    rng = np.random.default_rng(7)
    t = 104
    weekly = {}
    for i in range(6):
        weekly[(f"SM-{i}", "WH")] = rng.poisson(30 + 5 * i, t)
        weekly[(f"IN-{i}", "WH")] = np.where(rng.random(t) < 0.25, rng.poisson(4, t) + 1, 0)
    weekly[("NEW-1", "WH")] = np.r_[np.zeros(t - 3), [3, 5, 4]]
    daily = daily_from_weekly(weekly, start_week={("NEW-1", "WH"): t - 3})
    products = pl.DataFrame(
        {
            "sku": [k[0] for k in weekly],
            "category": ["a" if k[0].startswith(("SM", "NEW")) else "b" for k in weekly],
        }
    )
    fc, acc = forecast_all(daily, after(t), ForecastSettings(), workers=1, products=products)
    return daily, products, fc, acc


def test_weekly_series_censoring_and_returns():
    weekly = {("A", "WH"): np.full(20, 14)}
    daily = daily_from_weekly(weekly, stockout_weeks={("A", "WH"): [10]}, returns=5)
    # partial stockout: Thursday to Sunday of week 12 (Monday's 14 units sold before)
    daily = daily.with_columns(
        is_stockout=pl.col("is_stockout")
        | ((pl.col("date") >= after(12) + timedelta(days=3)) & (pl.col("date") < after(13)))
    )
    s = build_series(daily, after(20) + timedelta(days=2))  # a Wednesday
    assert s["period_start"].dt.weekday().unique().to_list() == [1]  # Mondays
    assert s["period_days"].unique().to_list() == [7]
    assert s.height == 20  # the run date's own week is not history
    wk = dict(zip(s["period_start"], s["units"], strict=True))
    assert wk[after(10)] is None  # censored: missing, not zero
    assert s.filter(pl.col("period_start") == after(10))["imputed"].item() == pytest.approx(14)
    assert wk[after(12)] == pytest.approx(14 * 7 / 3)  # scaled from its 3 open days
    assert wk[after(5)] == 14  # returns do not reduce demand


def test_censored_periods_raise_the_forecast_as_they_should():
    rng = np.random.default_rng(11)
    values = rng.poisson(20, 60)
    outs = list(range(40, 60, 3))
    weekly = {("A", "WH"): values}
    flagged = daily_from_weekly(weekly, stockout_weeks={("A", "WH"): outs})
    unflagged = flagged.with_columns(is_stockout=pl.lit(False))
    fc_c, _ = forecast_all(flagged, after(60), workers=1)
    fc_z, _ = forecast_all(unflagged, after(60), workers=1)
    m_c, m_z = fc_c["mean"].mean(), fc_z["mean"].mean()
    assert m_c == pytest.approx(20, rel=0.15)  # close to true demand
    assert m_z < m_c - 3  # counting stockouts as zero demand drags the forecast down


def test_outputs_shape(mixed):
    _, _, fc, acc = mixed
    assert fc.columns == FORECAST_COLUMNS
    assert acc.columns == ACCURACY_COLUMNS
    n_series = 13
    assert fc.select("sku", "location_id").n_unique() == n_series
    assert fc.height == n_series * 13
    assert fc["period_start"].min() == after(104)
    assert set(fc["period_start"].dt.weekday().unique()) == {1}
    assert (fc["period_days"] == 7).all()
    per_series = acc.group_by("sku", "location_id").agg(
        chosen=pl.col("chosen").sum(), sn=(pl.col("model") == M.SEASONAL_NAIVE).sum()
    )
    assert (per_series["chosen"] == 1).all()
    # seasonal naive where a year of history exists (not for the 3-week-old NEW-1)
    sn_skus = set(per_series.filter(pl.col("sn") == 1)["sku"])
    assert sn_skus == {k for k in per_series["sku"] if k != "NEW-1"}
    # the forecast's model is the chosen one
    j = (
        fc.select("sku", "model")
        .unique()
        .join(acc.filter("chosen").select("sku", chosen_model="model"), on="sku")
    )
    assert (j["model"] == j["chosen_model"]).all()
    assert ((fc["p10"] <= fc["p50"]) & (fc["p50"] <= fc["p90"])).all()
    assert (fc["p10"] >= 0).all()


def test_classes_and_new_items_borrow_the_category(mixed):
    _, _, fc, acc = mixed
    classes = dict(acc.filter("chosen").select("sku", "demand_class").iter_rows())
    assert all(classes[f"SM-{i}"] == "smooth" for i in range(6))
    assert all(classes[f"IN-{i}"] in ("intermittent", "lumpy") for i in range(6))
    assert classes["NEW-1"] == "new"
    assert chosen(acc, "NEW-1") == M.NEW_ITEM
    new_mean = fc.filter(pl.col("sku") == "NEW-1")["mean"][0]
    # close to its own ~4 a week, not pulled towards the category's established ~42
    assert 4 / 1.5 < new_mean < 4 * 1.5
    assert all(chosen(acc, f"IN-{i}") != M.ETS_DAMPED for i in range(6))


def test_selection_picks_trend_model_on_a_clear_trend():
    t = 90
    rng = np.random.default_rng(3)
    weekly = {("TR", "WH"): np.round(20 + 1.5 * np.arange(t) + rng.normal(0, 2, t))}
    weekly[("FLAT", "WH")] = rng.poisson(25, t)
    fc, acc = forecast_all(daily_from_weekly(weekly), after(t), workers=1)
    assert chosen(acc, "TR") in (M.ETS_DAMPED,)
    # the trend is carried forward (beyond the last level), unlike the flat baselines
    assert fc.filter(pl.col("sku") == "TR")["mean"][-1] > 20 + 1.5 * (t - 1)
    assert chosen(acc, "FLAT") != M.SEASONAL_NAIVE
    sn = acc.filter((pl.col("sku") == "TR") & (pl.col("model") == M.SEASONAL_NAIVE))
    best = acc.filter((pl.col("sku") == "TR") & pl.col("chosen"))
    assert best["mase"].item() < sn["mase"].item()


def test_selection_picks_seasonal_naive_on_an_exact_repeating_season():
    t = 160
    season = np.round(30 + 20 * np.sin(2 * np.pi * np.arange(52) / 52) + np.arange(52) % 5)
    weekly = {("SEAS", "WH"): np.tile(season, 4)[:t]}
    _, acc = forecast_all(daily_from_weekly(weekly), after(t), workers=1)
    row = acc.filter(pl.col("chosen"))
    assert row["model"].item() in (M.SEASONAL_NAIVE, M.ETS_SEASONAL)
    assert row["mase"].item() < 0.05


def test_failed_fits_fall_back_cleanly(monkeypatch):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    t = 90
    rng = np.random.default_rng(3)
    weekly = {("TR", "WH"): np.round(20 + 1.5 * np.arange(t) + rng.normal(0, 2, t))}
    daily = daily_from_weekly(weekly)

    def boom(self, *a, **k):
        raise ValueError("optimizer exploded")

    monkeypatch.setattr(ExponentialSmoothing, "fit", boom)
    fc, acc = forecast_all(daily, after(t), workers=1)
    assert not acc["model"].str.starts_with("ets").any()  # failed models are not candidates
    assert acc["chosen"].sum() == 1
    assert fc.height == 13 and fc["mean"].is_not_null().all()
    assert fc["model"][0] in M.FALLBACK_ORDER
    # the test hook reaches the same state without monkeypatching
    s = build_series(daily, after(t))
    fc2, acc2 = forecast_batch(
        s, after(t), _fail_models=frozenset({M.ETS_SES, M.ETS_DAMPED, M.ETS_SEASONAL})
    )
    assert fc2.equals(fc) and acc2.equals(acc)


def test_reproducible_and_independent_of_batching(mixed):
    daily, products, fc, acc = mixed
    done = []  # the progress hook fires once per batch (13 series in batches of 4)
    fc2, acc2 = forecast_all(
        daily, after(104), ForecastSettings(batch_size=4), workers=2, products=products,
        on_batch=lambda: done.append(1),
    )  # fmt: skip
    assert fc2.equals(fc)
    assert acc2.equals(acc)
    assert len(done) == 4
    s = build_series(daily, after(104), products=products)
    assert sum(b.select("sku").n_unique() for b in iter_batches(s, 5)) == 13


def test_backtest_coverage_on_poisson():
    rng = np.random.default_rng(9)
    weekly = {(f"P{i}", "WH"): rng.poisson(rng.uniform(1, 40), 100) for i in range(40)}
    _, acc = forecast_all(daily_from_weekly(weekly), after(100), workers=1)
    summ = accuracy_summary(acc)
    cov = summ.filter((pl.col("scope") == "overall") & (pl.col("model_set") == "chosen"))
    assert 0.7 <= cov["coverage_p10_p90"].item() <= 0.95
    assert set(summ["scope"]) >= {"overall"}
    # calibrated out of sample too: forecast 13 weeks, compare with fresh Poisson draws
    rng2 = np.random.default_rng(10)
    lam = {k: v.mean() for k, v in weekly.items()}
    fc, _ = forecast_all(daily_from_weekly(weekly), after(100), workers=1)
    y = np.array([rng2.poisson(lam[(s, "WH")]) for s in fc["sku"]])
    inside = ((fc["p10"].to_numpy() <= y) & (y <= fc["p90"].to_numpy())).mean()
    assert 0.7 <= inside <= 0.95


def test_to_daily_keeps_the_daily_contract(mixed):
    daily, _, fc, _ = mixed
    run = after(104) + timedelta(days=2)  # a Wednesday: the week's first two days are past
    d = to_daily(fc, run, 56, weekday_profile(daily, run))
    base, _ = naive_forecast(daily, run, 56)
    assert set(base.columns) <= set(d.columns)
    assert d["period_start"].min() == run
    assert d.group_by("sku", "location_id").len()["len"].unique().to_list() == [56]
    assert (d["period_days"] == 1).all()
    assert ((d["p10"] <= d["p50"]) & (d["p50"] <= d["p90"])).all()
    flat = to_daily(fc)
    wk = (
        flat.with_columns(pl.col("period_start").dt.truncate("1w"))
        .group_by("sku", "location_id", "period_start")
        .agg(pl.col("mean").sum())
    )
    j = wk.join(fc, on=["sku", "location_id", "period_start"])
    np.testing.assert_allclose(j["mean"].to_numpy(), j["mean_right"].to_numpy())


def test_improbable_zero_run_tells_a_pause_from_a_slow_item():
    from forecasting.classify import improbable_zero_run

    rng = np.random.default_rng(3)
    steady = np.r_[rng.poisson(30, 60), np.zeros(8)].astype(float)  # sold 30 a week, then 8 x 0
    slow = np.where(rng.random(68) < 0.4, 1.0, 0.0)
    slow[-8:] = 0.0  # 8 zero weeks are common enough for an item selling 40% of weeks
    two = np.r_[rng.poisson(30, 65), [0.0, 0.0, 0.0]]  # a steady seller's 3 zero weeks: rare
    one = np.r_[rng.poisson(30, 67), [0.0]]  # one zero week is never a run
    gap = steady.copy()
    gap[-4] = np.nan  # a censored period inside the run neither breaks nor lengthens it
    y = np.vstack([steady, slow, two, one, gap, np.zeros(68)])
    assert improbable_zero_run(y).tolist() == [True, False, True, False, True, False]


def test_an_active_item_with_an_unlikely_zero_run_is_not_forecast_at_zero():
    """A steady seller with eight weeks of zeros the data does not flag as a stockout (a pause,
    an unflagged stockout) is still active: no zero forecast, and a band that admits sales. A
    slow item's equally long run of zero weeks is chance, and the selection is left free."""
    rng = np.random.default_rng(5)
    t = 80
    steady = np.r_[rng.poisson(30, t - 8), np.zeros(8)]
    slow = np.where(rng.random(t) < 0.35, rng.poisson(2, t) + 1, 0)
    slow[-8:] = 0
    daily = daily_from_weekly({("ST", "WH"): steady, ("SL", "WH"): slow})
    fc, acc = forecast_all(daily, after(t), ForecastSettings(), workers=1)
    st = fc.filter(pl.col("sku") == "ST")
    assert st["mean"].min() > 0
    assert st["p90"].max() > 0
    cls = acc.filter(pl.col("chosen")).select("sku", "demand_class")
    assert dict(cls.iter_rows())["ST"] == "smooth"
    # restricted to the 4-week average, which forecasts the run's zeros, the steady seller
    # falls back to another model; the slow item keeps it
    fc4, acc4 = forecast_all(
        daily, after(t), ForecastSettings(models=(M.MOVING_AVERAGE_4,)), workers=1
    )
    assert chosen(acc4, "ST") != M.MOVING_AVERAGE_4
    assert fc4.filter(pl.col("sku") == "ST")["mean"].min() > 0
    assert chosen(acc4, "SL") == M.MOVING_AVERAGE_4


def test_return_hazard_counts_how_past_improbable_runs_ended():
    from forecasting.classify import return_hazard, return_probability

    rng = np.random.default_rng(11)
    back = np.r_[rng.poisson(20, 40) + 1, np.zeros(5), rng.poisson(20, 15) + 1].astype(float)
    gone = np.r_[rng.poisson(20, 40) + 1, np.zeros(20)].astype(float)  # still silent at the end
    young = np.r_[rng.poisson(20, 10) + 1, np.zeros(5), rng.poisson(20, 45) + 1].astype(float)
    returns, at_risk = return_hazard(np.vstack([back, gone, young]))
    # the pause of 5 ended at length 5: one return there, none before it
    assert returns[5] == 1 and returns.sum() == 1
    # both established runs were at risk from length 3 (two zeros after 40 sales are still
    # chance enough) to 5, only the silent one beyond; the young item's run does not count (10
    # weeks say too little about its zero rate)
    assert at_risk[2:6].tolist() == [0, 2, 2, 2] and at_risk[6] == 1
    assert at_risk[19] == 1 and at_risk[20] == 0  # right-censored: the end is not a return
    q = return_probability(returns, at_risk, np.array([3.0, 6.0]), 4)
    np.testing.assert_allclose(q[0], [0.0, 0.0, 0.5, 0.5])  # half the runs at length 5 ended
    np.testing.assert_allclose(q[1], [0.0, 0.0, 0.0, 0.0])  # none ever ended beyond it


def test_a_paused_item_comes_back_as_the_stores_past_pauses_did():
    """Two stores, one steady seller silent for its last 10 weeks in each. In the first, four
    other items once paused for 12 weeks and came back: the paused item is forecast back at its
    level from the week such pauses ended. In the second, those items stopped for good and were
    watched for 50 silent weeks: such a pause does not end, and the item is forecast at 0."""
    rng = np.random.default_rng(21)
    t = 90
    target = np.r_[rng.poisson(20, t - 10), np.zeros(10)]

    def store(came_back: bool) -> dict:
        weekly = {("T", "WH"): target}
        for k in range(4):
            y = rng.poisson(20, t).astype(float)
            y[40:52] = 0
            if not came_back:
                y[40:] = 0
            weekly[(f"P{k}", "WH")] = y
        return weekly

    fcs = {}
    for came_back in (True, False):
        daily = daily_from_weekly(store(came_back))
        fc, _acc = forecast_all(daily, after(t), ForecastSettings(), workers=1)
        fcs[came_back] = fc.filter(pl.col("sku") == "T").sort("period_start")["mean"].to_numpy()
    level = target[: t - 10].mean()
    # the past pauses ended at length 12: from the third forecast week on, the level is back
    assert np.all(np.abs(fcs[True][2:] / level - 1) < 0.2)
    assert np.all(fcs[False] == 0)
    # the mixing uses the store's runs handed to the batch: with none, the chosen model alone
    s = build_series(daily_from_weekly(store(True)), after(t))
    no_runs = (np.zeros(t + 1), np.zeros(t + 1))
    fc_plain, _ = forecast_batch(s, after(t), ForecastSettings(), returns=no_runs)
    plain = fc_plain.filter(pl.col("sku") == "T").sort("period_start")["mean"].to_numpy()
    assert np.all(plain[2:] < 0.5 * fcs[True][2:])


def test_eventual_return_knows_only_what_the_stores_runs_watched():
    from forecasting.classify import eventual_return

    at_risk = np.zeros(30)
    returns = np.zeros(30)
    at_risk[3:20] = 4  # four runs watched from length 3 to 19 ...
    returns[12] = 2  # ... two of them ended at length 12
    at_risk[13:20] = 2
    ever = eventual_return(returns, at_risk, np.array([5.0, 15.0, 19.0, 25.0]))
    # before 12: half came back; after 12 none of the rest did; at or beyond the longest run
    # watched nothing is known: 1 (the chosen model's forecast stands)
    np.testing.assert_allclose(ever, [0.5, 0.0, 1.0, 1.0])
