"""Demand series per SKU x location, weekly (default) or daily, with censoring made explicit.

``build_series`` turns ``marts.daily_demand`` into one row per series and period:

``sku, location_id, category, period_start, period_days, units, censored, imputed,
category_level``

- ``units`` is demand in the period: ``units_ordered`` (returns never reduce it). Stockout days
  are *censored*: what sold is a floor on demand, not demand. A weekly period with a few stockout
  days is scaled up from its open days (``units_open * period_days / open_days``); a period with
  fewer than ``min_open_days`` open days is missing (``units`` null, ``censored`` true).
- ``imputed`` fills the missing periods for models that need a complete series: the mean of the
  last 8 observed periods (causal), else the next observed value, else 0. Accuracy is always
  measured on observed periods only.
- A day with no row after a series first appears is a zero-demand day; periods before the one
  it first sold in are not history. The days of that first period before the first sale are
  *not* closed days: the item may well have been on the shelf unsold (a first sale on a Friday
  says nothing about Monday), so they count as open days with no demand. Scaling the first week
  by ``7 / open days`` (as this module once did) turned one unit sold on a Friday into 2.33 a
  week, and a first sale at the weekend into a censored (missing) first week.
  Only complete periods before ``run_date`` are history: weekly periods start on Monday,
  so the week containing ``run_date`` (unless it starts on it) is the first forecast period.
- ``category_level``: what comparable *new* items sold: the median, over the series of the same
  category and location that were launched during the history (first sale after the history's
  first period), of their mean demand over their first ``launch_periods`` periods; the same over
  every launch at the location when the category has fewer than ``min_launches`` of them; 0
  when the store has seen no launch. New items with little history borrow it. It is never the
  level of all items: established items sell far more than a newcomer (in a store without
  categories, the store's average item sold 27 a week where its new items sold 1 or 2).
- ``category_mean``: the parent's mean demand per series in that period: the category at the
  same location when it holds at least ``min_parent_series`` series, else the whole location
  (top-down). It carries the seasonal shape, which single series (and series younger than a
  year) are too short or too noisy to show (``ma_seasonal``, the ensemble and new items use it).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, TypedDict

import polars as pl

from forecasting.schemas import DAILY_DEMAND_INPUT, SERIES_KEYS

if TYPE_CHECKING:
    import numpy as np

SERIES_COLUMNS: list[str] = [
    "sku",
    "location_id",
    "category",
    "period_start",
    "period_days",
    "units",
    "censored",
    "imputed",
    "category_level",
    "category_mean",
]

FREQ_DAYS = {"W": 7, "D": 1}


class SeriesMatrices(TypedDict):
    """The numpy view of a batch of series (:func:`series_matrix`)."""

    y: np.ndarray
    filled: np.ndarray
    start: np.ndarray
    cat: np.ndarray


def column_date(frame: pl.DataFrame, column: str, how: str = "max") -> date:
    """The earliest (``how="min"``) or latest date of a non-empty frame's date column."""
    value = frame.select(getattr(pl.col(column), how)()).item()
    if not isinstance(value, date):
        raise ValueError(f"{column}: expected dates, got {value!r}")
    return value


def period_start_of(d: date, freq: str = "W") -> date:
    """Start of the period containing ``d`` (Monday for weekly)."""
    if freq == "D":
        return d
    return d - timedelta(days=d.weekday())


def first_forecast_period(run_date: date, freq: str = "W") -> date:
    """The first period forecast on ``run_date``: the (possibly partial) period containing it."""
    return period_start_of(run_date, freq)


def history_grid(
    daily_demand: pl.DataFrame, start: date, end: date, freq: str = "D"
) -> pl.DataFrame:
    """Dense series x day grid of demand over ``[start, end)``.

    Columns: ``sku, location_id, date, units`` where ``units`` is null when the day is censored
    by a stockout. Only series with any row before ``end`` appear, and only from their first day.
    Why dense: marts may omit zero-demand days, and both seasonal averages and accuracy metrics
    need those zeros. With ``freq="W"`` a series starts on the Monday of its first sale's week
    (the days before that sale are open days without demand, not closed ones).
    """
    before_end = daily_demand.filter(pl.col("date") < end)
    first_seen = before_end.group_by(SERIES_KEYS).agg(first_date=pl.col("date").min())
    if freq == "W":
        first_seen = first_seen.with_columns(pl.col("first_date").dt.truncate("1w"))
    if start >= end or first_seen.height == 0:
        return pl.DataFrame(
            schema={
                "sku": pl.String,
                "location_id": pl.String,
                "date": pl.Date,
                "units": pl.Int64,
            }
        )
    days = pl.DataFrame({"date": pl.date_range(start, end - timedelta(days=1), "1d", eager=True)})
    observed = (
        before_end.filter(pl.col("date") >= start)
        .group_by([*SERIES_KEYS, "date"])
        .agg(
            units=pl.col("units_ordered").sum().cast(pl.Int64),
            is_stockout=pl.col("is_stockout").fill_null(False).any(),
        )
    )
    return (
        first_seen.join(days, how="cross")
        .filter(pl.col("date") >= pl.col("first_date"))
        .join(observed, on=[*SERIES_KEYS, "date"], how="left")
        .select(
            *SERIES_KEYS,
            "date",
            units=pl.when(pl.col("is_stockout").fill_null(False))
            .then(None)
            .otherwise(pl.col("units").fill_null(0).clip(lower_bound=0)),
        )
        .sort([*SERIES_KEYS, "date"])
    )


