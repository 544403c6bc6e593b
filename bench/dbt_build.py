"""`python -m bench.dbt_build`: how long the dbt project takes on the `large` sandbox.

Measures, on one warehouse:
- full: `dbt build --full-refresh` (every model and test) on all of raw;
- hourly: `dbt build` after 5,000 new or changed orders landed, of what the hourly flow builds
  (flows.pipeline.changed_selector: every model downstream of a raw table that got rows, with
  their tests); incremental models pick the changes up;
- floor: one hand-written DuckDB query computing daily net sales per SKU straight from raw (latest
  version per record, line items unnested, refunds dated when refunded), which is the least any
  transformation of these payloads can cost.
Figures are also given as ratios to the floor, because the machine is shared and noisy.

The large store (seed 7, ~1.2 M orders, 14 M stock counts) takes minutes and ~5.5 GB to render, so
its drop folder is cached under /tmp/oms-bench-large/drop and reused. Landing 14 M stock rows
through the Python sync is too slow for this benchmark (bench/__main__.py measures landing), so the
raw tables are loaded straight from the files with DuckDB's readers, in the shape of
docs/raw-contract.md (`_payload` the JSON object, `_source_id` / `_source_updated_at` per the
contract). `_payload_hash` is md5 of the JSON text here (the sync uses sha256 of canonical JSON;
dbt only uses it to break ties).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path

import flows  # noqa: F401  (library defaults)

CACHE = Path("/tmp/oms-bench-large")
SEED, SCALE, END = 7, "large", date(2026, 6, 30)
PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
LOADED_AT = "2026-07-01 00:00:00+00"
HOURLY_LOADED_AT = "2026-07-01 01:00:00+00"
HOURLY_ORDERS = 5_000

# stream -> (folder under the drop, id expression, updated-at expression) over `j` (the JSON)
JSON_STREAMS = {
    "shop__orders": ("shop/orders", "j->>'id'", "cast(j->>'updated_at' as timestamptz)"),
    "shop__customers": ("shop/customers", "j->>'id'", "cast(j->>'updated_at' as timestamptz)"),
    "shop__products": ("shop/products", "j->>'id'", "cast(j->>'updated_at' as timestamptz)"),
    "amazon__orders": (
        "amazon/orders",
        "j->>'AmazonOrderId'",
        "cast(j->>'LastUpdateDate' as timestamptz)",
    ),
    "amazon__order_items": (
        "amazon/order_items",
        "j->>'AmazonOrderId'",
        "cast(j->>'LastUpdateDate' as timestamptz)",
    ),
    "amazon__financial_events": (
        "amazon/financial_events",
        "concat_ws(':', j->>'EventType', j->>'AmazonOrderId', j->>'PostedDate')",
        "cast(j->>'PostedDate' as timestamptz)",
    ),
    # Woo *_gmt times have no offset and are UTC (the session time zone is UTC)
    "woo__orders": ("woo/orders", "j->>'id'", "cast(j->>'date_modified_gmt' as timestamptz)"),
    "woo__refunds": ("woo/refunds", "j->>'id'", "cast(j->>'date_created_gmt' as timestamptz)"),
    "woo__customers": (
        "woo/customers",
        "j->>'id'",
        "cast(j->>'date_modified_gmt' as timestamptz)",
    ),
}

# stream -> (files, payload struct over the CSV row `c`, id expression, updated-at expression)
TILL_PAYLOAD = (
    "{'order_id': Receipt, 'line_id': Line, 'ordered_at': \"Timestamp\", 'location_id': Store, "
    "'sku': Article, 'quantity': Qty, 'unit_price': Price, 'discount': Discount, "
    "'currency': Currency, 'customer_email': coalesce(Email, ''), 'cancelled': Void, "
    "'timezone': 'Europe/Berlin'}"
)
CSV_STREAMS = {
    "tills__orders": (
        "tills/*.csv",
        TILL_PAYLOAD,
        "Receipt || ':' || Line",
        "timezone('Europe/Berlin', cast(\"Timestamp\" as timestamp))",
    ),
    "tpl__stock": (
        "stock/*.csv",
        "{'sku': sku, 'location_id': location_id, 'on_hand': on_hand, 'counted_at': counted_at}",
        "location_id || ':' || sku || ':' || counted_at",
        "cast(counted_at as timestamptz)",
    ),
    "files__supplier_terms": ("supplier_terms/*.csv", None, "supplier_id || ':' || sku", "null"),
    "files__purchase_orders": (
        "purchase_orders/*.csv",
        None,
        "po_id || ':' || sku || ':' || location_id",
        "cast(updated_at as timestamptz)",
    ),
    "files__fx_rates": (
        "fx_rates/*.csv",
        None,
        "\"date\" || ':' || currency",
        'cast("date" as timestamptz)',
    ),
}


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def ensure_drop(cache: Path = CACHE) -> Path:
    """The large store's drop folder, rendered once and reused."""
    drop = cache / "drop"
    if drop.exists():
        return drop
    from sandbox import generate_store, write_drops

    partial = cache / "drop.partial"
    shutil.rmtree(partial, ignore_errors=True)
    print(f"rendering the {SCALE} sandbox into {drop} (minutes, ~5.5 GB) ...", flush=True)
    store = generate_store(seed=SEED, scale=SCALE, end_date=END)
    write_drops(store, partial)
    partial.rename(drop)
    return drop


