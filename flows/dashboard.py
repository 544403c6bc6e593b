"""`oms dashboard`: read the marts, write `<output_dir>/dashboard/index.html`.

The I/O half of the operations dashboard (the page itself is `flows/dashboard_html.py`, pure).
Every query aggregates in DuckDB and returns a small frame (a few hundred rows at most), so the
page is cheap on a large warehouse. It opens the warehouse read-only, or any copy of it
(`path`), and writes the page atomically (temporary file, then rename).
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from connectors import registry
from flows.config import Config
from flows.dashboard_html import (
    BESTSELLER_DAYS,
    TOP_N,
    WINDOWS,
    DashboardData,
    render_dashboard,
)
from flows.warehouse import connection

DEAD_DAYS = 90
LIST_LIMIT = 25
RUNS_SHOWN = 10


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    frame = pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)  # a table, never a single column
    return frame


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        f"{s}.{t}"
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database()"
        ).fetchall()
    }


def _empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


KPI_SQL = """
with w as (select unnest(?::integer[]) as days),
sd as (
    select
        w.days,
        case when s.sales_date > ?::date - w.days then 'current' else 'previous' end as period,
        s.channel, s.net_sales, s.gross_margin, s.units, s.units_returned
    from marts.sales_daily as s
    join w on s.sales_date > ?::date - 2 * w.days and s.sales_date <= ?::date
),
sales as (
    select days, period, coalesce(channel, 'all') as channel,
           sum(net_sales)::double as net_sales,
           sum(gross_margin)::double as gross_margin,
           coalesce(sum(net_sales) filter (where gross_margin is not null), 0)::double as margin_sales,
           sum(units)::bigint as units, sum(units_returned)::bigint as units_returned
    from sd group by grouping sets ((days, period, channel), (days, period))
),
od as (
    select
        w.days,
        case when o.order_date > ?::date - w.days then 'current' else 'previous' end as period,
        o.channel, o.gross_sales - o.discounts as order_value
    from marts.orders as o
    join w on o.order_date > ?::date - 2 * w.days and o.order_date <= ?::date
    where o.status <> 'cancelled' and o.units > 0
),
ords as (
    select days, period, coalesce(channel, 'all') as channel,
           count(*)::bigint as orders, sum(order_value)::double as order_value
    from od group by grouping sets ((days, period, channel), (days, period))
)
select days::integer as window_days, period, channel,
       coalesce(s.net_sales, 0) as net_sales, s.gross_margin, coalesce(s.margin_sales, 0) as margin_sales,
       coalesce(s.units, 0) as units, coalesce(s.units_returned, 0) as units_returned,
       coalesce(o.orders, 0) as orders, coalesce(o.order_value, 0) as order_value