def build_series(
    daily_demand: pl.DataFrame,
    run_date: date,
    freq: str = "W",
    products: pl.DataFrame | None = None,
    history_days: int | None = None,
    min_open_days: int = 3,
    launch_periods: int = 13,
    min_launches: int = 5,
    min_parent_series: int = 10,
) -> pl.DataFrame:
    """Dense per-series demand history of complete periods before ``run_date``.

    ``daily_demand`` needs the columns of ``DAILY_DEMAND_INPUT``; ``products`` (optional)
    ``sku, category``. ``history_days`` limits how far back to read.
    """
    if freq not in FREQ_DAYS:
        raise ValueError(f"freq must be 'W' or 'D', got {freq!r}")
    missing = [c for c in DAILY_DEMAND_INPUT if c not in daily_demand.columns]
    if missing:
        raise ValueError(
            f"daily demand lacks column(s) {missing}; it needs {list(DAILY_DEMAND_INPUT)}"
        )
    period_days = FREQ_DAYS[freq]
    hist_end = first_forecast_period(run_date, freq)  # history = complete periods before this
    first = daily_demand.filter(pl.col("date") < hist_end)
    if first.height == 0:
        return _empty_series()
    start = period_start_of(column_date(first, "date", "min"), freq)
    if history_days is not None:
        start = max(start, hist_end - timedelta(days=history_days))
    grid = history_grid(daily_demand, start, hist_end, freq)
    if freq == "W":
        grid = grid.with_columns(period_start=pl.col("date").dt.truncate("1w"))
        agg = grid.group_by([*SERIES_KEYS, "period_start"]).agg(
            units_open=pl.col("units").sum(),
            open_days=pl.col("units").count(),
        )
        series = agg.with_columns(
            units=pl.when(pl.col("open_days") >= min(min_open_days, period_days))
            .then(pl.col("units_open").cast(pl.Float64) * period_days / pl.col("open_days"))
            .otherwise(None)
        )
    else:
        series = grid.select(
            *SERIES_KEYS, period_start="date", units=pl.col("units").cast(pl.Float64)
        )
    series = series.select(*SERIES_KEYS, "period_start", "units").sort(
        [*SERIES_KEYS, "period_start"]
    )
    series = series.with_columns(
        period_days=pl.lit(period_days, dtype=pl.Int32),
        censored=pl.col("units").is_null(),
    )
    series = _impute(series)
    series = _with_category(series, products, launch_periods, min_launches, min_parent_series)
    return series.select(SERIES_COLUMNS).sort([*SERIES_KEYS, "period_start"])


def _empty_series() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "sku": pl.String,
            "location_id": pl.String,
            "category": pl.String,
            "period_start": pl.Date,
            "period_days": pl.Int32,
            "units": pl.Float64,
            "censored": pl.Boolean,
            "imputed": pl.Float64,
            "category_level": pl.Float64,
            "category_mean": pl.Float64,
        }
    )


def _impute(series: pl.DataFrame) -> pl.DataFrame:
    """Causal fill of censored periods: mean of the last 8 observed, else next observed, else 0."""
    return series.with_columns(
        imputed=pl.coalesce(
            pl.col("units"),
            pl.col("units").shift(1).rolling_mean(8, min_samples=1).over(SERIES_KEYS),
            pl.col("units").backward_fill().over(SERIES_KEYS),
            pl.lit(0.0),
        )
    )


