"""Baselines, vectorized over series: naive, seasonal naive, moving average, zero, new items."""

from __future__ import annotations

import warnings

import numpy as np


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(a, axis=axis)


def moving_average(y: np.ndarray, filled: np.ndarray, origins: list[int], h: int, window: int):
    """Flat forecast at the mean of the last ``window`` observed periods before each origin.

    Censored periods are skipped (not zero); with none observed in the window the imputed values
    are used, and a series with no history at all gets 0.
    """
    out = np.zeros((len(origins), y.shape[0], h))
    for i, o in enumerate(origins):
        lo = max(0, o - window)
        level = _nanmean(y[:, lo:o], axis=1)
        fb = _nanmean(filled[:, lo:o], axis=1) if o > lo else np.full(y.shape[0], np.nan)
        level = np.where(np.isnan(level), fb, level)
        out[i] = np.nan_to_num(level, nan=0.0)[:, None]
    return out


def seasonal_naive(y: np.ndarray, filled: np.ndarray, origins: list[int], h: int, season: int):
    """The value one season before each forecast period (imputed where censored).

    NaN where that period is before the series began (or before the calendar): a series younger
    than a season has no seasonal naive forecast. It is *not available*, not replaced by a moving
    average (as it once silently was), so "beats seasonal naive" always means what it says.
    """
    out = np.full((len(origins), y.shape[0], h), np.nan)
    for i, o in enumerate(origins):
        for k in range(h):
            j = o - season + (k % season)
            if j < 0:
                continue
            out[i, :, k] = filled[:, j]
    return out


def naive(y: np.ndarray, filled: np.ndarray, origins: list[int], h: int) -> np.ndarray:
    """The last observed period before each origin, flat (imputed when it was censored)."""
    out = np.zeros((len(origins), y.shape[0], h))
    for i, o in enumerate(origins):
        if o < 1:
            continue
        last = filled[:, o - 1]
        out[i] = np.nan_to_num(last, nan=0.0)[:, None]
    return out


def zero(n: int, origins: list[int], h: int) -> np.ndarray:
    """Nothing sold: the forecast for inactive items."""
    return np.zeros((len(origins), n, h))


def category_profile(
    y: np.ndarray,
    origins: list[int],
    h: int,
    category_level: np.ndarray,
    prior_periods: float = 1,
    growth: np.ndarray | None = None,
):
    """New items: their own mean, shrunk a little towards what comparable launches sold.

    ``category_level`` is the launch cohort's early level (:func:`forecasting.series.build_series`:
    the median first-weeks mean of items launched in the same category, else at the same
    location), never the level of all items. The weight of the item's own history is
    ``n / (n + prior_periods)`` with ``n`` its observed periods: with the default of one period,
    one week of sales already counts half and three weeks three quarters, so an item that sold
    1-2 a week is forecast at about that. Uncertainty is carried by the band (the engine widens
    it for few observations), not by moving the mean towards other items. ``growth``
    (series x ages, :func:`forecasting.series.launch_curve`) scales the item's own mean by how
    the store's past launches went on from the same age.
    """
    out = np.zeros((len(origins), y.shape[0], h))
    rows = np.arange(y.shape[0])
    for i, o in enumerate(origins):
        obs = y[:, :o]
        n = np.sum(~np.isnan(obs), axis=1)
        own = np.nan_to_num(_nanmean(obs, axis=1), nan=0.0) if o > 0 else np.zeros(y.shape[0])
        if growth is not None and growth.shape[1]:
            own = own * growth[rows, np.clip(n, 0, growth.shape[1] - 1)]
        w = n / (n + prior_periods)
        out[i] = (w * own + (1 - w) * category_level)[:, None]
    return out


def seasonal_index(
    cat: np.ndarray,
    origins: list[int],
    h: int,
    season: int,
    window: int,
    shrink: bool = True,
):
    """Category seasonal index per origin and step: ``(origins, n, h)``, 1 where unknown.

    The category's mean demand one season before the forecast period (3-period centred
    average) over its mean in the ``window`` periods one season before the origin, clipped to
    [0.25, 4]: how much busier the coming periods were than the recent ones, a year ago.

    ``shrink``: the index is a ratio of two noisy means (one year, one parent), and a parent of
    a few volatile series (or one that was out of stock a year ago) gives an index that is
    mostly noise. Each factor is shrunk towards 1 by ``d^2 / (d^2 + v)`` (James-Stein style,
    as in shrinking seasonal factors, Miller & Williams 2003), with ``d = index - 1`` and
    ``v`` the sampling variance of the ratio's logarithm estimated from the parent's own
    week-to-week variation in the base window (squared CV times ``1/3 + 1/window``): a
    parent with steady weeks keeps its season, a jumpy one is trusted less.
    """
    n, t_len = cat.shape
    c = np.nan_to_num(cat, nan=np.nan)
    out = np.ones((len(origins), n, h))
    for i, o in enumerate(origins):
        base_lo, base_hi = o - season - window, o - season
        if base_lo < 0:
            continue
        window_vals = c[:, base_lo:base_hi]
        base = _nanmean(window_vals, axis=1)
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            cv2 = np.nanvar(window_vals, axis=1) / base**2
        noise = np.nan_to_num(cv2, nan=0.0, posinf=0.0) * (1.0 / 3.0 + 1.0 / window)
        for k in range(h):
            j = o - season + k
            lo, hi = max(0, j - 1), min(t_len, j + 2)
            if lo >= hi:
                continue
            num = _nanmean(c[:, lo:hi], axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                idx = num / base
            idx = np.where(np.isfinite(idx) & (base > 0), np.clip(idx, 0.25, 4.0), 1.0)
            if shrink:
                d2 = np.log(idx) ** 2
                with np.errstate(divide="ignore", invalid="ignore"):
                    w = np.where(d2 + noise > 0, d2 / (d2 + noise), 1.0)
                idx = np.exp(w * np.log(idx))
            out[i, :, k] = idx
    return out
