"""Baseline daily demand forecasts and their backtest.

The foundation models are deliberately simple and explainable to a buyer: a weekly seasonal
naive (average of the same weekday over the last four weeks) and a flat moving average. Better
models can be added later and compete against these in :func:`backtest_accuracy`.

Demand is ``units_ordered`` (orders net of cancellations); returns are not subtracted because a
return does not reduce what customers wanted to buy. Days flagged ``is_stockout`` are *censored*:
the sales we saw are a floor on demand, not demand, so they are treated as missing rather than as
(near) zero. A day with no row in ``daily_demand`` after a series first appears is a zero-demand
day (marts may leave quiet days out); days before a series first appears are not history at all.

Everything is vectorized over series with polars; the only numpy step works on the few distinct
Poisson means, not per series.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import polars as pl

# The columns of planning.forecast_accuracy (engine.py adds its per-series extras to these).
ACCURACY_SCHEMA: dict[str, pl.DataType] = {
    "run_date": pl.Date,
    "sku": pl.String,
    "location_id": pl.String,
    "model": pl.String,
    "mase": pl.Float64,
    "wape": pl.Float64,
    "bias": pl.Float64,
    "coverage_p10_p90": pl.Float64,
    "chosen": pl.Boolean,
}

SERIES_KEYS: list[str] = ["sku", "location_id"]

FORECAST_COLUMNS: list[str] = [
    "run_date",
    "sku",
    "location_id",
    "period_start",
    "mean",
    "p10",
    "p50",
    "p90",
    "model",
]

ACCURACY_COLUMNS: list[str] = [
    "run_date",
    "sku",
    "location_id",
    "model",
    "mase",
    "wape",
    "bias",
    "coverage_p10_p90",
    "chosen",
]

SEASONAL_NAIVE = "seasonal_naive"
MOVING_AVERAGE = "moving_average"

# Below this average daily demand, or with too few residuals, residual quantiles are too coarse
# to be trusted and a Poisson distribution around the point forecast is a better description.
LOW_VOLUME_MEAN = 2.0


def _empty_forecast() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "run_date": pl.Date,
            "sku": pl.String,
            "location_id": pl.String,
            "period_start": pl.Date,
            "mean": pl.Float64,
            "p10": pl.Float64,
            "p50": pl.Float64,
            "p90": pl.Float64,
            "model": pl.String,
        }
    )


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


def _long_run_mean(daily_demand: pl.DataFrame, end: date) -> pl.DataFrame:
    """Mean demand per uncensored day over all history before ``end``.

    Why: a SKU out of stock for the whole recent window would otherwise be forecast at zero and
    never reordered (the stockout death spiral); its older uncensored history is the fallback.
    """
    hist = daily_demand.filter(pl.col("date") < end)
    return (
        hist.group_by(SERIES_KEYS)
        .agg(
            first_date=pl.col("date").min(),
            units=pl.col("units_ordered")
            .filter(~pl.col("is_stockout").fill_null(False))
            .sum()
            .clip(lower_bound=0),
            stockout_days=pl.col("date").filter(pl.col("is_stockout").fill_null(False)).n_unique(),
        )
        .with_columns(
            open_days=(pl.lit(end) - pl.col("first_date")).dt.total_days() - pl.col("stockout_days")
        )
        .select(
            *SERIES_KEYS,
            long_run_mean=pl.when(pl.col("open_days") > 0).then(
                pl.col("units") / pl.col("open_days")
            ),
        )
    )


def _phase(col: str, season_days: int) -> pl.Expr:
    # Days since epoch modulo the season length: the weekday when season_days == 7.
    return pl.col(col).cast(pl.Int32).mod(season_days).alias("phase")


def poisson_quantile(lam: np.ndarray, q: float) -> np.ndarray:
    """Smallest k with P(Poisson(lam) <= k) >= q, vectorized over ``lam``."""
    lam = np.asarray(lam, dtype=float)
    out = np.zeros(lam.shape, dtype=float)
    positive = lam > 0
    if not positive.any():
        return out
    lam_pos = lam[positive]
    top = float(lam_pos.max())
    kmax = int(math.ceil(top + 12.0 * math.sqrt(top) + 12.0))
    k = np.arange(kmax + 1, dtype=float)
    log_fact = np.array([math.lgamma(x + 1.0) for x in k])
    log_pmf = k[None, :] * np.log(lam_pos)[:, None] - lam_pos[:, None] - log_fact[None, :]
    cdf = np.cumsum(np.exp(log_pmf), axis=1)
    out[positive] = np.argmax(cdf >= q - 1e-12, axis=1).astype(float)
    return out


def _add_quantiles(forecast: pl.DataFrame, stats: pl.DataFrame) -> pl.DataFrame:
    """Attach p10/p50/p90 to a frame of point forecasts.

    ``stats`` holds, per series, residual quantiles ``r10, r50, r90`` and ``use_poisson``.
    Residual quantiles are added to the point forecast (an additive error model); low-volume
    series use Poisson quantiles of the point forecast instead. Results are clipped at zero and
    forced into order so p10 <= p50 <= p90 always holds.
    """
    fc = forecast.join(stats, on=SERIES_KEYS, how="left").with_columns(
        pl.col("use_poisson").fill_null(True)
    )
    lambdas = fc.filter(pl.col("use_poisson")).select(pl.col("mean").unique()).to_series()
    lam = lambdas.to_numpy().astype(float)
    pois = pl.DataFrame(
        {
            "mean": lambdas,
            "q10": poisson_quantile(lam, 0.10),
            "q50": poisson_quantile(lam, 0.50),
            "q90": poisson_quantile(lam, 0.90),
        },
        schema={"mean": pl.Float64, "q10": pl.Float64, "q50": pl.Float64, "q90": pl.Float64},
    )
    fc = fc.join(pois, on="mean", how="left")

    def pick(q: str, r: str) -> pl.Expr:
        return (
            pl.when(pl.col("use_poisson"))
            .then(pl.col(q))
            .otherwise(pl.col("mean") + pl.col(r))
            .clip(lower_bound=0.0)
        )

    fc = fc.with_columns(p10=pick("q10", "r10"), p50=pick("q50", "r50"), p90=pick("q90", "r90"))
    return fc.with_columns(
        p10=pl.min_horizontal("p10", "p50"),
        p90=pl.max_horizontal("p90", "p50"),
    )


def _residual_stats(resid: pl.DataFrame, min_residuals: int) -> pl.DataFrame:
    """Per-series residual quantiles and the Poisson switch from a frame of ``resid, units``."""
    return (
        resid.group_by(SERIES_KEYS)
        .agg(
            r10=pl.col("resid").quantile(0.10, interpolation="linear"),
            r50=pl.col("resid").quantile(0.50, interpolation="linear"),
            r90=pl.col("resid").quantile(0.90, interpolation="linear"),
            n_resid=pl.col("resid").count(),
            level=pl.col("units").mean(),
        )
        .with_columns(
            use_poisson=(pl.col("n_resid") < min_residuals)
            | (pl.col("level").fill_null(0.0) < LOW_VOLUME_MEAN)
        )
        .select(*SERIES_KEYS, "r10", "r50", "r90", "use_poisson")
    )


def _horizon_grid(series: pl.DataFrame, run_date: date, horizon_days: int) -> pl.DataFrame:
    days = pl.DataFrame(
        {
            "period_start": pl.date_range(
                run_date, run_date + timedelta(days=horizon_days - 1), "1d", eager=True
            )
        }
    )
    return series.select(SERIES_KEYS).unique().join(days, how="cross")


def seasonal_naive_forecast(
    daily_demand: pl.DataFrame,
    run_date: date,
    horizon_days: int = 56,
    season_days: int = 7,
    history_weeks: int = 4,
) -> pl.DataFrame:
    """Weekly seasonal naive forecast for every series with history before ``run_date``.

    The point forecast for a day is the average demand on the same weekday over the last
    ``history_weeks`` seasons before ``run_date`` (stockout days skipped, not counted as zero);
    a weekday with no uncensored observation falls back to the series' window mean, then to its
    long-run uncensored mean. Quantiles come from the empirical distribution of the window's
    residuals around those averages, inflated by sqrt((k+1)/(k-1)): in-sample residuals around a
    mean of k points understate the spread by (k-1)/k, and the mean itself is uncertain by 1/k, or from a Poisson approximation for low-volume series.

    Returns the ``planning.demand_forecast`` shape: one row per series and day from ``run_date``
    for ``horizon_days`` days, sorted by ``sku, location_id, period_start``.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    window_start = run_date - timedelta(days=season_days * history_weeks)
    hist = history_grid(daily_demand, window_start, run_date).with_columns(
        _phase("date", season_days)
    )
    if hist.height == 0:
        return _empty_forecast()

    by_phase = hist.group_by([*SERIES_KEYS, "phase"]).agg(
        phase_mean=pl.col("units").mean(), phase_n=pl.col("units").count()
    )
    series_level = hist.group_by(SERIES_KEYS).agg(window_mean=pl.col("units").mean())
    long_run = _long_run_mean(daily_demand, run_date)

    resid = (
        hist.join(by_phase, on=[*SERIES_KEYS, "phase"], how="left")
        .filter(pl.col("units").is_not_null() & (pl.col("phase_n") >= 2))
        .with_columns(
            resid=(pl.col("units") - pl.col("phase_mean"))
            * ((pl.col("phase_n") + 1) / (pl.col("phase_n") - 1)).sqrt()
        )
    )
    stats = _residual_stats(resid, min_residuals=2 * season_days)

    fc = (
        _horizon_grid(hist, run_date, horizon_days)
        .with_columns(_phase("period_start", season_days))
        .join(by_phase, on=[*SERIES_KEYS, "phase"], how="left")
        .join(series_level, on=SERIES_KEYS, how="left")
        .join(long_run, on=SERIES_KEYS, how="left")
        .with_columns(
            mean=pl.coalesce("phase_mean", "window_mean", "long_run_mean", pl.lit(0.0))
            .cast(pl.Float64)
            .clip(lower_bound=0.0)
        )
    )
    fc = _add_quantiles(fc, stats)
    return (
        fc.with_columns(run_date=pl.lit(run_date), model=pl.lit(SEASONAL_NAIVE))
        .select(FORECAST_COLUMNS)
        .sort([*SERIES_KEYS, "period_start"])
    )


