"""WooCommerce money the published docs imply: fee lines are part of `total` (the landing gate adds
them up as WooCommerce does, and they land in `fees`), and a refund of an amount with no line items
(the docs' refund 726) counts in refunds, net sales, `returns` (one order-level row, no SKU) and
finance.

The payloads are Woo's published examples (`../shared/fixtures/platform-docs/woo/`) as the
connector lands them (refunds with `order_id` added), plus one order of the same shape with a fee
line (Woo publishes none): a hand-made raw fixture, one real `dbt build` for the module.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from connectors.records import RawRecord
from flows.quality import GateContext, gate
from flows.staged import stage
from tests.test_dbt_project import create_warehouse, land, run_dbt

DOCS = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "platform-docs" / "woo"
D = Decimal


def _doc(name: str):
    return json.loads((DOCS / f"{name}.json").read_text())


def order_723() -> dict:
    """'List all orders' second order: two lines (9.00 + 20.00), 10.00 shipping, total 39.00,
    refunds 726 (10.00, no line items) and 724 (9.00, line 311)."""
    return next(o for o in _doc("orders__list_all_orders") if o["id"] == 723)


def order_with_fee(order_id: int = 9001, fee: str = "2.50", fee_tax: str = "0.00") -> dict:
    """Order 727 of 'Retrieve an order' (18.00 of lines + 10.00 shipping + 1.35 tax = 29.35) with
    a payment fee line added, in the shape of Woo's fee line (its order-properties table): the
    total grows by the fee and its tax, as WooCommerce computes it."""
    o = copy.deepcopy(_doc("orders__retrieve_an_order"))
    o["id"], o["number"] = order_id, str(order_id)
    o["fee_lines"] = [
        {
            "id": 320,
            "name": "Payment fee",
            "tax_class": "",
            "tax_status": "taxable" if D(fee_tax) else "none",
            "amount": fee,
            "total": fee,
            "total_tax": fee_tax,
            "taxes": [],
            "meta_data": [],
        }
    ]
    o["total_tax"] = str(D(o["total_tax"]) + D(fee_tax))
    o["total"] = str(D(o["total"]) + D(fee) + D(fee_tax))
    return o


# ------------------------------------------------------------------------------ the landing gate

CTX = GateContext(("EUR", "USD", "GBP"))


def _records(orders: list[dict]) -> list[RawRecord]:
    from connectors.woocommerce import order_record

    return [order_record(o) for o in orders]


@pytest.mark.fast
def test_gate_adds_up_fee_lines_as_woo_does():
    """An order with a fee line passes the "line totals add up" check; one whose total does not
    include its fee is held. Before fee lines counted, every fee order was held and a page with
    more than 20% of them was refused whole."""
    plain = [order_with_fee(100 + i, fee="0.00") for i in range(3)]
    fees = [order_with_fee(200 + i, fee="2.50", fee_tax="0.19") for i in range(4)]
    fees.append(order_with_fee(299, fee="-1.00"))  # a discount given as a negative fee
    docs = _doc("orders__list_all_orders")  # 727 and 723
    wrong = order_with_fee(300, fee="2.50")
    wrong["total"] = "29.35"  # the fee is not in the total: the parts do not add up
    verdict = gate("woo__orders", stage(_records([*plain, *fees, *docs, wrong])), CTX)
    assert verdict.refused is None
    assert [sid for sid, _, _ in verdict.bad] == ["300"]
    assert "line_totals add up to the total" in verdict.bad[0][1]
    assert len(verdict.good) == len(plain) + len(fees) + len(docs)


# ------------------------------------------------------------------------------ the marts


@pytest.fixture(scope="module")
def marts(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("woo_money")
    warehouse = tmp / "oms.duckdb"
    con = create_warehouse(warehouse)
    o723 = order_723()
    o723["currency"] = "EUR"  # the fixture's FX table is for EUR/GBP only; the amounts are Woo's
    land(con, "woo__orders", "723", "2017-03-21T19:54:51Z", o723)
    for r in _doc("order-refunds__list_all_refunds"):
        land(con, "woo__refunds", str(r["id"]), r["date_created_gmt"] + "Z", {**r, "order_id": 723})
    fee = order_with_fee(9001, fee="2.50", fee_tax="0.19")
    fee["currency"] = "EUR"
    land(con, "woo__orders", "9001", "2017-03-22T19:28:08Z", fee)
    con.close()
    run_dbt(warehouse, tmp, "build")
    con = duckdb.connect(str(warehouse), read_only=True)
    yield con
    con.close()


def _rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_amount_only_refund_counts_in_orders_returns_and_finance(marts):
    (o,) = _rows(marts, "select * from marts.orders where order_key = 'woo:723'")
    assert o["gross_sales"] == D("29") and o["shipping"] == D("10")
    assert o["refunds"] == D("19")  # 726: 10.00 with no line items + 724: 9.00 of line 311
    assert o["net_sales"] == D("10") and o["fees"] == D("0")
    assert o["status"] == "fulfilled" and o["placed_total_local"] == D("39")
    returns = _rows(
        marts,
        "select refund_key, sku, order_line_key, quantity, amount, is_order_level "
        "from marts.returns where order_key = 'woo:723' order by refund_key",
    )
    assert returns == [
        {"refund_key": "woo:724", "sku": "", "order_line_key": "woo:723:311", "quantity": 1,
         "amount": D("9"), "is_order_level": False},  # the docs line has sku ""
        {"refund_key": "woo:726", "sku": None, "order_line_key": None, "quantity": 0,
         "amount": D("10"), "is_order_level": True},
    ]  # fmt: skip
    (month,) = _rows(
        marts, "select * from marts.finance_monthly where channel = 'woo' and month = '2017-03-01'"
    )
    assert month["refunds"] == D("19") and month["net_sales"] == D("10") + D("18")
    assert month["fees"] == D("2.5")  # order 9001's payment fee, same month
    (line,) = _rows(marts, "select * from marts.order_lines where order_line_key = 'woo:723:311'")
    assert line["quantity_refunded"] == 1  # the amount-only refund is not put on a line


def test_fee_line_lands_in_the_order_totals(marts):
    (o,) = _rows(marts, "select * from marts.orders where order_key = 'woo:9001'")
    assert o["fees"] == D("2.5") and o["fees_local"] == D("2.5")
    assert o["placed_total_local"] == D("32.04")  # 29.35 + 2.50 fee + 0.19 fee tax
    assert o["gross_sales"] == D("18") and o["net_sales"] == D("18")  # fees are not sales
    assert o["shipping"] == D("10") and o["taxes"] == D("1.54")
    (fee_line,) = _rows(marts, "select * from staging.stg_woo__order_fee_lines")
    assert fee_line["fee_name"] == "Payment fee" and fee_line["amount_local"] == D("2.5")
