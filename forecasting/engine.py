"""Forecast every series: candidate models, rolling-origin selection, quantiles, outputs.

Public entry points (pure functions of polars DataFrames; no Prefect, no DuckDB):

- :func:`forecast_batch` over one batch of series from :func:`forecasting.series.build_series`
  -> ``(forecast_df, accuracy_df)``. This is the unit the flow maps as tasks.
- :func:`forecast_all` builds the series, cuts them into batches and runs the batches on a
  process pool (``workers`` processes).
- :func:`to_daily` spreads weekly forecasts over days for the replenishment code.
- :func:`accuracy_summary` gives accuracy overall and by demand class.

How one batch is forecast:

1. classify each series (:mod:`forecasting.classify`);
2. forecast every candidate at ``n_origins`` rolling backtest origins and at the run date in one
   pass (vectorized models: seasonal naive, moving average, moving average x the parent's
   seasonal index (shrunk towards 1 by its noise), Croston, SBA, TSB, SES, zero, category
   profile, the new-item combination (with the parent's season only where the store's past
   launches were forecast better with it: :func:`launch_backtest`), and an ensemble; ETS for
   smooth/erratic series with enough history, parameters estimated per series);
3. score the candidates on the periods after each origin that were observed (not censored):
   MASE, WAPE, bias, p10-p90 coverage;
4. choose per series the candidate with the lowest backtest MASE among those allowed for its
   class (ties and unscored series follow :data:`forecasting.models.FALLBACK_ORDER`); a model
   whose fit failed is not a candidate, so the next one takes over;
5. an established item in a zero run its own zero rate makes improbable is forecast as the
   store's own past such runs ended (:func:`return_hazard`, measured on all series and handed
   to every batch): back at its level before the run, back later (the chosen model), or gone
   (0), with Kaplan-Meier probabilities;
6. quantiles p10/p50/p90 from a negative binomial calibrated on the chosen model's backtest
   errors (:mod:`forecasting.quantiles`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from forecasting import classify as cl
from forecasting import models as M
from forecasting.models.ets import ets_filter, fit_params
from forecasting.quantiles import count_quantiles, dispersion, inside_band
from forecasting.schemas import (
    ACCURACY_COLUMNS,
    DEMAND_FORECAST,
    FORECAST_ACCURACY,
    FORECAST_COLUMNS,
    SERIES_KEYS,
)
from forecasting.series import (
    FREQ_DAYS,
    LAUNCH_AGES,
    build_series,
    first_forecast_period,
    launch_curve,
    parent_shape,
    series_matrix,
)

__all__ = [
    "ACCURACY_COLUMNS",
    "CANDIDATES",
    "FORECAST_COLUMNS",
    "NAIVE_MODELS",
    "ForecastSettings",
    "accuracy_summary",
    "forecast_all",
    "forecast_batch",
    "iter_batches",
    "launch_backtest",
    "naive_forecast",
    "return_hazard",
    "store_context",
    "to_daily",
    "weekday_profile",
]

# Which models compete for each demand class (seasonal naive is in every set).
_REGULAR = [
    M.ENSEMBLE,
    M.ETS_SEASONAL,
    M.ETS_DAMPED,
    M.ETS_SES,
    M.SES,
    M.SBA,
    M.MA_SEASONAL,
    M.MOVING_AVERAGE,
    M.MOVING_AVERAGE_4,
    M.SEASONAL_NAIVE,
]
CANDIDATES: dict[str, list[str]] = {
    cl.SMOOTH: _REGULAR,
    cl.ERRATIC: _REGULAR,
    cl.INTERMITTENT: [
        M.ENSEMBLE,
        M.SES,
        M.SBA,
        M.TSB,
        M.CROSTON,
        M.MA_SEASONAL,
        M.MOVING_AVERAGE,
        M.MOVING_AVERAGE_4,
        M.SEASONAL_NAIVE,
    ],
    cl.LUMPY: [
        M.ENSEMBLE,
        M.SES,
        M.SBA,
        M.TSB,
        M.CROSTON,
        M.MA_SEASONAL,
        M.MOVING_AVERAGE,
        M.MOVING_AVERAGE_4,
        M.SEASONAL_NAIVE,
    ],
    cl.INACTIVE: [M.TSB, M.ZERO, M.MOVING_AVERAGE, M.SEASONAL_NAIVE],
    cl.NEW: [M.NEW_ITEM, M.CATEGORY_PROFILE, M.SEASONAL_NAIVE],
}
# Used when a series could not be backtested (too little history before every origin).
UNSCORED_DEFAULT: dict[str, str] = {
    cl.SMOOTH: M.MOVING_AVERAGE,
    cl.ERRATIC: M.MOVING_AVERAGE,
    cl.INTERMITTENT: M.SBA,
    cl.LUMPY: M.SBA,
    cl.INACTIVE: M.TSB,
    cl.NEW: M.NEW_ITEM,
}
ETS_MODELS = (M.ETS_SES, M.ETS_DAMPED, M.ETS_SEASONAL)
# The engine restricted to these is the naive baseline (:func:`naive_forecast`).
NAIVE_MODELS: tuple[str, ...] = (M.SEASONAL_NAIVE, M.MOVING_AVERAGE)
# The level models the ensemble averages (ETS seasonal aside: its season is in the index).
_ENSEMBLE_MEMBERS = (
    M.SBA,
    M.TSB,
    M.MOVING_AVERAGE,
    M.MOVING_AVERAGE_4,
    M.SES,
    M.ETS_SES,
    M.ETS_DAMPED,
)


@dataclass(frozen=True)
class ForecastSettings:
    """Knobs of the forecast. Period counts left at 0 take the frequency's default (weekly /
    daily), filled in on construction.

    ``horizon_periods``: periods forecast from the run date. ``backtest_horizon``: periods
    scored after each of ``n_origins`` origins, ``origin_step`` periods apart (four: with
    three, a per-series choice on short histories followed chance more often; on the
    short-history preset's 8-week holdout the fourth origin took WAPE from 0.719 to 0.705,
    bench.forecast, issue 15). ``season``:
    season length in periods. ``ets_min_mean``: ETS is fitted (one statsmodels optimisation per
    series and spec, the costly part) only for smooth/erratic series selling at least this many
    units per period on average, where a better level and trend pays. ``refit_final``: re-estimate ETS parameters on the whole history
    for the forecast (default: reuse the ones estimated before the first backtest origin).
    ``models``: restrict the candidates to these (``None``: every model of
    :data:`CANDIDATES`); seasonal naive is always computed and reported, and is the choice for a
    class none of whose candidates is allowed. Models that are not needed are not computed.
    ``ensemble_margin``: the share by which a single model's backtest MAE must beat the
    ensemble's to be chosen instead of it. ``launch_growth``: scale new items by the store's
    launch curve (:func:`forecasting.series.launch_curve`). Off by default: on the benchmark
    sets it helped the new items of one holdout and hurt three others (bench.forecast, issue
    15), and without it a new item is forecast at about what it sold.
    """

    freq: str = "W"
    horizon_periods: int = 0
    backtest_horizon: int = 0
    n_origins: int = 4
    origin_step: int = 0
    season: int = 0
    ma_window: int = 0
    new_periods: int = 0
    inactive_periods: int = 0
    min_train_periods: int = 0
    min_ets_periods: int = 0
    history_days: int | None = 800
    batch_size: int = 1000
    refit_final: bool = False
    ets_min_mean: float = 6.0
    ets_specs: tuple[str, ...] = (M.ETS_SES, M.ETS_DAMPED, M.ETS_SEASONAL)
    models: tuple[str, ...] | None = None
    ensemble_margin: float = 0.1
    launch_growth: bool = False

    def __post_init__(self) -> None:
        if self.freq not in FREQ_DAYS:
            raise ValueError(f"freq must be 'W' or 'D', got {self.freq!r}")
        weekly = self.freq == "W"
        defaults = {
            "horizon_periods": 13 if weekly else 56,
            "backtest_horizon": 13 if weekly else 28,
            "season": 52 if weekly else 7,
            "ma_window": 8 if weekly else 28,
            "new_periods": 13 if weekly else 56,
            "inactive_periods": 13 if weekly else 91,
            "min_train_periods": 8 if weekly else 28,
            "min_ets_periods": 26 if weekly else 56,
        }
        for name, value in defaults.items():
            if not getattr(self, name):  # 0 (or None): the frequency's default
                object.__setattr__(self, name, value)
        if not self.origin_step:
            object.__setattr__(self, "origin_step", max(1, self.backtest_horizon // 3))
        if self.n_origins < 1 or self.horizon_periods < 1 or self.batch_size < 1:
            raise ValueError("n_origins, horizon_periods and batch_size must be >= 1")

    @property
    def period_days(self) -> int:
        return FREQ_DAYS[self.freq]

    @classmethod
    def for_horizon_days(cls, horizon_days: int, freq: str = "W", **kw: Any) -> ForecastSettings:
        """Settings covering ``horizon_days`` days (e.g. ``ReplenishmentSettings.horizon_days``)."""
        step = FREQ_DAYS[freq]
        # +1 period: a weekly forecast starts on the Monday of the run date's week.
        return cls(freq=freq, horizon_periods=-(-horizon_days // step) + (step > 1), **kw)


# --------------------------------------------------------------------------------------------
# one batch


def _empty_forecast() -> pl.DataFrame:
    return DEMAND_FORECAST.empty()


def _empty_accuracy() -> pl.DataFrame:
    return FORECAST_ACCURACY.empty()


def _needed_models(s: ForecastSettings) -> set[str] | None:
    """The models to compute (``None``: all): the allowed ones and what they are built from."""
    if s.models is None:
        return None
    # seasonal naive and the baselines are always reported; the moving average is the
    # fallback where seasonal naive is not available (series younger than a season)
    need = {*s.models, M.SEASONAL_NAIVE, M.MOVING_AVERAGE, *M.BASELINES}
    if M.ENSEMBLE in need:
        need |= set(_ENSEMBLE_MEMBERS)
    if M.MA_SEASONAL in need:
        need.add(M.MOVING_AVERAGE)
    if M.NEW_ITEM in need:
        need |= {M.TSB, M.CATEGORY_PROFILE}
    return need


def _fit_ets(
    filled: np.ndarray,
    start: np.ndarray,
    rows: np.ndarray,
    fit_end: int,
    spec: str,
    season: int,
):
    """Per-series statsmodels fits on ``[start, fit_end)``; returns (rows fitted, params)."""
    ok_rows, params = [], []
    for r in rows:
        try:
            p = fit_params(filled[r, start[r] : fit_end], spec, season)
        except Exception:  # noqa: BLE001 - a broken fit must never sink the batch
            p = None
        if p is not None:
            ok_rows.append(r)
            params.append(p)
    return np.asarray(ok_rows, dtype=int), params


def _all_forecasts(
    y: np.ndarray,
    filled: np.ndarray,
    start: np.ndarray,
    cls: np.ndarray,
    cat_level: np.ndarray,
    cat: np.ndarray,
    origins: list[int],
    h: int,
    s: ForecastSettings,
    fail: AbstractSet[str] = frozenset(),
    growth: np.ndarray | None = None,
    new_season: bool = True,
    new_ramp: np.ndarray | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Forecast means per model: ``{model: (mean (origins, n, h), available (n,))}``."""
    n = y.shape[0]
    everyone = np.ones(n, dtype=bool)
    wanted = _needed_models(s)

    def need(*models: str) -> bool:
        return wanted is None or any(m in wanted for m in models)

    # Seasonal naive is defined only where the period one season back is in the series, at
    # every origin (so its backtest and its forecast are the same model): else not available.
    sn = M.seasonal_naive(y, filled, origins, h, s.season)
    sn_avail = ~np.isnan(sn).any(axis=(0, 2))
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {
        M.SEASONAL_NAIVE: (np.nan_to_num(sn, nan=0.0), sn_avail),
        M.MOVING_AVERAGE: (M.moving_average(y, filled, origins, h, s.ma_window), everyone),
        M.NAIVE: (M.naive(y, filled, origins, h), everyone),
        M.MOVING_AVERAGE_4: (M.moving_average(y, filled, origins, h, 4), everyone),
    }
    # The parent's (category, else location) seasonal index: how much busier the coming
    # periods were than the recent ones a season ago. It needs a season of the *parent's*
    # history, not of the series', so young series and new items see a Christmas ramp the
    # store has seen before (top-down); 1 where the calendar is shorter than that.
    index = M.seasonal_index(cat, origins, h, s.season, s.ma_window)
    if need(M.ZERO):
        out[M.ZERO] = (M.zero(n, origins, h), everyone)
    if need(M.CATEGORY_PROFILE):
        profile = M.category_profile(y, origins, h, cat_level, growth=growth)
        out[M.CATEGORY_PROFILE] = (profile * index, everyone)
    if need(M.CROSTON, M.SBA):
        cro = M.croston_family(y, origins, h)
        out[M.CROSTON] = (cro["croston"].mean, everyone)
        out[M.SBA] = (cro["sba"].mean, everyone)
    if need(M.TSB):
        out[M.TSB] = (M.tsb(y, origins, h).mean, everyone)
    if need(M.SES):
        out[M.SES] = (M.ses(y, origins, h), everyone)
    if need(M.NEW_ITEM):
        out[M.NEW_ITEM] = (
            _new_item(y, origins, h, cat_level, growth, out[M.TSB][0])
            * (index if new_season else 1.0)
            * _ramp_factor(new_ramp, y, origins),
            everyone,
        )
    if not need(M.MA_SEASONAL, M.ENSEMBLE):
        return out
    out[M.MA_SEASONAL] = (out[M.MOVING_AVERAGE][0] * index, everyone)

    t_len = y.shape[1]
    fit_end = origins[0] if len(origins) > 1 else t_len
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.nanmean(y[:, :fit_end], axis=1) if fit_end > 0 else np.zeros(n)
    eligible = (
        np.isin(cls, [cl.SMOOTH, cl.ERRATIC])
        & (fit_end - start >= s.min_ets_periods)
        & (np.nan_to_num(level) >= s.ets_min_mean)
    )
    for spec in s.ets_specs:
        if not need(spec):
            continue
        avail = np.zeros(n, dtype=bool)
        mean = np.zeros((len(origins), n, h))
        rows = np.flatnonzero(eligible)
        if spec == M.ETS_SEASONAL:
            rows = rows[fit_end - start[rows] >= 2 * s.season + 2]
        if spec in fail:  # test hook: pretend every fit of this spec failed
            rows = rows[:0]
        if rows.size:
            ok, params = _fit_ets(filled, start, rows, fit_end, spec, s.season)
            if ok.size:
                mean[:, ok, :] = ets_filter(filled[ok], start[ok], params, origins, h)
                avail[ok] = True
                if s.refit_final and len(origins) > 1:
                    ok2, params2 = _fit_ets(filled, start, ok, t_len, spec, s.season)
                    if ok2.size:
                        last = ets_filter(filled[ok2], start[ok2], params2, [t_len], h)
                        mean[-1, ok2, :] = last[0]
        out[spec] = (mean, avail)
    # ensemble: the average of the level models (ETS where fitted), times the category's
    # seasonal index - combining forecasts is more robust than picking one on a short backtest
    if not need(M.ENSEMBLE):
        return out
    members = [m for m in _ENSEMBLE_MEMBERS if m in out]
    total = np.zeros_like(out[M.MOVING_AVERAGE][0])
    count = np.zeros(n)
    for m in members:
        mean, avail = out[m]
        total += np.where(avail[None, :, None], mean, 0.0)
        count += avail
    out[M.ENSEMBLE] = (total / np.maximum(count, 1)[None, :, None] * index, everyone)
    _young_take_the_parents_season(out, start, t_len, s.season, index)
    return out


