"""Contract tests: Amazon's own published answers, served as-is from 127.0.0.1, synced through the
real connector into raw and built into the marts by a real `dbt build`.

The documents (../shared/fixtures/platform-docs/amazon, from amzn/selling-partner-api-models):
* getOrders_sandbox_TEST_CASE_200: two Unshipped Amazon.com orders, OrderTotal 11.01 USD.
* getOrderItems_sandbox_TEST_CASE_200: the items of 902-1845936-5435065: ItemPrice 10.00 +
  ItemTax 1.01 = the order's 11.01 (US prices exclude tax). Amazon's sandbox answers this one
  static document for any order id: for the second order it names another order, so the
  connector quarantines it instead of filing it under the wrong order.
* getOrders_sandbox_NEXT_TOKEN_page1 -> page2 and getOrders_example -> page2: a Pending
  Amazon.com order without OrderTotal, across a NextToken (its items: getOrderItems_example,
  which names order 903-1671087-0812628 and is quarantined likewise): its currency is USD,
  from the marketplace table.
* getOrder_sandbox_TEST_CASE_IBA_200: a Shipped Amazon.de order, OrderTotal 100.00 EUR (served as
  the one order of a getOrders page; getOrder's payload is the Order itself).
* getOrderItems_example: two JPY items with a NextToken, served for an order we made for it
  (903-1671087-0812628, Pending on Amazon.co.jp, no OrderTotal; the documents publish no such
  order) whose second items page is empty (not published either): the Pending order takes JPY
  from its items, and both items land across the NextToken.

Finances v0 publishes no example answer (platform-docs/README.md), so the financial events are
built from its definitions (validated against them): the shipment of 902-1845936-5435065
(Principal 10.00, Tax 1.01, Commission -1.50, FBA fee -3.00) and its refund of 10.00 principal,
with its money in ItemChargeAdjustmentList / ItemFeeAdjustmentList (Commission +1.20 returned,
RefundCommission -0.30), and a guarantee claim of 5.00 EUR on the Amazon.de order.
"""

from __future__ import annotations

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
from tests.test_amazon_schemas import DOCS, assert_valid
from tests.test_connector_helpers import quarantined

US_ORDER = "902-1845936-5435065"
US_ORDER_2 = "902-8745147-1934268"
PENDING_US = "902-3159896-1390916"
DE_ORDER = "921-3175655-0452641"
JP_ORDER = "903-1671087-0812628"
FX = {"USD": D("0.9"), "GBP": D("1.2"), "JPY": D("0.006")}


def doc(name: str) -> dict:
    return json.loads((DOCS / f"{name}.json").read_text())


def _ca(amount: float, cur: str = "USD") -> dict:
    return {"CurrencyCode": cur, "CurrencyAmount": amount}


