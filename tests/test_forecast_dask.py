"""`forecast_batch` mapped as Prefect tasks on a local Dask cluster (prefect-dask).

Skipped when prefect-dask is not installed (it is not a project dependency yet); run it with
an environment that has it, e.g. ``uv pip install prefect-dask``.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

pytest.importorskip("prefect_dask")

from prefect import flow, task  # noqa: E402
from prefect.testing.utilities import prefect_test_harness  # noqa: E402
from prefect_dask import DaskTaskRunner  # noqa: E402

from forecasting.engine import ForecastSettings, forecast_all, forecast_batch, iter_batches  # noqa: E402
from forecasting.series import build_series  # noqa: E402
from tests.test_forecast_engine import after, daily_from_weekly  # noqa: E402


@task
def forecast_batch_task(batch, run_date, settings):
    return forecast_batch(batch, run_date, settings)


@flow(
    task_runner=DaskTaskRunner(
        cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "processes": True}
    )
)
def dask_forecast(series, run_date, settings):
    futures = [forecast_batch_task.submit(b, run_date, settings) for b in iter_batches(series, 3)]
    return [f.result() for f in futures]


@pytest.mark.slow
def test_forecast_batch_on_dask_matches_the_process_pool():
    rng = np.random.default_rng(4)
    weekly = {(f"S{i}", "WH"): rng.poisson(rng.uniform(1, 30), 80) for i in range(8)}
    daily = daily_from_weekly(weekly)
    run = after(80)
    settings = ForecastSettings()
    series = build_series(daily, run)
    with prefect_test_harness():
        parts = dask_forecast(series, run, settings)
    fc = pl.concat([p[0] for p in parts]).sort("sku", "location_id", "period_start")
    acc = pl.concat([p[1] for p in parts]).sort("sku", "location_id", "model")
    ref_fc, ref_acc = forecast_all(daily, run, settings, workers=1)
    assert fc.equals(ref_fc)
    assert acc.equals(ref_acc)
    assert fc["period_start"].min() == run