def _new_item(
    y: np.ndarray,
    origins: list[int],
    h: int,
    cat_level: np.ndarray,
    growth: np.ndarray | None,
    tsb: np.ndarray,
) -> np.ndarray:
    """New items: the average of two estimates of a level seen for a few weeks only.

    - the item's own mean (:func:`forecasting.models.category_profile`, barely shrunk towards
      its launch cohort) *without its first week* once it has three: the first week is a
      partial one (the item went on sale some day in it, and the days before count as open
      days without demand), so it understates the level;
    - TSB (:func:`forecasting.models.tsb`), which weighs recent weeks more and handles the
      zero weeks of a slow newcomer as a demand probability.

    Their average is rarely far off when either is (forecast combination), where a choice
    between them cannot be made on a backtest the item is too young to have. The season comes
    from the parent's index (applied by the caller), never the level.
    """
    later = y.copy()
    obs = ~np.isnan(later)
    first = np.where(obs.any(axis=1), obs.argmax(axis=1), -1)
    rows = np.flatnonzero(first >= 0)
    # the first week drops out only at origins where the item has at least 3 observed weeks
    mean = np.zeros((len(origins), y.shape[0], h))
    for i, o in enumerate(origins):
        n_obs = obs[:, :o].sum(axis=1)
        drop = rows[n_obs[rows] >= 3]
        yo = later[:, :o].copy()
        yo[drop, first[drop]] = np.nan
        mean[i] = M.category_profile(yo, [o], h, cat_level, growth=growth)[0]
        if growth is not None and growth.shape[1]:  # the store's launch curve, on TSB too
            age = np.clip((~np.isnan(yo)).sum(axis=1), 0, growth.shape[1] - 1)
            tsb = tsb.copy()
            tsb[i] *= growth[np.arange(y.shape[0]), age][:, None]
    return 0.5 * (mean + tsb)


