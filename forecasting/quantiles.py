"""Forecast quantiles from a count distribution calibrated on backtest errors.

Demand in a period is a count, often small, so the band is a negative binomial around the point
forecast ``mu`` with variance ``d * mu``. The dispersion ``d`` (>= 1; 1 = Poisson) is, per series
and model, the backtest's ``sum(error^2) / sum(forecast)``: it folds the model's own error into
the band, not just the noise of demand. Quantiles are integers (what a buyer can stock), ordered
``p10 <= p50 <= p90`` by construction. Coverage of ``[p10, p90]`` is checked through the CDF
(``y`` is inside iff ``F(y) >= 0.1`` and ``F(y - 1) < 0.9``), which is exact for the integer
quantiles and cheaper than computing them.
"""

from __future__ import annotations

import numpy as np

MIN_DISPERSION = 1.0
MAX_DISPERSION = 200.0


def _nb_params(mean: np.ndarray, disp: np.ndarray):
    mu = np.clip(np.asarray(mean, dtype=float), 0.0, None)
    d = np.clip(
        np.nan_to_num(np.asarray(disp, dtype=float), nan=1.0), MIN_DISPERSION, MAX_DISPERSION
    )
    d = np.broadcast_to(d, mu.shape)
    overdispersed = d > 1.0 + 1e-9
    # NB(n, p): mean n(1-p)/p, variance mean/p  ->  p = 1/d, n = mu / (d - 1)
    p = 1.0 / d
    n = np.where(overdispersed, mu / np.maximum(d - 1.0, 1e-9), 1.0)
    return mu, n, p, overdispersed


def count_quantiles(mean: np.ndarray, disp: np.ndarray, q: float) -> np.ndarray:
    """Quantile ``q`` of NB(mean, variance = disp * mean) (Poisson where disp <= 1)."""
    from scipy import stats  # imported here: `import forecasting` stays light for the CLI

    mu, n, p, od = _nb_params(mean, disp)
    out = np.zeros(mu.shape)
    pos = mu > 0
    a = pos & od
    b = pos & ~od
    if a.any():
        out[a] = stats.nbinom.ppf(q, n[a], p[a])
    if b.any():
        out[b] = stats.poisson.ppf(q, mu[b])
    return out


def count_cdf(k: np.ndarray, mean: np.ndarray, disp: np.ndarray) -> np.ndarray:
    from scipy import stats

    mu, n, p, od = _nb_params(mean, disp)
    k = np.floor(np.asarray(k, dtype=float) + 1e-9)
    out = np.where(k >= 0, 1.0, 0.0)
    pos = mu > 0
    a = pos & od
    b = pos & ~od
    if a.any():
        out[a] = stats.nbinom.cdf(k[a], n[a], p[a])
    if b.any():
        out[b] = stats.poisson.cdf(k[b], mu[b])
    return out


def inside_band(actual: np.ndarray, mean: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Whether each actual lies in ``[p10, p90]`` of its forecast distribution."""
    y = np.round(np.asarray(actual, dtype=float))
    return (count_cdf(y, mean, disp) >= 0.1 - 1e-12) & (count_cdf(y - 1, mean, disp) < 0.9 - 1e-12)


def dispersion(sq_err: np.ndarray, fc_sum: np.ndarray, fallback: float | np.ndarray = 1.0):
    """``sum(error^2) / sum(forecast)`` floored at 1 (fallback where nothing was forecast)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(fc_sum > 0, sq_err / fc_sum, fallback)
    return np.clip(np.nan_to_num(d, nan=1.0), MIN_DISPERSION, MAX_DISPERSION)
