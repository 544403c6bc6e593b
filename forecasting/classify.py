"""Demand classes (Syntetos-Boylan): smooth, erratic, intermittent, lumpy; plus new and inactive.

- ``ADI`` average demand interval = observed periods / periods with demand;
- ``CV2`` squared coefficient of variation of the non-zero demand sizes.

``ADI < 1.32`` and ``CV2 < 0.49``: smooth; ``ADI < 1.32``, ``CV2 >= 0.49``: erratic;
``ADI >= 1.32``, ``CV2 < 0.49``: intermittent; else lumpy. Before that, a series younger than
``new_periods`` is *new* (it borrows its category's profile) and one with no demand in its
last ``inactive_periods`` observed periods is *inactive*. Censored periods are left out of
everything: a stockout is not a zero.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl

ADI_CUT = 1.32
CV2_CUT = 0.49

SMOOTH = "smooth"
ERRATIC = "erratic"
INTERMITTENT = "intermittent"
LUMPY = "lumpy"
NEW = "new"
INACTIVE = "inactive"
CLASSES = [SMOOTH, ERRATIC, INTERMITTENT, LUMPY, NEW, INACTIVE]


def classify_matrix(
    y: np.ndarray,
    start: np.ndarray,
    new_periods: int = 13,
    inactive_periods: int = 13,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class, ADI and CV2 per row of ``y`` (NaN = censored or before the start)."""
    n, t_len = y.shape
    obs = ~np.isnan(y)
    yv = np.nan_to_num(y)
    n_obs = obs.sum(axis=1)
    nz = obs & (yv > 0)
    n_nz = nz.sum(axis=1)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        adi = np.where(n_nz > 0, n_obs / np.maximum(n_nz, 1), np.inf)
        sizes = np.where(nz, yv, np.nan)
        mean_nz = np.nanmean(sizes, axis=1)
        var_nz = np.nanvar(sizes, axis=1)
        cv2 = np.where(n_nz > 1, var_nz / mean_nz**2, 0.0)
    # demand in the last `inactive_periods` observed periods?
    rank_from_end = np.cumsum(obs[:, ::-1], axis=1)[:, ::-1]  # observed periods from t to end
    recent = obs & (rank_from_end <= inactive_periods)
    recent_demand = (nz & recent).any(axis=1)
    age = t_len - start
    cls = np.where(
        adi < ADI_CUT,
        np.where(cv2 < CV2_CUT, SMOOTH, ERRATIC),
        np.where(cv2 < CV2_CUT, INTERMITTENT, LUMPY),
    ).astype(object)
    cls = np.where(~recent_demand & (n_obs >= inactive_periods), INACTIVE, cls)
    cls = np.where((age < new_periods) | (n_obs < min(4, new_periods)), NEW, cls)
    return cls.astype(str), adi, cv2


def classify(series: pl.DataFrame, new_periods: int = 13, inactive_periods: int = 13):
    """``sku, location_id, demand_class, adi, cv2`` for a frame from ``build_series``."""
    from forecasting.series import series_matrix

    keys, _, mats = series_matrix(series)
    cls, adi, cv2 = classify_matrix(mats["y"], mats["start"], new_periods, inactive_periods)
    return keys.select("sku", "location_id").with_columns(
        demand_class=pl.Series(cls, dtype=pl.String),
        adi=pl.Series(adi, dtype=pl.Float64),
        cv2=pl.Series(cv2, dtype=pl.Float64),
    )


def improbable_zero_run(y: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Per row of ``y``: do its last observed periods form a run of zeros that chance explains
    poorly for this series? ``n_obs * p0 ** L < alpha`` with ``L`` the run's length and ``p0``
    the series' share of zero periods before it (Laplace-smoothed): fewer than ``alpha`` such
    runs were to be expected in its history. A slow item's run of zero weeks is likely (it
    stays a run of demand); a steady seller's is an unflagged stockout or a pause, not a sign
    that demand is zero. Censored (NaN) periods neither break nor lengthen a run.
    """
    obs = ~np.isnan(y)
    yv = np.nan_to_num(y, nan=0.0)
    nz = obs & (yv > 0)
    n_obs = obs.sum(axis=1)
    # observed periods after the last sale
    after = np.cumsum(nz[:, ::-1], axis=1)[:, ::-1] == 0  # no sale from t to the end
    run = (obs & after).sum(axis=1)
    has_sale = nz.any(axis=1)
    before = n_obs - run
    zeros_before = before - nz.sum(axis=1)
    p0 = (zeros_before + 1.0) / (before + 2.0)
    with np.errstate(under="ignore"):
        expected = n_obs * p0 ** run.astype(float)
    return has_sale & (run >= 2) & (expected < alpha)
