"""Issue 14's done-when: a real retailer's till export with every shape it has, through the file
sync, the landing gate and a real `dbt build`, against a hand computation.

The export is shaped like the UCI "Online Retail" year (InvoiceNo, StockCode, Description,
Quantity, InvoiceDate as `11/2/2026 9:30`, UnitPrice, CustomerID, Country; credit notes as
invoices prefixed C; postage, fees and discounts as lines with their own codes; bad-debt
adjustments as a +x / -x / -x triple; stock written off as negative lines at price 0 with no
customer), plus a wholesale line beyond the default bound, two identical scans of one article, a
row in another date format and a column no mapping reads.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from flows.dbt_runner import run_dbt
from flows.demo import demo_config_dict
from flows.sync import sync_files
from tests.conftest import make_config, till_channel

COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
           "CustomerID", "Country", "Original", "Till"]  # fmt: skip
D1, D2 = "11/2/2026", "11/3/2026"
ROWS = [
    # 536365, day 1: two identical scans (two lines), postage, a 12,540-unit wholesale line
    ["536365", "85123A", "WHITE HANGING HEART", "6", f"{D1} 9:30", "2.55", "17850", "United Kingdom", "", "T1"],
    ["536365", "85123A", "WHITE HANGING HEART", "6", f"{D1} 9:30", "2.55", "17850", "United Kingdom", "", "T1"],
    ["536365", "POST", "POSTAGE", "1", f"{D1} 9:30", "18.00", "17850", "United Kingdom", "", "T1"],
    ["536365", "71053", "WHITE METAL LANTERN", "12540", f"{D1} 9:30", "0.03", "17850", "United Kingdom", "", "T1"],
    # 536366, day 1: a card fee and a discount line
    ["536366", "22633", "HAND WARMER UNION JACK", "6", f"{D1} 11:00", "1.85", "17851", "France", "", "T2"],
    ["536366", "CARDFEE", "Card fee", "1", f"{D1} 11:00", "0.50", "17851", "France", "", "T2"],
    ["536366", "D", "Discount", "-1", f"{D1} 11:00", "1.00", "17851", "France", "", "T2"],
    # stock written off: negative, price 0, no customer
    ["536367", "85123A", "damaged", "-3", f"{D1} 12:00", "0.00", "", "United Kingdom", "", "T1"],
    # a bad-debt adjustment: +100 on one document, -100 on two others
    ["A563185", "B", "Adjust bad debt", "1", f"{D1} 14:00", "100.00", "", "United Kingdom", "", "T9"],
    ["A563186", "B", "Adjust bad debt", "1", f"{D1} 14:00", "-100.00", "", "United Kingdom", "", "T9"],
    ["A563187", "B", "Adjust bad debt", "1", f"{D1} 14:00", "-100.00", "", "United Kingdom", "", "T9"],
    # day 2: a credit note of 536365 (goods and its postage), a standalone credit note, a
    # credit note of a discount, a new sale
    ["C536368", "85123A", "WHITE HANGING HEART", "-2", f"{D2} 10:00", "2.55", "17850", "United Kingdom", "536365", "T1"],
    ["C536368", "POST", "POSTAGE", "-1", f"{D2} 10:00", "18.00", "17850", "United Kingdom", "536365", "T1"],
    ["C536369", "22633", "HAND WARMER UNION JACK", "-1", f"{D2} 10:30", "1.85", "17851", "France", "", "T2"],
    ["C536370", "D", "Discount", "-1", f"{D2} 11:00", "2.00", "17850", "United Kingdom", "536365", "T1"],
    ["536371", "84879", "ASSORTED COLOUR BIRD ORNAMENT", "1", f"{D2} 12:00", "1.69", "17850", "United Kingdom", "", "T1"],
    # a row in another date format: held with the rule as its reason
    ["536372", "84879", "ASSORTED COLOUR BIRD ORNAMENT", "1", "2026-11-03 12:00", "1.69", "17850", "United Kingdom", "", "T1"],
]  # fmt: skip

TILLS = till_channel(
    mapping={
        "order_id": "InvoiceNo",
        "sku": "StockCode",
        "title": "Description",
        "quantity": "Quantity",
        "ordered_at": "InvoiceDate",
        "unit_price": "UnitPrice",
        "customer_id": "CustomerID",
        "country": "Country",
        "original_order_id": "Original",
    },
    timestamp_format="%m/%d/%Y %H:%M",
    line_types={
        "shipping": ["POST"],
        "fee": ["CARDFEE", "AMAZONFEE"],
        "discount": ["D"],
        "adjustment": ["B"],
    },
    credit_notes={"prefix": "C"},
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("till_shapes")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DBT_TARGET_PATH", str(tmp / "dbt_target"))
        mp.setenv("DBT_LOG_PATH", str(tmp / "dbt_logs"))
        locations = [
            {**loc, "external_ids": {}}
            for loc in demo_config_dict()["locations"]  # the sandbox's, without other channels
        ]
        # the wholesale line of 12,540 units needs the bound raised (default 10,000)
        stock = {"name": "tpl", "kind": "stock_report", "path": "stock"}
        cfg = make_config(
            tmp, channels=[TILLS, stock], locations=locations, quality={"max_units": 20_000}
        )
        # a count before the write-off (it cannot include it) and one of another article
        counts = Path(cfg.files.drop_dir) / "stock" / "stock_2026-11-02.csv"
        counts.parent.mkdir(parents=True)
        counts.write_text(
            "sku,location_id,on_hand,counted_at\n"
            "85123A,ST-BER,50,2026-11-02T08:00:00Z\n22633,ST-BER,7,2026-11-02T08:00:00Z\n"
        )
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(ROWS)
        path = Path(cfg.files.drop_dir) / "tills" / "online_retail_2026-11.csv"
        path.parent.mkdir(parents=True)
        path.write_text(buf.getvalue(), encoding="utf-8")
        report = sync_files(cfg)
        dbt = run_dbt(cfg)
        assert dbt.tests_failed == 0, dbt.failures
    con = duckdb.connect(cfg.warehouse, read_only=True)
    con.execute("set timezone = 'UTC'")
    yield con, report
    con.close()


def q(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_every_row_is_in_raw_or_quarantine(built):
    con, report = built
    assert (report.files_landed, report.rows_landed, report.rows_quarantined) == (2, 18, 1)
    [(read, landed, held, repeated)] = q(
        con,
        "select rows_read, rows_landed, rows_quarantined, rows_repeated from ops.file_loads "
        "where channel = 'tills'",
    )
    assert (read, landed, held, repeated) == (len(ROWS), 16, 1, 0)
    [(reason,)] = q(con, "select reason from ops.quarantine")
    assert reason == "ordered_at does not match the timestamp format '%m/%d/%Y %H:%M'"
    # the two identical scans are two lines of the invoice, each with its own number
    assert q(con, "select _source_id from raw.tills__orders where _source_id like '536365:%' "
                  "order by 1") == [("536365:1",), ("536365:2",), ("536365:3",), ("536365:4",)]  # fmt: skip
    payload = json.loads(q(con, "select _payload from raw.tills__orders limit 1")[0][0])
    assert set(COLUMNS) == set(payload["source_columns"])  # Till, mapped by nothing, is kept


def test_orders_are_sales_documents_only(built):
    con, _ = built
    rows = q(
        con,
        """select order_id, gross_sales, discounts, shipping, fees, refunds, net_sales,
                            units from marts.orders order by 1""",
    )
    assert rows == [
        ("536365", Decimal("406.8000"), 0, Decimal("18.0000"), 0, Decimal("7.1000"),
         Decimal("399.7000"), 12552),
        ("536366", Decimal("11.1000"), Decimal("1.0000"), 0, Decimal("0.5000"), 0,
         Decimal("10.1000"), 6),
        ("536371", Decimal("1.6900"), 0, 0, 0, 0, Decimal("1.6900"), 1),
    ]  # fmt: skip


def test_refunds_returns_and_net_sales_per_day(built):
    con, _ = built
    returns = q(
        con,
        """select refund_date::varchar, order_key, sku, quantity, amount,
                               restocked, is_standalone from marts.returns order by amount""",
    )
    assert returns == [
        ("2026-11-03", None, "22633", 1, Decimal("1.8500"), True, True),
        ("2026-11-03", "tills:536365", None, 0, Decimal("2.0000"), None, False),
        ("2026-11-03", "tills:536365", "85123A", 2, Decimal("5.1000"), True, False),
    ]  # fmt: skip
    daily = q(
        con,
        """select sales_date::varchar, sum(orders), sum(units), sum(refunds),
                             sum(net_sales) from marts.sales_daily group by 1 order by 1""",
    )
    # day 1: 30.60 + 376.20 + 11.10 - 1.00 discount line; day 2: 1.69 - (5.10 + 1.85 + 2.00)
    assert daily == [
        ("2026-11-02", 2, 12552 + 6, 0, Decimal("416.9000")),
        ("2026-11-03", 1, 1, Decimal("8.9500"), Decimal("-7.2600")),
    ]
    [(net, adjustments, fees)] = q(
        con, "select net_sales, adjustments, fees from marts.finance_monthly"
    )
    # the bad-debt triple nets to -100, the refunded postage is -18: neither is net sales
    assert (net, adjustments, fees) == (Decimal("409.6400"), Decimal("-118.0000"), Decimal("0.5"))


def test_write_offs_are_inventory_adjustments_not_returns_or_demand(built):
    con, _ = built
    assert q(con, """select adjustment_date::varchar, sku, location_id, quantity, reason
                     from marts.inventory_adjustments""") == [
        ("2026-11-02", "85123A", "ST-BER", -3, "damaged")
    ]  # fmt: skip
    # the stock counted before the write-off is 3 less now; the other article's is as counted
    levels = "select sku, on_hand, adjusted_since_count from marts.inventory_levels order by 1"
    assert q(con, levels) == [("22633", 7, 0), ("85123A", 47, -3)]
    demand = q(
        con,
        """select demand_date::varchar, sku, units_ordered, units_returned
                       from marts.daily_demand where units_ordered + units_returned > 0
                       order by 1, 2""",
    )
    assert demand == [
        ("2026-11-02", "22633", 6, 0),
        ("2026-11-02", "71053", 12540, 0),
        ("2026-11-02", "85123A", 12, 0),
        ("2026-11-03", "22633", 0, 1),
        ("2026-11-03", "84879", 1, 0),
        ("2026-11-03", "85123A", 0, 2),
    ]


def test_products_are_goods_with_titles_and_customers_have_countries(built):
    con, _ = built
    assert q(con, "select sku, title from marts.products order by 1") == [
        ("22633", "HAND WARMER UNION JACK"),
        ("71053", "WHITE METAL LANTERN"),
        ("84879", "ASSORTED COLOUR BIRD ORNAMENT"),
        ("85123A", "WHITE HANGING HEART"),
    ]
    assert q(con, "select customer_key, country, region, orders_count from marts.customers "
                  "order by 1") == [("tills:17850", "GB", "UK", 2), ("tills:17851", "FR", "EU", 1)]  # fmt: skip
