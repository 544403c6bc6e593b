"""Promotions and overrides in the forecast (issue 18): forecasting/adjustments.py.

Pure tests on hand-made frames (``fast``): a past promotion's uplift is measured against its
surrounding days, the models are fitted on the history without it, a future promotion raises its
SKUs' forecast by that uplift (or by the calendar's own factor / units), an override replaces a
week and is marked, and the accuracy of both is reported once their weeks have passed. One test
lands both files through the real file sync and gate and reads them back from the staging models.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from forecasting.adjustments import (
    adjust_forecast,
    adjustment_accuracy,
    measure_uplift,
    prepare_history,
    promotion_days,
)
from forecasting.engine import ForecastSettings, forecast_all
from forecasting.schemas import DAILY_DEMAND_INPUT

RUN = date(2026, 6, 1)  # a Monday
START = RUN - timedelta(days=16 * 7)
PAST_PROMO = (date(2026, 4, 7), date(2026, 4, 10))  # Tue-Fri, 4 days
PRODUCTS = pl.DataFrame({"sku": ["A", "B", "C"], "category": ["toys", "toys", "garden"]})


def _demand(base: float = 10.0, promo_units: float = 20.0) -> pl.DataFrame:
    """10 a day for A, B, C at L1; A sells 20 a day on the past promotion's days."""
    rows = []
    d = START
    while d < RUN:
        for sku in ("A", "B", "C"):
            units = base
            if sku == "A" and PAST_PROMO[0] <= d <= PAST_PROMO[1]:
                units = promo_units
            rows.append((d, sku, "L1", int(units), False))
        d += timedelta(days=1)
    return pl.DataFrame(
        rows,
        schema=DAILY_DEMAND_INPUT,
        orient="row",
    )


def _calendar(*rows: dict) -> pl.DataFrame:
    base = {"sku": None, "category": None, "location_id": None, "uplift": None, "units": None}
    return pl.DataFrame(
        [{**base, **r} for r in rows],
        schema={
            "promotion_id": pl.String,
            "applies_to": pl.String,
            "sku": pl.String,
            "category": pl.String,
            "location_id": pl.String,
            "start_date": pl.Date,
            "end_date": pl.Date,
            "uplift": pl.Float64,
            "units": pl.Float64,
        },
    )


PAST = {
    "promotion_id": "SPRING",
    "applies_to": "sku",
    "sku": "A",
    "start_date": PAST_PROMO[0],
    "end_date": PAST_PROMO[1],
}
# Wed 10 and Thu 11 June: two days of the week of 8 June, for the whole toys category
FUTURE = {
    "promotion_id": "SUMMER",
    "applies_to": "category",
    "category": "toys",
    "start_date": date(2026, 6, 10),
    "end_date": date(2026, 6, 11),
}
WEEK = date(2026, 6, 8)
SETTINGS = ForecastSettings.for_horizon_days(28, models=("moving_average",))


def _forecast(demand: pl.DataFrame) -> pl.DataFrame:
    fc, _acc = forecast_all(demand, RUN, SETTINGS, workers=1, products=PRODUCTS)
    return fc


@pytest.mark.fast
def test_uplift_is_measured_against_the_surrounding_days():
    demand = _demand()
    keys = demand.select("sku", "location_id").unique().join(PRODUCTS, on="sku")
    days = promotion_days(_calendar(PAST), keys, end=RUN)
    assert days.height == 4 and set(days["sku"]) == {"A"}
    up = measure_uplift(demand, days, RUN, PRODUCTS).sort("sku")
    got = {r["sku"]: (r["measured_uplift"], r["uplift_source"]) for r in up.to_dicts()}
    # A: 4 days x 20 against 4 x 10 expected; B borrows its category's; C has none measured
    assert got["A"] == (pytest.approx(2.0), "series")
    assert got["B"] == (pytest.approx(2.0), "category")
    assert got["C"] == (pytest.approx(2.0), "location")
    # too little expected demand at every level: nothing measured
    thin = measure_uplift(demand, days, RUN, PRODUCTS, min_expected=1000.0)
    assert set(thin["uplift_source"]) == {"none"} and set(thin["measured_uplift"]) == {1.0}