def launch_backtest(
    series: pl.DataFrame, settings: ForecastSettings, parent: pl.DataFrame | None = None
) -> dict[str, Any]:
    """Should new items carry their parent's seasonal index? Measured on the store's launches.

    A new item has too few periods for a backtest of its own, so the question is put to the
    items launched during the history (first period after the calendar's first): at every
    past origin where such an item was as young as a new item (2 to ``new_periods - 1``
    observed periods), the new-item forecast (:func:`_new_item`) is made from what was known
    then, with and without the parent's seasonal index (:func:`forecasting.models.seasonal_index`),
    and scored on the next ``backtest_horizon`` observed periods (MAE over the item's mean
    absolute one-period change). The index stays unless it made these launches' forecasts
    worse: a category's season is measured on its established items, and a newcomer's first
    weeks (a ramp, an opening push) need not follow it.

    The same forecasts measure the store's **launch ramp**: per age (observed periods, 2 to
    ``new_periods - 1``), the factor of :data:`RAMP_GRID` that, applied to these forecasts
    (with the index or not, as decided), gave the least pooled absolute error over the next
    ``backtest_horizon`` periods of the launches at that age; 1 where fewer than
    :data:`RAMP_MIN_POINTS` launches were scored at the age. A new item's own few weeks say
    what it sold so far, a launch still climbing (shelf space, reviews) sells more over the
    horizon, one past an opening push less; how much, at which age, is the store's.

    Returns ``{"season": bool, "points": forecasts scored, "mase_season": float | None,
    "mase_plain": float | None, "ramp": array (new_periods,) | None}``; with no launch to
    score, the index stays (``season`` true) and there is no ramp (``None``: factor 1).
    """
    s = settings
    out: dict[str, Any] = {
        "season": True,
        "points": 0,
        "mase_season": None,
        "mase_plain": None,
        "ramp": None,
    }
    wanted = _needed_models(s)
    if series.height == 0 or (wanted is not None and M.NEW_ITEM not in wanted):
        return out  # nothing here forecasts new items (the naive baseline, a restricted run)
    keys, _periods, mats = series_matrix(series, parent)
    y, start, cat = mats["y"], mats["start"], mats["cat"]
    launched = np.flatnonzero(start > 0)
    if launched.size == 0:
        return out
    y, start, cat = y[launched], start[launched], cat[launched]
    cat_level = keys["category_level"].to_numpy().astype(float)[launched]
    t_len = y.shape[1]
    hb = min(s.horizon_periods, s.backtest_horizon)
    scale = _naive_scale(y, t_len)
    n_obs = np.cumsum(~np.isnan(y), axis=1)
    total = {True: 0.0, False: 0.0}
    # the launch ramp: per age (observed periods), the absolute error at every factor of the grid
    ages = s.new_periods
    ramp_err = {True: np.zeros((ages, RAMP_GRID.size)), False: np.zeros((ages, RAMP_GRID.size))}
    ramp_n = np.zeros(ages)
    points = 0
    # every past week (a daily series: every 7th day, to bound the cost of the TSB passes)
    for o in range(2, t_len - 1, max(1, 7 // s.period_days)):
        seen = n_obs[:, o - 1]
        rows = np.flatnonzero((start < o) & (seen >= 2) & (seen < s.new_periods) & (scale > 0))
        if rows.size == 0:
            continue
        yo = y[rows]
        actual = yo[:, o : o + hb]
        ok = ~np.isnan(actual)
        has = ok.any(axis=1)
        if not has.any():
            continue
        k = actual.shape[1]
        tsb = M.tsb(yo[:, :o], [o], k).mean
        level = _new_item(yo[:, :o], [o], k, cat_level[rows], None, tsb)[0]
        index = M.seasonal_index(cat[rows], [o], k, s.season, s.ma_window)[0]
        for season, f in ((True, level * index), (False, level)):
            err = np.where(ok, np.abs(f - np.nan_to_num(actual)), 0.0).sum(axis=1)
            mase = err[has] / ok.sum(axis=1)[has] / scale[rows][has]
            total[season] += float(mase.sum())
            # (points, grid): absolute error of the forecast times each factor of the grid
            g_err = np.abs(
                RAMP_GRID[None, None, :] * f[..., None] - np.nan_to_num(actual)[..., None]
            )
            g_err = np.where(ok[..., None], g_err, 0.0).sum(axis=1)[has]
            np.add.at(ramp_err[season], seen[rows][has].astype(int), g_err)
        np.add.at(ramp_n, seen[rows][has].astype(int), 1)
        points += int(has.sum())
    if points:
        out.update(
            points=points,
            mase_season=total[True] / points,
            mase_plain=total[False] / points,
            season=total[True] <= total[False],
        )
        # per age, the factor with the least pooled absolute error (the WAPE) on these launches
        # (ties, common with whole units, go to the factor nearest 1)
        err = ramp_err[out["season"]][:, _RAMP_ORDER]
        best = RAMP_GRID[_RAMP_ORDER][err.argmin(axis=1)]
        out["ramp"] = np.where(ramp_n >= RAMP_MIN_POINTS, best, 1.0)
    return out


# The launch ramp (:func:`launch_backtest`): the factors tried on the store's past launches,
# and how many launches must have been scored at an age for its factor to count.
RAMP_GRID = np.round(np.arange(0.5, 2.0001, 0.05), 2)
RAMP_MIN_POINTS = 20
_RAMP_ORDER = np.argsort(np.abs(np.log(RAMP_GRID)), kind="stable")


def _ramp_factor(ramp: np.ndarray | None, y: np.ndarray, origins: list[int]) -> np.ndarray:
    """(origins, series, 1): the launch ramp at each series' age (observed periods) at each origin.

    1 where none was measured; an age below the measured ones (1 period) takes the youngest's.
    """
    out = np.ones((len(origins), y.shape[0], 1))
    if ramp is None or len(ramp) == 0:
        return out
    r = np.asarray(ramp, dtype=float)
    n_obs = np.cumsum(~np.isnan(y), axis=1)
    for i, o in enumerate(origins):
        age = n_obs[:, o - 1] if o > 0 else np.zeros(y.shape[0], dtype=int)
        out[i, :, 0] = r[np.clip(age, 2, r.size - 1)]
    return out


# Level models: flat forecasts that know nothing of the season.
_LEVEL_MODELS = (M.MOVING_AVERAGE, M.SBA, M.TSB, M.CROSTON, M.SES, M.ETS_SES, M.ETS_DAMPED)


def _young_take_the_parents_season(
    out: dict[str, tuple[np.ndarray, np.ndarray]],
    start: np.ndarray,
    t_len: int,
    season: int,
    index: np.ndarray,
) -> None:
    """Series younger than a season carry the parent's seasonal index on their level models.

    Their own history cannot show a Christmas they have not lived through, but the parent
    (category, else the whole location: ``category_mean``) can: top-down, their level forecasts
    are multiplied by its index (1 where the parent has no season of history either), in the
    backtest too, so the selection compares what is forecast. The reported baselines stay plain.
    """
    young = (t_len - start) < season
    if not young.any():
        return
    for m in _LEVEL_MODELS:
        if m in out:
            mean, avail = out[m]
            out[m] = (np.where(young[None, :, None], mean * index, mean), avail)


def forecast_batch(
    series_batch: pl.DataFrame,
    run_date: date,
    settings: ForecastSettings | None = None,
    *,
    parent: pl.DataFrame | None = None,
    launch: pl.DataFrame | None = None,
    new_season: bool | None = None,
    returns: tuple[np.ndarray, np.ndarray] | None = None,
    new_ramp: np.ndarray | None = None,
    _fail_models: frozenset[str] = frozenset(),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Forecast a batch of series (rows of :func:`forecasting.series.build_series`).

    ``parent`` (:func:`forecasting.series.parent_shape` of all the series) gives the batch its
    parents' seasonal shape over the whole history; without it the batch's own rows are used.
    ``launch`` (:func:`forecasting.series.launch_curve` of all the series) is the store's launch
    curve for new items; without it the batch's own launches are measured. ``new_season``
    (:func:`launch_backtest` of all the series): do new items carry their parent's seasonal
    index; without it the batch's own past launches decide, season and ramp. ``new_ramp``
    (:func:`launch_backtest`'s ``"ramp"`` of all the series): the store's launch ramp by age for
    new items; pass it with ``new_season`` (given ``new_season`` alone, the ramp is 1).
    ``returns`` (:func:`return_hazard` of all the series): how the store's improbable zero runs
    ended; without it the batch's own.

    Returns ``(forecast_df, accuracy_df)``:

    - forecast: ``run_date, sku, location_id, period_start, period_days, mean, p10, p50, p90,
      model`` - one row per series and period, ``horizon_periods`` periods from the period
      containing ``run_date`` (weekly periods start on Monday);
    - accuracy: ``run_date, sku, location_id, model, mase, wape, bias, coverage_p10_p90,
      chosen, demand_class, n_points, actual_sum`` - one row per series and candidate model,
      ``chosen`` marks the model used; metrics are null when the series could not be scored.

    Deterministic: the same batch and settings give the same frames.
    """
    s = settings or ForecastSettings()
    if series_batch.height == 0:
        return _empty_forecast(), _empty_accuracy()
    from threadpoolctl import threadpool_limits

    # Small per-series optimisations are 10x slower when BLAS spreads them over threads, and
    # batches already run in parallel processes.
    with threadpool_limits(limits=1):
        if launch is None and s.launch_growth:
            launch = launch_curve(series_batch)
        if new_season is None:
            lb = launch_backtest(series_batch, s, parent)
            new_season, new_ramp = lb["season"], lb["ramp"]
        if returns is None:
            returns = return_hazard(series_batch, s)
        return _forecast_batch(
            series_batch, run_date, s, _fail_models, parent, launch, new_season, returns, new_ramp
        )


def _forecast_batch(
    series_batch: pl.DataFrame,
    run_date: date,
    s: ForecastSettings,
    _fail_models: frozenset[str],
    parent: pl.DataFrame | None = None,
    launch: pl.DataFrame | None = None,
    new_season: bool = True,
    returns: tuple[np.ndarray, np.ndarray] | None = None,
    new_ramp: np.ndarray | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    keys, _periods, mats = series_matrix(series_batch, parent)
    y, filled, start = mats["y"], mats["filled"], mats["start"]
    n, t_len = y.shape
    cat_level = keys["category_level"].to_numpy().astype(float)
    cls, _adi, _cv2 = cl.classify_matrix(y, start, s.new_periods, s.inactive_periods)

    hb = min(s.horizon_periods, s.backtest_horizon)
    bt = sorted({t_len - hb - k * s.origin_step for k in range(s.n_origins)})
    bt = [o for o in bt if o >= 1]
    origins = [*bt, t_len]
    h = max(s.horizon_periods, hb)
    growth = _growth_matrix(keys, launch) if s.launch_growth else None
    fcs = _all_forecasts(
        y,
        filled,
        start,
        cls,
        cat_level,
        mats["cat"],
        origins,
        h,
        s,
        set(_fail_models),
        growth,
        new_season,
        new_ramp,
    )

    # ---- backtest scoring -------------------------------------------------------------------
    n_models = len(fcs)
    names = list(fcs)
    abs_e = np.zeros((n_models, n))
    sq_e = np.zeros((n_models, n))
    sum_e = np.zeros((n_models, n))
    fc_sum = np.zeros((n_models, n))
    act_sum = np.zeros(n)
    npts = np.zeros(n)
    scored_origins = np.zeros(n)
    pts_actual, pts_mean, pts_series = [], [], []
    for i, o in enumerate(bt):
        ok = (o - start) >= s.min_train_periods
        if not ok.any():
            continue
        actual = y[:, o : o + hb]
        seen = ~np.isnan(actual) & ok[:, None]
        a = np.where(seen, actual, 0.0)
        act_sum += a.sum(axis=1)
        npts += seen.sum(axis=1)
        scored_origins += ok
        r, c = np.nonzero(seen)
        pts_series.append(r)
        pts_actual.append(actual[r, c])
        means = []
        for j, name in enumerate(names):
            f = fcs[name][0][i, :, :hb]
            e = np.where(seen, f - a, 0.0)
            abs_e[j] += np.abs(e).sum(axis=1)
            sq_e[j] += (e**2).sum(axis=1)
            sum_e[j] += e.sum(axis=1)
            fc_sum[j] += np.where(seen, f, 0.0).sum(axis=1)
            means.append(f[r, c])
        pts_mean.append(np.stack(means) if means else np.zeros((n_models, 0)))
    scored = npts > 0
    # MASE scale: mean absolute one-step change of the observed history before the first
    # origin (the whole history when that is too short); MASE is null when the scale is 0.
    scale_end = bt[0] if bt else t_len
    scale = _naive_scale(y, scale_end)
    scale = np.where(np.isnan(scale), _naive_scale(y, t_len), scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        mae = np.where(scored, abs_e / np.maximum(npts, 1), np.nan)
        mase = np.where(scale > 0, mae / scale, np.nan)
        wape = np.where(scored & (act_sum > 0), abs_e / act_sum, np.nan)
        bias = np.where(scored & (act_sum > 0), sum_e / act_sum, np.nan)
    disp = dispersion(sq_e, fc_sum)  # (models, n)
    # A series without backtest points of its own (too young to score), and a new item: a few
    # weeks say little about the level, so the band widens (not the mean): the series' own
    # variance-to-mean ratio (a new item's backtest's where it has one, if larger), times
    # 1 + 3 / (observed periods + 1). Its own, not a figure pooled over the batch, so a band
    # does not depend on which series share its batch (a forecast spread over a cluster in
    # small batches equals the local one).
    n_obs = (~np.isnan(y)).sum(axis=1)
    is_new = cls == cl.NEW
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        own_d = np.nanvar(y, axis=1) / np.nanmean(y, axis=1)
    own_d = np.clip(np.nan_to_num(own_d, nan=1.0, posinf=1.0), 1.0, None)
    widen = 1.0 + 3.0 / (n_obs + 1.0)
    own_wide = (own_d * widen)[None, :]
    disp = np.where(scored[None, :], disp, own_wide)
    new_d = np.where(scored[None, :], np.maximum(disp, own_d[None, :]) * widen[None, :], own_wide)
    disp = np.where(is_new[None, :], new_d, disp)
    inside = np.zeros((n_models, n))
    if pts_series:
        ps = np.concatenate(pts_series)
        pa = np.concatenate(pts_actual)
        pm = np.concatenate(pts_mean, axis=1)
        for j in range(n_models):
            hit = inside_band(pa, pm[j], disp[j][ps])
            inside[j] = np.bincount(ps, weights=hit.astype(float), minlength=n)
    coverage = np.where(scored, inside / np.maximum(npts, 1), np.nan)

    # ---- selection --------------------------------------------------------------------------
    rank = {m: k for k, m in enumerate(M.FALLBACK_ORDER)}
    sn_ok = fcs[M.SEASONAL_NAIVE][1]
    chosen_idx = np.where(
        sn_ok, names.index(M.SEASONAL_NAIVE), names.index(M.MOVING_AVERAGE)
    ).astype(int)
    allowed = np.zeros((n_models, n), dtype=bool)
    for klass, cands in CANDIDATES.items():
        in_c = cls == klass
        for m in cands:
            if m in fcs and (s.models is None or m in s.models):
                allowed[names.index(m)] |= in_c & fcs[m][1]
    # An item its class calls active whose last periods are a run of zeros too long to be
    # chance for it is not forecast to sell nothing (only the inactive class may choose zero)
    active = np.isin(cls, [cl.SMOOTH, cl.ERRATIC, cl.INTERMITTENT, cl.LUMPY])
    active &= cl.improbable_zero_run(y)
    for j, name in enumerate(names):
        nothing = ~(fcs[name][0][-1, :, : s.horizon_periods] > 0).any(axis=1)
        allowed[j] &= ~(active & nothing)
    # the key: scored MAE (same order as MASE within a series), then the fallback order
    score = np.where(allowed & scored[None, :], mae, np.inf)
    # A few backtest origins pick a single model by chance as often as by merit; a combination
    # is rarely far off. The ensemble keeps the series unless a model beat it by the margin.
    if M.ENSEMBLE in names:
        score[names.index(M.ENSEMBLE)] *= 1.0 - s.ensemble_margin
    prio = np.array([rank[m] for m in names], dtype=float)[:, None] * np.ones((1, n))
    best = np.lexsort((prio, score), axis=0)[0]  # lexsort: last key is primary
    has_score = np.isfinite(score).any(axis=0)
    chosen_idx = np.where(has_score, best, chosen_idx)
    # unscored (or new): the class default if it is available, else the best by fallback order
    for klass, default in UNSCORED_DEFAULT.items():
        if default not in fcs or (s.models is not None and default not in s.models):
            continue  # restricted away: seasonal naive stands in
        sel = (cls == klass) & ~has_score
        j = names.index(default)
        chosen_idx = np.where(sel & fcs[default][1], j, chosen_idx)
    # ---- outputs ----------------------------------------------------------------------------
    hp = s.horizon_periods
    fc_mean = np.stack([fcs[m][0][-1, :, :hp] for m in names])  # (models, n, H)
    rows = np.arange(n)
    mean = fc_mean[chosen_idx, rows, :]
    if returns is not None and s.models is None:  # the full engine (a baseline stays plain)
        mean = _mix_in_returns(mean, y, cls, returns, s.ma_window, _min_before(s))
    d = disp[chosen_idx, rows][:, None] * np.ones_like(mean)
    p10 = count_quantiles(mean, d, 0.10)
    p50 = count_quantiles(mean, d, 0.50)
    p90 = count_quantiles(mean, d, 0.90)
    first = first_forecast_period(run_date, s.freq)
    starts = [first + timedelta(days=s.period_days * k) for k in range(s.horizon_periods)]
    forecast = pl.DataFrame(
        {
            "run_date": [run_date] * (n * hp),
            "sku": np.repeat(keys["sku"].to_numpy(), hp),
            "location_id": np.repeat(keys["location_id"].to_numpy(), hp),
            "period_start": starts * n,
            "period_days": np.full(n * hp, s.period_days, dtype=np.int32),
            "mean": mean.ravel(),
            "p10": p10.ravel(),
            "p50": p50.ravel(),
            "p90": p90.ravel(),
            "model": np.repeat(np.array(names, dtype=object)[chosen_idx], hp).astype(str),
            # promotions and overrides are applied after selection (forecasting/adjustments.py)
            "adjustment": ["none"] * (n * hp),
            "unadjusted_mean": mean.ravel(),
            "adjustment_note": [None] * (n * hp),
        },
        schema=_empty_forecast().schema,
    )
    acc_parts = []
    reported = (M.SEASONAL_NAIVE, M.MOVING_AVERAGE, *M.BASELINES)
    for j, name in enumerate(names):
        present = (allowed[j] | (name in reported)) & fcs[name][1]
        r = np.flatnonzero(present)
        if r.size == 0:
            continue
        acc_parts.append(
            pl.DataFrame(
                {
                    "run_date": [run_date] * r.size,
                    "sku": keys["sku"].to_numpy()[r],
                    "location_id": keys["location_id"].to_numpy()[r],
                    "model": [name] * r.size,
                    "mase": mase[j, r],
                    "wape": wape[j, r],
                    "bias": bias[j, r],
                    "coverage_p10_p90": coverage[j, r],
                    "chosen": chosen_idx[r] == j,
                    "demand_class": cls[r],
                    "n_points": npts[r].astype(np.int64),
                    "actual_sum": act_sum[r],
                },
                schema=_empty_accuracy().schema,
                nan_to_null=True,
            )
        )
    accuracy = pl.concat(acc_parts).sort([*SERIES_KEYS, "model"])
    return forecast, accuracy


def _min_before(s: ForecastSettings) -> int:
    """Observed periods an item needs before a run for the run to count (half a year)."""
    return -(-cl.RETURN_MIN_BEFORE * 7 // s.period_days)


def return_hazard(
    series: pl.DataFrame, settings: ForecastSettings | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """How the improbable zero runs of these series ended, by run length in periods
    (:func:`forecasting.classify.return_hazard`): ``(returns, at_risk)``."""
    s = settings or ForecastSettings()
    if series.height == 0:
        return np.zeros(1), np.zeros(1)
    _keys, _periods, mats = series_matrix(series)
    return cl.return_hazard(mats["y"], min_before=_min_before(s))


def _mix_in_returns(
    mean: np.ndarray,
    y: np.ndarray,
    cls: np.ndarray,
    returns: tuple[np.ndarray, np.ndarray],
    window: int,
    min_before: int,
) -> np.ndarray:
    """An established item its class calls active, in a zero run its own zero rate makes
    improbable (:func:`forecasting.classify.zero_run_states`), is forecast as a mixture of three
    futures, their probabilities learned from how the store's own past such runs ended
    (Kaplan-Meier over run lengths, ``returns``):

    - it has sold again by period ``k`` (``q_k``, :func:`forecasting.classify.return_probability`):
      it sells at its level before the run (the mean of its last ``window`` observed periods up
      to its last sale: the moving average as it stood when the run began);
    - it comes back, but later (``ever - q_k``, ``ever`` from
      :func:`forecasting.classify.eventual_return`): when is what the store's few runs measure
      worst, so the chosen model's forecast (which has decayed through the run) stands in;
    - it never comes back (``1 - ever``): 0.

    Where the store's past runs were watched beyond this one's length and none came back, the
    forecast is 0 (a discontinued item is not reordered); where nothing is known beyond it,
    ``ever`` is 1 and the chosen model keeps the item from being forecast at zero."""
    active = np.isin(cls, [cl.SMOOTH, cl.ERRATIC, cl.INTERMITTENT, cl.LUMPY])
    run, flagged = cl.zero_run_states(y, min_before=min_before)
    back = np.flatnonzero(active & flagged[:, -1])
    if back.size == 0:
        return mean
    q = cl.return_probability(*returns, run[back, -1], mean.shape[1])
    level = np.zeros(back.size)
    for i, r in enumerate(back):  # a handful of series: the flagged ones
        sold = np.flatnonzero(np.nan_to_num(y[r]) > 0)
        before = y[r, : sold[-1] + 1]
        level[i] = before[~np.isnan(before)][-window:].mean()
    out = mean.copy()
    ever = cl.eventual_return(*returns, run[back, -1])[:, None]
    q = np.minimum(q, ever)
    out[back] = q * level[:, None] + (ever - q) * mean[back]
    return out


def _growth_matrix(keys: pl.DataFrame, launch: pl.DataFrame | None) -> np.ndarray:
    """(series, ages) launch growth for each series' location (1 where unmeasured)."""
    g = np.ones((keys.height, LAUNCH_AGES))
    if launch is None or launch.height == 0 or keys.height == 0:
        return g
    rows = (
        keys.select("location_id")
        .with_row_index("row")
        .join(launch, on="location_id", how="inner")
        .filter(pl.col("age") < LAUNCH_AGES)
    )
    g[rows["row"].to_numpy(), rows["age"].to_numpy()] = rows["growth"].to_numpy()
    return g


def _naive_scale(y: np.ndarray, end: int) -> np.ndarray:
    d = np.abs(np.diff(y[:, :end], axis=1)) if end >= 2 else np.full((y.shape[0], 0), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(d, axis=1) if d.shape[1] else np.full(y.shape[0], np.nan)


# --------------------------------------------------------------------------------------------
# all series


def iter_batches(series: pl.DataFrame, batch_size: int) -> Iterator[pl.DataFrame]:
    """Cut a series frame into batches of whole series (at most ``batch_size`` series each)."""
    keys = series.select(SERIES_KEYS).unique().sort(SERIES_KEYS)
    keys = keys.with_columns(batch=(pl.int_range(pl.len()) // batch_size).cast(pl.Int64))
    tagged = series.join(keys, on=SERIES_KEYS, how="left")
    for (_b,), part in tagged.sort("batch").group_by("batch", maintain_order=True):
        yield part.drop("batch")


def store_context(series: pl.DataFrame, settings: ForecastSettings) -> dict[str, Any]:
    """What every batch needs measured on all the series (keyword arguments of
    :func:`forecast_batch`): the parents' season, the store's launch curve, whether new items
    carry the season and their launch ramp by age, how the store's zero runs ended. Measured
    per batch instead, they would make a forecast depend on how the series are cut (processes
    here, Prefect/Dask tasks in flows/pipeline.py)."""
    parent = parent_shape(series)
    launches = launch_backtest(series, settings, parent)
    return {
        "parent": parent,
        "launch": launch_curve(series) if settings.launch_growth else None,
        "new_season": launches["season"],
        "new_ramp": launches["ramp"],
        "returns": return_hazard(series, settings),
    }


def _run_batch(args):
    batch, run_date, settings, context = args
    return forecast_batch(batch, run_date, settings, **context)


def forecast_all(
    daily_demand: pl.DataFrame,
    run_date: date,
    settings: ForecastSettings | None = None,
    workers: int = 2,
    products: pl.DataFrame | None = None,
    on_batch: Callable[[], None] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Build the series, forecast them in batches on ``workers`` processes, concatenate.

    ``workers <= 1`` runs in this process. Same output as :func:`forecast_batch`; rows are
    sorted by series (and period / model), so the result does not depend on ``workers``.
    ``on_batch`` is called as each batch finishes (a progress bar; no Prefect here).
    """
    s = settings or ForecastSettings()
    series = build_series(
        daily_demand, run_date, s.freq, products=products, history_days=s.history_days
    )
    batches = list(iter_batches(series, s.batch_size))
    if not batches:
        return _empty_forecast(), _empty_accuracy()
    context = store_context(series, s)
    jobs = [(b, run_date, s, context) for b in batches]
    results = []
    if workers <= 1 or len(batches) == 1:
        for j in jobs:
            results.append(_run_batch(j))
            if on_batch:
                on_batch()
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: forking a process that already runs polars' thread pool can hang
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as ex:
            for r in ex.map(_run_batch, jobs):
                results.append(r)
                if on_batch:
                    on_batch()
    forecast = pl.concat([r[0] for r in results]).sort([*SERIES_KEYS, "period_start"])
    accuracy = pl.concat([r[1] for r in results]).sort([*SERIES_KEYS, "model"])
    return forecast, accuracy


def naive_forecast(
    daily_demand: pl.DataFrame,
    run_date: date,
    horizon_days: int = 56,
    *,
    freq: str = "D",
    models: tuple[str, ...] = NAIVE_MODELS,
    products: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The engine restricted to its naive models: the baseline other forecasts must beat.

    Daily by default: per series, seasonal naive (the same weekday a week before; the 4-day
    average while the series is younger than a week) or a 28-day moving average, whichever has
    the lower rolling-origin backtest error, with the engine's censoring, selection and
    negative-binomial quantiles. Returns ``(forecast, accuracy)`` like :func:`forecast_all`; a
    daily forecast covers ``[run_date, run_date + horizon_days)``. In one process: the series
    of a simulation or a test are few, and this runs at every simulated review.
    """
    s = ForecastSettings.for_horizon_days(horizon_days, freq=freq, models=models)
    forecast, accuracy = forecast_all(daily_demand, run_date, s, workers=1, products=products)
    if freq == "D":
        forecast = forecast.filter(pl.col("period_start") < run_date + timedelta(days=horizon_days))
    return forecast, accuracy


# --------------------------------------------------------------------------------------------
# daily breakdown and summaries


def weekday_profile(daily_demand: pl.DataFrame, run_date: date, weeks: int = 13) -> pl.DataFrame:
    """Share of a week's demand per weekday (``sku, location_id, weekday, share``; Monday = 1).

    From the last ``weeks`` weeks of uncensored days, shrunk towards a flat week so a series
    with a handful of sales is not split by chance: ``(units + 1) / (total + 7)``.
    """
    lo = run_date - timedelta(days=7 * weeks)
    d = daily_demand.filter(
        (pl.col("date") >= lo)
        & (pl.col("date") < run_date)
        & ~pl.col("is_stockout").fill_null(False)
    )
    by_day = d.group_by([*SERIES_KEYS, pl.col("date").dt.weekday().alias("weekday")]).agg(
        units=pl.col("units_ordered").sum().clip(lower_bound=0).cast(pl.Float64),
        days=pl.col("date").n_unique(),
    )
    grid = (
        d.select(SERIES_KEYS)
        .unique()
        .join(
            pl.DataFrame({"weekday": list(range(1, 8))}, schema={"weekday": pl.Int8}), how="cross"
        )
    )
    prof = grid.join(by_day, on=[*SERIES_KEYS, "weekday"], how="left").with_columns(
        rate=(pl.col("units").fill_null(0.0) + 1.0) / (pl.col("days").fill_null(0) + 1.0)
    )
    return prof.with_columns(share=pl.col("rate") / pl.col("rate").sum().over(SERIES_KEYS)).select(
        *SERIES_KEYS, "weekday", "share"
    )


def to_daily(
    forecast: pl.DataFrame,
    run_date: date | None = None,
    horizon_days: int | None = None,
    profile: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Spread a weekly forecast over its days: one row per series and day (daily grain).

    The mean is split by the weekday ``profile`` (from :func:`weekday_profile`; flat when
    absent). The band is spread so that the variance adds up over the week: a day's distance
    to the mean is the week's times ``sqrt(share)``. Days before ``run_date`` or from
    ``run_date + horizon_days`` on are dropped. A daily forecast is returned unchanged (but
    filtered). Output: the ``planning.demand_forecast`` columns with ``period_days = 1``.
    """
    if forecast.height and forecast["period_days"].max() == 1:
        daily = forecast
    else:
        days = pl.DataFrame({"offset": list(range(7))}, schema={"offset": pl.Int32})
        daily = (
            forecast.join(days, how="cross")
            .filter(pl.col("offset") < pl.col("period_days"))
            .with_columns(
                period_start=pl.col("period_start") + pl.duration(days=pl.col("offset")),
            )
            .with_columns(weekday=pl.col("period_start").dt.weekday())
        )
        if profile is not None:
            daily = daily.join(profile, on=[*SERIES_KEYS, "weekday"], how="left")
            daily = daily.with_columns(pl.col("share").fill_null(1.0 / 7.0))
        else:
            daily = daily.with_columns(share=1.0 / pl.col("period_days"))
        m = pl.col("mean") * pl.col("share")
        root = pl.col("share").sqrt()
        daily = daily.with_columns(
            mean=m,
            unadjusted_mean=pl.col("unadjusted_mean") * pl.col("share"),
            p10=(m - (pl.col("mean") - pl.col("p10")) * root).clip(lower_bound=0.0),
            p50=(m - (pl.col("mean") - pl.col("p50")) * root).clip(lower_bound=0.0),
            p90=(m + (pl.col("p90") - pl.col("mean")) * root).clip(lower_bound=0.0),
            period_days=pl.lit(1, dtype=pl.Int32),
        ).with_columns(
            p10=pl.min_horizontal("p10", "p50"),
            p90=pl.max_horizontal("p90", "p50"),
        )
    if run_date is not None:
        daily = daily.filter(pl.col("period_start") >= run_date)
        if horizon_days is not None:
            daily = daily.filter(pl.col("period_start") < run_date + timedelta(days=horizon_days))
    return daily.select(FORECAST_COLUMNS).sort([*SERIES_KEYS, "period_start"])


SUMMARY_MODEL_SETS: tuple[str, ...] = (
    "chosen",
    M.NAIVE,
    M.MOVING_AVERAGE_4,
    M.SEASONAL_NAIVE,
)


def accuracy_summary(accuracy: pl.DataFrame) -> pl.DataFrame:
    """Accuracy of the chosen models and of the baselines, overall and by demand class.

    Model sets: ``chosen`` (ours), ``naive`` (last period), ``moving_average_4`` (4 periods)
    and ``seasonal_naive`` (same period a season ago), each on the series where it exists:
    seasonal naive is not available on series younger than a season, so its ``series`` count
    can be smaller, and where no series in a scope has a season of history its row says so in
    ``note`` (with null metrics) instead of standing in with another model.

    Columns: ``scope`` (``overall`` or the class), ``model_set``, ``series``, ``scored``,
    ``mase_mean``, ``mase_median``, ``wape`` (pooled: sum |error| / sum actual), ``bias``
    (pooled), ``coverage_p10_p90`` (pooled over backtest points), ``note``.
    """
    rows = pl.concat(
        [accuracy.filter(pl.col("chosen")).with_columns(model_set=pl.lit("chosen"))]
        + [
            accuracy.filter(pl.col("model") == m).with_columns(model_set=pl.lit(m))
            for m in SUMMARY_MODEL_SETS[1:]
        ]
    )

    def agg(df: pl.DataFrame, scope: pl.Expr) -> pl.DataFrame:
        return (
            df.with_columns(scope=scope)
            .group_by("scope", "model_set")
            .agg(
                series=pl.len(),
                scored=pl.col("n_points").gt(0).sum(),
                mase_mean=pl.col("mase").mean(),
                mase_median=pl.col("mase").median(),
                wape=(pl.col("wape") * pl.col("actual_sum")).sum()
                / pl.col("actual_sum").filter(pl.col("wape").is_not_null()).sum(),
                bias=(pl.col("bias") * pl.col("actual_sum")).sum()
                / pl.col("actual_sum").filter(pl.col("bias").is_not_null()).sum(),
                coverage_p10_p90=(pl.col("coverage_p10_p90") * pl.col("n_points")).sum()
                / pl.col("n_points").filter(pl.col("coverage_p10_p90").is_not_null()).sum(),
            )
        )

    scopes = [agg(rows, pl.lit("overall")), agg(rows, pl.col("demand_class"))]
    out = pl.concat(scopes).with_columns(note=pl.lit(None, dtype=pl.String))
    # every scope lists every model set: a baseline that exists nowhere says why
    grid = (
        out.select("scope")
        .unique()
        .join(pl.DataFrame({"model_set": list(SUMMARY_MODEL_SETS)}), how="cross")
    )
    totals = out.filter(pl.col("model_set") == "chosen").select("scope", all_series="series")
    out = (
        grid.join(out, on=["scope", "model_set"], how="left")
        .join(totals, on="scope", how="left")
        .with_columns(pl.col("series").fill_null(0), pl.col("scored").fill_null(0))
        .with_columns(
            note=pl.when(pl.col("series") == 0)
            .then(pl.lit("not available: no series here has a full season of history"))
            .when(pl.col("series") < pl.col("all_series"))
            .then(
                pl.format(
                    "on {} of {} series (the others have less than a season of history)",
                    "series",
                    "all_series",
                )
            )
        )
        .drop("all_series")
    )
    order = {m: k for k, m in enumerate(SUMMARY_MODEL_SETS)}
    return (
        out.with_columns(_o=pl.col("model_set").replace_strict(order, return_dtype=pl.Int64))
        .sort("scope", "_o")
        .drop("_o")
    )


def with_settings(settings: ForecastSettings, **changes) -> ForecastSettings:
    """A copy of ``settings`` with some fields changed (frozen dataclass helper)."""
    return replace(settings, **changes)
