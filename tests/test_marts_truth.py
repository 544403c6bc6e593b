"""The marts against the sandbox's ground truth (`store.truth`), to the unit and to the cent.

One tiny sandbox store (seed 11, ending 2026-06-30) is written as drop files, landed through
`flows.sync.sync_files` and built with `flows.dbt_runner.run_dbt` once per module; each test then
compares one mart with what the generator says really happened. The truth frames are registered
in an in-memory DuckDB next to the (read-only attached) warehouse, so every comparison is one SQL
query with exact decimal arithmetic.

Definitions used for the truth side (the generator keeps the facts, not our accounting rules):
- net sales = non-cancelled lines' (unit_price x quantity - discount), dated by order date, minus
  refunded merchandise, dated by refund date. Tax is excluded where the channel charges it on top
  (Shopify, Woo: the refund's tax share, tax x refunded / ordered units rounded half-even to the
  cent as the generator does, is taken off the refunded amount); Amazon and till prices include
  VAT, as in the marts.
- base currency = local x the FX rate of the order's date (the last published rate on or before
  it; before the first rate, the first rate). Refunds convert at their order's rate. The marts
  round every converted line to 4 decimals, so sums are compared to half a cent.
- end-of-day stock = the simulation's on_hand_eod plus units ordered but not shipped by the end of
  that day (a count sees what is physically on the shelf; `on_hand_eod` is already net of them).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest

from flows.dbt_runner import run_dbt
from flows.demo import prepare_demo
from flows.sync import sync_files
from sandbox import generate_store

SEED, SCALE, END = 11, "tiny", date(2026, 6, 30)
HALF_CENT = Decimal("0.005")


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """In-memory DuckDB with the built warehouse attached as `wh` and the truth as `truth_*`."""
    project = tmp_path_factory.mktemp("marts_truth")
    with pytest.MonkeyPatch.context() as mp:
        # dbt's target/ and logs/ of this build stay in the temporary folder (other runs may use
        # the project's own target/ at the same time)
        mp.setenv("DBT_TARGET_PATH", str(project / "dbt_target"))
        mp.setenv("DBT_LOG_PATH", str(project / "dbt_logs"))
        cfg, _, end = prepare_demo(project, seed=SEED, scale=SCALE, end_date=END)
        landed = sync_files(cfg)
        assert landed.files_rejected == 0 and landed.rows_quarantined == 0, landed.rejected
        report = run_dbt(cfg)
        assert report.tests_failed == 0, report.failures
    truth = generate_store(seed=SEED, scale=SCALE, end_date=end).truth
    db = duckdb.connect()
    db.execute(f"attach '{cfg.warehouse}' as wh (read_only)")
    db.execute("set timezone = 'UTC'")
    for name, frame in truth.items():
        db.register(f"truth_{name}_df", frame)
        db.execute(f"create table truth_{name} as select * from truth_{name}_df")
        db.unregister(f"truth_{name}_df")
    db.execute(TRUTH_VIEWS)
    yield db
    db.close()


TRUTH_VIEWS = """
create view truth_order_rate as
-- each order's rate: last published rate on or before the order date, else the first rate
select
    o.channel, o.order_id, o.currency, o.order_date,
    case
        when o.currency = 'EUR' then cast(1 as decimal(18, 4))
        else coalesce(
            (select arg_max(f.rate, f.date) from truth_fx_rates f
             where f.currency = o.currency and f.date <= o.order_date),
            (select arg_min(f.rate, f.date) from truth_fx_rates f where f.currency = o.currency)
        )
    end as rate
from truth_orders o;

create view truth_sold as
select
    l.order_date as day, l.channel, l.currency, l.sku, l.location_id,
    l.quantity,
    l.unit_price * l.quantity - l.discount as net_local,
    (l.unit_price * l.quantity - l.discount) * r.rate as net_base
from truth_order_lines l
join truth_order_rate r using (channel, order_id)
where not l.cancelled;

create view truth_refunded as
select
    f.refund_date as day, f.channel, f.currency, f.sku, f.location_id, f.quantity,
    f.amount as amount_with_tax,
    f.amount - case when o.tax_included then 0
        else cast(round_even(cast(l.tax * 100 as bigint) * f.quantity / l.quantity, 0) as bigint) * 0.01
    end as merch_local,
    r.rate
from truth_refunds f
join truth_orders o using (channel, order_id)
join truth_order_lines l using (channel, order_id, line_id)
join truth_order_rate r using (channel, order_id);