@pytest.mark.fast
def test_past_promotion_does_not_inflate_the_fitted_level():
    demand = _demand()
    plain = _forecast(demand)
    prepared = prepare_history(demand, RUN, _calendar(PAST), PRODUCTS)
    clean = _forecast(prepared.fit_demand)
    assert prepared.past_promotion_days == 4
    a = pl.col("sku") == "A"
    # the moving average of 8 weeks: the promotion week (4 days x 20) lifts it without the
    # exclusion; with it, that week is its other 3 days scaled to 7: 70 a week, as every week
    assert clean.filter(a)["mean"].to_list() == pytest.approx([70.0] * clean.filter(a).height)
    assert plain.filter(a)["mean"][0] > 70.0


@pytest.mark.fast
def test_future_promotion_raises_its_skus_by_the_measured_uplift():
    demand = _demand()
    prepared = prepare_history(demand, RUN, _calendar(PAST), PRODUCTS)
    cal = _calendar(PAST, FUTURE)
    fc = adjust_forecast(
        _forecast(prepared.fit_demand), cal, uplift=prepared.uplift, products=PRODUCTS
    )
    week = fc.filter(pl.col("period_start") == WEEK).sort("sku")
    by = {r["sku"]: r for r in week.to_dicts()}
    for sku in ("A", "B"):  # toys: 2 of 7 days at uplift 2 -> 70 x (1 + 2/7)
        assert by[sku]["unadjusted_mean"] == pytest.approx(70.0)
        assert by[sku]["mean"] == pytest.approx(90.0)
        assert by[sku]["adjustment"] == "promotion"
        assert "SUMMER x2.0" in by[sku]["adjustment_note"]
        assert by[sku]["p10"] <= by[sku]["p50"] <= by[sku]["p90"]
        assert by[sku]["p90"] > 70
    assert by["C"]["mean"] == pytest.approx(70.0) and by["C"]["adjustment"] == "none"
    other = fc.filter(pl.col("period_start") != WEEK)
    assert set(other["adjustment"]) == {"none"}
    assert (other["mean"] == other["unadjusted_mean"]).all()


@pytest.mark.fast
def test_calendar_factor_and_units_take_precedence_over_the_measured_uplift():
    demand = _demand()
    prepared = prepare_history(demand, RUN, _calendar(PAST), PRODUCTS)
    base = _forecast(prepared.fit_demand)
    factor = {**FUTURE, "uplift": 1.5}
    fc = adjust_forecast(base, _calendar(PAST, factor), uplift=prepared.uplift, products=PRODUCTS)
    a = fc.filter((pl.col("sku") == "A") & (pl.col("period_start") == WEEK)).row(0, named=True)
    assert a["mean"] == pytest.approx(70.0 * (1 + 2 / 7 * 0.5))
    units = {**FUTURE, "units": 14.0}  # 14 extra units over the 2 days
    fc = adjust_forecast(base, _calendar(PAST, units), uplift=prepared.uplift, products=PRODUCTS)
    a = fc.filter((pl.col("sku") == "A") & (pl.col("period_start") == WEEK)).row(0, named=True)
    assert a["mean"] == pytest.approx(84.0)


