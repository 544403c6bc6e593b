"""Demand forecasts, reorder levels and buyer files.

Pure functions over polars DataFrames (``series``, ``classify``, ``models``, ``engine``,
``baseline``, ``replenishment``); ``buyer_files`` is the only module that writes to disk. The
flow reads marts, calls these, and writes ``planning.*``.

Forecasting (see ``docs/forecasting.md``): :func:`forecast_all` (or :func:`build_series` +
:func:`iter_batches` + :func:`forecast_batch` per batch) gives ``planning.demand_forecast`` and
``planning.forecast_accuracy`` rows; :func:`to_daily` turns the weekly forecast into the daily
one the replenishment code reads.
"""

from forecasting.baseline import backtest_accuracy, seasonal_naive_forecast
from forecasting.buyer_files import write_buyer_files
from forecasting.engine import (
    ForecastSettings,
    accuracy_summary,
    forecast_all,
    forecast_batch,
    iter_batches,
    to_daily,
    weekday_profile,
)
from forecasting.replenishment import ReplenishmentPlan, plan_replenishment
from forecasting.series import build_series
from forecasting.settings import ReplenishmentSettings

__all__ = [
    "ForecastSettings",
    "ReplenishmentPlan",
    "ReplenishmentSettings",
    "accuracy_summary",
    "backtest_accuracy",
    "build_series",
    "forecast_all",
    "forecast_batch",
    "iter_batches",
    "plan_replenishment",
    "seasonal_naive_forecast",
    "to_daily",
    "weekday_profile",
    "write_buyer_files",
]