create view truth_net_sales as
with cells as (
    select day, channel, currency, net_local, net_base from truth_sold
    union all
    select day, channel, currency, -merch_local, -merch_local * rate from truth_refunded
)
select day, channel, currency, sum(net_local) as net_local, sum(net_base) as net_base
from cells group by all;
"""


def mismatches(con, sql: str, limit: int = 10) -> list[tuple]:
    """Rows of a comparison query (it returns only disagreeing rows)."""
    return con.execute(f"select * from ({sql}) limit {limit}").fetchall()


def test_truth_is_not_trivial(con):
    n = dict(
        con.execute(
            "select 'orders', count(*) from truth_orders union all "
            "select 'refunds', count(*) from truth_refunds union all "
            "select 'currencies', count(distinct currency) from truth_orders union all "
            "select 'cancelled', count(*) from truth_orders where cancelled"
        ).fetchall()
    )
    assert n["orders"] > 1000 and n["refunds"] > 50 and n["currencies"] >= 2 and n["cancelled"] > 0


def test_net_sales_per_day_and_channel_in_local_currency(con):
    """Order lines by order date minus returns by refund date, per channel and currency."""
    sql = """
    with mart as (
        select day, channel, currency, sum(v) as net_local from (
            select order_date as day, channel, currency, net_local as v
            from wh.marts.order_lines where not is_cancelled
            union all
            select refund_date, channel, currency, -amount_local
            from wh.marts.returns where not is_order_cancelled
        ) group by all
    )
    select t.day, t.channel, t.currency, t.net_local as truth, m.net_local as mart
    from truth_net_sales t
    full join mart m using (day, channel, currency)
    where m.net_local is distinct from t.net_local
    """
    found = mismatches(con, sql)
    assert found == [], found
    n = con.execute("select count(*) from truth_net_sales").fetchall()[0][0]
    assert n > 500


def test_net_sales_per_day_and_channel_in_base_currency(con):
    """sales_daily (base currency) against local x the order date's rate, to half a cent."""
    sql = f"""
    with truth as (
        select day, channel, sum(net_base) as net from truth_net_sales group by all
    ),
    mart as (
        select sales_date as day, channel, sum(net_sales) as net
        from wh.marts.sales_daily group by all
    )
    select t.day, t.channel, t.net as truth, m.net as mart
    from truth t full join mart m using (day, channel)
    where m.net is null or t.net is null or abs(m.net - t.net) >= {HALF_CENT}
    """
    found = mismatches(con, sql)
    assert found == [], found
    # and the monthly P&L adds up to the same money
    total = con.execute(
        "select (select sum(net_base) from truth_net_sales), "
        "(select sum(net_sales) from wh.marts.finance_monthly)"
    ).fetchall()[0]
    assert abs(total[0] - total[1]) < Decimal("0.05"), total


def test_orders_net_sales_per_channel_and_currency(con):
    """marts.orders books an order's refunds on the order: totals per channel agree."""
    sql = """
    with truth as (
        select channel, currency, sum(net_local) as net from truth_net_sales group by all
    ),
    mart as (
        select channel, currency, sum(net_sales_local) as net from wh.marts.orders group by all
    )
    select t.channel, t.currency, t.net as truth, m.net as mart
    from truth t full join mart m using (channel, currency)
    where m.net is distinct from t.net
    """
    found = mismatches(con, sql)
    assert found == [], found


def test_units_per_sku(con):
    sql = """
    with truth as (select sku, sum(quantity) as units from truth_sold group by all),
    mart as (
        select sku, sum(quantity) as units from wh.marts.order_lines
        where not is_cancelled group by all
    ),
    demand as (select sku, sum(units_sold) as units from truth_demand group by all)
    select sku, t.units as truth, d.units as demand_truth, m.units as mart
    from truth t full join mart m using (sku) full join demand d using (sku)
    where m.units is distinct from t.units or d.units is distinct from t.units
    """
    found = mismatches(con, sql)
    assert found == [], found


def test_units_per_day_sku_and_location(con):
    """daily_demand.units_ordered / units_returned of the `direct` rows (what was sold as the
    SKU, a bundle's own sales too) are the simulation's sales and returns."""
    sql = """
    select t.date, t.sku, t.location_id, t.units_sold, m.units_ordered,
        t.units_returned, m.units_returned as mart_returned
    from truth_demand t
    full join (select * from wh.marts.daily_demand where demand_source = 'direct') m
        on m.demand_date = t.date and m.sku = t.sku and m.location_id = t.location_id
    where coalesce(m.units_ordered, 0) <> coalesce(t.units_sold, 0)
        or coalesce(m.units_returned, 0) <> coalesce(t.units_returned, 0)
    """
    found = mismatches(con, sql)
    assert found == [], found


