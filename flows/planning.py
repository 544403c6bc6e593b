"""Forecast and reorder steps: read the marts, call `forecasting/`, write `planning.*` and files.

All the maths lives in `forecasting/` as functions of DataFrames; this module only moves data in
and out of the warehouse, so the same maths can be tested without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from flows.config import Config
from flows.warehouse import connection

PLANNING_DDL = """
create table if not exists planning.demand_forecast (
    run_date date, sku varchar, location_id varchar, period_start date,
    mean double, p10 double, p50 double, p90 double, model varchar);
create table if not exists planning.forecast_accuracy (
    run_date date, sku varchar, location_id varchar, model varchar,
    mase double, wape double, bias double, coverage_p10_p90 double, chosen boolean);
create table if not exists planning.replenishment (
    run_date date, sku varchar, location_id varchar, policy varchar,
    lead_time_demand double, safety_stock double, reorder_point double, order_up_to double,
    inventory_position bigint, service_level double);
create table if not exists planning.po_suggestions (
    run_date date, supplier_id varchar, supplier_name varchar, location_id varchar, sku varchar,
    suggested_qty bigint, unit_cost decimal(18,4), currency varchar, line_value decimal(18,4),
    reason varchar, projected_stockout_date date, days_of_cover double,
    inventory_position bigint, reorder_point double, order_up_to double);
create table if not exists planning.needs_attention (
    run_date date, sku varchar, location_id varchar, reason varchar);
"""


@dataclass
class PlanningReport:
    series: int = 0
    forecast_rows: int = 0
    suggestions: int = 0
    needs_attention: int = 0
    suppliers: int = 0
    files: list[Path] = field(default_factory=list)
    folder: Path | None = None


def _read(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql).to_arrow_table())


def _replace(con: duckdb.DuckDBPyConnection, table: str, run_date: date, df: pl.DataFrame) -> None:
    """Replace one run date's rows of a planning table (history of other dates is kept)."""
    cols = [r[0] for r in con.execute(f"describe planning.{table}").fetchall()]
    con.execute(f"delete from planning.{table} where run_date = ?", [run_date])
    if df.height:
        con.register("_planning_rows", df.select([c for c in cols if c in df.columns]).to_arrow())
        try:
            present = [c for c in cols if c in df.columns]
            con.execute(
                f"insert into planning.{table} ({', '.join(present)}) "
                f"select {', '.join(present)} from _planning_rows"
            )
        finally:
            con.unregister("_planning_rows")


def run_planning(cfg: Config, run_date: date) -> PlanningReport:
    """Forecast demand, plan replenishment and write the buyer files for `run_date`."""
    from forecasting.baseline import backtest_accuracy, seasonal_naive_forecast
    from forecasting.buyer_files import write_buyer_files
    from forecasting.replenishment import plan_replenishment
    from forecasting.settings import ReplenishmentSettings

    rs = cfg.replenishment
    settings = ReplenishmentSettings(
        service_level_by_abc=dict(rs.service_levels),
        default_service_level=rs.default_service_level,
        review_period_days=rs.review_period_days,
        horizon_days=rs.horizon_days,
        max_days_of_cover=rs.max_days_of_cover,
    )
    with connection(cfg.warehouse, read_only=True) as con:
        demand = _read(
            con,
            """select demand_date as date, sku, location_id, units_ordered, units_returned,
                      revenue, is_stockout
               from marts.daily_demand order by sku, location_id, demand_date""",
        )
        levels = _read(
            con,
            """select sku, location_id, on_hand, committed, available, on_order, inventory_position
               from marts.inventory_levels order by sku, location_id""",
        )
        terms = _read(
            con,
            """select supplier_id, supplier_name, supplier_email, sku, unit_cost_local as unit_cost,
                      currency,
                      lead_time_days, lead_time_std_days, moq, case_pack
               from staging.stg_files__supplier_terms order by supplier_id, sku""",
        )
        abc = _read(con, "select sku, abc_class from marts.products")
    forecast = seasonal_naive_forecast(demand, run_date, horizon_days=rs.horizon_days)
    accuracy = backtest_accuracy(demand, run_date)
    plan = plan_replenishment(forecast, levels, terms, settings, run_date, abc_class=abc)
    with connection(cfg.warehouse) as con:
        con.execute(PLANNING_DDL)
        con.execute("begin")
        _replace(con, "demand_forecast", run_date, forecast)
        _replace(con, "forecast_accuracy", run_date, accuracy)
        _replace(con, "replenishment", run_date, plan.replenishment)
        _replace(con, "po_suggestions", run_date, plan.po_suggestions)
        _replace(
            con,
            "needs_attention",
            run_date,
            plan.needs_attention.with_columns(pl.lit(run_date).alias("run_date")),
        )
        con.execute("commit")
    files = write_buyer_files(plan, Path(rs.output_dir), run_date)
    return PlanningReport(
        series=forecast.select("sku", "location_id").unique().height,
        forecast_rows=forecast.height,
        suggestions=plan.po_suggestions.height,
        needs_attention=plan.needs_attention.height,
        suppliers=plan.po_suggestions["supplier_id"].n_unique()
        if plan.po_suggestions.height
        else 0,
        files=files,
        folder=Path(rs.output_dir) / "reorder" / run_date.isoformat(),
    )