def _config(warehouse: Path, drop: Path):
    from flows.config import parse_config
    from flows.demo import demo_config_dict

    data = demo_config_dict(str(warehouse), str(drop), str(warehouse.parent / "out"))
    return parse_config(data, source="bench config", base_dir=warehouse.parent)


def load_raw(warehouse: Path, drop: Path) -> dict[str, int]:
    """Every drop file into its raw table with DuckDB's readers (no gate, one version per line)."""
    import duckdb

    from flows.warehouse import init_warehouse

    counts = {}
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set timezone = 'UTC'")
        init_warehouse(con, _config(warehouse, drop))
        for table, (folder, sid, updated) in JSON_STREAMS.items():
            con.execute(
                f"""
                insert into raw.{table}
                select {sid}, {updated}, j, md5(cast(j as varchar)), filename,
                    timestamptz '{LOADED_AT}'
                from (
                    select json as j, filename
                    from read_json_objects('{drop}/{folder}/*.jsonl',
                        format = 'newline_delimited', filename = true)
                )
                """
            )
        for table, (pattern, payload, sid, updated) in CSV_STREAMS.items():
            payload = payload or "c"
            con.execute(
                f"""
                insert into raw.{table}
                select {sid}, {updated}, p, md5(cast(p as varchar)), filename,
                    timestamptz '{LOADED_AT}'
                from (
                    select *, to_json({payload}) as p
                    from read_csv('{drop}/{pattern}', all_varchar = true, filename = true)
                        as c
                )
                """
            )
        for table in list(JSON_STREAMS) + list(CSV_STREAMS):
            counts[table] = con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]
    finally:
        con.close()
    return counts


HOURLY_SQL = f"""
-- {HOURLY_ORDERS} orders change within the hour: 3,000 new Shopify orders (copies of the most
-- recently updated ones, with new ids), 1,500 late cancellations of old Shopify orders (spread over
-- the whole history), Woo orders completed, Amazon orders shipped (the rest of the batch).
create temp table latest_shop as
select * from raw.shop__orders
qualify row_number() over (partition by _source_id order by _source_updated_at desc) = 1;

insert into raw.shop__orders
select
    cast(cast(_source_id as bigint) + 1000000000 as varchar),
    timestamptz '{HOURLY_LOADED_AT}',
    p, md5(cast(p as varchar)), 'hourly', timestamptz '{HOURLY_LOADED_AT}'
from (
    select _source_id, json_merge_patch(_payload, json_object(
        'id', cast(_source_id as bigint) + 1000000000,
        'created_at', '2026-07-01T02:30:00+02:00',
        'processed_at', '2026-07-01T02:30:00+02:00',
        'updated_at', '2026-07-01T02:30:00+02:00',
        'refunds', json('[]'), 'fulfillments', json('[]'),
        'fulfillment_status', null, 'financial_status', 'paid', 'cancelled_at', null)) as p
    from latest_shop
    order by _source_updated_at desc, _source_id
    limit 3000
);

insert into raw.shop__orders
select _source_id, timestamptz '{HOURLY_LOADED_AT}', p, md5(cast(p as varchar)), 'hourly',
    timestamptz '{HOURLY_LOADED_AT}'
from (
    select _source_id, json_merge_patch(_payload, json_object(
        'updated_at', '2026-07-01T02:45:00+02:00',
        'cancelled_at', '2026-07-01T02:45:00+02:00', 'cancel_reason', 'customer',
        'financial_status', 'voided')) as p
    from latest_shop
    where _payload->>'cancelled_at' is null
    order by hash(_source_id)
    limit 1500
);

insert into raw.woo__orders
select _source_id, timestamptz '{HOURLY_LOADED_AT}', p, md5(cast(p as varchar)), 'hourly',
    timestamptz '{HOURLY_LOADED_AT}'
from (
    select _source_id, json_merge_patch(_payload, json_object(
        'date_modified_gmt', '2026-07-01T00:50:00', 'status', 'completed')) as p
    from raw.woo__orders
    qualify row_number() over (partition by _source_id order by _source_updated_at desc) = 1
        and _payload->>'status' = 'processing'
    order by _source_id desc
    limit 1000
);

"""

