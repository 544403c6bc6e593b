"""Incremental runs give exactly what a full rebuild gives.

The tiny sandbox's drop files are split by the month they were updated in: everything up to May
lands and is built first; then June's files land (new orders, and late versions of older ones:
refunds, edits, fulfilments and cancellations of May orders, new stock counts) and an incremental
`dbt build` picks them up. Every staging, intermediate and mart table is then compared, row for
row, with a `--full-refresh` rebuild of the same raw data.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.dbt import DBT_PROJECT_DIR, dbt_vars
from flows.demo import prepare_demo
from flows.sync import sync_files

END = date(2026, 6, 30)
LATE_MONTH = "2026-06"


def dbt(cfg, work: Path, *args: str) -> None:
    from dbt.cli.main import dbtRunner

    os.environ["OMS_WAREHOUSE"] = str(Path(cfg.warehouse).resolve())
    result = dbtRunner().invoke(
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
    yield {"con": con, "incremental": incremental, "first": first, "second": second}
    con.close()


def test_late_month_brings_new_versions_of_older_orders(runs):
    con = runs["con"]
    assert runs["second"].rows_landed > 1000
    late_versions = con.execute(
        "select count(*) from raw.shop__orders where _loaded_at = "
        "(select max(_loaded_at) from raw.shop__orders) and "
        f"cast(_payload ->> 'created_at' as timestamptz) < timestamptz '{LATE_MONTH}-01 00:00+02'"
    ).fetchall()[0][0]
    assert late_versions > 20


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