def moving_average_forecast(
    daily_demand: pl.DataFrame,
    run_date: date,
    horizon_days: int = 56,
    window_days: int = 28,
) -> pl.DataFrame:
    """Flat forecast at the mean uncensored daily demand of the last ``window_days`` days.

    The non-seasonal challenger in the backtest: it wins on noisy series without a weekly shape,
    where averaging more days beats averaging four same-weekday points. Same output shape and
    quantile method as :func:`seasonal_naive_forecast`.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    hist = history_grid(daily_demand, run_date - timedelta(days=window_days), run_date)
    if hist.height == 0:
        return _empty_forecast()
    level = hist.group_by(SERIES_KEYS).agg(
        window_mean=pl.col("units").mean(), n=pl.col("units").count()
    )
    long_run = _long_run_mean(daily_demand, run_date)
    resid = (
        hist.join(level, on=SERIES_KEYS, how="left")
        .filter(pl.col("units").is_not_null() & (pl.col("n") >= 2))
        .with_columns(
            resid=(pl.col("units") - pl.col("window_mean"))
            * ((pl.col("n") + 1) / (pl.col("n") - 1)).sqrt()
        )
    )
    stats = _residual_stats(resid, min_residuals=14)
    fc = (
        _horizon_grid(hist, run_date, horizon_days)
        .join(level, on=SERIES_KEYS, how="left")
        .join(long_run, on=SERIES_KEYS, how="left")
        .with_columns(
            mean=pl.coalesce("window_mean", "long_run_mean", pl.lit(0.0))
            .cast(pl.Float64)
            .clip(lower_bound=0.0)
        )
    )
    fc = _add_quantiles(fc, stats)
    return (
        fc.with_columns(run_date=pl.lit(run_date), model=pl.lit(MOVING_AVERAGE))
        .select(FORECAST_COLUMNS)
        .sort([*SERIES_KEYS, "period_start"])
    )


def backtest_accuracy(
    daily_demand: pl.DataFrame,
    run_date: date,
    horizon_days: int = 56,
    season_days: int = 7,
    ma_window_days: int = 28,
    scale_days: int = 365,
    scale_lag: int = 1,
) -> pl.DataFrame:
    """Score the baseline models on a holdout of the last ``horizon_days`` before ``run_date``.

    Each model is fitted as if run on ``run_date - horizon_days`` and compared with what then
    happened (stockout days excluded: their demand is unknown). Metrics per series and model:

    - ``mase``: mean absolute error / in-sample mean absolute lag-``scale_lag`` difference over
      up to ``scale_days`` of training history; null when that scale is 0. Lag 1 (the one-step
      naive) by default because a seasonal-lag scale is 0 for any perfectly periodic series.
    - ``wape``: sum |error| / sum actual; null when nothing was sold.
    - ``bias``: sum(forecast - actual) / sum actual (positive = over-forecast).
    - ``coverage_p10_p90``: share of holdout days inside [p10, p90] (0.8 is calibrated).
    - ``chosen``: true for the model with the lowest MASE per series (then lowest WAPE, then
      seasonal naive as the tie-break), so the flow can pick one forecast per series.

    Series without history before the holdout are not scored. ``run_date`` in the output is the
    run's date, not the holdout origin.
    """
    origin = run_date - timedelta(days=horizon_days)
    models = pl.concat(
        [
            seasonal_naive_forecast(daily_demand, origin, horizon_days, season_days),
            moving_average_forecast(daily_demand, origin, horizon_days, ma_window_days),
        ]
    )
    empty = pl.DataFrame(schema=ACCURACY_SCHEMA)
    if models.height == 0:
        return empty

    actual = history_grid(daily_demand, origin, run_date).rename(
        {"date": "period_start", "units": "actual"}
    )
    train = history_grid(daily_demand, origin - timedelta(days=scale_days), origin)
    scale = (
        train.with_columns(
            diff=(pl.col("units") - pl.col("units").shift(scale_lag).over(SERIES_KEYS)).abs()
        )
        .group_by(SERIES_KEYS)
        .agg(scale=pl.col("diff").mean())
    )
    scored = (
        models.join(actual, on=[*SERIES_KEYS, "period_start"], how="inner")
        .filter(pl.col("actual").is_not_null())
        .with_columns(err=pl.col("mean") - pl.col("actual"))
        .group_by([*SERIES_KEYS, "model"])
        .agg(
            mae=pl.col("err").abs().mean(),
            abs_err=pl.col("err").abs().sum(),
            sum_err=pl.col("err").sum(),
            sum_actual=pl.col("actual").sum(),
            coverage_p10_p90=(
                (pl.col("p10") <= pl.col("actual")) & (pl.col("actual") <= pl.col("p90"))
            ).mean(),
        )
        .join(scale, on=SERIES_KEYS, how="left")
        .with_columns(
            mase=pl.when(pl.col("scale") > 0).then(pl.col("mae") / pl.col("scale")),
            wape=pl.when(pl.col("sum_actual") > 0).then(pl.col("abs_err") / pl.col("sum_actual")),
            bias=pl.when(pl.col("sum_actual") > 0).then(pl.col("sum_err") / pl.col("sum_actual")),
            _priority=pl.when(pl.col("model") == SEASONAL_NAIVE).then(0).otherwise(1),
        )
    )
    if scored.height == 0:
        return empty
    ranked = scored.sort([*SERIES_KEYS, "mase", "wape", "_priority"], nulls_last=True).with_columns(
        chosen=pl.int_range(pl.len()).over(SERIES_KEYS) == 0
    )
    return (
        ranked.with_columns(
            run_date=pl.lit(run_date), coverage_p10_p90=pl.col("coverage_p10_p90").cast(pl.Float64)
        )
        .select(ACCURACY_COLUMNS)
        .sort([*SERIES_KEYS, "model"])
    )
