"""What the forecast reads beside the demand history: the promotion calendar, the buyers'
overrides and the earlier runs' adjusted forecasts (for the accuracy of the adjustments).

I/O only; the maths is in `forecasting/adjustments.py`. A warehouse built before these staging
models existed (or a planning schema not yet created) reads as empty frames, so a plan never
fails for want of a calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from flows.config import Config
from flows.warehouse import connection


@dataclass(frozen=True)
class ForecastInputs:
    promotions: pl.DataFrame  # stg_files__promotions (forecasting.adjustments.PROMOTION_SCHEMA)
    overrides: pl.DataFrame  # stg_files__forecast_overrides (OVERRIDE_SCHEMA)
    past_forecasts: pl.DataFrame  # planning.demand_forecast rows adjusted, periods passed


def _exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select 1 from information_schema.tables where table_catalog = current_database() "
            "and table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    )


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    frame = pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def read_forecast_inputs(cfg: Config, run_date: date) -> ForecastInputs:
    """The calendar, the overrides, and the adjusted forecasts of runs before `run_date` whose
    periods ended by then (their accuracy can be judged)."""
    from forecasting.adjustments import OVERRIDE_SCHEMA, PROMOTION_SCHEMA
    from forecasting.schemas import DEMAND_FORECAST

    promotions = pl.DataFrame(schema={**PROMOTION_SCHEMA, "status": pl.String()})
    overrides = pl.DataFrame(schema=OVERRIDE_SCHEMA)
    past = DEMAND_FORECAST.empty()
    with connection(cfg.warehouse, read_only=True) as con:
        if _exists(con, "staging", "stg_files__promotions"):
            promotions = _frame(
                con,
                """select promotion_id, applies_to, sku, category, location_id, start_date,
                          end_date, cast(uplift as double) as uplift,
                          cast(units as double) as units, status
                   from staging.stg_files__promotions order by promotion_row_id""",
            )
        if _exists(con, "staging", "stg_files__forecast_overrides"):
            overrides = _frame(
                con,
                """select sku, location_id, period_start, cast(units as double) as units,
                          cast(factor as double) as factor, reason, author
                   from staging.stg_files__forecast_overrides order by override_id""",
            )
        if _exists(con, "planning", "demand_forecast"):
            cols = {
                r[0]
                for r in con.execute(
                    "select column_name from information_schema.columns where table_catalog = "
                    "current_database() and table_schema = 'planning' "
                    "and table_name = 'demand_forecast'"
                ).fetchall()
            }
            if {"adjustment", "unadjusted_mean"} <= cols:
                past = _frame(
                    con,
                    f"""select {", ".join(DEMAND_FORECAST.columns)} from planning.demand_forecast
                        where run_date < ? and adjustment in ('promotion', 'override')
                          and period_start + period_days <= ?
                        order by run_date, sku, location_id, period_start""",
                    [run_date, run_date],
                )
    return ForecastInputs(promotions, overrides, past)
