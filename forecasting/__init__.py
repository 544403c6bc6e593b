"""Demand forecasts, reorder levels and buyer files.

Pure functions over polars DataFrames (``series``, ``classify``, ``models``, ``engine``,
``replenishment``); ``buyer_files`` is the only module that writes to disk. ``schemas`` declares
the planning tables, ``settings`` the replenishment settings (the ``replenishment`` section of
``oms.yaml``). The flow reads marts, calls these, and writes ``planning.*``.

Forecasting (see ``docs/forecasting.md``): :func:`forecast_all` (or :func:`build_series` +
:func:`iter_batches` + :func:`forecast_batch` per batch) gives ``planning.demand_forecast`` and
``planning.forecast_accuracy`` rows; :func:`to_daily` turns the weekly forecast into the daily
one the replenishment code reads; :func:`naive_forecast` is the engine restricted to its naive
models (the simulation's baseline).

The names below are imported on first use, so ``import forecasting.settings`` (done by
``flows/config.py`` for every CLI command) does not load the models, polars or openpyxl.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forecasting.buyer_files import write_buyer_files
    from forecasting.engine import (
        ForecastSettings,
        accuracy_summary,
        forecast_all,
        forecast_batch,
        iter_batches,
        naive_forecast,
        to_daily,
        weekday_profile,
    )
    from forecasting.replenishment import ReplenishmentPlan, plan_replenishment
    from forecasting.series import build_series
    from forecasting.settings import ReplenishmentSettings

_WHERE: dict[str, str] = {
    "ForecastSettings": "forecasting.engine",
    "ReplenishmentPlan": "forecasting.replenishment",
    "ReplenishmentSettings": "forecasting.settings",
    "accuracy_summary": "forecasting.engine",
    "build_series": "forecasting.series",
    "forecast_all": "forecasting.engine",
    "forecast_batch": "forecasting.engine",
    "iter_batches": "forecasting.engine",
    "naive_forecast": "forecasting.engine",
    "plan_replenishment": "forecasting.replenishment",
    "to_daily": "forecasting.engine",
    "weekday_profile": "forecasting.engine",
    "write_buyer_files": "forecasting.buyer_files",
}

__all__ = [
    "ForecastSettings",
    "ReplenishmentPlan",
    "ReplenishmentSettings",
    "accuracy_summary",
    "build_series",
    "forecast_all",
    "forecast_batch",
    "iter_batches",
    "naive_forecast",
    "plan_replenishment",
    "to_daily",
    "weekday_profile",
    "write_buyer_files",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'forecasting' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