def test_returns_units_and_amounts(con):
    """marts.returns per refund date, channel, SKU and location: units, merchandise (local and
    base) and, where the channel separates it, the refunded tax."""
    sql = f"""
    with truth as (
        select day, channel, currency, sku, location_id,
            sum(quantity) as units, sum(merch_local) as amount_local,
            sum(merch_local * rate) as amount
        from truth_refunded group by all
    ),
    mart as (
        select refund_date as day, channel, currency, sku, location_id,
            sum(quantity) as units, sum(amount_local) as amount_local, sum(amount) as amount
        from wh.marts.returns group by all
    )
    select *
    from truth t full join mart m using (day, channel, currency, sku, location_id)
    where m.units is distinct from t.units
        or m.amount_local is distinct from t.amount_local
        or abs(m.amount - t.amount) >= {HALF_CENT}
    """
    found = mismatches(con, sql)
    assert found == [], found
    # Shopify refunds carry their tax: merchandise + tax = what the customer got back
    sql = """
    with truth as (
        select sku, day, sum(amount_with_tax) as refunded from truth_refunded
        where channel = 'shop' group by all
    ),
    mart as (
        select sku, refund_date as day, sum(amount_local + tax / fx_rate) as refunded
        from wh.marts.returns where channel = 'shop' group by all
    )
    select * from truth t full join mart m using (sku, day)
    where abs(t.refunded - m.refunded) >= 0.005 or m.refunded is null or t.refunded is null
    """
    found = mismatches(con, sql)
    assert found == [], found


def test_end_of_day_stock(con):
    """inventory_snapshots.on_hand = what was on the shelf at the end of every day (a bundle's
    unshipped orders hold its components' units)."""
    sql = """
    with shipped as (
        select channel, order_id, order_date,
            coalesce(cast(timezone('Europe/Amsterdam', fulfilled_at) as date), date '9999-12-31')
                as shipped_date
        from truth_orders where not cancelled
    ),
    lines as (
        -- a bundle's line holds its components' units (sandbox/bundles.py)
        select l.channel, l.order_id, l.cancelled, l.location_id,
            coalesce(b.component_sku, l.sku) as sku,
            l.quantity * coalesce(b.quantity, 1) as quantity
        from truth_order_lines l
        left join truth_bundle_components b on b.bundle_sku = l.sku
    ),
    held as (
        -- ordered but not yet shipped at the end of the day: still on the shelf
        select cast(d.day as date) as date, l.sku, l.location_id, sum(l.quantity) as held
        from lines l
        join shipped s using (channel, order_id)
        cross join lateral (
            select unnest(generate_series(s.order_date, least(s.shipped_date - 1,
                (select max(date) from truth_demand)), interval 1 day)) as day
        ) d
        where not l.cancelled and s.shipped_date > s.order_date
        group by all
    ),
    truth as (
        select t.date, t.sku, t.location_id, t.on_hand_eod + coalesce(h.held, 0) as on_hand
        from truth_demand t left join held h using (date, sku, location_id)
        -- a bundle is never counted: it has no stock of its own
        where t.sku not in (select bundle_sku from truth_bundle_components)
    )
    select t.*, m.on_hand as mart
    from truth t
    full join wh.marts.inventory_snapshots m
        on m.stock_date = t.date and m.sku = t.sku and m.location_id = t.location_id
    where m.on_hand is distinct from t.on_hand
    """
    found = mismatches(con, sql)
    assert found == [], found


def test_till_export_shapes_land_where_they_belong(con):
    """The sandbox's till export has credit notes (CN…, naming their receipt), postage and card
    fee lines, stock write-offs, exact repeats, day-first times and unmapped columns; the
    checks above pass to the cent with them, and each shape is where it belongs."""
    orders = """select count(*) filter (where order_id like 'CN%' or order_id like 'WO%'),
                       count(*) filter (where shipping > 0), count(*) filter (where fees > 0)
                from wh.marts.orders where channel = 'tills'"""
    not_orders, shipped, with_fees = con.execute(orders).fetchall()[0]
    assert not_orders == 0 and shipped > 0 and with_fees > 0
    adjustments = "select count(*), max(quantity) from wh.marts.inventory_adjustments"
    written_off, most = con.execute(adjustments).fetchall()[0]
    assert written_off > 0 and most < 0
    checks = {
        "select count(*) from wh.marts.products where sku in ('POSTAGE', 'CARDFEE')": 0,
        "select count(*) > 0 from wh.marts.returns where refund_key like 'tills:CN%'": True,
        "select sum(rows_repeated) > 0 from wh.ops.file_loads where channel = 'tills'": True,
    }
    for sql, expected in checks.items():
        assert con.execute(sql).fetchall()[0][0] == expected, sql


