"""Contract tests: WooCommerce's own published examples, served as-is from 127.0.0.1, synced through
the real connector (OAuth 1.0a over plain HTTP, as Woo requires there) into raw and built into the
marts by one real `dbt build`.

The documents (../shared/fixtures/platform-docs/woo, woocommerce-rest-api-docs):
* orders__list_all_orders: order 727 (processing, USD: lines 6.00 + 12.00, shipping 10.00, tax
  1.35 = total 29.35, a guest) and order 723 (completed, USD: lines 9.00 + 20.00, shipping 10.00 =
  39.00, customer 26) with two refunds;
* order-refunds__list_all_refunds: 723's refunds: 726, 10.00 with **no line items** (an amount
  refunded without items), and 724, 9.00 of line 311 (named in its `_refunded_item_id`);
* customers__list_all_customers: customers 26 and 25;
* the "retrieve" examples (order 727 with one meta_data entry fewer, refund 726, customer 25),
  served as one-element listings on a second sync: another version of 727 lands, the others are
  the same documents as in the lists, so nothing new lands for them.
Woo publishes no order with a fee line or with `prices_include_tax`, so two more orders are ours,
both the retrieve example's order 727 changed as Woo would have computed it: order 9001 with a 2.50
payment fee (+0.19 tax) added to its fee_lines and its totals, and order 9002 of a shop whose
prices include tax (the same lines: the customer paid 6.45 and 12.90 incl. tax, Woo still reports
their subtotal and total without it), with refund 9102 of one unit of its first line (3.00 + 0.23
tax).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC
from decimal import Decimal as D

import duckdb
import pytest

from flows.api_sync import sync_api
from flows.config import parse_config
from flows.dbt_runner import build
from flows.demo import demo_config_dict
from flows.sync import sync_files
from sandbox.emulators.base import Emulator, Reply, Request
from sandbox.shared import PLATFORM_DOCS
from tests.test_connector_helpers import quarantined

DOCS = PLATFORM_DOCS / "woo"
PREFIX = "/wp-json/wc/v3"
USD = D("0.9")  # EUR per USD on the fx file of the fixture


def doc(name: str):
    return json.loads((DOCS / f"{name}.json").read_text())


def fee_order() -> dict:
    """Ours (Woo publishes none): the retrieve example's order 727 with a payment fee line."""
    o = copy.deepcopy(doc("orders__retrieve_an_order"))
    o["id"], o["number"] = 9001, "9001"
    for item in (*o["line_items"], *o["tax_lines"], *o["shipping_lines"]):
        item["id"] += 600  # Woo numbers order items shop-wide
    o["fee_lines"] = [{"id": 320, "name": "Payment fee", "tax_class": "", "tax_status": "taxable",
                       "total": "2.50", "total_tax": "0.19",
                       "taxes": [{"id": 75, "total": "0.19", "subtotal": ""}], "meta_data": []}]  # fmt: skip
    o["cart_tax"] = o["total_tax"] = "1.54"
    o["total"] = "32.04"  # 18.00 lines + 2.50 fee + 10.00 shipping + 1.54 tax
    return o


def tax_inclusive_order() -> dict:
    """Ours: the retrieve example's order 727 from a shop whose prices include tax (9002)."""
    o = copy.deepcopy(doc("orders__retrieve_an_order"))
    o["id"], o["number"], o["prices_include_tax"] = 9002, "9002", True
    for item in (*o["line_items"], *o["tax_lines"], *o["shipping_lines"]):
        item["id"] += 700
    o["refunds"] = [{"id": 9102, "refund": "", "total": "-3.23"}]
    return o


def tax_inclusive_refund() -> dict:
    r = copy.deepcopy(doc("order-refunds__list_all_refunds")[1])  # 724's shape
    r["id"], r["amount"] = 9102, "3.23"
    r["date_created"], r["date_created_gmt"] = "2017-03-23T10:00:00", "2017-03-23T13:00:00"
    (li,) = r["line_items"]
    li.update(id=1014, name="Woo Single #1", product_id=93, quantity=-1, subtotal="-3.00",
              subtotal_tax="-0.23", total="-3.00", total_tax="-0.23", price=-3,
              taxes=[{"id": 75, "total": "-0.23", "subtotal": "-0.23"}])  # fmt: skip
    li["meta_data"] = [{"id": 2200, "key": "_refunded_item_id", "value": "1015"}]
    r["_links"] = {k: [{"href": v[0]["href"].replace("/723", "/9002").replace("/726", "/9102")}]
                   for k, v in r["_links"].items()}  # fmt: skip
    return r


