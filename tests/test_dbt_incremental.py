"""Incremental runs give exactly what a full rebuild gives.

The tiny sandbox's drop files are split by the month they were updated in: everything up to May
lands and is built first; then June's files land (new orders, and late versions of older ones:
refunds, edits, fulfilments and cancellations of May orders, new stock counts) and an incremental
`dbt build` picks them up. Two more incremental builds follow edits landed straight into raw: late
corrections of May stock counts (a later count the same day, so past days of inventory_snapshots
and daily_demand change) and a Shopify order dated after the last day (every pair of daily_demand
gains days), then its cancellation (those days must disappear again). Every staging, intermediate
and mart table is then compared, row for row, with a `--full-refresh` rebuild of the same raw data.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.dbt_runner import DBT_PROJECT_DIR, dbt_vars
from flows.demo import prepare_demo
from flows.sync import sync_files

END = date(2026, 6, 30)
LATE_MONTH = "2026-06"


def dbt(cfg, work: Path, *args: str) -> None:
    from flows.dbt_runner import invoke

    os.environ["OMS_WAREHOUSE"] = str(Path(cfg.warehouse).resolve())
    result = invoke(
        [
            *args,
            "--project-dir",
            str(DBT_PROJECT_DIR),
            "--profiles-dir",
            str(DBT_PROJECT_DIR),
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--vars",
            json.dumps(dbt_vars(cfg)),
            "--quiet",
        ]
    )
    failed = [
        f"{r.node.name}: {r.status} {r.message}"
        for r in (result.result or [])
        if str(r.status) in ("error", "fail")
    ]
    assert result.success, f"dbt {' '.join(args)}: {result.exception} {failed}"


# late corrections of May stock counts: a second count later the same day, zeros made positive
# first (has_been_stocked changes), so past days of inventory_snapshots and daily_demand change
LATE_COUNTS_SQL = """
insert into raw.tpl__stock
select p ->> 'location_id' || ':' || (p ->> 'sku') || ':' || (p ->> 'counted_at'),
    cast(p ->> 'counted_at' as timestamptz), p, md5(cast(p as varchar)), 'late-edit', now()
from (
    select json_object(
        'sku', _payload ->> 'sku',
        'location_id', _payload ->> 'location_id',
        'on_hand', cast(cast(_payload ->> 'on_hand' as integer) + 3 as varchar),
        'counted_at', strftime(
            cast(_payload ->> 'counted_at' as timestamptz) + interval 1 second, '%Y-%m-%dT%H:%M:%SZ'
        )
    ) as p
    from raw.tpl__stock
    where _payload ->> 'counted_at' like '2026-05-1%'
    order by _payload ->> 'on_hand' = '0' desc, _source_id
    limit 20
)
"""

# a Shopify order dated after the last day of data: every pair of daily_demand gains days
FUTURE_ORDER_SQL = """
insert into raw.shop__orders
select '990000001', timestamptz '2026-07-03 10:00:00+00', p, md5(cast(p as varchar)), 'late-edit',
    now()
from (
    select json_merge_patch(_payload, json_object(
        'id', 990000001, 'name', '#990000001',
        'created_at', '2026-07-03T12:00:00+02:00', 'processed_at', '2026-07-03T12:00:00+02:00',
        'updated_at', '2026-07-03T12:00:00+02:00', 'refunds', json('[]'),
        'fulfillments', json('[]'), 'cancelled_at', null, 'fulfillment_status', null)) as p
    from raw.shop__orders
    where _payload ->> 'cancelled_at' is null
    order by _source_id
    limit 1
)
"""

# ... then cancelled: the days it added must disappear again
CANCEL_FUTURE_ORDER_SQL = """
insert into raw.shop__orders
select _source_id, timestamptz '2026-07-03 11:00:00+00', p, md5(cast(p as varchar)), 'late-edit',
    now()
