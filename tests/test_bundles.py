"""Bundles and kits (issue 17): a bill of materials lands through the gate, bundle sales explode
into their components' demand and forecast, a bundle's availability is the least its components
can make, and only components are purchased.

A small hand-made store on a real DuckDB file: the BOM lands through the real file sync and gate;
till sales and stock counts are raw records as the contract has them; a real `dbt build` of the
models the planner reads, then the real planning run (forecast, replenishment, buyer files).

BUN-1 = 2 x A + 1 x B, sold in the Berlin store: every day one receipt of 1 A and one of 1 BUN-1,
for 12 weeks. So A's demand is 3 a day (1 direct, 2 through the bundle) and B's 1 (all through
the bundle); without the explosion A would look like 1 a day and B like nothing at all.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pytest

from forecasting.replenishment import plan_replenishment
from forecasting.settings import ReplenishmentSettings
from tests.conftest import make_config
from tests.test_dbt_project import create_warehouse, land, run_dbt

FIRST = date(2026, 1, 5)  # a Monday
DAYS = 84
RUN_DATE = FIRST + timedelta(days=DAYS)
LAST = RUN_DATE - timedelta(days=1)
BERLIN = ZoneInfo("Europe/Berlin")
BOM = [("BUN-1", "A", "2"), ("BUN-1", "B", "1")]
# what the planner builds for dbt: the marts and staging tables run_planning reads
SELECT = (
    "+daily_demand +inventory_levels +products +fx_rates +order_lines +int_open_purchase_orders "
    "+stg_files__supplier_terms +int_bundle_components"
)


def _write_bom(drop: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = drop / "bundle_components" / "bundle_components.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["bundle_sku", "component_sku", "quantity"])
        w.writerows(rows)
    return path


def _till(receipt: str, day: date, sku: str, price: str) -> dict:
    at = datetime.combine(day, time(11, 0), BERLIN)
    return {
        "order_id": receipt,
        "line_id": "1",
        "ordered_at": at.strftime("%Y-%m-%d %H:%M:%S"),
        "location_id": "ST-BER",
        "sku": sku,
        "quantity": "1",
        "unit_price": price,
        "discount": "0.00",
        "currency": "EUR",
        "customer_email": "",
        "cancelled": "0",
        "timezone": "Europe/Berlin",
        "source_file": f"tills_{day:%Y-%m}.csv",
    }


def _load_store(con: duckdb.DuckDBPyConnection) -> None:
    for d in range(DAYS):
        day = FIRST + timedelta(days=d)
        utc = datetime.combine(day, time(10, 0)).isoformat() + "Z"
        for n, (sku, price) in enumerate((("A", "10.00"), ("BUN-1", "25.00"))):
            t = _till(f"R{d:03d}{n}", day, sku, price)
            land(con, "tills__orders", f"{t['order_id']}:{t['line_id']}", utc, t)
    counted = f"{LAST.isoformat()}T21:59:59Z"
    # ST-BER: A 7 and B 2 -> BUN-1 min(7 // 2, 2 // 1) = 2; WH-AMS: A 10 and no B -> 0
    for sku, loc, on_hand in (("A", "ST-BER", 7), ("B", "ST-BER", 2), ("A", "WH-AMS", 10)):
        payload = {"sku": sku, "location_id": loc, "on_hand": str(on_hand), "counted_at": counted}
        land(con, "tpl__stock", f"{loc}:{sku}:{counted}", counted, payload)
    # terms for the bundle too: it must still get no purchase line
    for sku, cost in (("A", "4.00"), ("B", "6.00"), ("BUN-1", "12.00")):
        land(
            con,
            "files__supplier_terms",
            f"SUP-1:{sku}",
            "2026-01-01T00:00:00Z",
            {
                "supplier_id": "SUP-1",
                "supplier_name": "Supplier 1",
                "supplier_email": "po@supplier.test",
                "sku": sku,
                "unit_cost": cost,
                "currency": "EUR",
                "lead_time_days": "14",
                "lead_time_std_days": "2",
                "moq": "1",
                "case_pack": "1",
            },
        )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """The BOM landed through the gate, the store's raw records, dbt built, one plan made."""
    from flows.planning import run_planning
    from flows.sync import sync_files

    tmp = tmp_path_factory.mktemp("bundles")
    cfg = make_config(tmp)
    con = create_warehouse(Path(cfg.warehouse))
    _load_store(con)
    con.close()
    _write_bom(Path(cfg.files.drop_dir), BOM)
    report = sync_files(cfg, only_channel="files")
    assert (report.rows_landed, report.rows_quarantined) == (2, 0), report
    run_dbt(
        Path(cfg.warehouse),
        tmp,
        "build",
        "--indirect-selection",
        "cautious",
        "--select",
        *SELECT.split(),
    )
    plan = run_planning(cfg, RUN_DATE, workers=1)
    con = duckdb.connect(cfg.warehouse, read_only=True)
    yield {"con": con, "plan": plan, "cfg": cfg}
    con.close()


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    frame = pl.from_arrow(con.sql(sql).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def test_bundle_sales_are_component_demand_by_source(store):
    con = store["con"]
    day = FIRST + timedelta(days=10)
    got = _frame(
        con,
        f"""select sku, demand_source, bundle_sku, units_ordered, revenue, end_of_day_on_hand
            from marts.daily_demand
            where location_id = 'ST-BER' and demand_date = date '{day.isoformat()}'
            order by sku, demand_source""",
    )
    assert got.select("sku", "demand_source", "bundle_sku", "units_ordered").rows() == [
        ("A", "bundle", "BUN-1", 2),
        ("A", "direct", None, 1),
        ("B", "bundle", "BUN-1", 1),
        ("B", "direct", None, 0),  # B is never sold alone: its direct row is a zero day
        ("BUN-1", "direct", None, 1),  # the bundle keeps its own row
    ]
    # revenue stays on what was sold (the bundle's own row); bundle rows carry none
    assert got.filter(pl.col("demand_source") == "bundle")["revenue"].to_list() == [0, 0]
    totals = dict(
        con.execute(
            """select demand_source, sum(units_ordered) from marts.daily_demand
               where location_id = 'ST-BER' group by 1"""
        ).fetchall()
    )
    assert totals == {"direct": 2 * DAYS, "bundle": 3 * DAYS}


def test_a_bundles_sales_raise_its_components_forecast(store):
    fc = _frame(
        store["con"],
        f"""select sku, avg(mean * 7 / period_days) as weekly
            from planning.demand_forecast
            where run_date = date '{RUN_DATE.isoformat()}' and location_id = 'ST-BER'
            group by 1 order by 1""",
    )
    weekly = dict(fc.rows())
    # 3 A and 1 B a day: 21 and 7 a week (direct sales alone: 7 and 0)
    assert weekly["A"] == pytest.approx(21, rel=0.15), weekly
    assert weekly["B"] == pytest.approx(7, rel=0.15), weekly
    assert weekly["BUN-1"] == pytest.approx(7, rel=0.15), weekly  # forecast, never purchased


def test_a_bundles_availability_is_the_least_its_components_make(store):
    got = _frame(
        store["con"],
        """select location_id, on_hand, committed, available, inventory_position, source
           from marts.inventory_levels where sku = 'BUN-1' order by 1""",
    )
    assert got.rows() == [
        ("ST-BER", 0, 0, 2, 2, "bundle"),  # min(floor(7 / 2), floor(2 / 1))
        ("WH-AMS", 0, 0, 0, 0, "bundle"),  # no B there
    ]


def test_bundles_get_no_purchase_line_and_their_components_do(store):
    po = store["plan"].suggestion_rows
    skus = {(r["sku"], r["location_id"]) for r in po}
    assert ("A", "ST-BER") in skus and ("B", "ST-BER") in skus
    assert not any(r["sku"] == "BUN-1" for r in po)
    planned = (
        store["con"]
        .execute("select distinct sku from planning.replenishment where sku = 'BUN-1'")
        .fetchall()
    )
    assert planned == []
    buyer_csv = "\n".join(p.read_text() for p in store["plan"].files if p.suffix == ".csv")
    assert "BUN-1" not in buyer_csv and ",A," in buyer_csv


@pytest.mark.fast
def test_plan_replenishment_skips_the_bundles_it_is_given():
    """The planner alone, on hand-made frames: the bundle has a forecast, stock and terms."""
    days = pl.date_range(RUN_DATE, RUN_DATE + timedelta(days=55), "1d", eager=True)
    forecast = pl.concat(
        pl.DataFrame(
            {
                "sku": sku,
                "location_id": "ST-BER",
                "period_start": days,
                "mean": 3.0,
                "p10": 1.0,
                "p50": 3.0,
                "p90": 5.0,
                "model": "test",
            }
        )
        for sku in ("A", "BUN-1")
    )
    levels = pl.DataFrame(
        {
            "sku": ["A", "BUN-1"],
            "location_id": ["ST-BER", "ST-BER"],
            "on_hand": [0, 0],
            "committed": [0, 0],
            "available": [0, 0],
            "on_order": [0, 0],
            "inventory_position": [0, 0],
        }
    )
    terms = pl.DataFrame(
        {
            "supplier_id": ["SUP-1", "SUP-1"],
            "supplier_name": ["S", "S"],
            "sku": ["A", "BUN-1"],
            "unit_cost": [4.0, 12.0],
            "currency": ["EUR", "EUR"],
            "lead_time_days": [14, 14],
            "lead_time_std_days": [2, 2],
            "moq": [1, 1],
            "case_pack": [1, 1],
        }
    )
    settings = ReplenishmentSettings()
    both = plan_replenishment(forecast, levels, terms, settings, RUN_DATE)
    assert set(both.po_suggestions["sku"]) == {"A", "BUN-1"}  # without the list: bought twice
    plan = plan_replenishment(forecast, levels, terms, settings, RUN_DATE, bundle_skus=["BUN-1"])
    assert plan.po_suggestions["sku"].to_list() == ["A"]
    assert "BUN-1" not in set(plan.replenishment["sku"])
    assert "BUN-1" not in set(plan.needs_attention["sku"]) if plan.needs_attention.height else True


def test_bad_bom_rows_are_quarantined_with_their_reason(tmp_path):
    """Through the real file sync and gate: each fault is held with its reason, the rest lands."""
    from flows.sync import sync_files
    from flows.warehouse import connection

    cfg = make_config(tmp_path)
    good = [(f"KIT-{k:02d}", f"C-{k:02d}-{c}", str(c)) for k in range(10) for c in (1, 2)]
    bad = [
        ("KIT-90", "C-1", "0"),  # not positive
        ("KIT-91", "C-1", "-2"),  # negative
        ("KIT-92", "C-1", "1.5"),  # not a whole number
        ("KIT-93", "KIT-93", "1"),  # its own component
        ("KIT-94", "", "1"),  # no component SKU
    ]
    _write_bom(Path(cfg.files.drop_dir), good + bad)
    report = sync_files(cfg, only_channel="files")
    assert (report.rows_landed, report.rows_quarantined) == (20, 5), report
    with connection(cfg.warehouse, read_only=True) as con:
        held = con.execute(
            "select source_id, reason from ops.quarantine where stream = 'bundle_components' "
            "order by payload"
        ).fetchall()
        landed = con.execute("select count(*) from raw.files__bundle_components").fetchone()
    reasons = {sid: reason for sid, reason in held}
    assert len(held) == 5 and landed == (20,)
    assert "quantity between 1 and" in reasons["KIT-90:C-1"]
    assert "quantity between 1 and" in reasons["KIT-91:C-1"]
    assert "quantity is a whole number" in reasons["KIT-92:C-1"]
    assert reasons["KIT-93:KIT-93"] == "a bundle is not its own component"
    missing = [r for sid, r in held if sid is None or sid not in reasons or "component_sku" in r]
    assert any("component_sku" in r for r in missing), held


def test_an_increment_with_bundles_equals_a_full_rebuild(store, tmp_path):
    """A BOM edit (B: 1 -> 2 per bundle, so every past bundle day changes) and a new day's sales
    land; the incremental daily_demand equals a --full-refresh rebuild, bundle rows included."""
    import shutil

    warehouse = tmp_path / "oms.duckdb"
    store["con"].close()
    shutil.copy(store["cfg"].warehouse, warehouse)
    store["con"] = duckdb.connect(store["cfg"].warehouse, read_only=True)
    con = duckdb.connect(str(warehouse))
    # landed after the sync landed the first BOM (at the real clock's now)
    now = datetime.now(UTC).isoformat()
    payload = {"bundle_sku": "BUN-1", "component_sku": "B", "quantity": "2"}
    land(con, "files__bundle_components", "BUN-1:B", None, payload, loaded_at=now)
    utc = datetime.combine(RUN_DATE, time(10, 0)).isoformat() + "Z"
    t = _till("R9990", RUN_DATE, "BUN-1", "25.00")
    land(con, "tills__orders", f"{t['order_id']}:{t['line_id']}", utc, t, loaded_at=now)
    con.close()
    query = "select * from marts.daily_demand order by all"
    run_dbt(
        warehouse,
        tmp_path,
        "build",
        "--indirect-selection",
        "cautious",
        "--select",
        "+daily_demand",
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        incremental = con.execute(query).fetchall()
        b_bundle = con.execute(
            "select min(units_ordered), max(units_ordered), count(*) from marts.daily_demand "
            "where sku = 'B' and demand_source = 'bundle'"
        ).fetchone()
    assert b_bundle == (2, 2, DAYS + 1)  # history re-exploded with the new quantity, one new day
    run_dbt(warehouse, tmp_path, "run", "--select", "daily_demand", "--full-refresh")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(query).fetchall() == incremental
