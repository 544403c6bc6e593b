"""Reorder maths: turn a daily demand forecast and current stock into purchase-order suggestions.

Policy (``periodic_review_order_up_to``, an (R, S) policy with a reorder point): every review
period R the buyer looks at each SKU and location. An order placed today arrives after the lead
time L; the next order can only be placed at the next review and arrives at L + R. So today's
decision must protect the position over the *protection interval* ``P = L + R``:

- ``D(P)``: forecast means summed over the next L + R days; beyond the forecast horizon the
  horizon's average daily mean is assumed.
- safety stock, two methods (column ``safety_stock_method``):

  * ``normal`` (smooth, erratic, new and unclassified series):
    ``SS = z(service level) * sqrt(sum over P of sigma_d,t^2 + d^2 * sigma_L^2)`` with
    ``sigma_d,t = (p90 - p10) / 2.563`` per forecast day (the p10-p90 width of a normal is 2.563
    sigma), ``d`` the mean daily forecast over P and ``sigma_L`` the supplier's lead-time std.
  * ``quantile`` (intermittent and lumpy series): demand over P is a count that is mostly zero
    with rare lumps, so a normal (symmetric, continuous) approximation is wrong. Lead-time
    demand is modelled as a compound Poisson (negative binomial: Poisson arrivals of
    logarithmic-sized lumps) with mean ``D(P)`` and variance ``sum sigma_d,t^2 + d^2 sigma_L^2``
    (floored at the mean: a count is at least as variable as Poisson); the levels are its
    exact service-level quantiles. Series without a ``demand_class`` use this method when the
    forecast median (p50) is zero on at least half of the forecast days.

  Demand errors measured per series (``demand_errors``, from :func:`measure_demand_errors`)
  replace the forecast's own spread where there is history: how far a 28-day average missed
  demand over the series' own L + R in every interval of the last year, weighed against the
  spread in proportion to the number of independent intervals behind it. This catches what the
  daily quantiles cannot: promotions, seasonal swings and trends move whole weeks at a time.

- order-up-to level ``S = ceil(D(P) + SS)``, the service-level quantile of demand over L + R.
- reorder point ``s``: the same quantile over the interval a cycle is really exposed to. When
  every review orders (the smallest order, MOQ or case pack, is no more than a review's demand)
  that is L + R and ``s = S``. When the smallest order lasts several reviews, the position
  crosses ``s`` between two reviews and the order follows at the next one, so a cycle is
  exposed to L plus that *undershoot* (half a review on average), not to L + R: ``s < S``
  (``_reorder_exposure``).
- quantity, when ``IP <= s``: ``max(MOQ, S - IP)`` rounded up to the case pack, then capped so
  that the days of cover after receipt ``(IP + qty) / average daily forecast`` stay within
  ``max_days_of_cover`` (rounded down to the case pack), but never below MOQ (rounded up to the
  case pack) nor one case.

Inventory position ``IP = on hand - committed + on order``. When the open purchase orders are
passed (``open_purchase_orders``), on order counts each open quantity by *when* it arrives:
fully if expected within the lead time (or overdue), not at all if expected after L + R (it
arrives after the interval today's decision protects), and pro rata ``(L + R - e) / R`` for an
arrival on day ``e`` in between (it covers only that share of the review period). Without them
the ``on_order`` of ``inventory_levels`` counts fully.

Pure: polars frames in, polars frames out. Quantities are integers, money is Decimal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import polars as pl

from forecasting.revenue_at_risk import with_revenue_at_risk
from forecasting.schemas import (
    MONEY,
    NEEDS_ATTENTION_COLUMNS,
    PO_COLUMNS,
    REPLENISHMENT_COLUMNS,
    SERIES_KEYS,
)
from forecasting.settings import ReplenishmentSettings
from forecasting.transfers import (
    FxRates,
    LocationKinds,
    apply_transfers,
    empty_transfers,
    fed_series,
    plan_transfers,
    transfer_positions,
    unserved_marketplace,
    with_fed_demand,
)

__all__ = [
    "NEEDS_ATTENTION_COLUMNS",
    "PO_COLUMNS",
    "REPLENISHMENT_COLUMNS",
    "SERIES_KEYS",
    "ReplenishmentPlan",
    "choose_supplier_terms",
    "demand_error_variance",
    "measure_demand_errors",
    "plan_replenishment",
]

POLICY = "periodic_review_order_up_to"
# p90 - p10 of a normal distribution is 2 * 1.2816 = 2.563 standard deviations.
P10_P90_SIGMAS = 2.563
# Float sums such as 0.1 + 0.2 must not push a whole-unit result to the next integer.
_EPS_DECIMALS = 6

NORMAL = "normal"
QUANTILE = "quantile"
DEMAND_CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "new", "inactive")
QUANTILE_CLASSES = ("intermittent", "lumpy")

PROJECTION_COLUMNS: list[str] = [
    "sku",
    "location_id",
    "period_start",
    "demand_mean",
    "receipts",
    "stock_without_order",
    "stock_with_order",
]

OPEN_PO_COLUMNS: list[str] = [
    "po_id",
    "supplier_id",
    "sku",
    "location_id",
    "quantity_open",
    "expected_at",
]


def _empty_projection() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "sku": pl.String,
            "location_id": pl.String,
            "period_start": pl.Date,
            "demand_mean": pl.Float64,
            "receipts": pl.Int64,
            "stock_without_order": pl.Float64,
            "stock_with_order": pl.Float64,
        }
    )


@dataclass(frozen=True)
class ReplenishmentPlan:
    """The outputs of one planning run, written to ``planning.*`` and the buyer files.

    ``projection`` (one row per suggested line and forecast day: expected demand, open-PO
    receipts, projected available stock without and with the suggested order) feeds the charts
    of ``report.html``; it is not a planning table.
    """

    replenishment: pl.DataFrame
    po_suggestions: pl.DataFrame
    needs_attention: pl.DataFrame
    projection: pl.DataFrame = field(default_factory=_empty_projection)
    # stock moved between own locations before purchases (planning.transfer_suggestions)
    transfers: pl.DataFrame = field(default_factory=empty_transfers)


def _as_decimal(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    # Money must stay exact: anything not already Decimal goes through its text form, so a float
    # 1.1 becomes Decimal("1.1") rather than 1.100000000000000088817841970012523.
    if isinstance(dtype, pl.Decimal):
        return expr.cast(pl.Decimal(38, max(dtype.scale or 0, 4)))
    return expr.cast(pl.String).str.strip_chars().cast(pl.Decimal(38, 4))


def choose_supplier_terms(supplier_terms: pl.DataFrame) -> pl.DataFrame:
    """One usable supplier per SKU: the shortest lead time, then the lowest supplier_id.

    Why: the planner needs a single lead time per SKU; costs in different currencies are not
    comparable without FX, so lead time is the deterministic, currency-free choice. Terms with no
    lead time are unusable and are reported by :func:`plan_replenishment` as needing attention.
    """
    cost_dtype = supplier_terms.schema["unit_cost"]
    if "supplier_name" not in supplier_terms.columns:
        supplier_terms = supplier_terms.with_columns(supplier_name=pl.col("supplier_id"))
    if "lead_time_source" not in supplier_terms.columns:
        # terms not passed through forecasting.lead_times.apply_measured_lead_times
        supplier_terms = supplier_terms.with_columns(
            lead_time_source=pl.lit("terms"), lead_time_note=pl.lit(None, dtype=pl.String)
        )
    return (
        supplier_terms.filter(pl.col("lead_time_days").is_not_null())
        .with_columns(
            unit_cost=_as_decimal(pl.col("unit_cost"), cost_dtype),
            lead_time_days=pl.col("lead_time_days").cast(pl.Int64).clip(lower_bound=0),
            lead_time_std_days=pl.col("lead_time_std_days")
            .cast(pl.Float64)
            .fill_null(0.0)
            .clip(lower_bound=0.0),
            moq=pl.col("moq").cast(pl.Int64).fill_null(0).clip(lower_bound=0),
            case_pack=pl.when(pl.col("case_pack").cast(pl.Int64) >= 1)
            .then(pl.col("case_pack").cast(pl.Int64))
            .otherwise(1),
        )
        .sort(["sku", "lead_time_days", "supplier_id"], nulls_last=True)
        .unique(subset=["sku"], keep="first", maintain_order=True)
    )


def _prepare_forecast(forecast: pl.DataFrame, run_date: date, horizon_days: int) -> pl.DataFrame:
    fc = forecast.filter(
        (pl.col("period_start") >= run_date)
        & (pl.col("period_start") < run_date + timedelta(days=horizon_days))
    )
    dupes = fc.select([*SERIES_KEYS, "period_start"]).is_duplicated()
    if dupes.any():
        raise ValueError(
            "forecast has more than one row per sku, location_id and period_start; "
            "pass one model per series (the `chosen` one from forecast_accuracy)"
        )
    demand_class = (
        pl.col("demand_class").cast(pl.String).str.to_lowercase()
        if "demand_class" in fc.columns
        else pl.lit(None, dtype=pl.String)
    )
    return fc.select(
        *SERIES_KEYS,
        "period_start",
        day=(pl.col("period_start") - pl.lit(run_date)).dt.total_days(),
        mean=pl.col("mean").cast(pl.Float64).fill_null(0.0).clip(lower_bound=0.0),
        p10=pl.col("p10").cast(pl.Float64),
        p90=pl.col("p90").cast(pl.Float64),
        p50_zero=pl.col("p50").cast(pl.Float64).fill_null(0.0) <= 0.0,
        var=(
            ((pl.col("p90") - pl.col("p10")).cast(pl.Float64).fill_null(0.0) / P10_P90_SIGMAS)
            .clip(lower_bound=0.0)
            .pow(2)
        ),
        demand_class=demand_class,
    )


def normalize_open_purchase_orders(open_pos: pl.DataFrame) -> pl.DataFrame:
    """Open PO lines as ``po_id, supplier_id, sku, location_id, quantity_open, expected_at``.

    Accepts either that shape or the DESIGN "open purchase orders" shape (``quantity_ordered``,
    ``quantity_received``, ``status``): open quantity = ordered - received for ``open`` and
    ``partial`` lines, nothing for ``received`` or ``cancelled`` ones.
    """
    df = open_pos
    if "quantity_open" not in df.columns:
        received = (
            pl.col("quantity_received").cast(pl.Int64).fill_null(0)
            if "quantity_received" in df.columns
            else pl.lit(0, dtype=pl.Int64)
        )
        df = df.with_columns(
            quantity_open=(pl.col("quantity_ordered").cast(pl.Int64) - received).clip(lower_bound=0)
        )
    if "status" in df.columns:
        df = df.filter(pl.col("status").cast(pl.String).is_in(["open", "partial"]))
    for col, dtype in (("po_id", pl.String), ("supplier_id", pl.String)):
        if col not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=dtype).alias(col))
    return df.select(
        pl.col("po_id").cast(pl.String),
        pl.col("supplier_id").cast(pl.String),
        pl.col("sku").cast(pl.String),
        pl.col("location_id").cast(pl.String),
        pl.col("quantity_open").cast(pl.Int64).fill_null(0).clip(lower_bound=0),
        pl.col("expected_at").cast(pl.Date),
    ).filter(pl.col("quantity_open") > 0)


def _prepare_inventory(inventory_levels: pl.DataFrame) -> pl.DataFrame:
    cols = ["on_hand", "committed", "on_order"]
    return (
        inventory_levels.group_by(SERIES_KEYS)
        .agg([pl.col(c).cast(pl.Int64).fill_null(0).sum() for c in cols])
        .with_columns(has_inventory=pl.lit(True))
    )


def _service_levels(
    series: pl.DataFrame, abc_class: pl.DataFrame | None, settings: ReplenishmentSettings
) -> pl.DataFrame:
    """Attach ``service_level`` and its normal quantile ``z`` to each series."""
    if abc_class is not None and "abc_class" in abc_class.columns:
        classes = abc_class.select("sku", pl.col("abc_class").cast(pl.String)).unique(
            subset=["sku"], keep="first", maintain_order=True
        )
        out = series.join(classes, on="sku", how="left")
    else:
        out = series.with_columns(abc_class=pl.lit(None, dtype=pl.String))
    mapping = {k: float(v) for k, v in settings.service_levels.items()}
    out = out.with_columns(
        service_level=pl.col("abc_class").replace_strict(
            mapping, default=float(settings.default_service_level), return_dtype=pl.Float64
        )
    )
    levels = out["service_level"].unique().to_list()
    z_of = {lvl: NormalDist().inv_cdf(lvl) for lvl in levels}
    return out.with_columns(
        z=pl.col("service_level").replace_strict(z_of, return_dtype=pl.Float64)
    ).drop("abc_class")


def _ceil_int(expr: pl.Expr) -> pl.Expr:
    return expr.round(_EPS_DECIMALS).ceil().cast(pl.Int64)


def _round_up_to(qty: pl.Expr, pack: pl.Expr) -> pl.Expr:
    return ((qty + pack - 1) // pack) * pack


def _level_variance(level_days: int | None) -> pl.Expr:
    """Variance of the forecast level's estimation error summed over the protection interval.

    A level estimated from ``n`` days is off by ``sigma_d / sqrt(n)`` on *every* day alike, so
    over ``P`` days the error is ``P * sigma_d / sqrt(n)``: variance ``P^2 * sigma_d^2 / n``
    (``sigma_d^2`` = the interval's average daily variance). The daily quantiles cannot carry
    this: they describe one day at a time.
    """
    if level_days is None:
        return pl.lit(0.0)
    p = pl.col("protection_days").cast(pl.Float64)
    return p * pl.col("var_p") / level_days


def _reorder_exposure(
    stats: pl.DataFrame, terms: pl.DataFrame, review: int
) -> tuple[np.ndarray, np.ndarray]:
    """How much of the protection interval L + R a reorder point must cover, per series.

    An order placed today is followed by the next one R days later only when orders are placed
    at every review: when the smallest order (MOQ, case pack) is no more than a review
    period's demand. Then a cycle is exposed to demand over L + R and the reorder point is the
    order-up-to level. When the smallest order lasts several reviews, the position falls
    through the reorder point at some moment between two reviews and the order follows at the
    next review: the cycle is exposed to demand over L plus this *undershoot*, on average
    half a review (uniform between none and a whole one). With
    ``phi = min(1, review demand / smallest order)`` (the share of reviews with an order), the
    exposure is ``L + R * (1 + phi) / 2``: L + R when every review orders, L + R / 2 when
    orders are rare. Returns the exposure as a share ``f`` of L + R (the demand mean and the
    demand-error variance scale by it) and the variance the uniform undershoot adds,
    ``(d R)^2 / 12`` weighted by ``1 - phi``.
    """
    st = stats.select(*SERIES_KEYS, "d_daily", "protection_days", "lead_time").join(
        terms.select("sku", "moq", "case_pack"), on="sku", how="left", maintain_order="left"
    )
    q_min = np.maximum(
        np.maximum(st["moq"].fill_null(0).to_numpy(), st["case_pack"].fill_null(1).to_numpy()), 1
    ).astype(float)
    d_r = st["d_daily"].to_numpy() * review
    phi = np.minimum(1.0, d_r / q_min)
    p = st["protection_days"].to_numpy().astype(float)
    exposure = st["lead_time"].to_numpy() + review * (1.0 + phi) / 2.0
    f = np.where(p > 0, exposure / np.maximum(p, 1e-9), 1.0)
    return f, (1.0 - phi) * d_r**2 / 12.0


def count_quantile(mean: np.ndarray, var: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Smallest k with P(X <= k) >= q for a count X with the given mean and variance.

    X is negative binomial (compound Poisson with logarithmic lump sizes) when ``var > mean``,
    Poisson otherwise. Vectorized over series; pmf by the log-space recurrence, so large means
    do not underflow.
    """
    mean = np.asarray(mean, dtype=float)
    var = np.maximum(np.asarray(var, dtype=float), mean)
    q = np.broadcast_to(np.asarray(q, dtype=float), mean.shape)
    out = np.zeros(mean.shape, dtype=np.int64)
    pos = mean > 1e-12
    if not pos.any():
        return out
    mu, v, qq = mean[pos], var[pos], q[pos]
    nb = v > mu * (1 + 1e-9)
    # NB(r, p): mean r(1-p)/p = mu, var mu/p = v  ->  p = mu / v, r = mu^2 / (v - mu).
    p = np.where(nb, mu / np.where(nb, v, 1.0), 1.0)
    r = np.where(nb, mu * mu / np.maximum(v - mu, 1e-300), 0.0)
    log_pmf = np.where(nb, r * np.log(np.where(nb, p, 1.0)), -mu)
    cdf = np.exp(log_pmf)
    found = cdf >= qq - 1e-12
    res = np.zeros(mu.shape, dtype=np.int64)
    kmax = int(math.ceil(float(np.max(mu + 15.0 * np.sqrt(v) + 15.0))))
    log1mp = np.log(np.where(nb, 1.0 - p, 1.0))
    r_safe = np.where(nb, r, 1.0)
    logmu = np.log(mu)
    for k in range(kmax):
        if found.all():
            break
        step = np.where(nb, np.log((k + r_safe) / (k + 1)) + log1mp, logmu - math.log(k + 1))
        log_pmf = log_pmf + step
        cdf = cdf + np.exp(log_pmf)
        newly = ~found & (cdf >= qq - 1e-12)
        res[newly] = k + 1
        found |= newly
    res[~found] = kmax
    out[pos] = res
    return out


def demand_error_variance(
    units: np.ndarray, protection_days: np.ndarray, window_days: int = 28
) -> tuple[np.ndarray, np.ndarray]:
    """Measured error of forecasting demand over each series' protection interval.

    ``units`` is a (days, series) matrix of daily demand ending the day before the run date, NaN
    where a stockout censored the day. For every origin day ``o`` whose interval
    ``[o, o + P)`` lies inside the matrix and has no censored day, the forecast of the interval
    is ``P`` times the mean of the ``window_days`` days before ``o`` (at least half of them
    uncensored) and the error is actual minus forecast. Returns per series the mean squared
    error (bias included) and the number of independent intervals behind it (origins / P, as
    neighbouring origins share most of their days); both 0 where nothing could be measured.
    """
    units = np.asarray(units, dtype=float)
    days, n = units.shape
    p_days = np.asarray(protection_days, dtype=np.int64)
    mse = np.zeros(n)
    n_eff = np.zeros(n)
    if days <= window_days or n == 0:
        return mse, n_eff
    valid = ~np.isnan(units)
    filled = np.where(valid, units, 0.0)
    csum = np.zeros((days + 1, n))
    np.cumsum(filled, axis=0, out=csum[1:])
    ccount = np.zeros((days + 1, n))
    np.cumsum(valid, axis=0, out=ccount[1:])
    for p in np.unique(p_days):
        if p < 1:
            continue
        cols = np.nonzero(p_days == p)[0]
        origins = np.arange(window_days, days - p + 1)
        if origins.size == 0:
            continue
        win_n = ccount[origins][:, cols] - ccount[origins - window_days][:, cols]
        win_s = csum[origins][:, cols] - csum[origins - window_days][:, cols]
        act_n = ccount[origins + p][:, cols] - ccount[origins][:, cols]
        act_s = csum[origins + p][:, cols] - csum[origins][:, cols]
        ok = (win_n >= window_days / 2) & (act_n == p)
        err = act_s - p * win_s / np.maximum(win_n, 1)
        cnt = ok.sum(axis=0)
        sq = np.where(ok, err * err, 0.0).sum(axis=0)
        mse[cols] = np.where(cnt > 0, sq / np.maximum(cnt, 1), 0.0)
        n_eff[cols] = cnt / p
    return mse, n_eff


def demand_error_level(
    units: np.ndarray, protection_days: np.ndarray, window_days: int = 28
) -> np.ndarray:
    """Mean forecast over each series' protection interval at the origins
    :func:`demand_error_variance` measures (0 where none): the level its errors were made at.
    """
    units = np.asarray(units, dtype=float)
    days, n = units.shape
    p_days = np.asarray(protection_days, dtype=np.int64)
    level = np.zeros(n)
    if days <= window_days or n == 0:
        return level
    valid = ~np.isnan(units)
    csum = np.zeros((days + 1, n))
    np.cumsum(np.where(valid, units, 0.0), axis=0, out=csum[1:])
    ccount = np.zeros((days + 1, n))
    np.cumsum(valid, axis=0, out=ccount[1:])
    for p in np.unique(p_days):
        if p < 1:
            continue
        cols = np.nonzero(p_days == p)[0]
        origins = np.arange(window_days, days - p + 1)
        if origins.size == 0:
            continue
        win_n = ccount[origins][:, cols] - ccount[origins - window_days][:, cols]
        win_s = csum[origins][:, cols] - csum[origins - window_days][:, cols]
        act_n = ccount[origins + p][:, cols] - ccount[origins][:, cols]
        ok = (win_n >= window_days / 2) & (act_n == p)
        fc = p * win_s / np.maximum(win_n, 1)
        cnt = ok.sum(axis=0)
        level[cols] = np.where(cnt > 0, np.where(ok, fc, 0.0).sum(axis=0) / np.maximum(cnt, 1), 0)
    return level


def scaled_error_variance(
    error_var: pl.Expr, error_level: pl.Expr, d_p: pl.Expr, p_days: pl.Expr, window_days: int = 28
) -> pl.Expr:
    """The measured error variance, made comparable with today's forecast over L + R.

    Why (issue 15: intermittent reorder points at months of cover): the raw measure is the
    mean squared error of a ``window_days`` moving average over the protection interval, over a
    year. Two things in it are not the uncertainty of today's demand over L + R:

    - the moving average's own sampling noise: its level is off by ``sigma / sqrt(window)`` on
      every day of the interval, ``P^2 sigma^2 / window`` in all, against ``P sigma^2`` for
      demand itself; so the MSE is about ``1 + P / window`` times demand's variance (three times
      it for a 50-day lead time). The forecast's own level error is counted separately
      (``forecast_level_days``), so it is divided out here;
    - the level it was measured at: a count's variance grows with its mean, and an item that
      sold 3 a week in spring and sells 1 now is not as uncertain now as then. The variance is
      taken per unit of demand forecast at the measured origins (``error_level``) and applied
      to today's ``d_p``.
    """
    # clipped: a level measured on a handful of sales (a launch) says little about the ratio
    per_unit = pl.when(error_level > 0).then((d_p / error_level).clip(0.25, 4.0)).otherwise(1.0)
    return error_var / (1.0 + p_days.cast(pl.Float64) / window_days) * per_unit


def measure_demand_errors(
    daily_demand: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    settings: ReplenishmentSettings,
    run_date: date,
) -> pl.DataFrame:
    """``sku, location_id, error_var, error_n, error_level`` from the last
    ``settings.error_history_days`` (:func:`demand_error_variance`, :func:`demand_error_level`).

    ``daily_demand``: ``date, sku, location_id, units_ordered, is_stockout`` (the forecast's
    input); see :func:`demand_error_variance`. Pass the result to :func:`plan_replenishment`
    as ``demand_errors``.
    """
    terms = choose_supplier_terms(supplier_terms).select(
        "sku", p=pl.col("lead_time_days") + settings.review_period_days
    )
    lookback = settings.error_history_days
    start = run_date - timedelta(days=lookback)
    hist = daily_demand.filter((pl.col("date") >= start) & (pl.col("date") < run_date))
    series = hist.select(SERIES_KEYS).unique().join(terms, on="sku", how="inner").sort(SERIES_KEYS)
    empty = pl.DataFrame(
        schema={
            "sku": pl.String,
            "location_id": pl.String,
            "error_var": pl.Float64,
            "error_n": pl.Float64,
            "error_level": pl.Float64,
        }
    )
    if series.height == 0:
        return empty
    series = series.with_row_index("col")
    # Days before a series first sold are not history; quiet days after it are zeros (the
    # marts may leave them out).
    first = (
        daily_demand.filter(pl.col("date") < run_date)
        .group_by(SERIES_KEYS)
        .agg(first=pl.col("date").min())
    )
    grid = (
        hist.join(series, on=SERIES_KEYS, how="inner")
        .group_by("col", "date")
        .agg(
            units=pl.col("units_ordered").sum().cast(pl.Float64),
            stockout=pl.col("is_stockout").fill_null(False).any(),
        )
        .with_columns(t=(pl.col("date") - pl.lit(start)).dt.total_days())
    )
    units = np.zeros((lookback, series.height))
    units[grid["t"].to_numpy(), grid["col"].to_numpy()] = np.where(
        grid["stockout"].to_numpy(), np.nan, grid["units"].to_numpy()
    )
    first_t = (
        series.join(first, on=SERIES_KEYS, how="left")
        .sort("col")
        .select((pl.col("first") - pl.lit(start)).dt.total_days())
        .to_series()
        .to_numpy()
    )
    units[np.arange(lookback)[:, None] < first_t[None, :]] = np.nan
    mse, n_eff = demand_error_variance(units, series["p"].to_numpy())
    level = demand_error_level(units, series["p"].to_numpy())
    return series.select(SERIES_KEYS).with_columns(
        error_var=pl.Series(mse), error_n=pl.Series(n_eff), error_level=pl.Series(level)
    )


def plan_replenishment(
    forecast: pl.DataFrame,
    inventory_levels: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    settings: ReplenishmentSettings,
    run_date: date,
    abc_class: pl.DataFrame | None = None,
    open_purchase_orders: pl.DataFrame | None = None,
    demand_errors: pl.DataFrame | None = None,
    location_kinds: LocationKinds | None = None,
    fx_to_base: FxRates | None = None,
    base_currency: str | None = None,
    unit_prices: pl.DataFrame | None = None,
    bundle_skus: Iterable[str] = (),
) -> ReplenishmentPlan:
    """Compute reorder levels for every forecast series and suggest purchase-order lines.

    ``forecast`` is ``planning.demand_forecast`` for this run with one model per series (and
    optionally a ``demand_class`` column per series: smooth, erratic, intermittent, lumpy, new,
    inactive); only days in ``[run_date, run_date + settings.horizon_days)`` are used.
    ``inventory_levels`` is ``marts.inventory_levels`` (``sku, location_id, on_hand, committed,
    on_order``). ``abc_class`` (``sku, abc_class``, e.g. from ``marts.products``) picks the
    service level; without it every SKU gets the default. ``open_purchase_orders`` (``po_id,
    supplier_id, sku, location_id, quantity_open, expected_at``, or the DESIGN open-PO shape)
    replaces ``inventory_levels.on_order`` and is counted by arrival date (module docstring).
    ``demand_errors`` (``sku, location_id, error_var, error_n`` from
    :func:`measure_demand_errors`) sets the demand variance over L + R from measured errors
    instead of the forecast's spread (``settings.error_prior_weight``).
    ``bundle_skus`` (SKUs with a bill of materials) are never planned: a bundle is assembled
    from its components when sold, and its demand is already in theirs (``marts.daily_demand``'s
    'bundle' rows), so a purchase line for it would buy the same units twice.
    With ``settings.transfer_lanes``, stock is first moved between own locations
    (:mod:`forecasting.transfers`; ``location_kinds`` names the marketplace-fulfilled ones,
    ``fx_to_base`` and ``base_currency`` compare a lane's cost with the supplier's) and the
    purchase lines buy only what the transfers leave short.
    ``unit_prices`` (``sku, location_id, unit_price, price_currency`` from
    :func:`forecasting.revenue_at_risk.unit_prices`) fills each line's revenue at risk if it is
    not ordered (:mod:`forecasting.revenue_at_risk`); without it those columns stay null.

    Returns the ``replenishment`` rows (series with a forecast and supplier terms), the
    ``po_suggestions`` lines (sorted by supplier, location, SKU; ``approved_qty`` null for the
    buyer), ``needs_attention`` rows for what the planner could not handle, and the daily stock
    ``projection`` of every suggested line.
    """
    review = settings.review_period_days
    bundles = sorted(set(bundle_skus))
    if bundles:
        forecast = forecast.filter(~pl.col("sku").is_in(bundles))
        inventory_levels = inventory_levels.filter(~pl.col("sku").is_in(bundles))
    fc = _prepare_forecast(forecast, run_date, settings.horizon_days)
    terms = choose_supplier_terms(supplier_terms)
    inv = _prepare_inventory(inventory_levels)
    # marketplace series fed by transfer (forecasting/transfers.py): never bought for directly
    fed = fed_series(
        settings, location_kinds, pl.concat([fc.select(SERIES_KEYS), inv.select(SERIES_KEYS)])
    )
    fc = with_fed_demand(fc, fed)  # the feeder plans for what it sends on
    pos = (
        normalize_open_purchase_orders(open_purchase_orders)
        if open_purchase_orders is not None
        else None
    )

    stats = (
        fc.join(terms.select("sku", "lead_time_days", "lead_time_std_days"), on="sku", how="inner")
        # a marketplace location fed by transfer protects its lane's lead time, not the supplier's
        .join(fed.drop("feeder"), on=SERIES_KEYS, how="left")
        .with_columns(
            supplier_lead=pl.col("lead_time_days"),
            lead_time_days=pl.coalesce("fed_lead_time_days", "lead_time_days"),
        )
        .with_columns(in_p=pl.col("day") < pl.col("lead_time_days") + review)
        .group_by(SERIES_KEYS)
        .agg(
            lead_time=pl.col("lead_time_days").first(),
            supplier_lead=pl.col("supplier_lead").first(),
            is_fed=pl.col("fed_lead_time_days").is_not_null().first(),
            lead_time_std=pl.col("lead_time_std_days").first(),
            n_h=pl.len(),
            d_avg=pl.col("mean").mean(),
            var_avg=pl.col("var").mean(),
            d_p=pl.col("mean").filter(pl.col("in_p")).sum(),
            var_p=pl.col("var").filter(pl.col("in_p")).sum(),
            n_p=pl.col("in_p").sum(),
            zero_median_share=pl.col("p50_zero").mean(),
            demand_class=pl.col("demand_class").drop_nulls().first(),
        )
        .with_columns(
            # Beyond the forecast horizon, assume the horizon's average day.
            gap_p=(pl.col("lead_time") + review - pl.col("n_p")).clip(lower_bound=0),
            protection_days=pl.col("lead_time") + review,
        )
        .with_columns(
            d_p=pl.col("d_p") + pl.col("d_avg") * pl.col("gap_p"),
            var_p=pl.col("var_p") + pl.col("var_avg") * pl.col("gap_p"),
        )
        .with_columns(
            d_daily=pl.when(pl.col("protection_days") > 0)
            .then(pl.col("d_p") / pl.col("protection_days"))
            .otherwise(pl.col("d_avg")),
            safety_stock_method=pl.when(pl.col("demand_class").is_in(list(QUANTILE_CLASSES)))
            .then(pl.lit(QUANTILE))
            .when(pl.col("demand_class").is_null() & (pl.col("zero_median_share") >= 0.5))
            .then(pl.lit(QUANTILE))
            .otherwise(pl.lit(NORMAL)),
        )
        .with_columns(var_demand=pl.col("var_p") + _level_variance(settings.forecast_level_days))
    )
    if demand_errors is not None:
        k0 = settings.error_prior_weight
        has_level = "error_level" in demand_errors.columns
        stats = (
            stats.join(
                demand_errors.select(
                    *SERIES_KEYS,
                    "error_var",
                    "error_n",
                    *(["error_level"] if has_level else []),
                ),
                on=SERIES_KEYS,
                how="left",
            )
            .with_columns(pl.col("error_var").fill_null(0.0), pl.col("error_n").fill_null(0.0))
            .with_columns(
                # measured at a level (measure_demand_errors): comparable with today's d_p
                error_var=scaled_error_variance(
                    pl.col("error_var"),
                    pl.col("error_level").fill_null(0.0),
                    pl.col("d_p"),
                    pl.col("protection_days"),
                )
                if has_level
                else pl.col("error_var")
            )
            .with_columns(
                var_demand=(pl.col("error_n") * pl.col("error_var") + k0 * pl.col("var_demand"))
                / (pl.col("error_n") + k0)
            )
            .with_columns(
                # the measured origins' forecast over the supplier's L + R
                # (measure_demand_errors), as a daily rate
                measured_rate=pl.col("error_level").fill_null(0.0)
                / (pl.col("supplier_lead") + review).clip(lower_bound=1)
                if has_level
                else pl.lit(0.0)
            )
            .drop("error_var", "error_n", *(["error_level"] if has_level else []))
        )
    stats = stats.with_columns(
        var_ltd=pl.col("var_demand") + pl.col("d_daily").pow(2) * pl.col("lead_time_std").pow(2)
    )
    stats = _service_levels(stats, abc_class, settings).sort(SERIES_KEYS)
    is_q = (stats["safety_stock_method"] == QUANTILE).to_numpy()
    z = np.clip(stats["z"].to_numpy(), 0.0, None)
    sl = stats["service_level"].to_numpy()

    def quantile_level(mean: np.ndarray, var: np.ndarray) -> np.ndarray:
        # Service-level quantile of demand over an interval, by either method.
        out = mean + z * np.sqrt(var)
        if is_q.any():
            out[is_q] = count_quantile(mean[is_q], var[is_q], sl[is_q]).astype(float)
        return out

    d_p = stats["d_p"].to_numpy()
    p_days = np.maximum(stats["protection_days"].to_numpy().astype(float), 1.0)
    # The long-run rate the measured errors were made at (0 without measured errors).
    rate = (
        stats["measured_rate"].to_numpy()
        if "measured_rate" in stats.columns
        else np.zeros_like(d_p)
    )
    # A marketplace location fed by transfer plans for at least that rate: its own history is
    # cut short by its stockouts, and a forecast that dips to nothing there leaves it empty
    # until the next transfer (it holds only the lane's days, no purchase overhang).
    d_p = np.where(stats["is_fed"].to_numpy(), np.maximum(d_p, rate * p_days), d_p)
    var_ltd = stats["var_ltd"].to_numpy()
    # Order-up-to level: the quantile of demand over L + R.
    level = quantile_level(d_p, var_ltd)
    # Reorder point: the quantile of demand over the interval a cycle is exposed to (see
    # _reorder_exposure), never above the order-up-to level.
    f, undershoot_var = _reorder_exposure(stats, terms, review)
    lead_var = (stats["d_daily"].to_numpy() * stats["lead_time_std"].to_numpy()) ** 2
    var_s = (var_ltd - lead_var) * f + lead_var + undershoot_var
    level_s = np.minimum(quantile_level(d_p * f, var_s), level)
    # What a transfer sender keeps (forecasting/transfers.py): the same quantile over L + R
    # plus the transfer buffer, at the higher of today's forecast and the long-run rate, the
    # error variance growing with the interval. Why: a transfer cannot be taken back and the
    # sender buys back at its supplier's lead time; given away on a forecast that dipped
    # (slow movers), the stock was missed at the sender more than it helped the receiver.
    grow = (p_days + settings.transfer_buffer_days) / p_days
    level_keep = quantile_level(np.maximum(d_p, rate * p_days) * grow, var_ltd * grow)
    stats = stats.with_columns(
        level=pl.Series(level, dtype=pl.Float64),
        level_s=pl.Series(level_s, dtype=pl.Float64),
        keep_level=pl.Series(level_keep, dtype=pl.Float64),
    )

    on_order = _on_order_counted(inv, pos, stats, run_date, review)
    rep = (
        stats.with_columns(
            order_up_to=_ceil_int(pl.col("level")),
            lead_time_demand=pl.col("d_p").round(3),
        )
        .with_columns(
            reorder_point=_ceil_int(pl.col("level_s")),
            safety_stock=pl.col("order_up_to") - _ceil_int(pl.col("d_p")),
        )
        .join(inv.drop("on_order"), on=SERIES_KEYS, how="left")
        .join(on_order, on=SERIES_KEYS, how="left")
        .with_columns(
            [pl.col(c).fill_null(0) for c in ["on_hand", "committed", "on_order", "on_order_all"]]
        )
        .with_columns(
            available=pl.col("on_hand") - pl.col("committed"),
            inventory_position=pl.col("on_hand") - pl.col("committed") + pl.col("on_order"),
        )
    )
    replenishment = (
        rep.with_columns(
            run_date=pl.lit(run_date),
            policy=pl.lit(POLICY),
            lead_time_days=pl.col("lead_time"),
            review_period_days=pl.lit(review, dtype=pl.Int64),
        )
        .select(REPLENISHMENT_COLUMNS)
        .sort(SERIES_KEYS)
    )

    projection_all = _projection_base(fc, rep, pos, run_date)
    # Transfers first: counted as on order at the receiver and as gone from the sender, so the
    # purchase lines buy only the shortage they leave (forecasting/transfers.py).
    transfers = empty_transfers()
    if settings.transfer_lanes:
        transfers = plan_transfers(
            transfer_positions(rep, terms, inv), settings, run_date, location_kinds, fx_to_base,
            base_currency, feeders=fed,
        )  # fmt: skip
    rep = apply_transfers(rep, transfers)
    buyable = rep.join(fed.select(SERIES_KEYS), on=SERIES_KEYS, how="anti")
    po = _po_lines(buyable, projection_all, terms, settings, run_date)
    projection = _projection(projection_all, po, run_date)
    if unit_prices is not None:
        po = with_revenue_at_risk(po, projection_all, unit_prices, review)
    needs = _needs_attention(fc, inv, supplier_terms, terms)
    if settings.transfer_lanes:
        unserved = unserved_marketplace(rep, fed)
        needs = pl.concat([needs, unserved.select(NEEDS_ATTENTION_COLUMNS)]).sort(
            NEEDS_ATTENTION_COLUMNS
        )
    return ReplenishmentPlan(
        replenishment=replenishment,
        po_suggestions=po,
        needs_attention=needs,
        projection=projection,
        transfers=transfers,
    )


def _on_order_counted(
    inv: pl.DataFrame,
    pos: pl.DataFrame | None,
    stats: pl.DataFrame,
    run_date: date,
    review: int,
) -> pl.DataFrame:
    """``on_order`` counted in the position and ``on_order_all`` (every open unit) per series."""
    if pos is None:
        return inv.select(*SERIES_KEYS, "on_order", on_order_all=pl.col("on_order"))
    lt = stats.select(*SERIES_KEYS, "lead_time")
    counted = (
        pos.join(lt, on=SERIES_KEYS, how="left")
        .with_columns(
            e=(pl.col("expected_at") - pl.lit(run_date)).dt.total_days().fill_null(0),
            lt=pl.col("lead_time").fill_null(0),
        )
        .with_columns(
            weight=pl.when(pl.col("e") <= pl.col("lt"))
            .then(1.0)
            .when(pl.col("e") >= pl.col("lt") + review)
            .then(0.0)
            .otherwise((pl.col("lt") + review - pl.col("e")) / review)
        )
        .group_by(SERIES_KEYS)
        .agg(
            on_order=(pl.col("quantity_open") * pl.col("weight"))
            .sum()
            .round(_EPS_DECIMALS)
            .floor()
            .cast(pl.Int64),
            on_order_all=pl.col("quantity_open").sum().cast(pl.Int64),
        )
    )
    return counted


def _projection_base(
    fc: pl.DataFrame, rep: pl.DataFrame, pos: pl.DataFrame | None, run_date: date
) -> pl.DataFrame:
    """Daily projected available stock (no new order) for every planned series.

    Start from on hand - committed, add open-PO receipts on their expected day (overdue ones on
    day 0; without dated POs, ``on_order`` on the lead-time day), subtract the forecast mean.
    The value of a day is the stock at its end.
    """
    base = fc.select(*SERIES_KEYS, "period_start", "day", demand_mean="mean").join(
        rep.select(*SERIES_KEYS, "available", "on_order_all", "lead_time"),
        on=SERIES_KEYS,
        how="inner",
    )
    if pos is not None:
        receipts = (
            pos.with_columns(
                day=(pl.col("expected_at") - pl.lit(run_date))
                .dt.total_days()
                .fill_null(0)
                .clip(lower_bound=0)
            )
            .group_by([*SERIES_KEYS, "day"])
            .agg(receipts=pl.col("quantity_open").sum().cast(pl.Int64))
        )
        base = base.join(receipts, on=[*SERIES_KEYS, "day"], how="left")
    else:
        base = base.with_columns(
            receipts=pl.when(pl.col("day") == pl.col("lead_time"))
            .then(pl.col("on_order_all"))
            .otherwise(0)
        )
    return (
        base.with_columns(pl.col("receipts").fill_null(0).cast(pl.Int64))
        .sort([*SERIES_KEYS, "period_start"])
        .with_columns(
            stock_without_order=(
                pl.col("available")
                + pl.col("receipts").cum_sum().over(SERIES_KEYS)
                - pl.col("demand_mean").cum_sum().over(SERIES_KEYS)
            ).round(_EPS_DECIMALS)
        )
    )


def _projected_stockouts(projection: pl.DataFrame) -> pl.DataFrame:
    """First forecast day whose projected stock (with open POs, no new order) goes below zero."""
    return (
        projection.filter(pl.col("stock_without_order") < 0)
        .group_by(SERIES_KEYS)
        .agg(projected_stockout_date=pl.col("period_start").min())
    )


def _projection(projection_all: pl.DataFrame, po: pl.DataFrame, run_date: date) -> pl.DataFrame:
    lines = po.select(*SERIES_KEYS, "suggested_qty", "lead_time_days")
    return (
        projection_all.join(lines, on=SERIES_KEYS, how="inner")
        .with_columns(
            stock_with_order=pl.col("stock_without_order")
            + pl.when(pl.col("day") >= pl.col("lead_time_days"))
            .then(pl.col("suggested_qty"))
            .otherwise(0)
        )
        .select(PROJECTION_COLUMNS)
        .sort([*SERIES_KEYS, "period_start"])
    )


def _po_lines(
    rep: pl.DataFrame,
    projection_all: pl.DataFrame,
    terms: pl.DataFrame,
    settings: ReplenishmentSettings,
    run_date: date,
) -> pl.DataFrame:
    max_cover = settings.max_days_of_cover
    lines = (
        rep.filter(
            (pl.col("inventory_position") <= pl.col("reorder_point"))
            & (pl.col("order_up_to") > pl.col("inventory_position"))
        )
        .join(terms.drop("lead_time_days"), on="sku", how="inner")
        .join(_projected_stockouts(projection_all), on=SERIES_KEYS, how="left")
        .with_columns(need=pl.col("order_up_to") - pl.col("inventory_position"))
        .with_columns(base=pl.max_horizontal("need", "moq"))
        .with_columns(
            rounded=_round_up_to(pl.col("base"), pl.col("case_pack")),
            min_qty=pl.max_horizontal(
                _round_up_to(pl.col("moq"), pl.col("case_pack")), pl.col("case_pack")
            ),
            # Largest case multiple keeping (IP + qty) / daily demand <= max_days_of_cover.
            # Daily demand is d_daily, the mean of the distribution over L + R the reorder
            # point comes from (issue 15: cover and reorder point from the same demand).
            cap=pl.when(pl.col("d_daily") > 0).then(
                (
                    ((max_cover * pl.col("d_daily")).round(_EPS_DECIMALS).floor().cast(pl.Int64))
                    - pl.col("inventory_position")
                )
                // pl.col("case_pack")
                * pl.col("case_pack")
            ),
        )
        .with_columns(
            suggested_qty=pl.when(pl.col("cap").is_not_null())
            .then(pl.max_horizontal(pl.min_horizontal("rounded", "cap"), "min_qty"))
            .otherwise(pl.col("rounded"))
            .cast(pl.Int64),
            days_of_cover=pl.when(pl.col("d_daily") > 0).then(
                (pl.col("inventory_position") / pl.col("d_daily")).round(1)
            ),
        )
        .with_columns(
            days_of_cover_after=pl.when(pl.col("d_daily") > 0).then(
                (
                    (pl.col("inventory_position") + pl.col("suggested_qty")) / pl.col("d_daily")
                ).round(1)
            ),
            lead_time_days=pl.col("lead_time"),
            expected_receipt_date=pl.lit(run_date) + pl.duration(days=pl.col("lead_time")),
        )
        .with_columns(
            beyond_max_cover=pl.col("cap").is_not_null()
            & (pl.col("suggested_qty") > pl.col("cap").clip(lower_bound=0)),
            # units beyond max_days_of_cover once the line is received (at most the line)
            excess_units=pl.min_horizontal(
                pl.col("suggested_qty"),
                pl.col("inventory_position")
                + pl.col("suggested_qty")
                - (max_cover * pl.col("d_daily")).round(_EPS_DECIMALS).floor().cast(pl.Int64),
            ).clip(lower_bound=0),
        )
        .with_columns(
            line_value=pl.col("suggested_qty").cast(pl.Decimal(38, 0)) * pl.col("unit_cost"),
            excess_value=pl.when(pl.col("beyond_max_cover"))
            .then(pl.col("excess_units").cast(pl.Decimal(38, 0)) * pl.col("unit_cost"))
            .otherwise(pl.lit(0).cast(pl.Decimal(38, 0)) * pl.col("unit_cost")),
            reason=_reason(max_cover),
            run_date=pl.lit(run_date),
            approved_qty=pl.lit(None, dtype=pl.Int64),
            # filled by forecasting.revenue_at_risk when the plan is given prices
            units_at_risk=pl.lit(None, dtype=pl.Float64),
            revenue_at_risk=pl.lit(None, dtype=MONEY),
            revenue_currency=pl.lit(None, dtype=pl.String),
        )
    )
    return lines.select(PO_COLUMNS).sort(["supplier_id", "location_id", "sku"])


def _reason(max_cover: int) -> pl.Expr:
    """Plain words a buyer can check: why the line exists and why the quantity is what it is."""
    main = pl.format(
        "below reorder point: position {} <= {} ({} on hand, {} committed, {} on order)",
        "inventory_position",
        "reorder_point",
        "on_hand",
        "committed",
        "on_order",
    )
    moved = pl.when(pl.col("transfer_in") > 0).then(
        pl.format("position counts {} arriving by transfer", "transfer_in")
    )
    gone = pl.when(pl.col("transfer_out") > 0).then(
        pl.format("position counts {} leaving by transfer as gone", "transfer_out")
    )
    late = pl.when(pl.col("on_order_all") > pl.col("on_order")).then(
        pl.format(
            "{} more on order arrive too late to count in full",
            pl.col("on_order_all") - pl.col("on_order"),
        )
    )
    stockout = (
        pl.when(pl.col("projected_stockout_date").is_not_null())
        .then(pl.format("projected stockout {}", pl.col("projected_stockout_date")))
        .otherwise(pl.format("no stockout projected within {} days", pl.col("n_h")))
    )
    cover = pl.when(pl.col("days_of_cover").is_not_null()).then(
        pl.format(
            "{} days of cover now, {} after receipt on {}",
            pl.col("days_of_cover"),
            pl.col("days_of_cover_after"),
            pl.col("expected_receipt_date"),
        )
    )
    # where the lead time came from (forecasting/lead_times.py), when the planner was told
    lead = pl.col("lead_time_note")
    method = pl.when(pl.col("safety_stock_method") == QUANTILE).then(
        pl.lit("intermittent demand: level from the demand distribution, not a normal")
    )
    moq = pl.when(pl.col("moq") > pl.col("need")).then(
        pl.format("need {} raised to MOQ {}", pl.col("need"), pl.col("moq"))
    )
    pack = pl.when(
        (pl.col("rounded") != pl.col("base")) & (pl.col("suggested_qty") == pl.col("rounded"))
    ).then(pl.format("rounded up to case pack of {}", pl.col("case_pack")))
    capped = (
        pl.when(
            (pl.col("suggested_qty") < pl.col("rounded"))
            & (pl.col("suggested_qty") <= pl.col("cap"))
        )
        .then(
            pl.format(
                "capped from {} to stay within {} days of cover",
                pl.col("rounded"),
                pl.lit(max_cover),
            )
        )
        .when(pl.col("suggested_qty") < pl.col("rounded"))
        .then(
            pl.format(
                "capped from {} toward {} days of cover, but not below the minimum order of {}",
                pl.col("rounded"),
                pl.lit(max_cover),
                pl.col("min_qty"),
            )
        )
    )
    over = pl.when(pl.col("beyond_max_cover")).then(
        pl.format(
            "the minimum order takes it beyond {} days of cover ({} units more than that): "
            "skippable, or ask the supplier for less",
            pl.lit(max_cover),
            "excess_units",
        )
    )
    return pl.concat_str(
        [main, moved, gone, late, stockout, cover, lead, method, moq, pack, capped, over],
        separator="; ",
        ignore_nulls=True,
    )


def _needs_attention(
    fc: pl.DataFrame,
    inv: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    terms: pl.DataFrame,
) -> pl.DataFrame:
    """Series the planner could not plan (or should not be trusted on), with the reason why."""
    fc_series = fc.select(SERIES_KEYS).unique().with_columns(has_forecast=pl.lit(True))
    universe = fc_series.join(inv, on=SERIES_KEYS, how="full", coalesce=True).with_columns(
        pl.col("has_forecast").fill_null(False), pl.col("has_inventory").fill_null(False)
    )
    any_terms = supplier_terms.select("sku").unique().with_columns(has_any_terms=pl.lit(True))
    usable = terms.select("sku").with_columns(has_terms=pl.lit(True))
    u = (
        universe.join(any_terms, on="sku", how="left")
        .join(usable, on="sku", how="left")
        .with_columns(
            pl.col("has_any_terms").fill_null(False), pl.col("has_terms").fill_null(False)
        )
    )
    reasons = [
        u.filter(~pl.col("has_any_terms")).with_columns(
            reason=pl.lit("no supplier terms for this SKU: no purchase order can be suggested")
        ),
        u.filter(pl.col("has_any_terms") & ~pl.col("has_terms")).with_columns(
            reason=pl.lit(
                "supplier terms have no lead_time_days: no purchase order can be suggested"
            )
        ),
        u.filter(~pl.col("has_forecast")).with_columns(
            reason=pl.lit("no demand history: no forecast, so no reorder point")
        ),
        u.filter(pl.col("has_forecast") & ~pl.col("has_inventory")).with_columns(
            reason=pl.lit("no inventory record: stock assumed to be zero")
        ),
        u.filter(pl.col("on_hand") < 0).with_columns(
            reason=pl.format(
                "negative stock: {} on hand; count the stock before ordering", pl.col("on_hand")
            )
        ),
    ]
    return (
        pl.concat([r.select(NEEDS_ATTENTION_COLUMNS) for r in reasons])
        .unique()
        .sort(NEEDS_ATTENTION_COLUMNS)
    )