class DocumentServer(Emulator):
    """Answers every Woo list with the published documents as they are (phase 0: the "list"
    examples; phase 1: the "retrieve" examples as one-element lists), whatever the query; notes
    whether each request was OAuth-signed."""

    name = "woo-documents"

    def __init__(self) -> None:
        super().__init__()
        self.phase = 0
        self.unsigned = 0

    def handle(self, req: Request) -> Reply:
        if req.arg("oauth_signature") is None:
            self.unsigned += 1
        path = req.path[len(PREFIX) :]
        if path == "/orders":
            body = [*doc("orders__list_all_orders"), fee_order(), tax_inclusive_order()] if self.phase == 0 else [
                doc("orders__retrieve_an_order")]  # fmt: skip
        elif path == "/orders/723/refunds":
            body = doc("order-refunds__list_all_refunds")
        elif path == "/orders/9002/refunds":
            body = [tax_inclusive_refund()]
        elif path == "/customers":
            body = doc("customers__list_all_customers") if self.phase == 0 else [
                doc("customers__retrieve_a_customer")]  # fmt: skip
        elif path in ("/products", "/orders/9001/refunds", "/orders/727/refunds"):
            body = []
        else:
            return Reply(404, {"code": "rest_no_route", "message": "No route", "data": {"status": 404}})  # fmt: skip
        return Reply(200, body, {"X-WP-Total": str(len(body)), "X-WP-TotalPages": "1"})


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("woo_docs")
    server = DocumentServer().start()
    try:
        data = demo_config_dict(warehouse=str(tmp / "oms.duckdb"), drop_dir=str(tmp / "drop"),
                                output_dir=str(tmp / "out"))  # fmt: skip
        for c in data["channels"]:
            if c["name"] == "woo":
                c.pop("path", None)
                c.pop("start_date", None)
                c["source"] = "api"
                c["api"] = {"base_url": server.base_url,
                            "credentials": {"consumer_key": "DOC_WOO_KEY", "consumer_secret": "DOC_WOO_SECRET"},
                            "retry_base_seconds": 0.01, "retry_max_seconds": 0.05}  # fmt: skip
        cfg = parse_config(data, source="woo documents", base_dir=tmp)
        fx = tmp / "drop" / "fx_rates"
        fx.mkdir(parents=True)
        (fx / "fx_rates.csv").write_text(f"date,currency,rate\n2017-03-01,USD,{USD}\n2017-03-01,GBP,1.2\n")  # fmt: skip
        mp = pytest.MonkeyPatch()
        mp.setenv("DOC_WOO_KEY", "ck_" + "1" * 40)
        mp.setenv("DOC_WOO_SECRET", "cs_" + "2" * 40)
        try:
            sync_files(cfg)
            first = sync_api(cfg)
            server.phase = 1
            second = sync_api(cfg)
        finally:
            mp.undo()
        build(cfg, full_refresh=True)
        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        yield cfg, con, server, (first, second)
        con.close()
    finally:
        server.stop()


def _one(con, sql: str, *args) -> dict:
    cur = con.execute(sql, list(args))
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    assert len(rows) == 1, (sql, rows)
    return dict(zip(names, rows[0], strict=True))


def test_every_document_lands_whole_over_oauth(synced):
    cfg, con, server, _ = synced
    assert server.stats.requests > 0 and server.unsigned == 0  # http://: every request signed
    assert quarantined(cfg) == []
    raw = {(sid, json.dumps(json.loads(p), sort_keys=True)) for sid, p in con.execute(
        "select _source_id, _payload from raw.woo__orders").fetchall()}  # fmt: skip
    listed = {str(o["id"]): o for o in doc("orders__list_all_orders")}
    for oid in ("727", "723"):
        assert (oid, json.dumps(listed[oid], sort_keys=True)) in raw
    retrieved = doc("orders__retrieve_an_order")
    assert ("727", json.dumps(retrieved, sort_keys=True)) in raw  # its second version
    refunds = dict(con.execute("select _source_id, _payload from raw.woo__refunds").fetchall())
    for r in doc("order-refunds__list_all_refunds"):
        assert json.loads(refunds[str(r["id"])]) == {**r, "order_id": 723}
    assert doc("order-refunds__retrieve_a_refund") == doc("order-refunds__list_all_refunds")[0]
    customers = {sid for (sid,) in con.execute("select _source_id from raw.woo__customers").fetchall()}  # fmt: skip
    assert customers == {"26", "25"}
    assert doc("customers__retrieve_a_customer") in doc("customers__list_all_customers")