def _with_category(
    series: pl.DataFrame,
    products: pl.DataFrame | None,
    launch_periods: int,
    min_launches: int,
    min_parent_series: int,
) -> pl.DataFrame:
    if products is not None and "category" in products.columns:
        cats = products.select("sku", pl.col("category").cast(pl.String)).unique("sku")
        series = series.join(cats, on="sku", how="left")
    else:
        series = series.with_columns(category=pl.lit(None, dtype=pl.String))
    series = series.with_columns(pl.col("category").fill_null("(none)"))
    if series.height == 0:
        return series.with_columns(
            category_level=pl.lit(0.0), category_mean=pl.lit(None, dtype=pl.Float64)
        )
    first_period = series["period_start"].min()
    step = int(series["period_days"][0])
    # Launch cohort: series first seen after the history's first period, their first periods.
    starts = series.group_by(SERIES_KEYS).agg(first=pl.col("period_start").min())
    launches = (
        series.join(starts, on=SERIES_KEYS)
        .filter(
            (pl.col("first") > pl.lit(first_period))
            & (pl.col("period_start") < pl.col("first") + pl.duration(days=step * launch_periods))
        )
        .group_by([*SERIES_KEYS, "category"])
        .agg(early=pl.col("units").mean())
        .drop_nulls("early")
    )
    by_cat = launches.group_by("category", "location_id").agg(
        cat_launch=pl.col("early").median(), cat_n=pl.len()
    )
    by_loc = launches.group_by("location_id").agg(loc_launch=pl.col("early").median())
    level = (
        series.select("category", "location_id")
        .unique()
        .join(by_cat, on=["category", "location_id"], how="left")
        .join(by_loc, on="location_id", how="left")
        .select(
            "category",
            "location_id",
            category_level=pl.when(pl.col("cat_n").fill_null(0) >= min_launches)
            .then(pl.col("cat_launch"))
            .otherwise(pl.col("loc_launch"))
            .fill_null(0.0),
        )
    )
    # Parent of the seasonal shape: the category where it is big enough, else the location.
    # Each series enters relative to its own level (times the mean level, to stay in units): a
    # parent's shape is how its items move, not how its biggest item moves. In a raw mean one
    # big seller's promotion or stockout a year ago becomes everyone's "season".
    rel = series.with_columns(
        own=pl.col("imputed").mean().over(SERIES_KEYS),
    ).filter(pl.col("own") > 0)
    rel = rel.with_columns(
        rel=pl.col("imputed") / pl.col("own") * pl.col("own").sqrt(), w=pl.col("own").sqrt()
    )
    per_cat = rel.group_by("category", "location_id", "period_start").agg(
        cat_mean=pl.col("rel").sum() / pl.col("w").sum() * pl.col("own").mean(),
        cat_series=pl.len(),
    )
    per_loc = rel.group_by("location_id", "period_start").agg(
        loc_mean=pl.col("rel").sum() / pl.col("w").sum() * pl.col("own").mean()
    )
    cat_size = series.group_by("category", "location_id").agg(size=pl.col("sku").n_unique())
    return (
        series.join(level, on=["category", "location_id"], how="left")
        .join(per_cat, on=["category", "location_id", "period_start"], how="left")
        .join(per_loc, on=["location_id", "period_start"], how="left")
        .join(cat_size, on=["category", "location_id"], how="left")
        .with_columns(
            pl.col("category_level").fill_null(0.0),
            category_mean=pl.when(pl.col("size") >= min_parent_series)
            .then(pl.col("cat_mean"))
            .otherwise(pl.col("loc_mean")),
        )
    )


LAUNCH_AGES = 13


