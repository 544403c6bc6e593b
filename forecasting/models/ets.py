"""Exponential smoothing: statsmodels estimates the parameters, numpy filters all series at once.

Specs (additive errors, as in statsmodels' ``ExponentialSmoothing``):

- ``ets_ses``: level only (simple exponential smoothing);
- ``ets_damped``: level + damped additive trend;
- ``ets_seasonal``: level + damped trend + additive seasonality, only when the history holds at
  least two full seasons (plus the backtest).

Estimating the parameters is a per-series optimisation (a Python loop by nature), so it is done
once per series and spec on the data before the first backtest origin (used for every backtest
origin: no look-ahead) and once on the whole history (used for the forecast). Producing the
forecasts from the parameters is then a vectorized recursion over time (:func:`ets_filter`).
A fit that raises, returns non-finite parameters or does not converge is reported as failed
(``None``) and the selection falls back to the next model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EtsSpec:
    """The statsmodels ``ExponentialSmoothing`` components of one spec."""

    trend: str | None
    damped_trend: bool
    seasonal: str | None


SPECS: dict[str, EtsSpec] = {
    "ets_ses": EtsSpec(trend=None, damped_trend=False, seasonal=None),
    "ets_damped": EtsSpec(trend="add", damped_trend=True, seasonal=None),
    "ets_seasonal": EtsSpec(trend="add", damped_trend=True, seasonal="add"),
}


@dataclass(frozen=True)
class EtsParams:
    alpha: float
    beta: float
    gamma: float
    phi: float
    level: float
    trend: float
    seasons: np.ndarray  # initial seasonal states (length = season, or 1 if none)


def fit_params(y: np.ndarray, spec: str, season: int = 52) -> EtsParams | None:
    """Estimate one series' parameters with statsmodels; ``None`` when the fit fails."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    cfg = SPECS[spec]
    y = np.asarray(y, dtype=float)
    if y.size < 4 or not np.all(np.isfinite(y)):
        return None
    if cfg.seasonal and y.size < 2 * season + 2:
        return None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = ExponentialSmoothing(
                y,
                trend=cfg.trend,
                damped_trend=cfg.damped_trend,
                seasonal=cfg.seasonal,
                seasonal_periods=season if cfg.seasonal else None,
                initialization_method="estimated",
            )
            res = model.fit()
    except Exception:  # noqa: BLE001 - any failure of one series' fit means: fall back
        return None
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return None
    retvals = getattr(res, "mle_retvals", None)
    if retvals is not None and getattr(retvals, "success", True) is False:
        return None
    p = res.params
    seasons = np.asarray(p.get("initial_seasons", np.zeros(1)), dtype=float)
    if not cfg.seasonal:
        seasons = np.zeros(1)

    def val(key: str, default: float) -> float:
        v = p.get(key, default)
        return default if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)

    out = EtsParams(
        alpha=val("smoothing_level", 0.1),
        beta=val("smoothing_trend", 0.0) if cfg.trend else 0.0,
        gamma=val("smoothing_seasonal", 0.0) if cfg.seasonal else 0.0,
        phi=val("damping_trend", 1.0) if cfg.damped_trend else 1.0,
        level=val("initial_level", 0.0),
        trend=val("initial_trend", 0.0) if cfg.trend else 0.0,
        seasons=seasons,
    )
    numbers = [out.alpha, out.beta, out.gamma, out.phi, out.level, out.trend, *out.seasons]
    if not np.all(np.isfinite(numbers)):
        return None
    return out


def ets_filter(
    filled: np.ndarray,
    start: np.ndarray,
    params: list[EtsParams],
    origins: list[int],
    h: int,
) -> np.ndarray:
    """Forecast means ``(origins, series, h)`` for series with known parameters (one per row).

    ``filled`` is the imputed history (NaN before each series' ``start``). The recursion is the
    additive Holt-Winters one statsmodels uses:
    ``l = a(y - s) + (1-a)(l + phi b)``, ``b = b*(l' - l) + (1-b*) phi b``,
    ``s = g(y - l - phi b) + (1-g) s``; forecast ``l + (phi + ... + phi^k) b + s``.
    """
    n, t_len = filled.shape
    m = max(len(p.seasons) for p in params) if params else 1
    alpha = np.array([p.alpha for p in params])
    beta = np.array([p.beta for p in params])
    gamma = np.array([p.gamma for p in params])
    phi = np.array([p.phi for p in params])
    lvl = np.array([p.level for p in params])
    trd = np.array([p.trend for p in params])
    seas = np.zeros((n, m))
    period = np.ones(n, dtype=int)
    for i, p in enumerate(params):
        seas[i, : len(p.seasons)] = p.seasons
        period[i] = len(p.seasons)
    rows = np.arange(n)
    snaps: dict[int, tuple] = {}
    wanted = set(origins)
    if 0 in wanted:
        snaps[0] = (lvl.copy(), trd.copy(), seas.copy())
    for t in range(t_len):
        yt = filled[:, t]
        active = (t >= start) & ~np.isnan(yt)
        slot = np.mod(t - start, period)
        s_prev = seas[rows, slot]
        base = lvl + phi * trd
        new_l = alpha * (np.nan_to_num(yt) - s_prev) + (1 - alpha) * base
        new_b = beta * (new_l - lvl) + (1 - beta) * phi * trd
        new_s = gamma * (np.nan_to_num(yt) - base) + (1 - gamma) * s_prev
        seas[rows, slot] = np.where(active, new_s, s_prev)
        lvl = np.where(active, new_l, lvl)
        trd = np.where(active, new_b, trd)
        if t + 1 in wanted:
            snaps[t + 1] = (lvl.copy(), trd.copy(), seas.copy())
    out = np.zeros((len(origins), n, h))
    for i, o in enumerate(origins):
        lv, tr, ss = snaps[o]
        damp = np.zeros(n)
        for k in range(1, h + 1):
            damp = damp + phi**k
            slot = np.mod(o + k - 1 - start, period)
            out[i, :, k - 1] = lv + damp * tr + ss[rows, slot]
    return np.clip(out, 0.0, None)