def test_order_727_totals_currency_status_and_times(synced):
    _, con, _, _ = synced
    o = _one(con, "select * from marts.orders where order_key = 'woo:727'")
    assert o["currency"] == "USD" and o["fx_rate"] == USD and o["taxes_included"] is False
    assert o["status"] == "open" and o["financial_status"] == "paid"  # processing
    assert o["placed_total_local"] == D("29.35") and o["gross_sales_local"] == D("18.00")
    assert o["shipping"] == D("10.00") * USD and o["taxes"] == D("1.35") * USD
    assert o["net_sales_local"] == D("18.00") and o["fees"] == 0 and o["units"] == 3
    assert o["ordered_at"].astimezone(UTC).isoformat() == "2017-03-22T19:28:02+00:00"
    assert o["customer_key"] is not None  # a guest, known by the billing e-mail


def test_order_723_refunds_include_the_amount_only_refund(synced):
    _, con, _, _ = synced
    o = _one(con, "select * from marts.orders where order_key = 'woo:723'")
    assert o["status"] == "fulfilled" and o["currency"] == "USD"  # completed
    assert o["placed_total_local"] == D("39.00") and o["gross_sales_local"] == D("29.00")
    assert o["refunds"] == D("19.00") * USD  # 726: 10.00, no line items + 724: 9.00 of line 311
    assert o["net_sales_local"] == D("10.00") and o["net_sales"] == D("10.00") * USD
    assert o["last_refunded_at"].astimezone(UTC).isoformat() == "2017-03-21T20:07:11+00:00"
    assert o["ordered_at"].astimezone(UTC).isoformat() == "2017-03-21T19:16:00+00:00"
    returns = con.execute(
        "select refund_key, order_line_key, quantity, amount_local, is_order_level, refund_date "
        "from marts.returns where order_key = 'woo:723' order by refund_key"
    ).fetchall()
    assert [r[:5] for r in returns] == [
        ("woo:724", "woo:723:311", 1, D("9.00"), False),
        ("woo:726", None, 0, D("10.00"), True),
    ]
    assert {str(r[5]) for r in returns} == {"2017-03-21"}
    line = _one(con, "select * from marts.order_lines where order_line_key = 'woo:723:311'")
    assert line["quantity_refunded"] == 1
    c = _one(con, "select * from marts.customers where customer_key = ("
              "select customer_key from marts.orders where order_key = 'woo:723')")  # fmt: skip
    assert c["country"] == "BR"  # customer 26, João Silva


def test_fee_line_lands_in_totals_and_finance(synced):
    _, con, _, _ = synced
    o = _one(con, "select * from marts.orders where order_key = 'woo:9001'")
    assert o["fees_local"] == D("2.50") and o["fees"] == D("2.50") * USD
    assert o["placed_total_local"] == D("32.04") and o["net_sales_local"] == D("18.00")
    month = _one(con, "select * from marts.finance_monthly where channel = 'woo' and month = '2017-03-01'")  # fmt: skip
    assert month["refunds"] == (D("19.00") + D("3.23")) * USD
    sales = D("18.00") + D("29.00") + D("18.00") + D("19.35")  # 727, 723, 9001, 9002
    assert month["net_sales"] == (sales - D("19.00") - D("3.23")) * USD
    assert month["fees"] == D("2.50") * USD
    assert month["orders"] == 4


def test_prices_include_tax_puts_the_money_on_the_tax_inclusive_basis(synced):
    _, con, _, _ = synced
    o = _one(con, "select * from marts.orders where order_key = 'woo:9002'")
    assert o["taxes_included"] is True and o["placed_total_local"] == D("29.35")
    assert o["gross_sales_local"] == D("19.35")  # 6.00 + 0.45 and 12.00 + 0.90: what was paid
    assert o["taxes"] == D("1.35") * USD  # the part of it that is tax
    assert o["refunds"] == D("3.23") * USD and o["net_sales_local"] == D("16.12")
    r = _one(con, "select * from marts.returns where order_key = 'woo:9002'")
    assert r["order_line_key"] == "woo:9002:1015" and r["amount_local"] == D("3.23")
    assert r["tax"] == D("0.23") * USD