HOURLY_AMAZON_SQL = f"""
insert into raw.amazon__orders
select _source_id, timestamptz '{HOURLY_LOADED_AT}', p, md5(cast(p as varchar)), 'hourly',
    timestamptz '{HOURLY_LOADED_AT}'
from (
    select _source_id, json_merge_patch(_payload, json_object(
        'LastUpdateDate', '2026-07-01T00:55:00Z', 'OrderStatus', 'Shipped')) as p
    from raw.amazon__orders
    qualify row_number() over (partition by _source_id order by _source_updated_at desc) = 1
        and _payload->>'OrderStatus' <> 'Shipped' and _payload->>'OrderStatus' <> 'Canceled'
    order by _source_id desc
    limit {{remaining}}
);
"""


def land_hourly(warehouse: Path) -> int:
    """Append the hourly batch of order versions; return how many landed."""
    import duckdb

    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set timezone = 'UTC'")
        con.execute(HOURLY_SQL)
        landed = _hourly_count(con)
        # Amazon orders shipped make up the rest of the batch
        con.execute(HOURLY_AMAZON_SQL.format(remaining=max(HOURLY_ORDERS - landed, 0)))
        return _hourly_count(con)
    finally:
        con.close()


HOURLY_TABLES = ("shop__orders", "woo__orders", "amazon__orders")


def _hourly_counts(con) -> dict[str, int]:
    return {
        t: con.execute(f"select count(*) from raw.{t} where _load_id = 'hourly'").fetchall()[0][0]
        for t in HOURLY_TABLES
    }


def _hourly_count(con) -> int:
    return sum(_hourly_counts(con).values())