SHIPMENT = {
    "AmazonOrderId": US_ORDER,
    "PostedDate": "1970-01-20T08:00:00Z",
    "MarketplaceName": "Amazon.com",
    "ShipmentItemList": [
        {
            "SellerSKU": "NABetaASINB00551Q3CS",
            "OrderItemId": "05015851154158",
            "QuantityShipped": 1,
            "ItemChargeList": [
                {"ChargeType": "Principal", "ChargeAmount": _ca(10.00)},
                {"ChargeType": "Tax", "ChargeAmount": _ca(1.01)},
            ],
            "ItemFeeList": [
                {"FeeType": "Commission", "FeeAmount": _ca(-1.50)},
                {"FeeType": "FBAPerUnitFulfillmentFee", "FeeAmount": _ca(-3.00)},
            ],
        }
    ],
}
REFUND = {
    "AmazonOrderId": US_ORDER,
    "PostedDate": "1970-01-25T08:00:00Z",
    "MarketplaceName": "Amazon.com",
    "ShipmentItemAdjustmentList": [
        {
            "SellerSKU": "NABetaASINB00551Q3CS",
            "OrderItemId": "05015851154158",
            "OrderAdjustmentItemId": "52986411826454",
            "QuantityShipped": 1,
            "ItemChargeAdjustmentList": [
                {"ChargeType": "Principal", "ChargeAmount": _ca(-10.00)},
            ],
            "ItemFeeAdjustmentList": [
                {"FeeType": "Commission", "FeeAmount": _ca(1.20)},
                {"FeeType": "RefundCommission", "FeeAmount": _ca(-0.30)},
            ],
        }
    ],
}
CLAIM = {  # an A-to-z guarantee claim on the Amazon.de order: 5.00 EUR given back to the buyer
    "AmazonOrderId": "921-3175655-0452641",
    "PostedDate": "2019-05-20T08:00:00Z",
    "MarketplaceName": "Amazon.de",
    "ShipmentItemAdjustmentList": [
        {
            "SellerSKU": "SKU-DE-1",
            "OrderItemId": "49100000001",
            "OrderAdjustmentItemId": "49100000002",
            "QuantityShipped": 0,
            "ItemChargeAdjustmentList": [
                {"ChargeType": "Principal", "ChargeAmount": _ca(-5.00, "EUR")},
            ],
            "ItemFeeAdjustmentList": [{"FeeType": "Commission", "FeeAmount": _ca(0.75, "EUR")}],
        }
    ],
}
EVENTS = {
    "payload": {
        "FinancialEvents": {
            "ShipmentEventList": [SHIPMENT],
            "RefundEventList": [REFUND],
            "GuaranteeClaimEventList": [CLAIM],
        }
    }
}
JP_ORDER_DOC = {  # ours: the documents publish items for this order but not the order
    "AmazonOrderId": JP_ORDER,
    "PurchaseDate": "2013-09-06T10:00:00Z",
    "LastUpdateDate": "2013-09-06T10:00:00Z",
    "OrderStatus": "Pending",
    "MarketplaceId": "A1VC38T7YXB528",
}


# Ours: the published Amazon.de order with only its id and OrderStatus changed, for the three
# statuses no published answer shows (their meanings are the Orders v0 enum's descriptions).
STATUSES = {
    "921-0000001-0000001": "InvoiceUnconfirmed",  # all items shipped
    "921-0000002-0000002": "Unfulfillable",  # Amazon cannot fulfil it
    "921-0000003-0000003": "PendingAvailability",  # pre-order, payment not authorised
}


def STATUS_ORDERS(order: dict) -> list[dict]:  # noqa: N802 (a constant's maker)
    return [{**order, "AmazonOrderId": oid, "OrderStatus": st} for oid, st in STATUSES.items()]


