"""Forecasting models over a batch of series held as numpy matrices (series x periods).

Every model answers the same question: given the history up to origin ``o`` (columns
``[:o]``), what is the mean demand of each of the next ``h`` periods? ``predict_at`` functions
return an array ``(len(origins), n_series, h)`` so a rolling-origin backtest and the final
forecast are one call. Vectorized models (naive, moving average, Croston, SBA, TSB) loop over
time only, never over series; ETS estimates its parameters per series with statsmodels (see
``models.ets``) and then filters all series at once with numpy.
"""

from forecasting.models.intermittent import croston_family, tsb
from forecasting.models.naive import (
    category_profile,
    moving_average,
    naive,
    seasonal_index,
    seasonal_naive,
    zero,
)
from forecasting.models.ses import ses

SEASONAL_NAIVE = "seasonal_naive"
MOVING_AVERAGE = "moving_average"
CROSTON = "croston"
SBA = "sba"
TSB = "tsb"
ETS_SES = "ets_ses"
SES = "ses"
ETS_DAMPED = "ets_damped"
ETS_SEASONAL = "ets_seasonal"
ZERO = "zero"
CATEGORY_PROFILE = "category_profile"
NEW_ITEM = "new_item"
MA_SEASONAL = "ma_seasonal"
ENSEMBLE = "ensemble"
# Reported baselines, never chosen: the last period, and a 4-period moving average.
NAIVE = "naive"
MOVING_AVERAGE_4 = "moving_average_4"
BASELINES: tuple[str, ...] = (NAIVE, MOVING_AVERAGE_4)

# When a chosen model cannot be fitted (or did not converge), the next one in this order that
# was scored for the series is used; seasonal naive is always available.
FALLBACK_ORDER: list[str] = [
    ENSEMBLE,
    ETS_SEASONAL,
    ETS_DAMPED,
    ETS_SES,
    SES,
    SBA,
    TSB,
    CROSTON,
    MA_SEASONAL,
    MOVING_AVERAGE,
    ZERO,
    NEW_ITEM,
    CATEGORY_PROFILE,
    SEASONAL_NAIVE,
    NAIVE,
    MOVING_AVERAGE_4,
]

__all__ = [
    "BASELINES",
    "CATEGORY_PROFILE",
    "CROSTON",
    "ENSEMBLE",
    "MA_SEASONAL",
    "ETS_DAMPED",
    "ETS_SEASONAL",
    "ETS_SES",
    "FALLBACK_ORDER",
    "MOVING_AVERAGE",
    "MOVING_AVERAGE_4",
    "NAIVE",
    "NEW_ITEM",
    "SBA",
    "SEASONAL_NAIVE",
    "SES",
    "TSB",
    "ZERO",
    "category_profile",
    "croston_family",
    "moving_average",
    "naive",
    "seasonal_index",
    "seasonal_naive",
    "ses",
    "tsb",
    "zero",
]