@pytest.mark.fast
def test_override_replaces_the_forecast_and_is_marked():
    demand = _demand()
    prepared = prepare_history(demand, RUN, _calendar(PAST), PRODUCTS)
    base = _forecast(prepared.fit_demand)
    overrides = pl.DataFrame(
        {
            "sku": ["A", "C"],
            "location_id": ["L1", "L1"],
            "period_start": [WEEK, WEEK],
            "units": [200.0, None],
            "factor": [None, 0.5],
            "reason": ["trade show order", "shelf reset"],
            "author": ["anna", "ben"],
        }
    )
    fc = adjust_forecast(
        base, _calendar(PAST, FUTURE), overrides, uplift=prepared.uplift, products=PRODUCTS
    )
    week = {r["sku"]: r for r in fc.filter(pl.col("period_start") == WEEK).to_dicts()}
    assert week["A"]["mean"] == pytest.approx(200.0)
    assert week["A"]["adjustment"] == "override"  # the override wins over the promotion
    assert week["A"]["unadjusted_mean"] == pytest.approx(70.0)
    assert "by anna: trade show order" in week["A"]["adjustment_note"]
    assert "SUMMER" in week["A"]["adjustment_note"]
    assert week["C"]["mean"] == pytest.approx(35.0) and week["C"]["adjustment"] == "override"
    assert week["B"]["adjustment"] == "promotion"
    assert week["A"]["p10"] <= 200 <= week["A"]["p90"]


@pytest.mark.fast
def test_accuracy_reports_the_value_the_adjustments_added():
    demand = _demand()
    prepared = prepare_history(demand, RUN, _calendar(PAST), PRODUCTS)
    overrides = pl.DataFrame(
        {
            "sku": ["C"],
            "location_id": ["L1"],
            "period_start": [WEEK],
            "units": [100.0],
            "factor": [None],
            "reason": ["a guess"],
            "author": ["ben"],
        }
    )
    fc = adjust_forecast(
        _forecast(prepared.fit_demand),
        _calendar(PAST, FUTURE),
        overrides,
        uplift=prepared.uplift,
        products=PRODUCTS,
    )
    # what happened in the week of 8 June: toys sold 20 a day on the promotion's 2 days
    # (the uplift was right), C sold 10 a day (the override of 100 was wrong by 30)
    actual = []
    for k in range(7):
        d = WEEK + timedelta(days=k)
        for sku in ("A", "B", "C"):
            promo = sku != "C" and d in (date(2026, 6, 10), date(2026, 6, 11))
            actual.append((d, sku, "L1", 20 if promo else 10, False))
    later = pl.DataFrame(actual, schema=demand.schema, orient="row")
    history = pl.concat([demand, later])
    # before the week has passed: nothing to report
    assert adjustment_accuracy(fc, history, WEEK + timedelta(days=6)).height == 0
    acc = adjustment_accuracy(fc, history, WEEK + timedelta(days=7))
    by = {r["adjustment"]: r for r in acc.to_dicts()}
    promo, over = by["promotion"], by["override"]
    assert promo["periods"] == 2 and promo["actual"] == pytest.approx(180.0)
    assert promo["abs_error_adjusted"] == pytest.approx(0.0)
    assert promo["abs_error_unadjusted"] == pytest.approx(40.0)
    assert promo["value_added"] == pytest.approx(40.0 / 180.0)
    assert over["periods"] == 1 and over["abs_error_adjusted"] == pytest.approx(30.0)
    assert over["value_added"] == pytest.approx(-30.0 / 70.0)
    # a week with a stockout day is not judged (its demand is a floor)
    short = history.with_columns(
        is_stockout=(pl.col("sku") == "C") & (pl.col("date") == WEEK + timedelta(days=3))
    )
    assert "override" not in set(
        adjustment_accuracy(fc, short, RUN + timedelta(days=30))["adjustment"]
    )


# --------------------------------------------------------------------------------------------
# the files, through the real landing gate, dbt staging models and the planning flow's reader