def launch_curve(
    series: pl.DataFrame, horizon: int = 13, max_age: int = LAUNCH_AGES, min_launches: int = 5
) -> pl.DataFrame:
    """``location_id, age, growth``: the store's launch curve, measured on its past launches.

    For an item ``age`` periods old, how much more (or less) it sold over the next ``horizon``
    periods than over its first ``age`` periods: pooled over the items launched during the
    history at the same location (first sale after the history's first period) that have those
    ``age + horizon`` periods, ``sum(later means) / sum(early means)``, clipped to [0.5, 3];
    1 where fewer than ``min_launches`` items could be measured. A new item's own few weeks
    say what it sells *now*; a launch often ramps up (shelf space, reviews, word of mouth) or
    fades after an opening push, and the store's earlier launches show which.
    """
    empty = pl.DataFrame(schema={"location_id": pl.String, "age": pl.Int64, "growth": pl.Float64})
    if series.height == 0:
        return empty
    step = int(series["period_days"][0])
    first_period = series["period_start"].min()
    aged = (
        series.join(
            series.group_by(SERIES_KEYS).agg(first=pl.col("period_start").min()), on=SERIES_KEYS
        )
        .filter(pl.col("first") > pl.lit(first_period))
        .with_columns(
            age=((pl.col("period_start") - pl.col("first")).dt.total_days() // step).cast(pl.Int64)
        )
        .filter(pl.col("age") < max_age + horizon)
    )
    if aged.height == 0:
        return empty
    span = aged.group_by(SERIES_KEYS).agg(last_age=pl.col("age").max())
    parts = []
    for age in range(1, max_age):
        per = (
            aged.join(span.filter(pl.col("last_age") >= age + horizon - 1), on=SERIES_KEYS)
            .group_by([*SERIES_KEYS])
            .agg(
                early=pl.col("units").filter(pl.col("age") < age).mean(),
                later=pl.col("units")
                .filter((pl.col("age") >= age) & (pl.col("age") < age + horizon))
                .mean(),
            )
            .drop_nulls()
        )
        parts.append(
            per.group_by("location_id")
            .agg(n=pl.len(), early=pl.col("early").sum(), later=pl.col("later").sum())
            .with_columns(age=pl.lit(age, dtype=pl.Int64))
        )
    curve = pl.concat(parts).with_columns(
        growth=pl.when((pl.col("n") >= min_launches) & (pl.col("early") > 0))
        .then((pl.col("later") / pl.col("early")).clip(0.5, 3.0))
        .otherwise(1.0)
    )
    return curve.select("location_id", "age", "growth").sort("location_id", "age")


def parent_shape(series: pl.DataFrame) -> pl.DataFrame:
    """``category, location_id, period_start, category_mean``: the parents' seasonal shape.

    Handed to every batch (:func:`series_matrix`'s ``parent``) so a batch of young series still
    sees the periods its parents lived before the batch's own first period.
    """
    return (
        series.select("category", "location_id", "period_start", "category_mean")
        .unique(["category", "location_id", "period_start"], keep="first")
        .sort("category", "location_id", "period_start")
    )


def series_matrix(
    series: pl.DataFrame, parent: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, list[date], SeriesMatrices]:
    """Wide numpy view of a batch: keys frame, common calendar, and matrices (n x T).

    Returns ``keys`` (``sku, location_id, category, category_level`` in row order), the list of
    period starts and a dict with ``y`` (observed, NaN when censored or before the series
    starts), ``filled`` (imputed, NaN before start), ``cat`` (the category's mean per series in
    each period, NaN where unknown) and ``start`` (index of each series' first period).
    """
    import numpy as np

    step = int(series["period_days"][0]) if series.height else 7
    if parent is not None and series.height:
        parent = parent.join(
            series.select("category", "location_id").unique(),
            on=["category", "location_id"],
            how="semi",
        )
    if series.height:
        lo = column_date(series, "period_start", "min")
        hi = column_date(series, "period_start", "max")
        if parent is not None and parent.height:
            lo = min(lo, column_date(parent, "period_start", "min"))
        periods = [lo + timedelta(days=step * k) for k in range((hi - lo).days // step + 1)]
    else:
        periods = []
    keys = (
        series.group_by(SERIES_KEYS, maintain_order=True)
        .agg(pl.col("category").first(), pl.col("category_level").first())
        .sort(SERIES_KEYS)
    )
    n, t = keys.height, len(periods)
    # A row without a SKU, location or period cannot be placed in the matrix (null keys do not
    # join); it would turn the index arrays into floats.
    series = series.filter(
        pl.col("sku").is_not_null()
        & pl.col("location_id").is_not_null()
        & pl.col("period_start").is_not_null()
    )
    keyed = series.join(
        keys.select(SERIES_KEYS).with_row_index("row"), on=SERIES_KEYS, how="left"
    ).with_columns(
        col=(pl.col("period_start") - pl.lit(periods[0] if periods else date(1970, 1, 1)))
        .dt.total_days()
        .floordiv(step)
    )
    rows = keyed["row"].to_numpy()
    cols = keyed["col"].to_numpy()
    y = np.full((n, t), np.nan)
    filled = np.full((n, t), np.nan)
    cat = np.full((n, t), np.nan)
    y[rows, cols] = keyed["units"].fill_null(float("nan")).to_numpy()
    filled[rows, cols] = keyed["imputed"].to_numpy()
    if "category_mean" in keyed.columns and n:
        # The parent's shape on the whole calendar, also before the series began: that is
        # where a young series finds the season it has not lived through.
        source = keyed if parent is None else parent.filter(pl.col("period_start") <= hi)
        pshape = (
            source.with_columns(
                col=(pl.col("period_start") - pl.lit(periods[0])).dt.total_days().floordiv(step)
            )
            .select(
                "category", "location_id", "col", pl.col("category_mean").fill_null(float("nan"))
            )
            .unique(["category", "location_id", "col"], keep="first")
        )
        groups = keys.select("category", "location_id").unique(maintain_order=True)
        groups = groups.with_row_index("g")
        pg = pshape.join(groups, on=["category", "location_id"], how="inner")
        gmat = np.full((groups.height, t), np.nan)
        gmat[pg["g"].to_numpy(), pg["col"].to_numpy()] = pg["category_mean"].to_numpy()
        row_g = keys.join(groups, on=["category", "location_id"], how="left", maintain_order="left")
        cat = gmat[row_g["g"].to_numpy()]
    present = ~np.isnan(filled)
    start = np.where(present.any(axis=1), present.argmax(axis=1), t)
    return keys, periods, {"y": y, "filled": filled, "start": start, "cat": cat}
