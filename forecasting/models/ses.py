"""Simple exponential smoothing, vectorized across series and smoothing parameters.

The level ``l`` moves towards each observed period by ``alpha``: ``l += alpha * (y - l)``,
starting at the first observed period; the forecast is the level, flat. One pass over time
updates every series and every ``alpha`` of the grid at once (``series x grid``), and each
series keeps, at each origin, the ``alpha`` with the lowest in-sample one-step squared error up
to that origin (no look-ahead). Missing periods (censored, or before the series starts) are
skipped: they neither move the level nor count as errors.

Why next to statsmodels' ETS: ETS is fitted (one optimisation per series) only for smooth and
erratic series with enough history and volume. A young series, a slow one or a store with
thousands of short histories still gets a level that follows its recent weeks (a launch that
ramps up, a season rising through the holdout) without the noise of a 4-week average, at the
cost of one vectorized pass.
"""

from __future__ import annotations

import numpy as np

SES_ALPHAS = (0.1, 0.2, 0.3, 0.5)


def ses(y: np.ndarray, origins: list[int], h: int, alphas: tuple[float, ...] = SES_ALPHAS):
    """SES forecasts ``(len(origins), n, h)``: 0 for a series with nothing observed yet."""
    n, t_len = y.shape
    a = np.asarray(alphas, dtype=float)[None, :]
    g = a.shape[1]
    default = int(np.argmin(np.abs(a[0] - 0.2)))
    level = np.zeros((n, g))
    init = np.zeros(n, dtype=bool)
    err = np.zeros((n, g))
    cnt = np.zeros(n)
    snaps: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    wanted = set(origins)
    if 0 in wanted:
        snaps[0] = (level.copy(), init.copy(), err.copy(), cnt.copy())
    for t in range(t_len):
        yt = y[:, t]
        obs = ~np.isnan(yt)
        yv = np.where(obs, yt, 0.0)[:, None]
        upd = obs & init
        err += np.where(upd[:, None], (yv - level) ** 2, 0.0)
        cnt += upd
        level = np.where(upd[:, None], level + a * (yv - level), level)
        first = obs & ~init
        level = np.where(first[:, None], yv, level)
        init |= first
        if t + 1 in wanted:
            snaps[t + 1] = (level.copy(), init.copy(), err.copy(), cnt.copy())
    rows = np.arange(n)
    out = np.zeros((len(origins), n, h))
    for i, o in enumerate(origins):
        lv, ini, e, c = snaps[o]
        k = np.where(c > 0, np.argmin(e, axis=1), default)
        out[i] = np.where(ini, lv[rows, k], 0.0)[:, None]
    return out