PROMOTIONS_CSV = """promotion_id,sku,category,location_id,start,end,uplift,units,status,description
BF,,toys,,2026-06-10,2026-06-11,,,,Black Friday style: uplift measured
SKU1-AMS,SKU-0001,,WH-AMS,2026-06-15,2026-06-21,1.5,,planned,own factor
ALL-UNITS,all,,all,2026-06-22,2026-06-23,,10,,extra units everywhere
OLD,SKU-0002,,,2026-06-10,2026-06-11,3,,cancelled,called off
BAD-END,SKU-0001,,,2026-06-12,2026-06-10,,,,end before start
BAD-TARGET,,,,2026-06-10,2026-06-11,,,,no target
BAD-TWO,SKU-0001,toys,,2026-06-10,2026-06-11,,,,two targets
BAD-UPLIFT,SKU-0001,,,2026-06-10,2026-06-11,-0.5,,,negative uplift
BAD-DATE,SKU-0001,,,next Tuesday,2026-06-11,,,,unknown period
BAD-NOEND,SKU-0001,,,2026-06-10,,,,,no end
BAD-LOC,SKU-0001,,XX-NOPE,2026-06-10,2026-06-11,,,,unknown location
BAD-BOTH,SKU-0001,,,2026-06-10,2026-06-11,1.2,5,,factor and units
"""
OVERRIDES_CSV = """sku,location_id,period_start,units,factor,reason,author
SKU-0001,WH-AMS,2026-06-08,200,,trade show,anna
SKU-0002,WH-LON,2026-06-08,,0.5,shelf reset,ben
SKU-0003,WH-AMS,2026-06-09,50,,a Tuesday,anna
SKU-0004,WH-AMS,2026-06-08,50,2,both,anna
SKU-0005,WH-AMS,2026-06-08,,,neither,anna
SKU-0006,WH-AMS,2026-06-08,50,,no author,
SKU-0007,XX-NOPE,2026-06-08,50,,unknown location,anna
SKU-0008,WH-AMS,2026-06-08,-5,,negative,anna
SKU-0009,WH-AMS,someday,50,,unknown period,anna
"""


