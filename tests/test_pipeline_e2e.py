"""End to end on the tiny sandbox: real files, real DuckDB, real dbt build, a real Prefect flow.

One module-scoped run (and a second run on the same folder) feeds every assertion below, because a
full pipeline run is the expensive part; each test then reads what that run left behind.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from flows.demo import prepare_demo
from flows.pipeline import default_run_date, pipeline_flow
from flows.warehouse import connection

END = date(2026, 6, 30)
MARTS = ("orders", "order_lines", "customers", "inventory_levels", "daily_demand")


def _counts(warehouse: str) -> dict[str, int]:
    with connection(warehouse, read_only=True) as con:
        tables = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('raw', 'marts', 'planning') order by 1"
        ).fetchall()
        return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for (t,) in tables}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, prefect_harness):
    project = tmp_path_factory.mktemp("project")
    cfg, files, end = prepare_demo(project, seed=11, scale="tiny", end_date=END)
    run_date = default_run_date(end)
    first = pipeline_flow(cfg=cfg, run_date=run_date)
    counts_first = _counts(cfg.warehouse)
    folder = Path(cfg.replenishment.output_dir) / "reorder" / run_date.isoformat()
    files_first = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    # Run it again as `oms demo` does: regenerate the same store, land, build, plan.
    prepare_demo(project, seed=11, scale="tiny", end_date=END)
    second = pipeline_flow(cfg=cfg, run_date=run_date)
    from sandbox import generate_store

    truth = generate_store(seed=11, scale="tiny", end_date=END).truth
    return {
        "cfg": cfg,
        "first": first,
        "second": second,
        "counts_first": counts_first,
        "counts_second": _counts(cfg.warehouse),
        "folder": folder,
        "files_first": files_first,
        "truth": truth,
        "run_date": run_date,
    }


def test_every_stage_ran_and_the_marts_are_not_empty(demo_run):
    first = demo_run["first"]
    assert first.sync.files_landed > 10 and first.sync.rows_landed > 1000
    assert first.sync.files_rejected == 0 and first.sync.rows_quarantined == 0
    assert first.dbt.models_built >= 20 and first.dbt.tests_failed == 0
    assert first.checks.ok, first.checks.failed
    for mart in MARTS:
        assert demo_run["counts_first"][f"marts.{mart}"] > 0, mart
    assert first.planning.forecast_rows > 0 and first.counts["orders"] > 1000


def test_a_second_run_changes_nothing(demo_run):
    second = demo_run["second"]
    assert (
        second.sync.rows_landed == 0
        and second.sync.files_skipped == demo_run["first"].sync.files_landed
    )
    assert demo_run["counts_second"] == demo_run["counts_first"]
    folder = demo_run["folder"]
    assert {p.name: p.read_bytes() for p in sorted(folder.iterdir())} == demo_run["files_first"]


def test_runs_are_recorded_in_ops(demo_run):
    with connection(demo_run["cfg"].warehouse, read_only=True) as con:
        rows = con.execute(
            "select status, rows_landed from ops.runs order by started_at"
        ).fetchall()
    assert [r[0] for r in rows] == ["success", "success"]
    assert rows[0][1] == demo_run["first"].sync.rows_landed and rows[1][1] == 0


def test_units_in_the_marts_match_the_sandbox_truth(demo_run):
    """What the channels sold, per SKU and location, arrives in daily_demand unchanged (its
    `direct` rows: the `bundle` rows are the sandbox's bundles' demand on their components)."""
    truth = demo_run["truth"]["demand"]
    with connection(demo_run["cfg"].warehouse, read_only=True) as con:
        mart = pl.from_arrow(
            con.sql(
                "select sku, location_id, sum(units_ordered)::bigint as units "
                "from marts.daily_demand where demand_source = 'direct' group by all"
            ).to_arrow_table()
        )
    expected = truth.group_by("sku", "location_id").agg(
        pl.col("units_sold").sum().cast(pl.Int64).alias("units")
    )
    joined = expected.join(
        mart, on=["sku", "location_id"], how="full", suffix="_mart", coalesce=True
    ).fill_null(0)
    assert joined.filter(pl.col("units") != pl.col("units_mart")).height == 0, joined.filter(
        pl.col("units") != pl.col("units_mart")
    ).head(10)


def test_orders_match_the_truth(demo_run):
    """Every order the channels took is a row of marts.orders, and nothing else is: the till's
    credit notes are refunds of their receipts and its write-offs stock adjustments, not
    orders (#14)."""
    truth = demo_run["truth"]["orders"].select("channel", pl.col("order_id").cast(pl.String))
    with connection(demo_run["cfg"].warehouse, read_only=True) as con:
        mart = pl.from_arrow(
            con.sql("select channel, order_id, units, refunds from marts.orders").to_arrow_table()
        )
    missing = truth.join(mart, on=["channel", "order_id"], how="anti")
    assert missing.height == 0, missing.head()
    extra = mart.join(truth, on=["channel", "order_id"], how="anti")
    assert extra.height == 0, extra.head()


def test_the_daily_run_writes_the_dashboard_from_the_published_copy(demo_run):
    page = demo_run["second"].dashboard
    cfg = demo_run["cfg"]
    assert page == Path(cfg.replenishment.output_dir) / "dashboard" / "index.html"
    text = page.read_text(encoding="utf-8")
    # drawn from the marts, and the copy was published after the run was recorded as a success
    assert "data-chart=" in text and '<span class="ok">success</span>' in text
    assert '<span class="warn">running</span>' not in text


def test_buyer_files_are_written(demo_run):
    folder, run_date = demo_run["folder"], demo_run["run_date"]
    names = {p.name for p in folder.iterdir()}
    assert f"purchase_orders_{run_date}.xlsx" in names and "summary.md" in names
    csvs = sorted(folder.glob("*.csv"))
    assert csvs, names
    with csvs[0].open() as f:
        rows = list(csv.DictReader(f))
    assert rows and "approved_qty" in rows[0] and all(r["approved_qty"] == "" for r in rows)
    assert int(rows[0]["suggested_qty"]) > 0 and rows[0]["reason"]


def test_dbt_docs_are_generated_for_analysts(demo_run):
    from flows.dbt_runner import generate_docs

    page = generate_docs(demo_run["cfg"])
    text = page.read_text()
    assert page.name == "static_index.html" and "daily_demand" in text


def test_approved_lines_become_on_order_and_are_not_suggested_again(demo_run):
    """The decision loop: the buyer fills approved_qty in a supplier CSV and drops it in the inbox."""
    cfg, folder, run_date = demo_run["cfg"], demo_run["folder"], demo_run["run_date"]
    source = sorted(folder.glob("*.csv"))[0]
    with source.open(newline="") as f:
        reader = csv.DictReader(f)
        header, rows = reader.fieldnames, list(reader)
    for r in rows:
        r["approved_qty"] = r["suggested_qty"]
    inbox = Path(cfg.files.drop_dir) / cfg.files.buyer_decisions
    inbox.mkdir(parents=True, exist_ok=True)
    with (inbox / source.name).open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    approved = {(r["sku"], r["location_id"]): int(r["suggested_qty"]) for r in rows}
    with connection(cfg.warehouse, read_only=True) as con:
        before = dict(
            ((s, loc), n)
            for s, loc, n in con.execute(
                "select sku, location_id, on_order from marts.inventory_levels"
            ).fetchall()
        )
    again = pipeline_flow(cfg=cfg, run_date=run_date)
    assert again.sync.by_table.get("files__buyer_decisions") == len(rows)
    with connection(cfg.warehouse, read_only=True) as con:
        after = dict(
            ((s, loc), n)
            for s, loc, n in con.execute(
                "select sku, location_id, on_order from marts.inventory_levels"
            ).fetchall()
        )
        still = con.execute(
            "select sku, location_id, suggested_qty from planning.po_suggestions where run_date = ? "
            "and supplier_id = ?",
            [run_date, rows[0]["supplier_id"]],
        ).fetchall()
    for key, qty in approved.items():
        assert after[key] == before.get(key, 0) + qty
    assert not [s for s in still if (s[0], s[1]) in approved]
