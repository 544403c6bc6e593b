"""Transfers through the real planning flow (issue 17): a small store on a real DuckDB file
(till sales and stock counts as raw records, supplier terms), a real `dbt build` of the models
the planner reads, then `run_planning` for two run dates with the sandbox's lanes
(flows/demo.py: WH-AMS -> ST-BER, 2 days at 0.35 EUR a unit).

ST-BER sells 3 of A a day and holds 5; WH-AMS holds 400 of A and does not sell it. So the plan
moves stock from WH-AMS to ST-BER instead of buying it (supplier: 14 days at 4.00 EUR), and
planning.transfer_suggestions keeps one set of lines per run date.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from tests.conftest import make_config
from tests.test_dbt_project import PROJECT_DIR, create_warehouse, land, run_dbt

FIRST = date(2026, 1, 5)
DAYS = 84
RUN_DATE = FIRST + timedelta(days=DAYS)
LAST = RUN_DATE - timedelta(days=1)
BERLIN = ZoneInfo("Europe/Berlin")


def _selection() -> list[str]:
    # what run_planning reads: the marts, the open POs and every reference file's staging model
    out = [
        "+daily_demand",
        "+inventory_levels",
        "+products",
        "+fx_rates",
        "+int_open_purchase_orders",
        "path:models/staging/files",
        "+stg_ops__locations",
    ]
    if any(PROJECT_DIR.glob("models/marts/**/supplier_performance.sql")):
        out.append("+supplier_performance")
    return out


def _load(con: duckdb.DuckDBPyConnection) -> None:
    for d in range(DAYS):
        day = FIRST + timedelta(days=d)
        at = datetime.combine(day, time(11, 0), BERLIN)
        utc = datetime.combine(day, time(10, 0)).isoformat() + "Z"
        for n in range(3):
            t = {
                "order_id": f"R{d:03d}{n}",
                "line_id": "1",
                "ordered_at": at.strftime("%Y-%m-%d %H:%M:%S"),
                "location_id": "ST-BER",
                "sku": "A",
                "quantity": "1",
                "unit_price": "10.00",
                "discount": "0.00",
                "currency": "EUR",
                "customer_email": "",
                "cancelled": "0",
                "timezone": "Europe/Berlin",
                "source_file": f"tills_{day:%Y-%m}.csv",
            }
            land(con, "tills__orders", f"{t['order_id']}:1", utc, t)
    counted = f"{LAST.isoformat()}T21:59:59Z"
    for loc, on_hand in (("ST-BER", 5), ("WH-AMS", 400)):
        payload = {"sku": "A", "location_id": loc, "on_hand": str(on_hand), "counted_at": counted}
        land(con, "tpl__stock", f"{loc}:A:{counted}", counted, payload)
    land(
        con,
        "files__supplier_terms",
        "SUP-1:A",
        "2026-01-01T00:00:00Z",
        {
            "supplier_id": "SUP-1",
            "supplier_name": "Supplier 1",
            "supplier_email": "po@supplier.test",
            "sku": "A",
            "unit_cost": "4.00",
            "currency": "EUR",
            "lead_time_days": "14",
            "lead_time_std_days": "2",
            "moq": "1",
            "case_pack": "1",
        },
    )


@pytest.fixture(scope="module")
def planned(tmp_path_factory):
    from flows.planning import run_planning

    tmp = tmp_path_factory.mktemp("transfers")
    cfg = make_config(tmp)
    con = create_warehouse(Path(cfg.warehouse))
    con.execute("create schema if not exists planning")
    _load(con)
    con.close()
    # `run`, not `build`: this is about the plan; the models' own tests run elsewhere
    run_dbt(Path(cfg.warehouse), tmp, "run", "--select", *_selection())
    first = run_planning(cfg, RUN_DATE, workers=1)
    second = run_planning(cfg, RUN_DATE + timedelta(days=1), workers=1)
    again = run_planning(cfg, RUN_DATE, workers=1)  # a re-run replaces its date's rows
    con = duckdb.connect(cfg.warehouse, read_only=True)
    yield {"con": con, "first": first, "second": second, "again": again}
    con.close()


def test_the_daily_plan_moves_stock_instead_of_buying_it(planned):
    con = planned["con"]
    rows = con.execute(
        """select sku, from_location_id, to_location_id, quantity, lead_time_days, currency,
                  cost_per_unit, reason
           from planning.transfer_suggestions where run_date = ?""",
        [RUN_DATE],
    ).fetchall()
    assert len(rows) == 1, rows
    sku, src, dst, qty, lead, cur, unit, reason = rows[0]
    assert (sku, src, dst, lead, cur, unit) == ("A", "WH-AMS", "ST-BER", 2, "EUR", Decimal("0.35"))
    assert qty > 0
    assert "WH-AMS holds stock without forecast demand" in reason
    assert "vs supplier SUP-1 14 days at 4.00 EUR/unit" in reason
    # the transfer covers ST-BER's shortage: nothing is bought for it
    po = con.execute(
        "select count(*) from planning.po_suggestions where run_date = ? and location_id = 'ST-BER'",
        [RUN_DATE],
    ).fetchone()
    assert po == (0,)
    assert planned["first"].transfers == 1


def test_transfer_suggestions_keep_history_per_run_date(planned):
    con = planned["con"]
    per_date = con.execute(
        "select run_date, count(*) from planning.transfer_suggestions group by 1 order by 1"
    ).fetchall()
    assert per_date == [(RUN_DATE, 1), (RUN_DATE + timedelta(days=1), 1)]


def test_the_flow_writes_the_transfers_file(planned):
    folder = planned["again"].folder
    with open(folder / f"transfers_{RUN_DATE}.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["from_location_id"], r["to_location_id"]) for r in rows] == [("WH-AMS", "ST-BER")]
    assert "## Transfers (1 lines" in (folder / "summary.md").read_text(encoding="utf-8")