@pytest.mark.slow
def test_calendar_and_overrides_land_through_the_gate(tmp_path):
    from flows.dbt_runner import run_dbt
    from flows.forecast_inputs import read_forecast_inputs
    from flows.sync import sync_files
    from flows.warehouse import connection
    from tests.conftest import make_config

    cfg = make_config(tmp_path, quality={"max_bad_share": 0.9})
    drop = Path(cfg.files.drop_dir)
    (drop / "promotions").mkdir(parents=True)
    (drop / "promotions" / "promotions.csv").write_text(PROMOTIONS_CSV)
    (drop / "forecast_overrides").mkdir(parents=True)
    (drop / "forecast_overrides" / "overrides.csv").write_text(OVERRIDES_CSV)
    sync_files(cfg, only_channel="files")
    with connection(cfg.warehouse, read_only=True) as con:
        held = con.execute(
            "select stream, source_id, reason from ops.quarantine order by stream, source_id"
        ).fetchall()
        landed = {
            t: con.execute(f"select count(*) from raw.files__{t}").fetchone()[0]  # type: ignore[index]
            for t in ("promotions", "forecast_overrides")
        }
    reasons = {(stream, sid.split(":")[0]): reason for stream, sid, reason in held}
    promo = {k[1]: v for k, v in reasons.items() if "promotions" in k[0]}
    assert set(promo) == {
        "BAD-END", "BAD-TARGET", "BAD-TWO", "BAD-UPLIFT", "BAD-DATE", "BAD-NOEND", "BAD-LOC",
        "BAD-BOTH",
    }  # fmt: skip
    assert "end is not before its start" in promo["BAD-END"]
    assert "names one target" in promo["BAD-TARGET"] and "names one target" in promo["BAD-TWO"]
    assert "uplift is a non-negative decimal" in promo["BAD-UPLIFT"]
    assert "dates are ISO 8601" in promo["BAD-DATE"]
    assert "a start and an end date" in promo["BAD-NOEND"]
    assert "configured location" in promo["BAD-LOC"]
    assert "not both" in promo["BAD-BOTH"]
    over = {k[1]: v for k, v in reasons.items() if "overrides" in k[0]}
    assert set(over) == {f"SKU-000{i}" for i in range(3, 10)}
    assert "Monday" in over["SKU-0003"]
    assert "units or a factor" in over["SKU-0004"] and "units or a factor" in over["SKU-0005"]
    assert "reason and its author" in over["SKU-0006"]
    assert "configured location" in over["SKU-0007"]
    assert "units is a non-negative decimal" in over["SKU-0008"]
    assert "dates are ISO 8601" in over["SKU-0009"]
    assert landed == {"promotions": 4, "forecast_overrides": 2}

    run_dbt(cfg, "run", select="stg_ops__locations")
    run_dbt(cfg, "build", select="stg_files__promotions stg_files__forecast_overrides")
    inputs = read_forecast_inputs(cfg, RUN)
    cal = inputs.promotions.sort("promotion_id")
    assert cal["promotion_id"].to_list() == ["ALL-UNITS", "BF", "OLD", "SKU1-AMS"]
    assert cal["applies_to"].to_list() == ["all", "category", "sku", "sku"]
    assert cal["location_id"].to_list() == [None, None, None, "WH-AMS"]
    assert inputs.overrides.height == 2 and inputs.past_forecasts.height == 0

    # the landed files drive the forecast: a flat 70 a week for two SKUs at WH-AMS
    weeks = [WEEK + timedelta(days=7 * k) for k in range(3)]
    fc = pl.DataFrame(
        {
            "run_date": [RUN] * 6,
            "sku": ["SKU-0001"] * 3 + ["SKU-0002"] * 3,
            "location_id": ["WH-AMS"] * 6,
            "period_start": weeks * 2,
            "period_days": [7] * 6,
            "mean": [70.0] * 6,
            "p10": [60.0] * 6,
            "p50": [70.0] * 6,
            "p90": [80.0] * 6,
            "model": ["moving_average"] * 6,
            "adjustment": ["none"] * 6,
            "unadjusted_mean": [70.0] * 6,
            "adjustment_note": [None] * 6,
        },
        schema_overrides={"period_days": pl.Int32, "adjustment_note": pl.String},
    )
    products = pl.DataFrame({"sku": ["SKU-0001", "SKU-0002"], "category": ["toys", "garden"]})
    uplift = pl.DataFrame(
        {
            "sku": ["SKU-0001", "SKU-0002"],
            "location_id": ["WH-AMS"] * 2,
            "measured_uplift": [2.0, 2.0],
            "uplift_source": ["series"] * 2,
        }
    )
    out = adjust_forecast(fc, inputs.promotions, inputs.overrides, uplift=uplift, products=products)
    got = {(r["sku"], r["period_start"]): r for r in out.to_dicts()}
    one, two = "SKU-0001", "SKU-0002"
    assert got[(one, weeks[0])]["mean"] == 200 and got[(one, weeks[0])]["adjustment"] == "override"
    assert got[(one, weeks[1])]["mean"] == pytest.approx(105.0)  # the calendar's x1.5, all week
    assert got[(one, weeks[2])]["mean"] == pytest.approx(70.0 + 10.0)  # 10 extra units
    # SKU-0002 is garden: not in BF; its cancelled promotion does nothing; the override was
    # for WH-LON, not this series
    assert got[(two, weeks[0])]["mean"] == 70 and got[(two, weeks[0])]["adjustment"] == "none"
    assert got[(two, weeks[2])]["adjustment"] == "promotion"


# --------------------------------------------------------------------------------------------
# the sandbox's own calendar through sync, dbt and the planning flow