class DocumentServer(Emulator):
    """Serves the published documents as they are: listings of getOrders pages (a NextToken
    leads to the listing's next document), getOrderItems documents per order id, one
    listFinancialEvents answer; a Login-with-Amazon token for any refresh token."""

    name = "amazon-documents"

    def __init__(self) -> None:
        super().__init__()
        iba = doc("getOrder_sandbox_TEST_CASE_IBA_200")["payload"]
        self.listing = [
            doc("getOrders_sandbox_TEST_CASE_200"),
            doc("getOrders_sandbox_NEXT_TOKEN_page1"),
            doc("getOrders_sandbox_NEXT_TOKEN_page2"),
            doc("getOrders_example"),
            doc("getOrders_sandbox_NEXT_TOKEN_page2"),
            {"payload": {"Orders": [iba, JP_ORDER_DOC, *STATUS_ORDERS(iba)]}},
        ]
        self.items = {
            US_ORDER: [doc("getOrderItems_sandbox_TEST_CASE_200")],
            US_ORDER_2: [doc("getOrderItems_sandbox_TEST_CASE_200")],  # as the sandbox does
            PENDING_US: [
                doc("getOrderItems_example"),
                {"payload": {"AmazonOrderId": "903-1671087-0812628", "OrderItems": []}},
            ],  # fmt: skip
            DE_ORDER: [{"payload": {"AmazonOrderId": DE_ORDER, "OrderItems": []}}],
            **{oid: [doc("getOrderItems_sandbox_TEST_CASE_200")] for oid in STATUSES},
            JP_ORDER: [
                doc("getOrderItems_example"),
                {"payload": {"AmazonOrderId": JP_ORDER, "OrderItems": []}},
            ],  # fmt: skip
        }
        self.pos = 0

    def handle(self, req: Request) -> Reply:
        headers = {
            "x-amzn-RequestId": f"req-{self.stats.requests}",
            "x-amzn-RateLimit-Limit": "100",
        }
        if req.path == "/auth/o2/token":
            return Reply(200, {"access_token": "Atza|doc-token", "token_type": "bearer", "expires_in": 3600})  # fmt: skip
        if req.path == "/orders/v0/orders":
            # the documents in the order the syncs ask for them: each listing's first page, and
            # each NextToken the next document (the listings above chain them as the docs do)
            i = min(self.pos, len(self.listing) - 1)
            self.pos += 1
            return Reply(200, self.listing[i], headers)
        if req.path.endswith("/orderItems"):
            pages = self.items[req.path.split("/")[4]]
            return Reply(200, pages[1 if req.arg("NextToken") else 0], headers)
        if req.path == "/finances/v0/financialEvents":
            return Reply(200, EVENTS, headers)
        return Reply(404, {"errors": [{"code": "NotFound", "message": "Resource not found"}]})


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("amazon_docs")
    server = DocumentServer().start()
    try:
        data = demo_config_dict(warehouse=str(tmp / "oms.duckdb"), drop_dir=str(tmp / "drop"),
                                output_dir=str(tmp / "out"))  # fmt: skip
        data["currencies"] = ["EUR", "GBP", "USD", "JPY"]
        # Amazon's sandbox answers one static items document whatever the order, so most item
        # pages here name another order: held record by record instead of refusing the page
        # (what a real shop's page with that many bad records would get)
        data["quality"] = {**data.get("quality", {}), "max_bad_share": 1.0}
        for c in data["channels"]:
            if c["name"] == "amazon":
                c.pop("path", None)
                c["source"] = "api"
                c["api"] = {"base_url": server.base_url, "auth_url": server.base_url + "/auth/o2/token",
                            "credentials": {"refresh_token": "DOC_AMZ_REFRESH", "client_id": "DOC_AMZ_ID",
                                            "client_secret": "DOC_AMZ_SECRET"},
                            "marketplace_ids": ["ATVPDKIKX0DER", "A1PA6795UKMFR9", "A1VC38T7YXB528"],
                            "retry_base_seconds": 0.01, "retry_max_seconds": 0.05}  # fmt: skip
        cfg = parse_config(data, source="amazon documents", base_dir=tmp)
        fx = tmp / "drop" / "fx_rates"
        fx.mkdir(parents=True)
        (fx / "fx_rates.csv").write_text(
            "date,currency,rate\n" + "".join(f"1970-01-01,{c},{r}\n" for c, r in FX.items())
        )
        mp = pytest.MonkeyPatch()
        for var in ("DOC_AMZ_REFRESH", "DOC_AMZ_ID", "DOC_AMZ_SECRET"):
            mp.setenv(var, f"Atzr|{var.lower()}-value")
        try:
            sync_files(cfg)
            # one listing per sync (the server walks its documents in order)
            for _ in range(4):
                sync_api(cfg, streams=["orders", "financial_events"])
        finally:
            mp.undo()
        build(cfg, full_refresh=True)
        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        yield cfg, con, server
        con.close()
    finally:
        server.stop()


def _one(con, sql: str, *args) -> dict:
    cur = con.execute(sql, list(args))
    names = [d[0] for d in cur.description]
    row = cur.fetchone()
    assert row is not None, sql
    return dict(zip(names, row, strict=True))


def test_the_built_events_validate_against_finances_v0():
    assert_valid("financesV0", "ListFinancialEventsResponse", EVENTS)


def test_us_order_total_is_item_price_plus_tax(synced):
    _, con, _ = synced
    o = _one(con, "select * from marts.orders where order_key = ?", f"amazon:{US_ORDER}")
    assert o["currency"] == "USD" and o["fx_rate"] == FX["USD"]
    assert o["status"] == "open" and o["financial_status"] == "paid"  # Unshipped
    assert o["taxes_included"] is False  # Amazon.com prices exclude sales tax
    assert o["placed_total_local"] == D("11.01")
    assert o["gross_sales_local"] == D("10.00")
    assert o["taxes"] == D("1.01") * FX["USD"]
    assert o["ordered_at"].astimezone(UTC).isoformat() == "1970-01-19T03:58:30+00:00"
    assert o["units"] == 1


