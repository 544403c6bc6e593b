"""Forecasting models recover known parameters; quantiles behave; classification is right."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from forecasting import classify as cl
from forecasting.models import croston_family, moving_average, seasonal_naive, ses, tsb
from forecasting.models.ets import ets_filter, fit_params
from forecasting.quantiles import count_quantiles, dispersion, inside_band

pytestmark = pytest.mark.fast  # make test-fast


def _local_level(alpha: float, n: int, seed: int, level: float = 50.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    e = rng.normal(0, 3.0, n)
    y = np.empty(n)
    lv = level
    for t in range(n):
        y[t] = lv + e[t]
        lv = lv + alpha * e[t]
    return y


def test_ses_recovers_alpha():
    alphas = [fit_params(_local_level(0.3, 400, seed), "ets_ses").alpha for seed in range(3)]
    assert np.mean(alphas) == pytest.approx(0.3, abs=0.08)
    low = fit_params(_local_level(0.05, 400, 11), "ets_ses").alpha
    assert low < 0.15


def test_ets_filter_matches_statsmodels():
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    rng = np.random.default_rng(0)
    y = 20 + 0.2 * np.arange(80) + rng.normal(0, 2, 80)
    p = fit_params(y, "ets_damped")
    res = ExponentialSmoothing(
        y, trend="add", damped_trend=True, initialization_method="estimated"
    ).fit()
    ours = ets_filter(y[None, :], np.array([0]), [p], [80], 6)[0, 0]
    np.testing.assert_allclose(ours, res.forecast(6), rtol=1e-6)
    # one-step forecasts from inside the history are the fitted values
    one = ets_filter(y[None, :], np.array([0]), [p], [30], 1)[0, 0, 0]
    assert one == pytest.approx(res.fittedvalues[30], rel=1e-6)


def test_ets_fit_failure_and_non_convergence_return_none(monkeypatch):
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    y = np.linspace(10, 20, 40) + np.sin(np.arange(40))
    real_fit = ExponentialSmoothing.fit
    assert fit_params(y, "ets_ses") is not None
    assert fit_params(np.array([1.0, np.nan, 2.0, 3.0, 4.0]), "ets_ses") is None
    assert fit_params(y[:3], "ets_ses") is None

    def boom(self, *a, **k):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(ExponentialSmoothing, "fit", boom)
    assert fit_params(y, "ets_damped") is None

    def no_converge(self, *a, **k):
        warnings.warn("did not converge", ConvergenceWarning, stacklevel=1)
        return real_fit(self, *a, **k)

    monkeypatch.setattr(ExponentialSmoothing, "fit", no_converge)
    assert fit_params(y, "ets_ses") is None


def test_croston_recovers_interval_and_size_exactly_on_regular_demand():
    y = np.zeros((1, 60))
    y[0, 3::4] = 6.0  # 6 units every 4th period
    fits = croston_family(y, [60], 4)
    assert fits["croston"].size[0] == pytest.approx(6.0)
    assert fits["croston"].interval[0] == pytest.approx(4.0)
    assert fits["croston"].mean[0, 0, 0] == pytest.approx(1.5)
    a = fits["sba"].beta[0]
    assert fits["sba"].mean[0, 0, 0] == pytest.approx(1.5 * (1 - a / 2))


def test_croston_estimates_on_random_intermittent_demand():
    rng = np.random.default_rng(3)
    n, t = 200, 150
    occurs = rng.random((n, t)) < 0.25  # mean interval 4
    y = np.where(occurs, 1 + rng.poisson(5, (n, t)), 0).astype(float)  # mean size 6
    fits = croston_family(y, [t], 1)
    assert np.median(fits["croston"].interval) == pytest.approx(4.0, rel=0.15)
    assert np.median(fits["croston"].size) == pytest.approx(6.0, rel=0.1)
    # SBA's debiased mean is close to the true rate 6/4 = 1.5; Croston's is biased upwards
    assert np.mean(fits["sba"].mean) == pytest.approx(1.5, rel=0.1)
    assert np.mean(fits["croston"].mean) > np.mean(fits["sba"].mean)


def test_intermittent_models_are_row_independent_and_skip_missing():
    rng = np.random.default_rng(5)
    y = np.where(rng.random((5, 80)) < 0.3, rng.poisson(4, (5, 80)) + 1, 0).astype(float)
    together = croston_family(y, [40, 80], 3)["sba"].mean
    alone = np.stack(
        [croston_family(y[i : i + 1], [40, 80], 3)["sba"].mean[:, 0] for i in range(5)]
    )
    np.testing.assert_allclose(together, alone.transpose(1, 0, 2))
    # a censored (NaN) period is skipped, not treated as zero
    z = y.copy()
    z[:, 70:75] = np.nan
    zero = y.copy()
    zero[:, 70:75] = 0.0
    assert not np.allclose(tsb(z, [80], 1).mean, tsb(zero, [80], 1).mean)


def test_vectorized_ses_follows_the_level_picks_alpha_and_skips_missing():
    # a level that steps from 10 to 30: SES ends near the new level, a step-following alpha
    step = np.r_[np.full(30, 10.0), np.full(30, 30.0)][None, :]
    assert ses(step, [60], 2)[0, 0] == pytest.approx([30.0, 30.0], abs=0.5)
    # at an origin before the step it knows nothing of it (no look-ahead)
    assert ses(step, [30], 1)[0, 0, 0] == pytest.approx(10.0)
    # a noisy constant level: the smallest alpha wins the in-sample error, the mean is close
    rng = np.random.default_rng(4)
    flat = rng.poisson(20, (1, 200)).astype(float)
    assert ses(flat, [200], 1)[0, 0, 0] == pytest.approx(20.0, abs=2.5)
    # rows are independent; NaN (censored) periods are skipped, not zeros
    y = np.vstack([step, flat[:, :60]])
    np.testing.assert_allclose(ses(y, [60], 1)[0, 0], ses(step, [60], 1)[0, 0])
    gap = step.copy()
    gap[0, 40:50] = np.nan
    assert ses(gap, [60], 1)[0, 0, 0] == pytest.approx(30.0, abs=0.5)
    nothing = np.full((1, 5), np.nan)
    assert ses(nothing, [5], 1)[0, 0, 0] == 0.0


def test_tsb_fades_obsolete_items_croston_does_not():
    y = np.zeros((1, 80))
    y[0, :40:2] = 5.0
    cro = croston_family(y, [80], 1)["croston"].mean[0, 0, 0]
    t = tsb(y, [80], 1).mean[0, 0, 0]
    assert cro == pytest.approx(2.5, rel=0.05)
    assert t < 0.5 * cro


def test_baselines():
    y = np.tile(np.arange(1.0, 6.0), (2, 12))[:, :56]
    filled = y.copy()
    sn = seasonal_naive(y, filled, [50], 5, season=5)
    np.testing.assert_allclose(sn[0, 0], [1, 2, 3, 4, 5])
    ma = moving_average(y, filled, [50], 3, window=5)
    assert ma[0, 0, 0] == pytest.approx(3.0)
    y2 = y.copy()
    y2[:, 45:50] = np.nan  # all censored: the imputed values stand in
    assert moving_average(y2, filled, [50], 1, window=5)[0, 0, 0] == pytest.approx(3.0)


def test_classification_of_known_patterns():
    rng = np.random.default_rng(1)
    t = 104
    smooth = rng.poisson(20, t).astype(float)
    erratic = np.round(rng.lognormal(2, 1.2, t))
    erratic[erratic == 0] = 1
    intermittent = np.where(rng.random(t) < 0.2, 5 + rng.integers(0, 2, t), 0).astype(float)
    lumpy = np.where(rng.random(t) < 0.2, np.round(rng.lognormal(2, 1.2, t)) + 1, 0)
    inactive = np.concatenate([rng.poisson(5, t - 20) + 1, np.zeros(20)]).astype(float)
    new = np.full(t, np.nan)
    new[-5:] = [3, 4, 2, 5, 3]
    y = np.stack([smooth, erratic, intermittent, lumpy, inactive, new])
    start = np.array([0, 0, 0, 0, 0, t - 5])
    cls, adi, cv2 = cl.classify_matrix(y, start)
    assert list(cls) == [cl.SMOOTH, cl.ERRATIC, cl.INTERMITTENT, cl.LUMPY, cl.INACTIVE, cl.NEW]
    assert adi[0] < 1.32 <= adi[2]
    assert cv2[2] < 0.49 <= cv2[3]
    # censored periods are not zeros: a smooth series with stockouts stays smooth
    cens = smooth.copy()
    cens[::3] = np.nan
    assert cl.classify_matrix(cens[None, :], np.array([0]))[0][0] == cl.SMOOTH


def test_count_quantiles_ordered_and_calibrated_on_poisson():
    rng = np.random.default_rng(2)
    lam = rng.uniform(0.2, 30, 4000)
    d = np.ones_like(lam)
    p10, p50, p90 = (count_quantiles(lam, d, q) for q in (0.1, 0.5, 0.9))
    assert np.all(p10 <= p50) and np.all(p50 <= p90)
    y = rng.poisson(lam)
    inside = (p10 <= y) & (y <= p90)
    assert 0.8 <= inside.mean() <= 0.92  # discrete: at least the nominal 80%
    np.testing.assert_array_equal(inside_band(y, lam, d), inside)
    # overdispersed demand with the dispersion estimated from errors
    mu = np.full(4000, 6.0)
    nb = rng.negative_binomial(2, 2 / (2 + 6), 4000)  # var = 6 + 36/2 = 24 -> d = 4
    disp = dispersion(np.sum((nb - mu) ** 2), np.sum(mu))
    assert disp == pytest.approx(4.0, rel=0.15)
    cover = inside_band(nb, mu, np.full(4000, disp)).mean()
    assert 0.75 <= cover <= 0.92
    assert np.all(count_quantiles(np.zeros(3), np.ones(3), 0.9) == 0)