from sales as s full join ords as o using (days, period, channel)
order by 1, 2, 3
"""

WEEKLY_SQL = """
select
    (?::date - (7 * (datediff('day', sales_date, ?::date) // 7))::integer) as week_end,
    channel, coalesce(region, 'Unknown') as region, sum(net_sales)::double as net_sales
from marts.sales_daily
where sales_date > ?::date - 7 * ?::integer and sales_date <= ?::date
group by all order by 1, 2, 3
"""

BESTSELLERS_SQL = """
with lines as (
    select order_key, channel, sku, quantity - quantity_refunded as units_kept, net - refunded as net
    from marts.order_lines
    where not is_cancelled and order_date > ?::date - ?::integer and order_date <= ?::date
),
sold as (
    select l.channel, coalesce(o.ship_region, 'Unknown') as region, l.sku,
           sum(l.units_kept)::bigint as units_kept, sum(l.net)::double as net_sales
    from lines as l join marts.orders as o using (order_key)
    group by all
),
ranked as (
    select *, row_number() over (partition by channel, region order by units_kept desc, sku) as rank
    from sold where units_kept > 0
)
select r.channel, r.region, r.rank::integer as rank, r.sku, p.title, r.units_kept, r.net_sales
from ranked as r left join marts.products as p using (sku)
where r.rank <= ?
order by 1, 2, 3
"""

# One row per SKU-location (a CTE), aggregated per location before it leaves DuckDB.
STOCK_CTE = """
with sold as (
    select sku, location_id, sum(units_ordered) as units_90d
    from marts.daily_demand
    where demand_date > ?::date - ?::integer and demand_date <= ?::date
    group by all
),
pairs as (
    select l.sku, l.location_id, l.on_hand, l.available, l.on_order, p.title, p.abc_class,
           p.unit_cost::double as unit_cost, coalesce(s.units_90d, 0) as units_90d,
           greatest(l.on_hand, 0) * coalesce(p.unit_cost::double, 0) as stock_value,
           case when coalesce(s.units_90d, 0) = 0 and l.on_hand > 0
                then l.on_hand * coalesce(p.unit_cost::double, 0) else 0 end as dead_value,
           case when coalesce(s.units_90d, 0) > 0
                then greatest(l.on_hand - ? * s.units_90d / ?, 0) * coalesce(p.unit_cost::double, 0)
                else 0 end as excess_value,
           coalesce(s.units_90d, 0) > 0 and l.available <= 0 as is_stockout
    from marts.inventory_levels as l
    left join sold as s using (sku, location_id)
    left join marts.products as p using (sku)
)
"""

STOCK_BY_LOCATION_SQL = (
    STOCK_CTE
    + """
select location_id, count(*)::bigint as pairs, sum(stock_value) as stock_value,
       sum(excess_value) as excess_value, count(*) filter (where excess_value > 0)::bigint as excess_pairs,
       sum(dead_value) as dead_value, count(*) filter (where dead_value > 0)::bigint as dead_pairs,
       count(*) filter (where is_stockout)::bigint as stockouts
from pairs group by all order by 1
"""
)

STOCKOUTS_SQL = (
    STOCK_CTE
    + """
select sku, location_id, title, abc_class, units_90d::bigint as units_90d, on_order::bigint as on_order
from pairs where is_stockout order by units_90d desc, sku, location_id limit ?
"""
)

AT_RISK_WHERE = """
from planning.po_suggestions as s
left join marts.products as p using (sku)
where s.run_date = ?::date and s.projected_stockout_date is not null
  and s.projected_stockout_date
      < coalesce(s.expected_receipt_date, s.run_date + s.lead_time_days::integer)
"""

AT_RISK_SQL = (
    """
select s.sku, s.location_id, s.supplier_id, p.abc_class, s.on_hand, s.on_order,
       s.projected_stockout_date,
       coalesce(s.expected_receipt_date, s.run_date + s.lead_time_days::integer) as expected_receipt_date,
       s.suggested_qty
"""
    + AT_RISK_WHERE
    + "order by s.projected_stockout_date, p.abc_class, s.sku, s.location_id limit ?"
)

SEGMENTS_SQL = """
select segment, region, count(*)::bigint as customers, sum(orders_count)::bigint as orders,
       sum(lifetime_net)::double as lifetime_net,
       count(*) filter (where is_one_time_buyer)::bigint as one_time,
       count(*) filter (where is_high_aov)::bigint as high_aov,
       count(*) filter (where is_repeat)::bigint as repeat
from marts.customers group by all order by 1, 2
"""

SUPPLIERS_SQL = """
with fx as (
    select currency, arg_max(rate_to_base, rate_date)::double as rate
    from marts.fx_rates where rate_date <= ?::date group by all
)
select s.supplier_id, any_value(s.supplier_name) as supplier_name, s.currency,
       count(*)::bigint as lines, sum(s.suggested_qty)::bigint as units,
       sum(s.line_value)::double as value,
       sum(s.line_value)::double * any_value(case when s.currency = ? then 1 else fx.rate end) as value_base
from planning.po_suggestions as s left join fx using (currency)
where s.run_date = ?::date
group by s.supplier_id, s.currency order by 1, 3
"""

QUARANTINE_SQL = """
select channel, stream, reason, count(*)::bigint as records, max(quarantined_at) as newest
from ops.quarantine where released_at is null
group by all order by records desc, channel, stream limit ?
"""

RUNS_SQL = """
select run_id, flow, status, started_at, finished_at, rows_landed, rows_quarantined, message
from ops.runs order by started_at desc limit ?
"""


def _freshness(con: duckdb.DuckDBPyConnection, cfg: Config, have: set[str]) -> pl.DataFrame:
    """Per enabled channel: newest `_loaded_at` of its order table (the table `oms check` judges;
    every table of a channel without orders), newest record and record count."""
    schema: dict[str, pl.DataType] = {
        "channel": pl.String(),
        "source": pl.String(),
        "last_loaded_at": pl.Datetime("us", "UTC"),
        "newest_record_at": pl.Datetime("us", "UTC"),
        "records": pl.Int64(),
        "allowed_hours": pl.Float64(),
        "judged": pl.Boolean(),
    }
    rows = []
    q = cfg.quality
    for ch in cfg.channels:
        if not ch.enabled:
            continue
        spec = registry.by_kind(ch.kind)
        judged = "orders" in spec.streams
        tables = [spec.table("orders")] if judged else list(spec.raw_tables)
        tables = [t for t in tables if f"raw.{t}" in have]
        loaded = newest = None
        records = 0
        if tables:
            union = " union all ".join(
                f"select max(_loaded_at) as l, max(_source_updated_at) as n, count(*) as c "
                f"from raw.{t}"
                for t in tables
            )
            loaded, newest, records = con.execute(
                f"select max(l), max(n), sum(c)::bigint from ({union})"
            ).fetchall()[0]
        rows.append(
            {
                "channel": ch.name,
                "source": ", ".join(f"raw.{t}" for t in tables),
                "last_loaded_at": loaded,
                "newest_record_at": newest,
                "records": records or 0,
                "allowed_hours": float(
                    q.freshness_hours_by_channel.get(ch.name, q.freshness_hours)
                ),
                "judged": judged,
            }
        )
    return pl.DataFrame(rows, schema=schema) if rows else _empty(schema)


def _plan_date(
    con: duckdb.DuckDBPyConnection, run_date: date | None, have: set[str]
) -> date | None:
    """The plan shown: `run_date`'s when it has one, else (no date asked) the newest plan."""
    if "planning.replenishment" not in have:
        return None
    if run_date is not None:
        n = con.execute(
            "select count(*) from planning.replenishment where run_date = ?", [run_date]
        ).fetchall()[0][0]
        return run_date if n else None
    return con.execute("select max(run_date) from planning.replenishment").fetchall()[0][0]


FULFILMENT_SQL = """
select
    channel,
    sum(orders_placed) filter (where day = ?::date) as placed,
    sum(orders_shipped) filter (where day = ?::date) as shipped,
    sum(orders_open) filter (where day = ?::date) as open,
    sum(orders_late) filter (where day = ?::date) as late,
    sum(shipped_on_time) filter (where day = ?::date)
        / nullif(sum(shipments) filter (where day = ?::date), 0) as on_time_share,
    -- the median of the channel's busiest location that day (medians do not add up)
    arg_max(hours_to_ship_median, shipments) filter (where day = ?::date) as hours_to_ship_median,
    sum(shipped_on_time) / nullif(sum(shipments), 0) as on_time_share_30d
from marts.fulfillment_daily
where day > ?::date - 30 and day <= ?::date
group by all
order by channel
"""


def read_dashboard(
    cfg: Config,
    run_date: date | None = None,
    path: str | Path | None = None,
    now: datetime | None = None,
) -> DashboardData:
    """Everything the page shows, from the warehouse at `path` (default `cfg.warehouse`)."""
    db = Path(path) if path is not None else Path(cfg.warehouse)
    now = now or datetime.now(UTC)
    settings = cfg.replenishment
    empty = _empty({})
    with connection(db, read_only=True) as con:
        have = _tables(con)
        missing = [
            t for t in ("marts.orders", "marts.sales_daily", "marts.customers") if t not in have
        ]
        if missing:
            raise FileNotFoundError(
                f"{db}: no marts yet ({', '.join(missing)} missing): run `oms build` first"
            )
        as_of = con.execute("select max(order_date) from marts.orders").fetchall()[0][0]
        data = DashboardData(
            as_of=as_of,
            generated_at=now,
            currency=cfg.base_currency,
            kpis=empty,
            sales_weekly=empty,
            bestsellers=empty,
            stock_by_location=empty,
            stockouts=empty,
            at_risk=empty,
            segments=_frame(con, SEGMENTS_SQL),
            suppliers=empty,
            freshness=_freshness(con, cfg, have),
            quarantine=_frame(con, QUARANTINE_SQL, [LIST_LIMIT])
            if "ops.quarantine" in have
            else empty,
            runs=_frame(con, RUNS_SQL, [RUNS_SHOWN]) if "ops.runs" in have else empty,
            excess_days=settings.max_days_of_cover,
            dead_days=DEAD_DAYS,
            warehouse=str(db),
        )
        if as_of is not None:
            a = as_of
            data.kpis = _frame(con, KPI_SQL, [list(WINDOWS), a, a, a, a, a, a])
            data.sales_weekly = _frame(con, WEEKLY_SQL, [a, a, a, 26, a])
            if {"marts.order_lines", "marts.products"} <= have:
                data.bestsellers = _frame(con, BESTSELLERS_SQL, [a, BESTSELLER_DAYS, a, TOP_N])
            stock = [a, DEAD_DAYS, a, settings.max_days_of_cover, DEAD_DAYS]
            if {"marts.inventory_levels", "marts.daily_demand", "marts.products"} <= have:
                data.stock_by_location = _frame(con, STOCK_BY_LOCATION_SQL, stock)
                data.stockouts = _frame(con, STOCKOUTS_SQL, [*stock, LIST_LIMIT])
            if data.stock_by_location.height:
                data.stockouts_total = int(data.stock_by_location["stockouts"].sum())
            if "marts.fulfillment_daily" in have:
                data.fulfillment = _frame(con, FULFILMENT_SQL, [a] * 9)
        plan = _plan_date(con, run_date, have)
        data.requested_plan_date = run_date
        if plan is not None and "planning.po_suggestions" in have:
            data.plan_date = plan
            data.suppliers = _frame(con, SUPPLIERS_SQL, [plan, cfg.base_currency, plan])
            data.at_risk = _frame(con, AT_RISK_SQL, [plan, LIST_LIMIT])
            data.at_risk_total = con.execute("select count(*) " + AT_RISK_WHERE, [plan]).fetchall()[
                0
            ][0]
            if "planning.needs_attention" in have:
                data.needs_attention = con.execute(
                    "select count(*) from planning.needs_attention where run_date = ?", [plan]
                ).fetchall()[0][0]
    if data.plan_date is not None:
        report = Path(settings.output_dir) / "reorder" / data.plan_date.isoformat() / "report.html"
        if report.exists():
            data.report_href = f"../reorder/{data.plan_date.isoformat()}/report.html"
    return data


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".index.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dashboard_path(cfg: Config) -> Path:
    return Path(cfg.replenishment.output_dir) / "dashboard" / "index.html"


def build_dashboard(
    cfg: Config,
    run_date: date | None = None,
    path: str | Path | None = None,
    now: datetime | None = None,
) -> tuple[Path, DashboardData]:
    """`write_dashboard`, also returning what the page shows (for the CLI's summary)."""
    data = read_dashboard(cfg, run_date, path, now)
    target = dashboard_path(cfg)
    _write_atomically(target, render_dashboard(data))
    return target, data


def write_dashboard(
    cfg: Config,
    run_date: date | None = None,
    path: str | Path | None = None,
    now: datetime | None = None,
) -> Path:
    """Write `<output_dir>/dashboard/index.html` from the warehouse (or the copy at `path`);
    `run_date` picks the purchase-order plan shown (default: the newest). Returns the page."""
    return build_dashboard(cfg, run_date, path, now)[0]