@pytest.mark.slow
def test_sandbox_calendar_drives_the_plan_and_its_accuracy(tmp_path):
    """The sandbox's campaigns land as its promotion calendar; the plan of a date before one of
    them raises its SKUs' weeks, an override replaces a week, and the plan of a date after
    them reports what both added."""
    from flows.dbt_runner import build
    from flows.demo import prepare_demo
    from flows.planning import run_planning
    from flows.sync import sync_files
    from flows.warehouse import connection
    from sandbox import generate_store

    end = date(2026, 11, 22)
    cfg, counts, _ = prepare_demo(tmp_path, seed=7, scale="tiny", end_date=end)
    assert counts["files__promotions"] == 1
    store = generate_store(seed=7, scale="tiny", end_date=end)
    calendar = store.truth["promotions"]
    flash = calendar.filter(pl.col("promotion_id") == "FLASH15-20261101").row(0, named=True)
    assert flash["category"] == "accessories" and flash["start"] == "2026-11-01"
    # an override of a week of the best-selling series at WH-AMS
    best = (
        store.truth["demand"]
        .filter(pl.col("location_id") == "WH-AMS")
        .group_by("sku")
        .agg(pl.col("true_demand").sum())
        .sort("true_demand", "sku", descending=True)["sku"][0]
    )
    week = date(2026, 11, 2)
    folder = Path(cfg.files.drop_dir) / "forecast_overrides"
    folder.mkdir(parents=True)
    (folder / "overrides.csv").write_text(
        f"sku,location_id,period_start,units,factor,reason,author\n"
        f"{best},WH-AMS,{week.isoformat()},999,,influencer post,anna\n"
    )
    sync_files(cfg)
    build(cfg)
    first = date(2026, 10, 26)
    run_planning(cfg, first, workers=1)
    with connection(cfg.warehouse, read_only=True) as con:
        table = con.sql(
            """select f.sku, f.location_id, f.period_start, f.mean, f.unadjusted_mean,
                      f.adjustment, f.adjustment_note, p.category
               from planning.demand_forecast f join marts.products p using (sku)
               where f.run_date = ?""",
            params=[first],
        ).to_arrow_table()
    rows = pl.DataFrame(pl.from_arrow(table))
    promo_weeks = rows.filter(pl.col("adjustment") == "promotion")
    flash_weeks = promo_weeks.filter(pl.col("adjustment_note").str.contains("FLASH15-20261101"))
    assert flash_weeks.height > 0
    assert set(flash_weeks["category"]) == {"accessories"}
    assert set(flash_weeks["period_start"]) == {date(2026, 10, 26), date(2026, 11, 2)}
    assert flash_weeks["mean"].sum() > flash_weeks["unadjusted_mean"].sum()
    # the planned Black Friday (27-30 November) touches every category's two weeks
    bf = promo_weeks.filter(pl.col("adjustment_note").str.contains("BLACKFRIDAY20-20261127"))
    assert set(bf["period_start"]) == {date(2026, 11, 23), date(2026, 11, 30)}
    assert set(bf["category"]) == set(rows["category"])
    assert set(promo_weeks["period_start"]) == {
        date(2026, 10, 26), date(2026, 11, 2), date(2026, 11, 23), date(2026, 11, 30)
    }  # fmt: skip
    over = rows.filter(pl.col("adjustment") == "override").row(0, named=True)
    assert (over["sku"], over["period_start"], over["mean"]) == (best, week, 999.0)
    assert "influencer post" in over["adjustment_note"]
    untouched = rows.filter(pl.col("adjustment") == "none")
    assert (untouched["mean"] - untouched["unadjusted_mean"]).abs().max() < 1e-9

    later = date(2026, 11, 16)
    report = run_planning(cfg, later, workers=1)
    assert report.folder is not None
    md = (report.folder / "forecast_accuracy.md").read_text()
    assert "Promotions and overrides: the value they added" in md
    assert "| promotions |" in md and "| overrides |" in md
    with connection(cfg.warehouse, read_only=True) as con:
        stored = con.execute(
            "select adjustment, periods, wape_adjusted, wape_unadjusted, value_added "
            "from planning.adjustment_accuracy where run_date = ? order by 1",
            [later],
        ).fetchall()
    assert [r[0] for r in stored] == ["override", "promotion"]  # what the md reports, kept
    assert all(r[1] > 0 and r[4] == pytest.approx(r[3] - r[2]) for r in stored)
