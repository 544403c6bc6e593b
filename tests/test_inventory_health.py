"""marts.inventory_health / inventory_health_current on a hand-made warehouse (#17), and the
revenue at risk of a hand-made purchase line in the buyer files.

The warehouse: stock counts (3PL stock report), till sales and supplier terms go through the file
sync and a real `dbt build`; every figure of the marts is checked against a hand computation in
the comments. Setting: ST-BER, base currency EUR, demand window 28 days, dead after 90 days
without a sale, max_days_of_cover 15 (oms.yaml's replenishment setting, passed to dbt as a var).

- A (cost 2.00, sold at 5.00): counted 10 on 10-01, 4 on 10-10, 0 on 10-12 and 10-14, 20 on
  10-15 (the latest snapshot: as_of 10-15). Sold 2 on 10-02, 10-05 and 10-08, 4 on 10-11.
  Stocked out 10-12, 10-13, 10-14.
- D (cost 3.00): counted 5 on 07-01 and 5 on 10-15, never sold.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from flows.dbt_runner import run_dbt
from flows.demo import demo_config_dict
from flows.sync import sync_files
from tests.conftest import make_config, till_channel

TILLS = till_channel(
    mapping={
        "order_id": "InvoiceNo",
        "sku": "StockCode",
        "title": "Description",
        "quantity": "Quantity",
        "ordered_at": "InvoiceDate",
        "unit_price": "UnitPrice",
        "customer_id": "CustomerID",
    },
    timestamp_format="%m/%d/%Y %H:%M",
)
COUNTS = (
    "sku,location_id,on_hand,counted_at\n"
    "A,ST-BER,10,2026-10-01T12:00:00Z\nA,ST-BER,4,2026-10-10T12:00:00Z\n"
    "A,ST-BER,0,2026-10-12T12:00:00Z\nA,ST-BER,0,2026-10-14T12:00:00Z\n"
    "A,ST-BER,20,2026-10-15T12:00:00Z\n"
    "D,ST-BER,5,2026-07-01T12:00:00Z\nD,ST-BER,5,2026-10-15T12:00:00Z\n"
)
SALES = [
    ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"],
    ["S1", "A", "ARTICLE A", "2", "10/2/2026 11:00", "5.00", "17850"],
    ["S2", "A", "ARTICLE A", "2", "10/5/2026 11:00", "5.00", "17851"],
    ["S3", "A", "ARTICLE A", "2", "10/8/2026 11:00", "5.00", "17852"],
    ["S4", "A", "ARTICLE A", "4", "10/11/2026 11:00", "5.00", "17853"],
]
TERMS = (
    "supplier_id,supplier_name,sku,unit_cost,currency,lead_time_days,lead_time_std_days,moq,case_pack\n"
    "SUP-1,Supplier A Ltd,A,2.00,EUR,7,0,1,1\nSUP-1,Supplier A Ltd,D,3.00,EUR,7,0,1,1\n"
)


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    locations = [{**loc, "external_ids": {}} for loc in demo_config_dict()["locations"]]
    stock = {"name": "tpl", "kind": "stock_report", "path": "stock"}
    replenishment = {**demo_config_dict().get("replenishment", {}), "max_days_of_cover": 15}
    cfg = make_config(
        tmp_path, channels=[TILLS, stock], locations=locations, replenishment=replenishment
    )
    drop = Path(cfg.files.drop_dir)
    for folder, name, text in (
        ("stock", "stock_2026-10.csv", COUNTS),
        ("tills", "export_1.csv", _csv(SALES)),
        (cfg.files.supplier_terms, "terms.csv", TERMS),
    ):
        (drop / folder).mkdir(parents=True, exist_ok=True)
        (drop / folder / name).write_text(text, encoding="utf-8")
    return cfg


def _rows(cfg, sql: str) -> dict[str, dict]:
    with duckdb.connect(cfg.warehouse, read_only=True) as con:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return {r[names.index("sku")]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def test_inventory_health_of_a_hand_made_warehouse(cfg):
    report = sync_files(cfg)
    assert report.rows_quarantined == 0
    dbt = run_dbt(cfg)
    assert dbt.tests_failed == 0, dbt.failures

    now = _rows(cfg, "select * from marts.inventory_health_current")
    october = _rows(
        cfg, "select * from marts.inventory_health where month = date '2026-10-01' order by sku"
    )
    assert set(now) == {"A", "D"}
    a, d = now["A"], now["D"]
    for row in (a, d):
        assert row["as_of_date"] == date(2026, 10, 15)

    # A: stock value 20 x 2.00
    assert a["on_hand"] == 20 and a["stock_value"] == Decimal("40.0000")
    # demand rate: 10 units over the in-stock days of 10-01..10-15 (15 days - 3 stocked out)
    assert a["avg_daily_demand"] == pytest.approx(10 / 12, abs=1e-4)
    assert a["days_of_supply"] == pytest.approx(24.0)  # 20 / (10 / 12)
    # excess: 20 - floor(15 days x 10/12 = 12.5) = 8 units, x 2.00
    assert a["excess_units"] == 8 and a["excess_value"] == Decimal("16.0000")
    # sell-through: 10 sold / (10 + 20 on hand)
    assert a["sell_through"] == pytest.approx(10 / 30, abs=1e-4)
    # average stock value: on hand 10 x 9 days, 4 x 2, 0 x 3, 20 x 1 = 118 units over 15 days,
    # x 2.00 = 236 / 15; margin 50.00 - 20.00 (10 x 2.00)
    assert a["average_stock_value"] == Decimal("15.7333")
    assert a["net_sales"] == Decimal("50.0000") and a["cogs"] == Decimal("20.0000")
    assert a["gross_margin"] == Decimal("30.0000")
    assert a["gmroi"] == pytest.approx(30 / (236 / 15), abs=1e-4)
    assert a["turnover"] == pytest.approx(20 / (236 / 15), abs=1e-4)
    # FIFO: the 20 on hand are the 20 received (0 -> 20) on 10-15
    assert a["stock_age_days"] == pytest.approx(0.0) and a["oldest_stock_age_days"] == 0
    assert not a["is_dead_stock"] and a["dead_stock_units"] == 0
    # stockouts 10-12..10-14 at the rate of 10-11 (10 units over 11 in-stock days) x 5.00 a unit
    assert a["stockout_days"] == 3
    assert a["lost_units"] == pytest.approx(3 * 10 / 11, abs=0.01)
    assert a["lost_revenue"] == Decimal("13.6365")  # 3 x round(10/11 x 5.00, 4)

    # D: 5 x 3.00, never sold in 106 days: dead stock, and all excess (no demand)
    assert d["stock_value"] == Decimal("15.0000")
    assert d["is_dead_stock"] and d["dead_stock_units"] == 5
    assert d["dead_stock_value"] == Decimal("15.0000")
    assert d["excess_units"] == 5 and d["excess_value"] == Decimal("15.0000")
    assert d["days_of_supply"] is None and d["last_sale_date"] is None
    assert d["stock_age_days"] == pytest.approx(106.0)  # received (first count) on 07-01
    assert d["gmroi"] == pytest.approx(0.0) and d["sell_through"] == pytest.approx(0.0)

    # the month: all of A's activity is in October, so the same figures
    oa = october["A"]
    assert oa["as_of_date"] == date(2026, 10, 15) and oa["stock_days"] == 15
    for col in ("stock_value", "excess_units", "gmroi", "sell_through", "lost_revenue"):
        assert oa[col] == a[col], col
    assert october["D"]["is_dead_stock"] and october["D"]["dead_stock_value"] == Decimal("15.0000")
    # D in July: counted on 07-01, not yet 90 days without a sale
    july = _rows(cfg, "select * from marts.inventory_health where month = date '2026-07-01'")
    assert july["D"]["as_of_date"] == date(2026, 7, 31) and not july["D"]["is_dead_stock"]


# --- revenue at risk of a purchase line ---------------------------------------------------------


def _plan_inputs(run_date: date):
    """One SKU at one location, lead time 10, review 7: 3 a day forecast, 12 available."""
    days = 56
    forecast = pl.DataFrame(
        {
            "sku": ["R"] * days,
            "location_id": ["WH-AMS"] * days,
            "period_start": [run_date + timedelta(days=i) for i in range(days)],
            "mean": [3.0] * days,
            "p10": [2.0] * days,
            "p50": [3.0] * days,
            "p90": [4.0] * days,
        }
    )
    levels = pl.DataFrame(
        {
            "sku": ["R"],
            "location_id": ["WH-AMS"],
            "on_hand": [14],
            "committed": [2],
            "on_order": [0],
        }
    )
    terms = pl.DataFrame(
        {
            "supplier_id": ["SUP-9"],
            "supplier_name": ["Supplier R"],
            "sku": ["R"],
            "unit_cost": ["4.00"],
            "currency": ["USD"],
            "lead_time_days": [10],
            "lead_time_std_days": [0.0],
            "moq": [1],
            "case_pack": [1],
        }
    )
    # an open PO of 9 arriving on day 5
    open_pos = pl.DataFrame(
        {
            "po_id": ["PO-1"],
            "supplier_id": ["SUP-9"],
            "sku": ["R"],
            "location_id": ["WH-AMS"],
            "quantity_open": [9],
            "expected_at": [run_date + timedelta(days=5)],
        }
    )
    return forecast, levels, terms, open_pos


@pytest.mark.fast
def test_revenue_at_risk_of_a_hand_made_purchase_line_reaches_the_buyer_files(tmp_path):
    from openpyxl import load_workbook

    from forecasting import write_buyer_files
    from forecasting.replenishment import plan_replenishment
    from forecasting.revenue_at_risk import unit_prices
    from forecasting.settings import ReplenishmentSettings

    run_date = date(2026, 11, 2)
    forecast, levels, terms, open_pos = _plan_inputs(run_date)
    # sold at 6.00 a unit over the last 90 days (EUR, the base currency)
    history = pl.DataFrame(
        {
            "date": [run_date - timedelta(days=3), run_date - timedelta(days=100)],
            "sku": ["R", "R"],
            "location_id": ["WH-AMS", "WH-AMS"],
            "units_ordered": [5, 1],
            "revenue": [Decimal("30.00"), Decimal("99.00")],  # the second is outside 90 days
        }
    )
    prices = unit_prices(history, run_date, currency="EUR")
    # a SKU without sales in those 90 days takes its list price; sales win over it
    listed = unit_prices(
        history,
        run_date,
        currency="EUR",
        list_prices=pl.DataFrame(
            {"sku": ["R", "Q"], "list_price": [Decimal("9.99"), Decimal("4.50")]}
        ),
    )
    assert {(r["sku"], r["location_id"], r["unit_price"]) for r in listed.to_dicts()} == {
        ("R", "WH-AMS", Decimal("6.0000")),
        ("R", None, Decimal("6.0000")),
        ("Q", None, Decimal("4.5000")),
    }
    settings = ReplenishmentSettings(review_period_days=7)
    plan = plan_replenishment(
        forecast,
        levels,
        terms,
        settings,
        run_date,
        open_purchase_orders=open_pos,
        unit_prices=prices,
    )
    line = plan.po_suggestions.row(0, named=True)
    # Not ordered today, the next order (at the next review, day 7) arrives on day 17: days
    # 0..16 at 3 a day. The 12 available last to the end of day 3; day 4 is short 3; the 9
    # received on day 5 last to the end of day 7; days 8..16 are short 3 each (27): 30 units
    assert line["lead_time_days"] == 10
    assert line["units_at_risk"] == pytest.approx(30.0)
    assert line["revenue_at_risk"] == Decimal("180.0000")  # 30 x 6.00
    assert line["revenue_currency"] == "EUR"

    files = write_buyer_files(plan, tmp_path, run_date)
    folder = tmp_path / "reorder" / run_date.isoformat()
    with open(folder / "SUP-9.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["revenue_at_risk"] == "180.0000" and rows[0]["revenue_currency"] == "EUR"
    wb = load_workbook(folder / f"purchase_orders_{run_date.isoformat()}.xlsx")
    ws = wb["SUP-9"]
    header = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=header.index("revenue_at_risk") + 1).value == pytest.approx(180)
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "revenue at risk" in page.lower() and "180.00" in page
    assert any(p.name == "report.html" for p in files)
