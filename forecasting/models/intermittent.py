"""Croston, SBA and TSB for intermittent demand, vectorized across series and parameters.

One pass over time updates every series and every smoothing-parameter pair on the grid at once
(arrays ``series x grid``); each series then keeps, at each origin, the pair with the lowest
in-sample one-step squared error up to that origin (no look-ahead). Missing periods (censored,
or before the series starts) are skipped: they neither update the state nor count towards the
demand interval.

- Croston: demand size ``z`` and interval ``p`` smoothed only when demand occurs;
  forecast ``z / p``.
- SBA (Syntetos-Boylan approximation): Croston debiased by ``1 - alpha_p / 2``.
- TSB (Teunter-Syntetos-Babai): demand *probability* ``d`` updated every period, size when
  demand occurs; forecast ``d * z``. The probability decays over runs of zeros, so obsolete
  items fade out instead of freezing at their last level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CROSTON_SIZE_ALPHAS = (0.05, 0.1, 0.2, 0.3)
CROSTON_INTERVAL_ALPHAS = (0.05, 0.1, 0.2, 0.3)
TSB_SIZE_ALPHAS = (0.05, 0.1, 0.2, 0.3)
TSB_PROB_BETAS = (0.02, 0.05, 0.1, 0.2)


@dataclass
class IntermittentFit:
    """Forecasts ``(origins, series, h)`` and, at the last origin, the chosen state."""

    mean: np.ndarray
    size: np.ndarray  # smoothed demand size per series (NaN before the first demand)
    interval: np.ndarray  # Croston: smoothed interval; TSB: 1 / probability
    alpha: np.ndarray  # chosen size alpha per series
    beta: np.ndarray  # chosen interval alpha (Croston) or probability beta (TSB)


def _grid(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    aa, bb = np.meshgrid(np.asarray(a, float), np.asarray(b, float), indexing="ij")
    return aa.ravel(), bb.ravel()


def _pick(err: np.ndarray, cnt: np.ndarray, default: int) -> np.ndarray:
    best = np.argmin(err, axis=1)
    return np.where(cnt > 0, best, default)


def croston_family(
    y: np.ndarray,
    origins: list[int],
    h: int,
    size_alphas: tuple[float, ...] = CROSTON_SIZE_ALPHAS,
    interval_alphas: tuple[float, ...] = CROSTON_INTERVAL_ALPHAS,
) -> dict[str, IntermittentFit]:
    """Croston and SBA forecasts at each origin: ``{"croston": fit, "sba": fit}``."""
    n, t_len = y.shape
    az, ap = _grid(size_alphas, interval_alphas)
    g = az.size
    default = int(np.argmin(np.abs(az - 0.1) + np.abs(ap - 0.1)))
    z = np.zeros((n, g))
    p = np.ones((n, g))
    q = np.zeros(n)
    init = np.zeros(n, dtype=bool)
    err_c = np.zeros((n, g))
    err_s = np.zeros((n, g))
    cnt = np.zeros(n)
    debias = 1.0 - ap / 2.0
    snaps: dict[int, tuple] = {}
    wanted = set(origins)
    if 0 in wanted:
        snaps[0] = (z.copy(), p.copy(), init.copy(), err_c.copy(), err_s.copy(), cnt.copy())
    for t in range(t_len):
        yt = y[:, t]
        obs = ~np.isnan(yt)
        yv = np.where(obs, yt, 0.0)
        scored = obs & init
        f = z / p
        err_c += np.where(scored[:, None], (yv[:, None] - f) ** 2, 0.0)
        err_s += np.where(scored[:, None], (yv[:, None] - f * debias) ** 2, 0.0)
        cnt += scored
        q += obs
        pos = obs & (yv > 0)
        first = pos & ~init
        upd = pos & init
        z = np.where(first[:, None], yv[:, None], z)
        p = np.where(first[:, None], q[:, None], p)
        z = np.where(upd[:, None], z + az * (yv[:, None] - z), z)
        p = np.where(upd[:, None], p + ap * (q[:, None] - p), p)
        init |= first
        q = np.where(pos, 0.0, q)
        if t + 1 in wanted:
            snaps[t + 1] = (z.copy(), p.copy(), init.copy(), err_c.copy(), err_s.copy(), cnt.copy())
    rows = np.arange(n)
    out: dict[str, IntermittentFit] = {}
    for name, which in (("croston", 3), ("sba", 4)):
        mean = np.zeros((len(origins), n, h))
        for i, o in enumerate(origins):
            zs, ps, ini, ec, es, cn = snaps[o]
            k = _pick(ec if which == 3 else es, cn, default)
            level = zs[rows, k] / ps[rows, k]
            if name == "sba":
                level = level * debias[k]
            mean[i] = np.where(ini, level, 0.0)[:, None]
        zs, ps, ini, ec, es, cn = snaps[origins[-1]]
        k = _pick(ec if which == 3 else es, cn, default)
        out[name] = IntermittentFit(
            mean=mean,
            size=np.where(ini, zs[rows, k], np.nan),
            interval=np.where(ini, ps[rows, k], np.nan),
            alpha=az[k],
            beta=ap[k],
        )
    return out


def tsb(
    y: np.ndarray,
    origins: list[int],
    h: int,
    size_alphas: tuple[float, ...] = TSB_SIZE_ALPHAS,
    prob_betas: tuple[float, ...] = TSB_PROB_BETAS,
) -> IntermittentFit:
    """TSB forecasts at each origin."""
    n, t_len = y.shape
    az, bd = _grid(size_alphas, prob_betas)
    g = az.size
    default = int(np.argmin(np.abs(az - 0.1) + np.abs(bd - 0.05)))
    z = np.zeros((n, g))
    d = np.zeros((n, g))
    q = np.zeros(n)
    init = np.zeros(n, dtype=bool)
    err = np.zeros((n, g))
    cnt = np.zeros(n)
    snaps: dict[int, tuple] = {}
    wanted = set(origins)
    if 0 in wanted:
        snaps[0] = (z.copy(), d.copy(), init.copy(), err.copy(), cnt.copy())
    for t in range(t_len):
        yt = y[:, t]
        obs = ~np.isnan(yt)
        yv = np.where(obs, yt, 0.0)
        scored = obs & init
        err += np.where(scored[:, None], (yv[:, None] - d * z) ** 2, 0.0)
        cnt += scored
        q += obs
        pos = obs & (yv > 0)
        first = pos & ~init
        upd = scored
        d = np.where(upd[:, None], d + bd * (pos[:, None] - d), d)
        z = np.where((upd & pos)[:, None], z + az * (yv[:, None] - z), z)
        d = np.where(first[:, None], 1.0 / np.maximum(q, 1.0)[:, None], d)
        z = np.where(first[:, None], yv[:, None], z)
        init |= first
        q = np.where(pos, 0.0, q)
        if t + 1 in wanted:
            snaps[t + 1] = (z.copy(), d.copy(), init.copy(), err.copy(), cnt.copy())
    rows = np.arange(n)
    mean = np.zeros((len(origins), n, h))
    for i, o in enumerate(origins):
        zs, ds, ini, e, cn = snaps[o]
        k = _pick(e, cn, default)
        mean[i] = np.where(ini, ds[rows, k] * zs[rows, k], 0.0)[:, None]
    zs, ds, ini, e, cn = snaps[origins[-1]]
    k = _pick(e, cn, default)
    with np.errstate(divide="ignore"):
        interval = np.where(ini, 1.0 / ds[rows, k], np.nan)
    return IntermittentFit(
        mean=mean,
        size=np.where(ini, zs[rows, k], np.nan),
        interval=interval,
        alpha=az[k],
        beta=bd[k],
    )
