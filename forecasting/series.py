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
- A day with no row after a series first appears is a zero-demand day; days before it are not
  history. Only complete periods before ``run_date`` are history: weekly periods start on Monday,
  so the week containing ``run_date`` (unless it starts on it) is the first forecast period.
- ``category_level``: mean demand per series and period of the SKU's category at the same
  location over the last ``profile_periods`` periods. New items with little history borrow it.
- ``category_mean``: the category's (same location) mean demand per series in that period: its
  seasonal shape, which single series are too noisy to show (``ma_seasonal`` uses it).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, TypedDict

import polars as pl

from forecasting.schemas import SERIES_KEYS

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


def history_grid(daily_demand: pl.DataFrame, start: date, end: date) -> pl.DataFrame:
    """Dense series x day grid of demand over ``[start, end)``.

    Columns: ``sku, location_id, date, units`` where ``units`` is null when the day is censored
    by a stockout. Only series with any row before ``end`` appear, and only from their first day.
    Why dense: marts may omit zero-demand days, and both seasonal averages and accuracy metrics
    need those zeros.
    """
    before_end = daily_demand.filter(pl.col("date") < end)
    first_seen = before_end.group_by(SERIES_KEYS).agg(first_date=pl.col("date").min())
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
    profile_periods: int = 8,
) -> pl.DataFrame:
    """Dense per-series demand history of complete periods before ``run_date``.

    ``daily_demand`` needs ``date, sku, location_id, units_ordered, is_stockout``;
    ``products`` (optional) ``sku, category``. ``history_days`` limits how far back to read.
    """
    if freq not in FREQ_DAYS:
        raise ValueError(f"freq must be 'W' or 'D', got {freq!r}")
    period_days = FREQ_DAYS[freq]
    hist_end = first_forecast_period(run_date, freq)  # history = complete periods before this
    first = daily_demand.filter(pl.col("date") < hist_end)
    if first.height == 0:
        return _empty_series()
    start = column_date(first, "date", "min")
    if history_days is not None:
        start = max(start, hist_end - timedelta(days=history_days))
    grid = history_grid(daily_demand, start, hist_end)
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
    series = _with_category(series, products, profile_periods)
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
    series: pl.DataFrame, products: pl.DataFrame | None, profile_periods: int
) -> pl.DataFrame:
    if products is not None and "category" in products.columns:
        cats = products.select("sku", pl.col("category").cast(pl.String)).unique("sku")
        series = series.join(cats, on="sku", how="left")
    else:
        series = series.with_columns(category=pl.lit(None, dtype=pl.String))
    series = series.with_columns(pl.col("category").fill_null("(none)"))
    last = series["period_start"].max()
    recent = series.filter(
        pl.col("period_start")
        > pl.lit(last) - pl.duration(days=int(series["period_days"][0]) * profile_periods)
    )
    level = recent.group_by("category", "location_id").agg(
        category_level=pl.col("units").mean().fill_null(0.0)
    )
    per_period = series.group_by("category", "location_id", "period_start").agg(
        category_mean=pl.col("imputed").mean()
    )
    return (
        series.join(level, on=["category", "location_id"], how="left")
        .join(per_period, on=["category", "location_id", "period_start"], how="left")
        .with_columns(pl.col("category_level").fill_null(0.0))
    )


def series_matrix(series: pl.DataFrame) -> tuple[pl.DataFrame, list[date], SeriesMatrices]:
    """Wide numpy view of a batch: keys frame, common calendar, and matrices (n x T).

    Returns ``keys`` (``sku, location_id, category, category_level`` in row order), the list of
    period starts and a dict with ``y`` (observed, NaN when censored or before the series
    starts), ``filled`` (imputed, NaN before start), ``cat`` (the category's mean per series in
    each period, NaN where unknown) and ``start`` (index of each series' first period).
    """
    import numpy as np

    step = int(series["period_days"][0]) if series.height else 7
    if series.height:
        lo = column_date(series, "period_start", "min")
        hi = column_date(series, "period_start", "max")
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
    if "category_mean" in keyed.columns:
        cat[rows, cols] = keyed["category_mean"].fill_null(float("nan")).to_numpy()
    present = ~np.isnan(filled)
    start = np.where(present.any(axis=1), present.argmax(axis=1), t)
    return keys, periods, {"y": y, "filled": filled, "start": start, "cat": cat}