def test_supplier_performance_measures_the_receipts_lead_times(con):
    """Per supplier x SKU: the receipts the sandbox wrote (sandbox/purchasing.py, partial and
    late deliveries) and their unit-weighted lead time from the order date (issue 17)."""
    import polars as pl

    from sandbox.purchasing import po_receipts

    po = pl.from_arrow(con.sql("select * from truth_purchase_orders").to_arrow_table())
    assert isinstance(po, pl.DataFrame)
    receipts = po_receipts(po, SEED, END).join(
        po.select("po_id", "sku", "location_id", "supplier_id", "ordered_at"),
        on=["po_id", "sku", "location_id"],
    )
    assert receipts.group_by("po_id", "sku", "location_id").len()["len"].max() >= 2
    want = (
        receipts.with_columns(lt=(pl.col("received_date") - pl.col("ordered_at")).dt.total_days())
        .group_by("supplier_id", "sku")
        .agg(
            receipts=pl.len(),
            units=pl.col("quantity_received").sum(),
            mean=(pl.col("quantity_received") * pl.col("lt")).sum()
            / pl.col("quantity_received").sum(),
        )
        .sort("supplier_id", "sku")
    )
    got = con.execute(
        """select supplier_id, sku, receipts, units_received, lead_time_mean_days
           from wh.marts.supplier_performance
           where grain = 'supplier_sku' and receipts > 0 order by supplier_id, sku"""
    ).fetchall()
    assert [(s, k, n, u) for s, k, n, u, _ in got] == [
        (s, k, n, u) for s, k, n, u, _ in want.iter_rows()
    ]
    for (_, _, _, _, mean), (*_, expected) in zip(got, want.iter_rows(), strict=True):
        assert float(mean) == pytest.approx(expected, abs=0.005)


def test_bundles_raise_their_components_demand_and_have_their_components_availability(con):
    """The sandbox's bundles (sandbox/bundles.py, issue 17): the bill of materials lands, each
    bundle unit sold is its components' demand in `daily_demand` (`bundle` rows, per bundle),
    and `inventory_levels` gives each bundle min over its components of floor(available /
    quantity), which is the simulation's bundle availability at the end of the last day."""
    bom = con.execute(
        """select count(*), count(distinct bundle_sku), max(quantity) from truth_bundle_components"""
    ).fetchall()[0]
    assert bom[0] >= 4 and bom[1] >= 2 and bom[2] >= 1
    landed = con.execute(
        """select bundle_sku, component_sku, quantity from wh.staging.stg_files__bundle_components
           except select bundle_sku, component_sku, quantity from truth_bundle_components"""
    ).fetchall()
    assert landed == []
    sql = """
    with truth as (
        select l.order_date as day, b.component_sku as sku, l.location_id, b.bundle_sku,
            sum(l.quantity * b.quantity) as units
        from truth_order_lines l
        join truth_bundle_components b on b.bundle_sku = l.sku
        where not l.cancelled group by all
    ),
    mart as (
        select demand_date as day, sku, location_id, bundle_sku, sum(units_ordered) as units
        from wh.marts.daily_demand where demand_source = 'bundle' and units_ordered <> 0
        group by all
    )
    select * from truth t full join mart m using (day, sku, location_id, bundle_sku)
    where t.units is distinct from m.units
    """
    found = mismatches(con, sql)
    assert found == [], found
    sold = con.execute(
        "select sum(units_ordered) from wh.marts.daily_demand where demand_source = 'bundle'"
    ).fetchone()[0]
    assert sold > 0
    # what forecasting reads (both sources summed) is more than the component's direct sales
    more = con.execute(
        """select count(*) from (
               select sku, sum(units_ordered) filter (where demand_source = 'direct') as direct,
                   sum(units_ordered) as total
               from wh.marts.daily_demand
               where sku in (select component_sku from truth_bundle_components) group by sku
           ) where total > direct"""
    ).fetchone()[0]
    assert (
        more
        == con.execute(
            "select count(distinct component_sku) from truth_bundle_components"
        ).fetchone()[0]
    )
    sql = """
    with truth as (
        select sku, location_id, on_hand_eod as available from truth_demand
        where date = (select max(date) from truth_demand) and is_active
            and sku in (select bundle_sku from truth_bundle_components)
    ),
    mart as (
        select sku, location_id, available from wh.marts.inventory_levels
        where source = 'bundle' and location_id = 'WH-AMS'
    )
    select * from truth t full join mart m using (sku, location_id)
    where t.available is distinct from m.available
    """
    found = mismatches(con, sql)
    assert found == [], found
    assert (
        con.execute(
            "select min(available) from wh.marts.inventory_levels where source = 'bundle' "
            "and location_id = 'WH-AMS'"
        ).fetchone()[0]
        > 0
    )
