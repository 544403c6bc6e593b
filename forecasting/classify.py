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
    improbable = _improbable(n_obs, run, before, nz.sum(axis=1), alpha)
    return has_sale & (run >= 2) & improbable


def _improbable(
    n_obs: np.ndarray, run: np.ndarray, before: np.ndarray, sales: np.ndarray, alpha: float
) -> np.ndarray:
    """``n_obs * p0 ** run < alpha``, ``p0`` the Laplace-smoothed share of zero periods among the
    ``before`` observed periods before the run (``sales`` of them sold)."""
    p0 = (before - sales + 1.0) / (before + 2.0)
    with np.errstate(under="ignore"):
        return n_obs * p0 ** run.astype(float) < alpha


# An item's past zero run counts as evidence of how such runs end only when the item had this
# many observed periods before it (half a year of weeks; the engine converts it to days for a
# daily forecast): with fewer, its zero rate, and so the "improbable" verdict, rests on a
# handful of periods (a launch settling, not a pause).
RETURN_MIN_BEFORE = 26


def zero_run_states(
    y: np.ndarray, alpha: float = 0.01, min_before: int = RETURN_MIN_BEFORE
) -> tuple[np.ndarray, np.ndarray]:
    """Per row and period boundary ``t`` (0..T): the run of zeros the series is in after the
    periods ``[:t]`` (observed periods since its last sale) and whether that run is improbable
    for it then (:func:`improbable_zero_run` on ``y[:, :t]``) with at least ``min_before``
    observed periods before the run. Returns ``(run, flagged)``, both ``(n, T + 1)``."""
    n, t_len = y.shape
    run = np.zeros((n, t_len + 1))
    flagged = np.zeros((n, t_len + 1), dtype=bool)
    cur = np.zeros(n)
    n_obs = np.zeros(n)
    n_nz = np.zeros(n)
    has = np.zeros(n, dtype=bool)
    for t in range(t_len):
        obs = ~np.isnan(y[:, t])
        sale = obs & (np.nan_to_num(y[:, t]) > 0)
        n_obs += obs
        n_nz += sale
        has |= sale
        cur = np.where(sale, 0.0, np.where(obs, cur + 1.0, cur))
        before = n_obs - cur
        improbable = _improbable(n_obs, cur, before, n_nz, alpha)
        run[:, t + 1] = cur
        flagged[:, t + 1] = has & (cur >= 2) & improbable & (before >= min_before)
    return run, flagged


def return_hazard(
    y: np.ndarray, alpha: float = 0.01, min_before: int = RETURN_MIN_BEFORE
) -> tuple[np.ndarray, np.ndarray]:
    """How the store's improbable zero runs ended, by run length: ``(returns, at_risk)``, arrays
    of length ``T + 1`` indexed by the run's length ``L``. ``at_risk[L]``: observed periods that
    followed a flagged run of length ``L`` (:func:`zero_run_states`); ``returns[L]``: those that
    sold. A run still going at the end of the history is right-censored (it stops counting),
    as in a Kaplan-Meier estimate: ``returns / at_risk`` is the hazard of a return."""
    n, t_len = y.shape
    run, flagged = zero_run_states(y, alpha, min_before)
    returns = np.zeros(t_len + 1)
    at_risk = np.zeros(t_len + 1)
    for t in range(1, t_len):
        nxt = y[:, t]
        sel = flagged[:, t] & ~np.isnan(nxt)
        if sel.any():
            length = run[sel, t].astype(int)
            np.add.at(at_risk, length, 1.0)
            np.add.at(returns, length, (nxt[sel] > 0).astype(float))
    return returns, at_risk


def _hazard(returns: np.ndarray, at_risk: np.ndarray) -> np.ndarray:
    """Per run length: the share of the periods at risk that sold (0 where none was at risk)."""
    return np.where(at_risk > 0, returns / np.maximum(at_risk, 1.0), 0.0)


def return_probability(
    returns: np.ndarray, at_risk: np.ndarray, run: np.ndarray, h: int
) -> np.ndarray:
    """``(n, h)``: the probability that a series in a zero run of length ``run`` has sold again
    by each of the next ``h`` periods, ``1 - prod_j (1 - hazard(run + j))`` (Kaplan-Meier on the
    store's past runs, :func:`return_hazard`; a length no past run reached has hazard 0)."""
    hz = _hazard(returns, at_risk)
    idx = run.astype(int)[:, None] + np.arange(h)[None, :]
    lam = np.where(idx < hz.size, hz[np.minimum(idx, hz.size - 1)], 0.0)
    return 1.0 - np.cumprod(1.0 - lam, axis=1)


def eventual_return(returns: np.ndarray, at_risk: np.ndarray, run: np.ndarray) -> np.ndarray:
    """``(n,)``: the probability that a series in a zero run of length ``run`` sells again at
    all, as far as the store's past runs can tell: ``1 - prod (1 - hazard(l))`` over the longer
    lengths some past run reached (Kaplan-Meier, :func:`return_hazard`). Where no run of the
    store was ever watched beyond ``run``, nothing is known, and the answer is 1 (the caller
    then keeps its hedge)."""
    hz = _hazard(returns, at_risk)
    seen = np.flatnonzero(at_risk > 0)
    last = int(seen[-1]) if seen.size else -1
    log_s = np.concatenate([[0.0], np.cumsum(np.log(np.clip(1.0 - hz, 1e-12, 1.0)))])
    r = run.astype(int)
    known = r < last
    surv = (
        np.exp(log_s[last + 1] - log_s[np.clip(r, 0, last + 1)]) if last >= 0 else np.ones(len(r))
    )
    return np.where(known, 1.0 - surv, 1.0)