def hourly_selector(warehouse: Path) -> str:
    """What the hourly flow would build after this batch (as flows.pipeline.changed_selector)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        changed = sorted(t for t, n in _hourly_counts(con).items() if n > 0)
    finally:
        con.close()
    return " ".join(f"source:raw.{t}+" for t in changed)


FLOOR_SQL = """
with
shop as (
    select _payload as o from raw.shop__orders
    qualify row_number() over (partition by _source_id
        order by _source_updated_at desc, _loaded_at desc) = 1
),
shop_lines as (
    select cast(timezone('Europe/Amsterdam', cast(o->>'created_at' as timestamptz)) as date) as day,
        unnest(cast(o->'line_items' as json[])) as li
    from shop where o->>'cancelled_at' is null
),
shop_refunds as (
    select cast(timezone('Europe/Amsterdam', cast(r->>'created_at' as timestamptz)) as date) as day,
        unnest(cast(r->'refund_line_items' as json[])) as rl
    from (select unnest(cast(o->'refunds' as json[])) as r from shop where o->>'cancelled_at' is null)
),
amazon as (
    select _payload as o from raw.amazon__orders
    qualify row_number() over (partition by _source_id order by _source_updated_at desc) = 1
),
amazon_items as (
    select _payload as i from raw.amazon__order_items
    qualify row_number() over (partition by _source_id order by _source_updated_at desc) = 1
),
amazon_lines as (
    select cast(timezone('Europe/Amsterdam', cast(o->>'PurchaseDate' as timestamptz)) as date) as day,
        unnest(cast(i->'OrderItems' as json[])) as li
    from amazon join amazon_items on o->>'AmazonOrderId' = i->>'AmazonOrderId'
    where o->>'OrderStatus' <> 'Canceled'
),
woo as (
    select _payload as o from raw.woo__orders
    qualify row_number() over (partition by _source_id order by _source_updated_at desc) = 1
),
woo_lines as (
    select cast(timezone('Europe/Amsterdam', timezone('UTC', cast(o->>'date_created_gmt' as timestamp))) as date) as day,
        unnest(cast(o->'line_items' as json[])) as li
    from woo where o->>'status' <> 'cancelled'
),
tills as (
    select _payload as t from raw.tills__orders
    qualify row_number() over (partition by _source_id order by _source_updated_at desc) = 1
),
cells as (
    select day, li->>'sku' as sku,
        cast(li->>'price' as decimal(18, 4)) * cast(li->>'quantity' as integer)
            - cast(li->>'total_discount' as decimal(18, 4)) as net
    from shop_lines
    union all
    select day, rl->'line_item'->>'sku', -cast(rl->>'subtotal' as decimal(18, 4)) from shop_refunds
    union all
    select day, li->>'SellerSKU', cast(li->'ItemPrice'->>'Amount' as decimal(18, 4))
        - coalesce(cast(li->'PromotionDiscount'->>'Amount' as decimal(18, 4)), 0)
    from amazon_lines
    union all
    select day, li->>'sku', cast(li->>'total' as decimal(18, 4)) from woo_lines
    union all
    select cast(timezone('Europe/Amsterdam', timezone(t->>'timezone', cast(t->>'ordered_at' as timestamp))) as date),
        t->>'sku',
        cast(t->>'quantity' as integer) * cast(t->>'unit_price' as decimal(18, 4))
            - sign(cast(t->>'quantity' as integer)) * cast(t->>'discount' as decimal(18, 4))
    from tills where t->>'cancelled' <> '1'
)
select day, sku, sum(net) as net_sales
from cells
group by all
"""


def floor_query(warehouse: Path) -> int:
    """The hand-written floor: daily net sales per SKU from raw in one query."""
    import duckdb

    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set timezone = 'UTC'")
        con.execute(f"create or replace temp table floor_result as {FLOOR_SQL}")
        return con.execute("select count(*) from floor_result").fetchall()[0][0]
    finally:
        con.close()


def dbt_build(warehouse: Path, work: Path, *extra: str) -> dict:
    """`dbt build` in-process; return counts and per-node timings."""
    from flows.dbt_runner import invoke

    os.environ["OMS_WAREHOUSE"] = str(warehouse)
    args = [
        "build",
        *extra,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--vars",
        json.dumps(
            {
                "base_currency": "EUR",
                "business_timezone": "Europe/Amsterdam",
                "fx_end_date": "2026-07-01",
            }
        ),
        "--quiet",
    ]
    result = invoke(args)
    nodes = [
        (r.node.resource_type, r.node.name, str(r.status), round(r.execution_time, 2))
        for r in (result.result or [])
    ]
    failed = [n for n in nodes if n[2] in ("error", "fail")]
    if not result.success:
        raise RuntimeError(f"dbt build failed: {result.exception} {failed}")
    return {
        "models": sum(1 for n in nodes if n[0] == "model"),
        "tests": sum(1 for n in nodes if n[0] in ("test", "unit_test")),
        "slowest": sorted(nodes, key=lambda n: -n[3])[:12],
    }


def _reusable(warehouse: Path) -> bool:
    import duckdb

    if not warehouse.exists():
        return False
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        hourly = con.execute(
            "select count(*) from raw.shop__orders where _load_id = 'hourly'"
        ).fetchall()[0][0]
        return hourly == 0
    finally:
        con.close()


def raw_counts(warehouse: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {
            t: con.execute(f"select count(*) from raw.{t}").fetchall()[0][0]
            for t in list(JSON_STREAMS) + list(CSV_STREAMS)
        }
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=str(CACHE / "work"), help="warehouse folder (rebuilt)")
    parser.add_argument("--out", default="bench/results/dbt_build.json")
    parser.add_argument(
        "--reuse-raw",
        action="store_true",
        help="keep the raw tables of a previous run's warehouse (if it has no hourly batch yet)",
    )
    args = parser.parse_args()

    t_drop, drop = _timed(ensure_drop)
    work = Path(args.work)
    warehouse = work / "oms.duckdb"
    if args.reuse_raw and _reusable(warehouse):
        t_load, raw_rows = _timed(lambda: raw_counts(warehouse))
    else:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        t_load, raw_rows = _timed(lambda: load_raw(warehouse, drop))
    print(f"raw loaded in {t_load:.1f}s: {sum(raw_rows.values()):,} rows", flush=True)

    t_floor, floor_rows = _timed(lambda: floor_query(warehouse))
    print(f"floor query: {t_floor:.1f}s ({floor_rows:,} day x SKU rows)", flush=True)
    t_full, full = _timed(lambda: dbt_build(warehouse, work, "--full-refresh"))
    print(
        f"full dbt build: {t_full:.1f}s ({full['models']} models, {full['tests']} tests)",
        flush=True,
    )
    t_land, hourly_rows = _timed(lambda: land_hourly(warehouse))
    selector = hourly_selector(warehouse)
    t_hourly, hourly = _timed(lambda: dbt_build(warehouse, work, "--select", *selector.split()))
    print(f"hourly dbt build after {hourly_rows:,} order versions: {t_hourly:.1f}s", flush=True)

    result = {
        "bench": "dbt_build",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine_cpus": os.cpu_count(),
        "sandbox": {"seed": SEED, "scale": SCALE, "end_date": END.isoformat()},
        "raw_rows": raw_rows,
        "seconds": {
            "render_or_reuse_drop": round(t_drop, 1),
            "load_raw": round(t_load, 1),
            "floor_query": round(t_floor, 2),
            "full_build": round(t_full, 1),
            "hourly_build": round(t_hourly, 1),
        },
        "ratio_to_floor": {
            "full_build": round(t_full / t_floor, 1),
            "hourly_build": round(t_hourly / t_floor, 1),
        },
        "targets_seconds": {"full_build": 120, "hourly_build": 30},
        "hourly_order_versions": hourly_rows,
        "hourly_select": selector,
        "full_build": full,
        "hourly_build": hourly,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["seconds"]), json.dumps(result["ratio_to_floor"]))


if __name__ == "__main__":
    main()