def test_a_refund_of_ten_principal_is_ten_of_refunds_with_its_fees_netted(synced):
    _, con, _ = synced
    o = _one(con, "select * from marts.orders where order_key = ?", f"amazon:{US_ORDER}")
    assert o["refunds"] == D("10.00") * FX["USD"]
    assert o["net_sales_local"] == D("0.00")
    # 1.50 commission + 3.00 FBA fee charged, 1.20 commission returned, 0.30 refund commission
    assert o["marketplace_fees"] == D("3.60") * FX["USD"]
    r = _one(con, "select * from marts.returns where order_key = ?", f"amazon:{US_ORDER}")
    assert r["quantity"] == 1 and str(r["refund_date"]) == "1970-01-25"
    fees = con.execute(
        "select event_type, fee_amount_local from staging.stg_amazon__fees "
        "where order_id = ? order by event_type",
        [US_ORDER],
    ).fetchall()
    assert fees == [("Refund", D("-0.90")), ("Shipment", D("4.50"))]


def test_pending_orders_without_ordertotal_take_their_currency(synced):
    _, con, _ = synced
    us = _one(con, "select * from marts.orders where order_key = ?", f"amazon:{PENDING_US}")
    assert us["status"] == "open" and us["financial_status"] == "pending"
    assert us["currency"] == "USD"  # no OrderTotal, no items of its own: Amazon.com's currency
    assert us["placed_total_local"] is None and us["units"] == 0
    jp = _one(con, "select * from marts.orders where order_key = ?", f"amazon:{JP_ORDER}")
    assert jp["currency"] == "JPY" and jp["financial_status"] == "pending"  # from its items
    assert jp["gross_sales_local"] == D("43.94") and jp["units"] == 3  # both items, two pages
    assert jp["taxes_included"] is True  # Amazon.co.jp prices include consumption tax


def test_shipped_de_order(synced):
    _, con, _ = synced
    de = _one(con, "select * from marts.orders where order_key = ?", f"amazon:{DE_ORDER}")
    assert de["status"] == "fulfilled" and de["fulfillment_status"] == "fulfilled"
    assert de["currency"] == "EUR" and de["placed_total_local"] == D("100.00")
    assert de["taxes_included"] is True
    # its guarantee claim gives 5.00 back: a refund, with the returned commission off its fees
    assert de["refunds"] == D("5.00") and de["marketplace_fees"] == D("-0.75")


def test_items_of_another_order_are_quarantined_not_lost(synced):
    cfg, con, _ = synced
    held = quarantined(cfg)
    mismatched = {sid: r for _, stream, sid, r in held if "answered for order" in r}
    assert mismatched == {
        **{
            oid: f"unreadable order items: getOrderItems answered for order {US_ORDER}, not {oid}"
            for oid in STATUSES
        },
        US_ORDER_2: "unreadable order items: getOrderItems answered for order "
        f"{US_ORDER}, not {US_ORDER_2}",
        PENDING_US: "unreadable order items: getOrderItems answered for order "
        f"{JP_ORDER}, not {PENDING_US}",
    }
    assert [(sid, r) for _, stream, sid, r in held if stream == "order_items" and sid == DE_ORDER]
    # the published NEXT_TOKEN page 2 repeats page 1's order: the repeat within one landing
    # unit is held as a duplicate (its first delivery landed)
    others = [(s, sid) for _, s, sid, r in held if sid not in mismatched and sid != DE_ORDER]
    assert set(others) <= {("orders", PENDING_US)}, held
    raw = con.execute("select count(*) from raw.amazon__orders").fetchone()[0]
    assert raw == 5 + len(STATUSES)  # every order landed, unreadable items held with the reason


def test_statuses_without_a_published_answer(synced):
    _, con, _ = synced
    got = {
        oid: _one(con, "select status, financial_status, fulfillment_status, is_cancelled "
                  "from marts.orders where order_key = ?", f"amazon:{oid}")
        for oid in STATUSES
    }  # fmt: skip
    assert got["921-0000001-0000001"] == {"status": "fulfilled", "financial_status": "paid",
                                          "fulfillment_status": "fulfilled", "is_cancelled": False}  # fmt: skip
    assert got["921-0000002-0000002"] == {"status": "cancelled", "financial_status": "voided",
                                          "fulfillment_status": "unfulfilled", "is_cancelled": True}  # fmt: skip
    assert got["921-0000003-0000003"] == {"status": "open", "financial_status": "pending",
                                          "fulfillment_status": "unfulfilled", "is_cancelled": False}  # fmt: skip
