"""Demand forecasts, reorder levels and buyer files.

Pure functions over polars DataFrames (``baseline``, ``replenishment``); ``buyer_files`` is the
only module that writes to disk. The flow reads marts, calls these, and writes ``planning.*``.
"""

from forecasting.baseline import backtest_accuracy, seasonal_naive_forecast
from forecasting.buyer_files import write_buyer_files
from forecasting.replenishment import ReplenishmentPlan, plan_replenishment
from forecasting.settings import ReplenishmentSettings

__all__ = [
    "ReplenishmentPlan",
    "ReplenishmentSettings",
    "backtest_accuracy",
    "plan_replenishment",
    "seasonal_naive_forecast",
    "write_buyer_files",
]