from (
    select _source_id, json_merge_patch(_payload, json_object(
        'updated_at', '2026-07-03T13:00:00+02:00', 'cancelled_at', '2026-07-03T13:00:00+02:00',
        'financial_status', 'voided')) as p
    from raw.shop__orders
    where _source_id = '990000001'
)
"""


def land(cfg, *statements: str) -> None:
    con = duckdb.connect(cfg.warehouse)
    try:
        con.execute("set timezone = 'UTC'")
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def tables(con) -> list[str]:
    return [
        f"{s}.{t}"
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('staging', 'intermediate', 'marts') "
            "and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    project = tmp_path_factory.mktemp("incremental")
    cfg, _, _ = prepare_demo(project, seed=11, scale="tiny", end_date=END)
    drop = Path(cfg.files.drop_dir)
    late = project / "late"
    for path in sorted(drop.rglob(f"*_{LATE_MONTH}.*")):
        target = late / path.relative_to(drop)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, target)
    first = sync_files(cfg)
    dbt(cfg, project, "run")
    shutil.copytree(late, drop, dirs_exist_ok=True)
    second = sync_files(cfg)
    dbt(cfg, project, "build")  # incremental, with every test
    land(cfg, LATE_COUNTS_SQL, FUTURE_ORDER_SQL)
    dbt(cfg, project, "build")
    con = duckdb.connect(cfg.warehouse, read_only=True)
    extended = con.execute(
        "select max(demand_date), count(*) filter (where demand_date = date '2026-07-03') "
        "from marts.daily_demand"
    ).fetchall()[0]
    con.close()
    land(cfg, CANCEL_FUTURE_ORDER_SQL)
    dbt(cfg, project, "build")
    con = duckdb.connect(cfg.warehouse)
    con.execute("create schema snap")
    incremental = {}
    for table in tables(con):
        name = table.replace(".", "__")
        con.execute(f"create table snap.{name} as select * from {table}")
        incremental[table] = f"snap.{name}"
    con.close()
    dbt(cfg, project, "run", "--full-refresh")
    con = duckdb.connect(cfg.warehouse, read_only=True)
    yield {
        "con": con,
        "incremental": incremental,
        "first": first,
        "second": second,
        "extended": extended,
    }
    con.close()


def test_late_month_brings_new_versions_of_older_orders(runs):
    con = runs["con"]
    assert runs["second"].rows_landed > 1000
    late_versions = con.execute(
        "select count(*) from raw.shop__orders where _loaded_at = "
        "(select max(_loaded_at) from raw.shop__orders where _load_id <> 'late-edit') and "
        f"cast(_payload ->> 'created_at' as timestamptz) < timestamptz '{LATE_MONTH}-01 00:00+02'"
    ).fetchall()[0][0]
    assert late_versions > 20


def test_late_edits_reach_past_and_future_days(runs):
    """The edits landed straight into raw did what the incremental paths must undo or redo."""
    con = runs["con"]
    late_counts = con.execute(
        "select count(*) from marts.inventory_snapshots where last_counted_at in ("
        "select cast(_payload ->> 'counted_at' as timestamptz) from raw.tpl__stock "
        "where _load_id = 'late-edit')"
    ).fetchall()[0][0]
    assert late_counts >= 20
    # the future order added 2026-07-03 to every pair; after its cancellation the days are gone
    max_day, pairs_on_future_day = runs["extended"]
    assert max_day == date(2026, 7, 3) and pairs_on_future_day > 50
    snap = runs["incremental"]["marts.daily_demand"]
    assert con.execute(f"select max(demand_date) from {snap}").fetchall()[0][0] < max_day


def test_incremental_equals_full_rebuild(runs):
    con, incremental = runs["con"], runs["incremental"]
    assert set(incremental) == set(tables(con))
    assert {"staging.stg_shop__orders", "marts.orders", "marts.daily_demand"} <= set(incremental)
    different = {}
    for table, snap in incremental.items():
        counts = con.execute(
            f"select (select count(*) from {table}), (select count(*) from {snap}), "
            f"(select count(*) from (select * from {table} except all select * from {snap})), "
            f"(select count(*) from (select * from {snap} except all select * from {table}))"
        ).fetchall()[0]
        if counts[0] != counts[1] or counts[2] or counts[3]:
            different[table] = counts
    assert different == {}, different


def test_customer_metrics_cover_full_history(runs):
    """Sequence numbers and lifetime values come from all orders, not the incremental slice."""
    con = runs["con"]
    check = con.execute(
        "select count(*) filter (where o.customer_order_seq = 1 and o.order_date < date "
        f"'{LATE_MONTH}-01'), (select sum(orders_count) from marts.customers), "
        "count(*) filter (where o.customer_order_seq is not null) "
        "from marts.orders as o"
    ).fetchall()[0]
    assert check[0] > 0 and check[1] == check[2]
