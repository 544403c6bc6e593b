"""Promotions and buyer overrides: what the forecast knows beyond the demand history.

Two reference files feed this module (landed through the gate as ``files__promotions`` and
``files__forecast_overrides``, read from ``staging.stg_files__promotions`` and
``staging.stg_files__forecast_overrides``; docs/forecasting.md section 9):

- the **promotion calendar**: rows of ``promotion_id, applies_to (sku | category | all), sku,
  category, location_id (null: every location), start_date, end_date`` (both inclusive) and
  optionally ``uplift`` (a factor on demand) or ``units`` (extra units per SKU and location over
  the whole promotion, spread evenly over its days); ``status = cancelled`` rows are ignored;
- the **override file**: ``sku, location_id, period_start`` (a forecast week, Monday) and
  ``units`` (the week's demand) or ``factor`` (times the forecast as it stands), with
  ``reason`` and ``author``.

What happens, in the order the planning flow calls it (pure functions of polars frames):

1. :func:`promotion_days` expands the calendar to one row per SKU x location x day it covers.
2. :func:`measure_uplift`: for every past promotion and series, the demand on its promotion days
   (days not censored by a stockout) against the expected demand on those days at the
   *surrounding baseline*: the mean of the series' non-promotion, uncensored days within
   ``window_days`` before the promotion's first day and after its last. Pooled as a ratio of
   sums (sum of promotion-day units / sum of their expected units) at the first level with
   at least ``min_expected`` expected units: the series (SKU x location), the SKU (all its
   locations), its category at the location, the location; else none is measured (1.0). The
   surrounding window keeps the season out of the ratio (a Black Friday in the Christmas ramp
   is measured against the ramp, not against July).
3. :func:`exclude_promotion_days`: the history the models are fitted on has its past
   promotion days marked censored (``is_stockout``), exactly like a stockout day: what sold
   then is not baseline demand. A week with a few promotion days is scaled up from its other
   days, a week with fewer than 3 of them is missing and imputed (forecasting/series.py), so
   the models neither learn a level inflated by past promotions nor score themselves on them.
4. :func:`adjust_forecast` after model selection: each forecast period's mean is multiplied by
   ``1 + sum over its promotion days of share(day) x (uplift - 1)`` (``share``: the series'
   weekday profile, flat without one) and the ``units`` promotions add their units. The uplift of
   a day is, in this precedence: the calendar's ``uplift`` when given; 1 when the calendar gives
   ``units`` (they are added instead); else the measured uplift of step 2. Overlapping
   promotions on one day: the largest uplift and the largest units count (not their product).
   Then the override file replaces the number of its weeks: ``units`` as given, or ``factor``
   times the forecast after promotions. The band (p10/p50/p90) moves with the mean (scaled by
   the same ratio, rounded outwards to whole units; Poisson around the new mean where the model
   said 0). Every row records ``adjustment`` (``none``, ``promotion``, ``override``: an override
   wins), ``unadjusted_mean`` (the chosen model's own number) and ``adjustment_note`` (which
   promotion and which uplift, or who overrode and why).
5. :func:`adjustment_accuracy`, once forecast periods have passed: the absolute error of the
   adjusted forecast against the unadjusted one, per kind of adjustment, on periods without a
   stockout day (their demand is a floor, not demand): the value the adjustments added
   (``forecast_accuracy.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from forecasting.quantiles import count_quantiles
from forecasting.schemas import ADJUSTMENT_ACCURACY, FORECAST_COLUMNS, SERIES_KEYS
from forecasting.series import history_grid

NONE, PROMOTION, OVERRIDE = "none", "promotion", "override"
ADJUSTMENTS = (NONE, PROMOTION, OVERRIDE)

PROMOTION_SCHEMA: dict[str, pl.DataType] = {
    "promotion_id": pl.String(),
    "applies_to": pl.String(),
    "sku": pl.String(),
    "category": pl.String(),
    "location_id": pl.String(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "uplift": pl.Float64(),
    "units": pl.Float64(),
}
OVERRIDE_SCHEMA: dict[str, pl.DataType] = {
    "sku": pl.String(),
    "location_id": pl.String(),
    "period_start": pl.Date(),
    "units": pl.Float64(),
    "factor": pl.Float64(),
    "reason": pl.String(),
    "author": pl.String(),
}
PROMO_DAY_SCHEMA: dict[str, pl.DataType] = {
    "sku": pl.String(),
    "location_id": pl.String(),
    "date": pl.Date(),
    "promotion_id": pl.String(),
    "uplift": pl.Float64(),
    "units_per_day": pl.Float64(),
}
UPLIFT_SCHEMA: dict[str, pl.DataType] = {
    "sku": pl.String(),
    "location_id": pl.String(),
    "measured_uplift": pl.Float64(),
    "uplift_source": pl.String(),
}
# Levels the measured uplift is pooled at, finest first.
UPLIFT_LEVELS = ("series", "sku", "category", "location")


def _cast(frame: pl.DataFrame | None, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """The frame's declared columns in their types (missing optional ones as nulls)."""
    if frame is None:
        return pl.DataFrame(schema=schema)
    return frame.select(
        [
            (pl.col(c) if c in frame.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in schema.items()
        ]
    )


def active_promotions(promotions: pl.DataFrame | None) -> pl.DataFrame:
    """The calendar rows that count: not cancelled, with a readable span (the gate holds the
    rest), in :data:`PROMOTION_SCHEMA`."""
    if promotions is None:
        return pl.DataFrame(schema=PROMOTION_SCHEMA)
    rows = promotions
    if "status" in rows.columns:
        rows = rows.filter(pl.col("status").fill_null("").str.to_lowercase() != "cancelled")
    rows = _cast(rows, PROMOTION_SCHEMA)
    return rows.filter(
        pl.col("start_date").is_not_null()
        & pl.col("end_date").is_not_null()
        & (pl.col("end_date") >= pl.col("start_date"))
    )


def promotion_days(
    promotions: pl.DataFrame | None,
    series: pl.DataFrame,
    start: date | None = None,
    end: date | None = None,
) -> pl.DataFrame:
    """One row per series x day x promotion the calendar covers within ``[start, end)``.

    ``series``: ``sku, location_id`` and optionally ``category`` (the series to look at).
    Output: :data:`PROMO_DAY_SCHEMA` (``units_per_day``: the row's ``units`` over its days).
    """
    cal = active_promotions(promotions)
    if cal.height == 0 or series.height == 0:
        return pl.DataFrame(schema=PROMO_DAY_SCHEMA)
    keys = series.select(
        *SERIES_KEYS,
        (pl.col("category") if "category" in series.columns else pl.lit(None))
        .cast(pl.String)
        .alias("series_category"),
    ).unique(SERIES_KEYS)
    cal = cal.rename({"location_id": "promo_location"}).with_columns(
        span_days=((pl.col("end_date") - pl.col("start_date")).dt.total_days() + 1).cast(pl.Float64)
    )
    by = pl.col("applies_to").str.to_lowercase()
    cols = [
        "sku",
        "promo_location",
        "location_id",
        "promotion_id",
        "start_date",
        "end_date",
        "uplift",
        "units",
        "span_days",
    ]
    matched = pl.concat(
        [
            cal.filter(by == "sku").join(keys, on="sku", how="inner").select(cols),
            cal.filter(by == "category")
            .drop("sku")
            .join(keys, left_on="category", right_on="series_category", how="inner")
            .select(cols),
            cal.filter(by == "all").drop("sku").join(keys, how="cross").select(cols),
        ]
    )
    matched = matched.filter(
        pl.col("promo_location").is_null() | (pl.col("promo_location") == pl.col("location_id"))
    )
    lo = start or date(1900, 1, 1)
    hi = (end or date(9999, 1, 1)) - timedelta(days=1)
    matched = matched.with_columns(
        first=pl.max_horizontal(pl.col("start_date"), pl.lit(lo)),
        last=pl.min_horizontal(pl.col("end_date"), pl.lit(hi)),
    ).filter(pl.col("first") <= pl.col("last"))
    if matched.height == 0:
        return pl.DataFrame(schema=PROMO_DAY_SCHEMA)
    return (
        matched.with_columns(date=pl.date_ranges("first", "last", "1d"))
        .explode("date")
        .select(
            "sku",
            "location_id",
            "date",
            "promotion_id",
            "uplift",
            units_per_day=pl.col("units") / pl.col("span_days"),
        )
        .cast(pl.Schema(PROMO_DAY_SCHEMA))
        .unique(["sku", "location_id", "date", "promotion_id"], keep="first")
        .sort("sku", "location_id", "date", "promotion_id")
    )


def exclude_promotion_days(daily_demand: pl.DataFrame, promo_days: pl.DataFrame) -> pl.DataFrame:
    """``daily_demand`` with its promotion days censored (``is_stockout`` true): not baseline."""
    if promo_days.height == 0:
        return daily_demand
    flags = promo_days.select(*SERIES_KEYS, "date").unique().with_columns(_promo=pl.lit(True))
    return (
        daily_demand.join(flags, on=[*SERIES_KEYS, "date"], how="left")
        .with_columns(
            is_stockout=pl.col("is_stockout").fill_null(False) | pl.col("_promo").is_not_null()
        )
        .drop("_promo")
    )


def measure_uplift(
    daily_demand: pl.DataFrame,
    promo_days: pl.DataFrame,
    run_date: date,
    products: pl.DataFrame | None = None,
    *,
    window_days: int = 28,
    min_expected: float = 20.0,
    clip: tuple[float, float] = (0.25, 10.0),
) -> pl.DataFrame:
    """Measured uplift per series (:data:`UPLIFT_SCHEMA`), from the promotions before ``run_date``.

    Every series of ``daily_demand`` gets a row; ``uplift_source`` names the level it was
    pooled at (:data:`UPLIFT_LEVELS`), or ``none`` (uplift 1) where no level had
    ``min_expected`` expected units on past promotion days. See the module docstring.
    """
    keys = daily_demand.select(SERIES_KEYS).unique()
    keys = _with_category(keys, products)
    past = promo_days.filter(pl.col("date") < run_date)
    if daily_demand.height == 0:
        return pl.DataFrame(schema=UPLIFT_SCHEMA)
    start = daily_demand["date"].min()
    assert isinstance(start, date)
    grid = history_grid(daily_demand, start, run_date, "D")  # units null: censored
    flags = past.select(*SERIES_KEYS, "date").unique().with_columns(promo=pl.lit(True))
    grid = (
        grid.join(flags, on=[*SERIES_KEYS, "date"], how="left")
        .with_columns(pl.col("promo").fill_null(False))
        .sort(*SERIES_KEYS, "date")
    )
    base_ok = ~pl.col("promo") & pl.col("units").is_not_null()
    cum = grid.select(
        *SERIES_KEYS,
        "date",
        cum_units=pl.when(base_ok).then(pl.col("units")).otherwise(0).cum_sum().over(SERIES_KEYS),
        cum_days=base_ok.cast(pl.Int64).cum_sum().over(SERIES_KEYS),
    )
    # one event per series and promotion: its days, the units on the uncensored ones
    events = (
        past.join(grid.select(*SERIES_KEYS, "date", "units"), on=[*SERIES_KEYS, "date"])
        .group_by(*SERIES_KEYS, "promotion_id")
        .agg(
            first=pl.col("date").min(),
            last=pl.col("date").max(),
            promo_units=pl.col("units").sum(),
            promo_n=pl.col("units").count(),
        )
        .filter(pl.col("promo_n") > 0)
        .with_columns(
            lo=pl.col("first") - pl.duration(days=window_days + 1),
            hi=pl.col("last") + pl.duration(days=window_days),
        )
    )
    if events.height == 0:
        return _no_uplift(keys)

    def at(col: str, name: str) -> pl.DataFrame:
        left = events.select(*SERIES_KEYS, "promotion_id", col).sort(col)
        got = left.join_asof(
            cum.sort("date"),
            left_on=col,
            right_on="date",
            by=SERIES_KEYS,
            strategy="backward",
            check_sortedness=False,
        )
        return got.select(
            *SERIES_KEYS,
            "promotion_id",
            pl.col("cum_units").fill_null(0).alias(f"{name}_units"),
            pl.col("cum_days").fill_null(0).alias(f"{name}_days"),
        )

    ev = (
        events.join(at("hi", "hi"), on=[*SERIES_KEYS, "promotion_id"])
        .join(at("lo", "lo"), on=[*SERIES_KEYS, "promotion_id"])
        .with_columns(
            base_units=pl.col("hi_units") - pl.col("lo_units"),
            base_days=pl.col("hi_days") - pl.col("lo_days"),
        )
        .filter(pl.col("base_days") > 0)
        .with_columns(
            expected=pl.col("base_units").cast(pl.Float64) / pl.col("base_days") * pl.col("promo_n")
        )
    )
    ev = _with_category(ev, products)
    levels = {
        "series": SERIES_KEYS,
        "sku": ["sku"],
        "category": ["category", "location_id"],
        "location": ["location_id"],
    }
    out = keys.with_columns(
        measured_uplift=pl.lit(None, dtype=pl.Float64),
        uplift_source=pl.lit(None, dtype=pl.String),
    )
    lo_clip, hi_clip = clip
    for level in UPLIFT_LEVELS:
        by = levels[level]
        pooled = (
            ev.group_by(by)
            .agg(units=pl.col("promo_units").sum(), expected=pl.col("expected").sum())
            .filter((pl.col("expected") >= min_expected) & (pl.col("expected") > 0))
            .select(*by, u=(pl.col("units") / pl.col("expected")).clip(lo_clip, hi_clip))
        )
        out = (
            out.join(pooled, on=by, how="left")
            .with_columns(
                uplift_source=pl.when(
                    pl.col("measured_uplift").is_null() & pl.col("u").is_not_null()
                )
                .then(pl.lit(level))
                .otherwise(pl.col("uplift_source")),
                measured_uplift=pl.coalesce("measured_uplift", "u"),
            )
            .drop("u")
        )
    return out.select(
        *SERIES_KEYS,
        pl.col("measured_uplift").fill_null(1.0),
        pl.col("uplift_source").fill_null("none"),
    ).sort(SERIES_KEYS)


def _no_uplift(keys: pl.DataFrame) -> pl.DataFrame:
    return keys.select(
        *SERIES_KEYS, measured_uplift=pl.lit(1.0), uplift_source=pl.lit("none")
    ).sort(SERIES_KEYS)


def _with_category(frame: pl.DataFrame, products: pl.DataFrame | None) -> pl.DataFrame:
    if "category" in frame.columns:
        frame = frame.drop("category")
    if products is not None and "category" in products.columns:
        cats = products.select("sku", pl.col("category").cast(pl.String)).unique("sku")
        frame = frame.join(cats, on="sku", how="left")
    else:
        frame = frame.with_columns(category=pl.lit(None, dtype=pl.String))
    return frame.with_columns(pl.col("category").fill_null("(none)"))


@dataclass(frozen=True)
class PreparedHistory:
    """What :func:`prepare_history` gives the planning flow: the history to fit the models on
    (past promotion days censored) and the uplift measured on those days."""

    fit_demand: pl.DataFrame
    uplift: pl.DataFrame
    past_promotion_days: int


def prepare_history(
    daily_demand: pl.DataFrame,
    run_date: date,
    promotions: pl.DataFrame | None,
    products: pl.DataFrame | None = None,
    *,
    window_days: int = 28,
    min_expected: float = 20.0,
) -> PreparedHistory:
    """Steps 1-3 of the module docstring for the history before ``run_date``."""
    keys = _with_category(daily_demand.select(SERIES_KEYS).unique(), products)
    days = promotion_days(promotions, keys, end=run_date)
    uplift = measure_uplift(
        daily_demand,
        days,
        run_date,
        products,
        window_days=window_days,
        min_expected=min_expected,
    )
    fit = exclude_promotion_days(daily_demand, days)
    return PreparedHistory(fit, uplift, days.select(*SERIES_KEYS, "date").unique().height)


def adjust_forecast(
    forecast: pl.DataFrame,
    promotions: pl.DataFrame | None = None,
    overrides: pl.DataFrame | None = None,
    *,
    uplift: pl.DataFrame | None = None,
    products: pl.DataFrame | None = None,
    profile: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Apply future promotions, then overrides, to the chosen models' forecast (step 4).

    ``forecast``: ``planning.demand_forecast`` rows (weekly or daily). ``uplift``: from
    :func:`measure_uplift` (missing series: 1). ``profile``: ``sku, location_id, weekday,
    share`` (:func:`forecasting.engine.weekday_profile`), the weight of each day in a week.
    """
    if forecast.height == 0:
        return forecast
    fc = forecast.with_columns(
        unadjusted_mean=pl.coalesce("unadjusted_mean", "mean"),
        adjustment=pl.lit(NONE),
        adjustment_note=pl.lit(None, dtype=pl.String),
    ).with_row_index("_row")
    lo = fc["period_start"].min()
    hi = fc.select((pl.col("period_start") + pl.duration(days=pl.col("period_days"))).max()).item()
    assert isinstance(lo, date) and isinstance(hi, date)
    keys = _with_category(fc.select(SERIES_KEYS).unique(), products)
    days = promotion_days(promotions, keys, lo, hi)
    if days.height:
        fc = _apply_promotions(fc, days, uplift, profile)
    ov = _cast(overrides, OVERRIDE_SCHEMA)
    if ov.height:
        fc = _apply_overrides(fc, ov)
    return fc.drop("_row").select(FORECAST_COLUMNS)


def _apply_promotions(
    fc: pl.DataFrame,
    days: pl.DataFrame,
    uplift: pl.DataFrame | None,
    profile: pl.DataFrame | None,
) -> pl.DataFrame:
    per_day = days.group_by(*SERIES_KEYS, "date").agg(
        cal_uplift=pl.col("uplift").max(),
        units=pl.col("units_per_day").max(),
        ids=pl.col("promotion_id").unique().sort().str.join(", "),
    )
    measured = _cast(uplift, UPLIFT_SCHEMA)
    per_day = per_day.join(measured, on=SERIES_KEYS, how="left").with_columns(
        day_uplift=pl.when(pl.col("cal_uplift").is_not_null())
        .then(pl.col("cal_uplift"))
        .when(pl.col("units").is_not_null())
        .then(1.0)
        .otherwise(pl.col("measured_uplift").fill_null(1.0)),
        source=pl.when(pl.col("cal_uplift").is_not_null())
        .then(pl.lit("calendar"))
        .when(pl.col("units").is_not_null())
        .then(pl.lit("calendar units"))
        .otherwise(pl.lit("measured, ") + pl.col("uplift_source").fill_null("none")),
    )
    rows = (
        fc.select("_row", *SERIES_KEYS, "period_start", "period_days")
        .with_columns(
            date=pl.date_ranges(
                "period_start", pl.col("period_start") + pl.duration(days=pl.col("period_days") - 1)
            )
        )
        .explode("date")
        .join(per_day, on=[*SERIES_KEYS, "date"], how="inner")
        .with_columns(weekday=pl.col("date").dt.weekday())
    )
    if profile is not None and profile.height:
        rows = rows.join(
            profile.select(*SERIES_KEYS, pl.col("weekday").cast(pl.Int8), "share"),
            on=[*SERIES_KEYS, "weekday"],
            how="left",
        )
        # a daily forecast's day is the whole period: its share is 1
        rows = rows.with_columns(
            share=pl.when(pl.col("period_days") == 1)
            .then(1.0)
            .otherwise(pl.col("share").fill_null(1.0 / pl.col("period_days")))
        )
    else:
        rows = rows.with_columns(share=1.0 / pl.col("period_days"))
    effect = rows.group_by("_row").agg(
        lift=(pl.col("share") * (pl.col("day_uplift") - 1.0)).sum(),
        extra=pl.col("units").fill_null(0.0).sum(),
        note=pl.format("{} x{} ({})", "ids", pl.col("day_uplift").round(2), "source")
        .unique()
        .sort()
        .str.join("; "),
        n_days=pl.len(),
    )
    fc = fc.join(effect, on="_row", how="left")
    touched = pl.col("n_days").is_not_null()
    new_mean = (pl.col("mean") * (1.0 + pl.col("lift")) + pl.col("extra")).clip(lower_bound=0.0)
    fc = fc.with_columns(
        _new=pl.when(touched).then(new_mean).otherwise(pl.col("mean")),
        adjustment=pl.when(touched).then(pl.lit(PROMOTION)).otherwise(pl.col("adjustment")),
        adjustment_note=pl.when(touched)
        .then(pl.format("promotion {} on {} day(s)", "note", "n_days"))
        .otherwise(pl.col("adjustment_note")),
    )
    return _rescale(fc).drop("lift", "extra", "note", "n_days")


def _apply_overrides(fc: pl.DataFrame, ov: pl.DataFrame) -> pl.DataFrame:
    ov = ov.unique([*SERIES_KEYS, "period_start"], keep="last").rename(
        {"units": "ov_units", "factor": "ov_factor"}
    )
    fc = fc.join(ov, on=[*SERIES_KEYS, "period_start"], how="left")
    hit = pl.col("ov_units").is_not_null() | pl.col("ov_factor").is_not_null()
    what = (
        pl.when(pl.col("ov_units").is_not_null())
        .then(pl.format("{} units", pl.col("ov_units").round(2)))
        .otherwise(pl.format("x{}", pl.col("ov_factor").round(3)))
    )
    note = pl.format(
        "override {} by {}: {}",
        what,
        pl.col("author").fill_null("(no author)"),
        pl.col("reason").fill_null("(no reason)"),
    )
    fc = fc.with_columns(
        _new=pl.when(pl.col("ov_units").is_not_null())
        .then(pl.col("ov_units"))
        .when(pl.col("ov_factor").is_not_null())
        .then(pl.col("mean") * pl.col("ov_factor"))
        .otherwise(pl.col("mean")),
        adjustment_note=pl.when(hit)
        .then(
            pl.when(pl.col("adjustment") == PROMOTION)
            .then(note + pl.lit(" (replaces the ") + pl.col("adjustment_note") + pl.lit(")"))
            .otherwise(note)
        )
        .otherwise(pl.col("adjustment_note")),
        adjustment=pl.when(hit).then(pl.lit(OVERRIDE)).otherwise(pl.col("adjustment")),
    )
    return _rescale(fc).drop("ov_units", "ov_factor", "reason", "author")


def _rescale(fc: pl.DataFrame) -> pl.DataFrame:
    """Move mean and band to ``_new``: the band scaled with the mean (whole units, rounded
    outwards); Poisson quantiles around the new mean where the old one was 0."""
    old = fc["mean"].to_numpy().astype(float)
    new = fc["_new"].to_numpy().astype(float)
    changed = ~np.isclose(old, new)
    ratio = np.where(old > 0, new / np.where(old > 0, old, 1.0), np.nan)
    out = {}
    for q, name, rnd in ((0.10, "p10", np.floor), (0.50, "p50", np.round), (0.90, "p90", np.ceil)):
        cur = fc[name].to_numpy().astype(float)
        scaled = rnd(cur * np.nan_to_num(ratio, nan=1.0))
        fresh = count_quantiles(new, np.ones_like(new), q)
        out[name] = np.where(changed, np.where(old > 0, scaled, fresh), cur)
    out["p10"] = np.minimum(out["p10"], out["p50"])
    out["p90"] = np.maximum(out["p90"], out["p50"])
    return fc.with_columns(
        mean=pl.col("_new"),
        p10=pl.Series(out["p10"]),
        p50=pl.Series(out["p50"]),
        p90=pl.Series(out["p90"]),
    ).drop("_new")


# The frame `adjustment_accuracy` returns: planning.adjustment_accuracy without its run date.
ADJUSTMENT_ACCURACY_SCHEMA: dict[str, pl.DataType] = {
    k: v for k, v in ADJUSTMENT_ACCURACY.schema.items() if k != "run_date"
}


def adjustment_accuracy(
    forecasts: pl.DataFrame, daily_demand: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """The value promotions and overrides added, on forecast periods that ended before ``as_of``.

    ``forecasts``: ``planning.demand_forecast`` rows of any run dates (``adjustment``,
    ``unadjusted_mean``); per series and period the forecast of the last run made on or before
    the period's first day is judged (else the first run that forecast it), against the demand
    of the period (``units_ordered``), on periods with no stockout day. One row per adjustment
    kind that touched any judged period (:data:`ADJUSTMENT_ACCURACY_SCHEMA`):
    ``value_added = (abs_error_unadjusted - abs_error_adjusted) / actual``, the WAPE points the
    adjustments saved (negative: they made it worse).
    """
    need = {"adjustment", "unadjusted_mean"}
    if forecasts.height == 0 or not need <= set(forecasts.columns):
        return pl.DataFrame(schema=ADJUSTMENT_ACCURACY_SCHEMA)
    fc = forecasts.filter(
        pl.col("adjustment").is_in([PROMOTION, OVERRIDE])
        & (pl.col("period_start") + pl.duration(days=pl.col("period_days")) <= pl.lit(as_of))
    )
    if fc.height == 0:
        return pl.DataFrame(schema=ADJUSTMENT_ACCURACY_SCHEMA)
    fc = (
        fc.with_columns(before=pl.col("run_date") <= pl.col("period_start"))
        .sort("before", "run_date")
        .group_by(*SERIES_KEYS, "period_start", maintain_order=True)
        .agg(pl.all().filter(pl.col("before")).last(), pl.all().first().name.suffix("_first"))
    )
    fc = fc.select(
        *SERIES_KEYS,
        "period_start",
        period_days=pl.coalesce("period_days", "period_days_first"),
        mean=pl.coalesce("mean", "mean_first"),
        unadjusted_mean=pl.coalesce("unadjusted_mean", "unadjusted_mean_first"),
        adjustment=pl.coalesce("adjustment", "adjustment_first"),
    )
    days = (
        fc.select(*SERIES_KEYS, "period_start", "period_days")
        .with_columns(
            date=pl.date_ranges(
                "period_start", pl.col("period_start") + pl.duration(days=pl.col("period_days") - 1)
            )
        )
        .explode("date")
    )
    actual = (
        days.join(
            daily_demand.select(*SERIES_KEYS, "date", "units_ordered", "is_stockout"),
            on=[*SERIES_KEYS, "date"],
            how="left",
        )
        .group_by(*SERIES_KEYS, "period_start")
        .agg(
            actual=pl.col("units_ordered").fill_null(0).sum().cast(pl.Float64),
            stockout=pl.col("is_stockout").fill_null(False).any(),
        )
    )
    judged = fc.join(actual, on=[*SERIES_KEYS, "period_start"]).filter(~pl.col("stockout"))
    out = (
        judged.group_by("adjustment")
        .agg(
            periods=pl.len().cast(pl.Int64),
            series=pl.struct(SERIES_KEYS).n_unique().cast(pl.Int64),
            actual=pl.col("actual").sum(),
            forecast_adjusted=pl.col("mean").sum(),
            forecast_unadjusted=pl.col("unadjusted_mean").sum(),
            abs_error_adjusted=(pl.col("mean") - pl.col("actual")).abs().sum(),
            abs_error_unadjusted=(pl.col("unadjusted_mean") - pl.col("actual")).abs().sum(),
        )
        .with_columns(
            wape_adjusted=pl.col("abs_error_adjusted") / pl.col("actual"),
            wape_unadjusted=pl.col("abs_error_unadjusted") / pl.col("actual"),
            value_added=(pl.col("abs_error_unadjusted") - pl.col("abs_error_adjusted"))
            / pl.col("actual"),
        )
        .with_columns(
            [
                pl.when(pl.col("actual") > 0).then(pl.col(c)).otherwise(None).alias(c)
                for c in ("wape_adjusted", "wape_unadjusted", "value_added")
            ]
        )
    )
    return (
        out.select(list(ADJUSTMENT_ACCURACY_SCHEMA))
        .cast(pl.Schema(ADJUSTMENT_ACCURACY_SCHEMA))
        .sort("adjustment")
    )
