"""Forecast and reorder steps: read the marts, call `forecasting/`, write `planning.*` and files.

All the maths lives in `forecasting/` as functions of DataFrames; this module only moves data in
and out of the warehouse, so the same maths can be tested without a database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl

from flows.config import Config
from flows.forecast_inputs import read_forecast_inputs
from flows.progress import tick
from flows.warehouse import connection


def ensure_planning_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the planning tables (forecasting/schemas.py), adding columns older ones lack."""
    from forecasting.schemas import PLANNING_TABLES, sql_type

    for table in PLANNING_TABLES:
        con.execute(table.ddl())
        have = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_catalog = current_database() and table_schema = 'planning' "
                "and table_name = ?",
                [table.name],
            ).fetchall()
        }
        for col, dtype in table.schema.items():
            if col not in have:
                con.execute(f"alter table planning.{table.name} add column {col} {sql_type(dtype)}")


@dataclass
class PlanningReport:
    series: int = 0
    forecast_rows: int = 0
    suggestions: int = 0
    transfers: int = 0
    needs_attention: int = 0
    suppliers: int = 0
    files: list[Path] = field(default_factory=list)
    folder: Path | None = None
    suggestion_rows: list[dict] = field(default_factory=list)  # for the Prefect table artifact
    stockout_alerts: list[dict] = field(default_factory=list)  # A items out before any delivery


def stockout_alerts(
    suggestions: pl.DataFrame, terms: pl.DataFrame, abc: pl.DataFrame, run_date: date
) -> list[dict]:
    """Class-A (high-revenue) lines projected to run out before an order placed today can arrive."""
    if suggestions.height == 0 or "projected_stockout_date" not in suggestions.columns:
        return []
    lead = terms.select("supplier_id", "sku", pl.col("lead_time_days").cast(pl.Int64))
    out = (
        suggestions.join(lead, on=["supplier_id", "sku"], how="left")
        .join(abc.select("sku", "abc_class"), on="sku", how="left")
        .filter(
            (pl.col("abc_class") == "A")
            & pl.col("projected_stockout_date").is_not_null()
            & (
                pl.col("projected_stockout_date")
                < pl.lit(run_date) + pl.duration(days=pl.col("lead_time_days").fill_null(0))
            )
        )
        .select("sku", "location_id", "supplier_id", "projected_stockout_date", "lead_time_days")
        .sort("projected_stockout_date", "sku", "location_id")
    )
    return [
        {**r, "projected_stockout_date": r["projected_stockout_date"].isoformat()}
        for r in out.to_dicts()
    ]


def _read(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    frame = pl.from_arrow(con.sql(sql).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)  # a table, never a single column
    return frame


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_catalog = "
        "current_database() and table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(rows[0][0])


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


ForecastFn = Callable[..., tuple[pl.DataFrame, pl.DataFrame]]


def run_planning(
    cfg: Config, run_date: date, workers: int = 2, forecast_fn: ForecastFn | None = None
) -> PlanningReport:
    """Forecast demand, plan replenishment and write the buyer files for `run_date`.

    `forecast_fn(daily_demand, run_date, settings, products)` returns the weekly forecast and
    its accuracy; the default is `forecasting.forecast_all` on a local process pool. The flow
    passes one that maps the batches as Prefect tasks when it runs on a Dask cluster."""
    from forecasting import (
        ForecastSettings,
        forecast_all,
        plan_replenishment,
        to_daily,
        weekday_profile,
        write_buyer_files,
    )
    from forecasting.adjustments import adjust_forecast, adjustment_accuracy, prepare_history
    from forecasting.lead_times import apply_measured_lead_times
    from forecasting.replenishment import measure_demand_errors
    from forecasting.revenue_at_risk import PRICE_DAYS, unit_prices

    settings = cfg.replenishment
    with connection(cfg.warehouse, read_only=True) as con:
        demand = _read(
            con,
            # History strictly before the run date (a date object: safe to inline). One row per
            # cell: a component's demand includes what bundles took of it (its 'bundle' rows;
            # the cell's stock and revenue are on its 'direct' row).
            f"""select demand_date as date, sku, location_id,
                       cast(sum(units_ordered) as integer) as units_ordered,
                       cast(sum(units_returned) as integer) as units_returned,
                       cast(sum(revenue) as decimal(18, 4)) as revenue,
                       bool_or(is_stockout) as is_stockout
                from marts.daily_demand where demand_date < date '{run_date.isoformat()}'
                group by all
                order by sku, location_id, demand_date""",
        )
        levels = _read(
            con,
            """select sku, location_id, on_hand, committed, available, on_order, inventory_position
               from marts.inventory_levels order by sku, location_id""",
        )
        terms = _read(
            con,
            """select supplier_id, supplier_name, supplier_email, sku, unit_cost_local as unit_cost,
                      currency, lead_time_days, lead_time_std_days, moq, case_pack
               from staging.stg_files__supplier_terms order by supplier_id, sku""",
        )
        # Lead times measured from receipts replace the terms' where enough receipts back them
        # (forecasting/lead_times.py); a warehouse built without the mart plans with the terms.
        performance = (
            _read(
                con,
                """select supplier_id, sku, receipts, lead_time_mean_days, lead_time_std_days
                   from marts.supplier_performance where grain = 'supplier_sku'""",
            )
            if _has_table(con, "marts", "supplier_performance")
            else None
        )
        terms = apply_measured_lead_times(terms, performance, settings)
        open_pos = _read(
            con,
            """select po_id, supplier_id, sku, location_id, quantity_open, expected_date as expected_at
               from intermediate.int_open_purchase_orders where quantity_open > 0
               order by po_id, sku, location_id""",
        )
        # the latest rate per currency: a transfer lane's cost against a supplier's unit cost
        fx_rows = _read(
            con,
            """select currency, rate_to_base from marts.fx_rates
               qualify row_number() over (partition by currency order by rate_date desc) = 1""",
        ).rows()
        # what each SKU sold for where it sold (order lines, not daily_demand: a component's
        # demand there includes bundle units sold at the bundle's price): revenue at risk
        sold = _read(
            con,
            f"""select order_date as date, sku, location_id, sum(quantity) as units_ordered,
                       sum(net) as revenue
                from marts.order_lines
                where not is_cancelled and sku is not null and location_id is not null
                    and order_date < date '{run_date.isoformat()}'
                    and order_date >= date '{run_date.isoformat()}' - {PRICE_DAYS}
                group by all order by all""",
        )
        list_prices = _read(con, "select sku, list_price from marts.products")
        abc = _read(con, "select sku, abc_class from marts.products")
        products = _read(con, "select sku, category from marts.products")
        # bundles and kits are sold, never bought: their components are (docs/replenishment.md)
        bundles = _read(
            con, "select distinct bundle_sku from intermediate.int_bundle_components order by 1"
        )["bundle_sku"].to_list()
    fs = ForecastSettings.for_horizon_days(settings.horizon_days)
    # Promotions and overrides (forecasting/adjustments.py, docs/forecasting.md): the models are
    # fitted on the history with past promotion days censored, future promotions (the uplift
    # measured on past ones, or the calendar's) and the buyers' overrides applied after selection.
    inputs = read_forecast_inputs(cfg, run_date)
    prepared = prepare_history(demand, run_date, inputs.promotions, products)
    if forecast_fn is None:
        weekly, accuracy = forecast_all(
            prepared.fit_demand, run_date, fs, workers=workers, products=products,
            on_batch=lambda: tick("forecast batches"),
        )  # fmt: skip
    else:
        weekly, accuracy = forecast_fn(prepared.fit_demand, run_date, fs, products)
    profile = weekday_profile(prepared.fit_demand, run_date)
    weekly = adjust_forecast(
        weekly, inputs.promotions, inputs.overrides,
        uplift=prepared.uplift, products=products, profile=profile,
    )  # fmt: skip
    daily = to_daily(weekly, run_date, settings.horizon_days, profile)
    chosen = accuracy.filter(pl.col("chosen")).select("sku", "location_id", "demand_class")
    daily = daily.join(chosen, on=["sku", "location_id"], how="left")
    # Safety stock from how wrong the forecast level was over each SKU's own lead time plus
    # review period in the last year (forecasting/replenishment.py, docs/replenishment.md).
    errors = measure_demand_errors(demand, terms, settings, run_date)
    plan = plan_replenishment(
        daily,
        levels,
        terms,
        settings,
        run_date,
        abc_class=abc,
        open_purchase_orders=open_pos,
        demand_errors=errors,
        location_kinds={loc.id: loc.kind for loc in cfg.locations},
        fx_to_base={str(c): Decimal(str(r)) for c, r in fx_rows},
        base_currency=cfg.base_currency,
        bundle_skus=bundles,
        unit_prices=unit_prices(sold, run_date, cfg.base_currency, list_prices=list_prices),
    )
    adjusted = adjustment_accuracy(inputs.past_forecasts, demand, run_date)
    with connection(cfg.warehouse) as con:
        ensure_planning_tables(con)
        con.execute("begin")
        _replace(con, "demand_forecast", run_date, weekly)
        _replace(con, "adjustment_accuracy", run_date,
                 adjusted.with_columns(pl.lit(run_date).alias("run_date")))  # fmt: skip
        _replace(con, "forecast_accuracy", run_date, accuracy)
        _replace(con, "replenishment", run_date, plan.replenishment)
        _replace(con, "po_suggestions", run_date, plan.po_suggestions)
        _replace(con, "transfer_suggestions", run_date, plan.transfers)
        _replace(
            con,
            "needs_attention",
            run_date,
            plan.needs_attention.with_columns(pl.lit(run_date).alias("run_date")),
        )
        con.execute("commit")
    files = write_buyer_files(
        plan,
        Path(settings.output_dir),
        run_date,
        history=demand,
        forecast=daily,
        accuracy=accuracy,
        adjustments=adjusted,
    )
    return PlanningReport(
        series=weekly.select("sku", "location_id").unique().height,
        forecast_rows=weekly.height,
        suggestions=plan.po_suggestions.height,
        transfers=plan.transfers.height,
        needs_attention=plan.needs_attention.height,
        suppliers=plan.po_suggestions["supplier_id"].n_unique()
        if plan.po_suggestions.height
        else 0,
        files=files,
        folder=Path(settings.output_dir) / "reorder" / run_date.isoformat(),
        suggestion_rows=[
            {
                k: (str(v) if v is not None and not isinstance(v, int | float | str) else v)
                for k, v in row.items()
            }
            for row in plan.po_suggestions.select(
                "supplier_id",
                "location_id",
                "sku",
                "suggested_qty",
                "unit_cost",
                "currency",
                "line_value",
                "projected_stockout_date",
                "reason",
            ).to_dicts()
        ],
        stockout_alerts=stockout_alerts(plan.po_suggestions, terms, abc, run_date),
    )


def run_simulation(
    cfg: Config,
    rule: object,
    weeks: int = 13,
    warmup_weeks: int = 8,
    forecaster: str = "engine",
    progress: Callable[[str], None] | None = None,
    report_date: date | None = None,
):
    """`oms simulate`: replay the warehouse's last `weeks` weeks, our policy against `rule`.

    Reads what the planner reads (marts.daily_demand with end-of-day stock, supplier terms,
    ABC classes, categories, the latest FX rates to the base currency) from the working file,
    read-only, replays them with `forecasting.simulation.replay` and writes
    `<output_dir>/simulate/<date>/` (markdown and an SVG chart). `forecaster`: "engine" (the
    forecast the daily run makes, re-made at every review) or "naive" (the engine's naive
    models, faster). Returns `(ReplayResult, [paths])`."""
    from forecasting.simulation import (
        MerchantRule,
        baseline_forecaster,
        demand_from_marts,
        engine_forecaster,
        replay,
    )
    from forecasting.simulation_report import write_simulation_report

    assert isinstance(rule, MerchantRule)
    with connection(cfg.warehouse, read_only=True) as con:
        marts = _read(
            con,
            # one row per cell, bundle-driven demand included (as run_planning reads it)
            """select demand_date as date, sku, location_id,
                      cast(sum(units_ordered) as integer) as units_ordered,
                      max(end_of_day_on_hand) as end_of_day_on_hand, bool_or(is_stockout) as is_stockout
               from marts.daily_demand group by all order by sku, location_id, demand_date""",
        )
        terms = _read(
            con,
            """select supplier_id, supplier_name, sku, unit_cost_local as unit_cost, currency,
                      lead_time_days, lead_time_std_days, moq, case_pack
               from staging.stg_files__supplier_terms order by supplier_id, sku""",
        )
        abc = _read(con, "select sku, abc_class from marts.products")
        products = _read(con, "select sku, category from marts.products")
        fx = _read(
            con,
            """select currency, rate_to_base from marts.fx_rates
               qualify row_number() over (partition by currency order by rate_date desc) = 1""",
        )
    if marts.height == 0:
        raise ValueError("marts.daily_demand is empty: nothing to replay (run `oms run` first)")
    fx_to_base = {c: float(r) for c, r in fx.iter_rows()}
    chosen = engine_forecaster(products) if forecaster == "engine" else baseline_forecaster()
    result = replay(
        demand_from_marts(marts),
        terms,
        rule,
        cfg.replenishment,
        weeks=weeks,
        warmup_weeks=warmup_weeks,
        abc_class=abc,
        fx_to_base=fx_to_base,
        forecaster=chosen,
        history_days=800 if forecaster == "engine" else 120,
        progress=progress,
    )
    stamp = report_date or date.today()
    paths = write_simulation_report(result, Path(cfg.replenishment.output_dir), stamp)
    return result, paths
