"""Fulfilment performance (#18): marts.fulfillments, order_fulfillment and fulfillment_daily.

Hand-made orders of every channel land through the file sync into a real DuckDB file and go
through a real `dbt build`; each shipment's latency, the on-time shares against the promise
(Amazon's LatestShipDate for a seller-fulfilled order, else the channel's ship-by SLA of
dbt_project.yml: shop 36 h, woo 48 h, amazon 48 h, tills 0), the split shipments, the backorders
(units beyond the location's stock at the end of the day before, less what was ordered there
earlier that day) and the open / late backlog at the end of each day must equal the hand
computation written beside each figure. Then `oms status` shows the open and late orders.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from rich.console import Console

from flows.dbt_runner import run_dbt
from flows.sync import sync_files
from tests.conftest import make_config

DAY1, DAY2, DAY3, DAY4 = "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"
SHOP_AMS = "71000001"


def _shop_line(line_id: int, sku: str, qty: int, price: str) -> dict:
    return {"id": line_id, "sku": sku, "quantity": qty, "price": price, "total_discount": "0.00",
            "tax_lines": []}  # fmt: skip


def _fulfillment(fid: int, created: str, lines: list[tuple[int, int]], **extra) -> dict:
    return {"id": fid, "location_id": SHOP_AMS, "status": "success", "created_at": created,
            "line_items": [{"id": i, "quantity": q} for i, q in lines], **extra}  # fmt: skip


def _shop_order(oid: int, placed: str, lines: list[dict], fulfillments: list[dict],
                status: str | None, shipping: str = "0.00") -> dict:  # fmt: skip
    goods = sum(float(x["price"]) * x["quantity"] for x in lines)
    return {
        "id": oid, "name": f"#{oid}", "created_at": placed, "processed_at": placed,
        "updated_at": "2026-11-06T12:00:00+00:00", "currency": "EUR", "financial_status": "paid",
        "fulfillment_status": status, "taxes_included": True,
        "total_line_items_price": f"{goods:.2f}", "total_discounts": "0.00", "total_tax": "0.00",
        "subtotal_price": f"{goods:.2f}", "total_price": f"{goods + float(shipping):.2f}",
        "total_shipping_price_set": {"shop_money": {"amount": shipping, "currency_code": "EUR"}},
        "shipping_lines": [{"title": "Standard", "price": shipping}],
        "email": f"c{oid}@example.com", "shipping_address": {"country_code": "NL"},
        "line_items": lines,
        "fulfillment_orders": [{"id": oid * 10, "assigned_location_id": SHOP_AMS}],
        "fulfillments": fulfillments,
    }  # fmt: skip


SHOP_ORDERS = [
    # S1: placed 09:00Z, ship by 36 h later (11-03 21:00Z); two parcels: A at 21:00Z (12 h, on
    # time, delivered 11-04 09:00Z: 36 h), B on 11-04 09:00Z (48 h: late); shipping 4.95
    _shop_order(1001, "2026-11-02T09:00:00Z", [_shop_line(11, "A", 2, "10.00"),
                _shop_line(12, "B", 1, "5.00")],
                [_fulfillment(501, "2026-11-02T21:00:00Z", [(11, 2)], tracking_company="DHL",
                              tracking_number="JD1", shipment_status="delivered",
                              updated_at="2026-11-04T09:00:00Z"),
                 _fulfillment(502, "2026-11-04T09:00:00Z", [(12, 1)], tracking_company="UPS",
                              shipment_status="in_transit", updated_at="2026-11-04T09:00:00Z")],
                "fulfilled", shipping="4.95"),
    # S2: placed 10:00Z, 2 x A after S1's 2 of the 3 A on hand: 1 unit backordered; shipped at
    # 16:00Z (6 h), delivered 11-03 16:00Z (24 h)
    _shop_order(1002, "2026-11-02T10:00:00Z", [_shop_line(21, "A", 2, "10.00")],
                [_fulfillment(503, "2026-11-02T16:00:00Z", [(21, 2)], tracking_company="DHL",
                              shipment_status="delivered", updated_at="2026-11-03T16:00:00Z")],
                "fulfilled"),
    # S3: placed 11-03 08:00Z, never shipped: open from then on, late after 11-04 20:00Z
    _shop_order(1003, "2026-11-03T08:00:00Z", [_shop_line(31, "A", 1, "10.00")], [], None),
]  # fmt: skip

PRODUCTS = [
    {"id": 1, "title": "A", "product_type": "X", "status": "active",
     "updated_at": "2026-10-01T00:00:00Z", "created_at": "2026-10-01T00:00:00Z",
     "variants": [{"id": 11, "sku": "A", "price": "10.00"}]},
    {"id": 2, "title": "B", "product_type": "X", "status": "active",
     "updated_at": "2026-10-01T00:00:00Z", "created_at": "2026-10-01T00:00:00Z",
     "variants": [{"id": 12, "sku": "B", "price": "5.00"}]},
]  # fmt: skip


def _amazon_order(oid: str, placed: str, channel: str, **promise) -> dict:
    return {
        "AmazonOrderId": oid, "PurchaseDate": placed, "LastUpdateDate": "2026-11-06T12:00:00Z",
        "OrderStatus": "Shipped", "FulfillmentChannel": channel, "SalesChannel": "Amazon.de",
        "MarketplaceId": "A1PA6795UKMFR9", "OrderTotal": {"CurrencyCode": "EUR", "Amount": "10.00"},
        "NumberOfItemsShipped": 1, "NumberOfItemsUnshipped": 0,
        "ShipServiceLevel": "Std DE Dom", "ShipmentServiceLevelCategory": "Standard",
        "ShippingAddress": {"CountryCode": "DE"}, **promise,
    }  # fmt: skip


def _amazon_items(oid: str) -> dict:
    return {"AmazonOrderId": oid, "LastUpdateDate": "2026-11-06T12:00:00Z", "OrderItems": [
        {"OrderItemId": f"{oid}-1", "SellerSKU": "A", "QuantityOrdered": 1, "QuantityShipped": 1,
         "ItemPrice": {"CurrencyCode": "EUR", "Amount": "10.00"},
         "ItemTax": {"CurrencyCode": "EUR", "Amount": "0.00"}}]}  # fmt: skip


def _shipment_event(oid: str, posted: str, fba_fee: float | None) -> dict:
    fees = [{"FeeType": "Commission", "FeeAmount": {"CurrencyCode": "EUR", "CurrencyAmount": -1.5}}]
    if fba_fee is not None:
        fees.append({"FeeType": "FBAPerUnitFulfillmentFee",
                     "FeeAmount": {"CurrencyCode": "EUR", "CurrencyAmount": -fba_fee}})  # fmt: skip
    return {"EventType": "Shipment", "AmazonOrderId": oid, "PostedDate": posted,
            "MarketplaceName": "Amazon.de", "ShipmentItemList": [
                {"OrderItemId": f"{oid}-1", "SellerSKU": "A", "QuantityShipped": 1,
                 "ItemChargeList": [{"ChargeType": "Principal",
                                     "ChargeAmount": {"CurrencyCode": "EUR", "CurrencyAmount": 10.0}}],
                 "ItemFeeList": fees}]}  # fmt: skip


AMAZON_ORDERS = [
    # M1, seller-fulfilled: Amazon's own promise (LatestShipDate 11-03 12:00Z), shipped 11-03
    # 18:00Z (30 h after 12:00Z): late although within nothing else
    _amazon_order("302-0000001-0000001", "2026-11-02T12:00:00Z", "MFN",
                  LatestShipDate="2026-11-03T12:00:00Z", LatestDeliveryDate="2026-11-06T12:00:00Z"),
    # F1, Amazon-fulfilled: no window from Amazon, the 48 h SLA; shipped 20:00Z (7 h), FBA fee 3.10
    _amazon_order("302-0000002-0000002", "2026-11-02T13:00:00Z", "AFN"),
]  # fmt: skip
AMAZON_EVENTS = [
    _shipment_event("302-0000001-0000001", "2026-11-03T18:00:00Z", None),
    _shipment_event("302-0000002-0000002", "2026-11-02T20:00:00Z", 3.10),
]

# W1: placed 11-02 11:00 UTC, completed 11-05 11:00 UTC (72 h; the 48 h SLA ends 11-04 11:00)
WOO_ORDERS = [
    {"id": 7001, "number": "7001", "status": "completed", "currency": "EUR",
     "date_created_gmt": "2026-11-02T11:00:00", "date_modified_gmt": "2026-11-05T11:00:00",
     "date_paid_gmt": "2026-11-02T11:00:00", "date_completed_gmt": "2026-11-05T11:00:00",
     "discount_total": "0.00", "shipping_total": "0.00", "total_tax": "0.00", "total": "15.00",
     "customer_id": 0, "billing": {"email": "w@example.com", "country": "GB"},
     "shipping": {"country": "GB"},
     "shipping_lines": [{"id": 1, "method_title": "Flat Rate", "method_id": "flat_rate",
                         "total": "0.00", "total_tax": "0.00"}],
     "line_items": [{"id": 71, "sku": "B", "quantity": 3, "price": 5, "subtotal": "15.00",
                     "total": "15.00", "total_tax": "0.00"}]},
]  # fmt: skip

TILL_COLUMNS = ["Receipt", "Line", "Timestamp", "Store", "Article", "Description", "Qty", "Price",
                "Discount", "Currency", "Email", "Void", "Original"]  # fmt: skip
# a till sale on 11-02 15:00 Berlin: handed over at the till (0 h, on time)
TILL_ROWS = [["9001", "1", "02.11.2026 15:00:00", "ST-BER", "B", "B", "1", "5.00", "0.00", "EUR",
              "", "0", ""]]  # fmt: skip
# counted at the end of 11-01 (UTC 20:00 = 21:00 Amsterdam): 3 A and 10 B at Amsterdam
COUNTS = "sku,location_id,on_hand,counted_at\nA,WH-AMS,3,2026-11-01T20:00:00Z\nB,WH-AMS,10,2026-11-01T20:00:00Z\n"


def _jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fulfillment")
    mp = pytest.MonkeyPatch()
    mp.setenv("DBT_TARGET_PATH", str(tmp / "dbt_target"))
    mp.setenv("DBT_LOG_PATH", str(tmp / "dbt_logs"))
    base = make_config(tmp)
    channels = [
        {**c, "currency": "EUR"} if c["name"] == "woo" else c
        for c in base.model_dump(mode="json", exclude_none=True)["channels"]
    ]
    cfg = make_config(tmp, channels=channels)
    drop = Path(cfg.files.drop_dir)
    _jsonl(drop / "shop" / "products" / "products.jsonl", PRODUCTS)
    _jsonl(drop / "shop" / "orders" / "orders.jsonl", SHOP_ORDERS)
    _jsonl(drop / "amazon" / "orders" / "orders.jsonl", AMAZON_ORDERS)
    _jsonl(drop / "amazon" / "order_items" / "items.jsonl",
           [_amazon_items(o["AmazonOrderId"]) for o in AMAZON_ORDERS])  # fmt: skip
    _jsonl(drop / "amazon" / "financial_events" / "events.jsonl", AMAZON_EVENTS)
    _jsonl(drop / "woo" / "orders" / "orders.jsonl", WOO_ORDERS)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([TILL_COLUMNS, *TILL_ROWS])
    (drop / "tills").mkdir(parents=True, exist_ok=True)
    (drop / "tills" / "export.csv").write_text(buf.getvalue(), encoding="utf-8")
    (drop / "stock").mkdir(parents=True, exist_ok=True)
    (drop / "stock" / "counts.csv").write_text(COUNTS, encoding="utf-8")
    report = sync_files(cfg)
    assert report.rows_quarantined == 0 and report.files_rejected == 0, report
    dbt = run_dbt(cfg)
    assert dbt.tests_failed == 0, dbt.failures
    yield cfg
    mp.undo()


def _rows(cfg, sql: str) -> list[tuple]:
    with duckdb.connect(cfg.warehouse, read_only=True) as con:
        return con.execute(sql).fetchall()


def _daily(cfg, channel: str, day: str) -> dict:
    with duckdb.connect(cfg.warehouse, read_only=True) as con:
        cur = con.execute(
            "select * from marts.fulfillment_daily where channel = ? and day = ?", [channel, day]
        )
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    assert len(rows) == 1, (channel, day, rows)
    return dict(zip(names, rows[0], strict=True))


def test_each_shipment_has_its_latency_promise_and_on_time_flag(built):
    got = _rows(
        built,
        """select fulfillment_key, location_id, carrier, service, lines, units,
                  hours_to_ship, hours_to_deliver, is_shipped_on_time, is_split_shipment,
                  shipment_seq, shipping_charged::double, shipping_cost::double
           from marts.fulfillments order by fulfillment_key""",
    )
    assert got == [
        ("amazon:302-0000001-0000001:Shipment:302-0000001-0000001:2026-11-03T18:00:00Z", "FBA-EU",
         None, "Std DE Dom", 1, 1, 30.0, None, False, False, 1, 0, None),
        ("amazon:302-0000002-0000002:Shipment:302-0000002-0000002:2026-11-02T20:00:00Z", "FBA-EU",
         None, "Std DE Dom", 1, 1, 7.0, None, True, False, 1, 0, pytest.approx(3.10)),
        ("shop:1001:501", "WH-AMS", "DHL", "Standard", 1, 2, 12.0, 36.0, True, True, 1,
         pytest.approx(4.95), None),
        ("shop:1001:502", "WH-AMS", "UPS", "Standard", 1, 1, 48.0, None, False, True, 2, 0, None),
        ("shop:1002:503", "WH-AMS", "DHL", "Standard", 1, 2, 6.0, 24.0, True, False, 1, 0, None),
        ("tills:9001:9001", "ST-BER", None, "in_store", 1, 1, 0.0, 0.0, True, False, 1, 0, None),
        ("woo:7001:7001", "WH-LON", None, "Flat Rate", 1, 3, 72.0, None, False, False, 1, 0, None),
    ]  # fmt: skip


def test_orders_know_their_promise_split_and_backorders(built):
    got = _rows(
        built,
        """select order_key, ship_by_at::varchar, is_channel_promise, shipments, is_split,
                  is_open, hours_to_ship, is_shipped_late, backordered_units
           from marts.order_fulfillment order by order_key""",
    )
    assert got == [
        ("amazon:302-0000001-0000001", "2026-11-03 12:00:00+00", True, 1, False, False, 30.0,
         True, None),  # no stock count at FBA-EU: unknown
        ("amazon:302-0000002-0000002", "2026-11-04 13:00:00+00", False, 1, False, False, 7.0,
         False, None),
        # 2 of the 3 A on hand: none short; complete with the late second parcel
        ("shop:1001", "2026-11-03 21:00:00+00", False, 2, True, False, 48.0, True, 0),
        ("shop:1002", "2026-11-03 22:00:00+00", False, 1, False, False, 6.0, False, 1),  # 2+2-3
        ("shop:1003", "2026-11-04 20:00:00+00", False, 0, False, True, None, False, 0),
        ("tills:9001", "2026-11-02 14:00:00+00", False, 1, False, False, 0.0, False, None),
        ("woo:7001", "2026-11-04 11:00:00+00", False, 1, False, False, 72.0, True, None),
    ]  # fmt: skip


def test_daily_figures_equal_the_hand_computation(built):
    day1 = _daily(built, "shop", DAY1)
    assert {k: day1[k] for k in (
        "location_id", "orders_placed", "units_placed", "orders_shipped", "shipments",
        "units_shipped", "orders_open", "orders_late", "shipped_late", "split_shipment_orders",
        "backordered_orders", "backordered_units", "shipped_on_time",
    )} == {
        "location_id": "WH-AMS", "orders_placed": 2, "units_placed": 5, "orders_shipped": 2,
        "shipments": 2, "units_shipped": 4,
        "orders_open": 1, "orders_late": 0,  # S1 waits for its second parcel, due 11-03 21:00Z
        "shipped_late": 0, "split_shipment_orders": 1, "backordered_orders": 1,
        "backordered_units": 1, "shipped_on_time": 2,
    }  # fmt: skip
    # placed -> shipped of the day's shipments: 12 h and 6 h; median 9, p90 6 + 0.9 x 6
    assert (day1["hours_to_ship_median"], day1["hours_to_ship_p90"]) == (9.0, 11.4)
    # shipped -> delivered: 36 h and 24 h; median 30, p90 24 + 0.9 x 12
    assert (day1["hours_to_deliver_median"], day1["hours_to_deliver_p90"]) == (30.0, 34.8)
    assert day1["shipped_on_time_share"] == 1.0
    assert day1["delivered_on_time_share"] is None  # no delivery promise configured for shop
    assert float(day1["shipping_charged"]) == pytest.approx(4.95)
    assert day1["shipping_cost"] is None

    day2 = _daily(built, "shop", DAY2)  # S1 past its ship-by at the end of 11-03; S3 open
    assert (day2["orders_placed"], day2["orders_open"], day2["orders_late"]) == (1, 2, 1)
    day3 = _daily(built, "shop", DAY3)  # S1's second parcel (48 h, late); S3 now late too
    assert (day3["shipments"], day3["shipped_late"], day3["shipped_on_time_share"]) == (1, 1, 0.0)
    assert (day3["hours_to_ship_median"], day3["split_shipment_orders"]) == (48.0, 1)
    assert (day3["orders_open"], day3["orders_late"]) == (1, 1)

    amazon1 = _daily(built, "amazon", DAY1)
    assert (amazon1["orders_placed"], amazon1["shipments"], amazon1["orders_open"]) == (2, 1, 1)
    assert amazon1["shipped_on_time_share"] == 1.0 and float(amazon1["shipping_cost"]) == 3.1
    amazon2 = _daily(built, "amazon", DAY2)  # M1 shipped 6 h after Amazon's LatestShipDate
    assert (amazon2["shipments"], amazon2["shipped_late"], amazon2["orders_open"]) == (1, 1, 0)

    woo = [_daily(built, "woo", d) for d in (DAY1, DAY2, DAY3, DAY4)]
    assert [(w["orders_open"], w["orders_late"]) for w in woo] == [(1, 0), (1, 0), (1, 1), (0, 0)]
    assert (woo[3]["shipments"], woo[3]["hours_to_ship_median"], woo[3]["shipped_late"]) == (
        1,
        72.0,
        1,
    )

    till = _daily(built, "tills", DAY1)
    assert (till["location_id"], till["orders_placed"], till["shipments"]) == ("ST-BER", 1, 1)
    assert (till["hours_to_ship_median"], till["shipped_on_time_share"], till["orders_open"]) == (
        0.0, 1.0, 0)  # fmt: skip
    # dense to the last day with an order or a shipment (11-05): S3 still open and late
    assert (
        _daily(built, "shop", DAY4)["orders_open"],
        _daily(built, "shop", DAY4)["orders_late"],
    ) == (1, 1)


def test_oms_status_shows_open_and_late_orders(built):
    from flows.status import print_status

    console = Console(record=True, width=200)
    print_status(built, console)
    text = console.export_text()
    assert "open and late orders" in text
    line = next(ln for ln in text.splitlines() if "│ shop" in ln and "WH-AMS" in ln)
    cells = [c.strip() for c in line.split("│") if c.strip()]
    # shop at Amsterdam: S3 open and past its ship-by (11-04 20:00Z), placed 2026-11-03
    assert cells[:4] == ["shop", "WH-AMS", "1", "1"], cells


def test_the_dashboard_shows_the_open_and_late_orders(built):
    from flows.dashboard import read_dashboard
    from flows.dashboard_html import render_dashboard

    data = read_dashboard(built)
    # the last day with orders is 11-03: S1 (late) and S3 open at Amsterdam, W1 in London
    shop = data.fulfillment.filter(pl.col("channel") == "shop").row(0, named=True)
    assert (shop["placed"], shop["open"], shop["late"]) == (1, 2, 1)
    page = render_dashboard(data)
    assert "Open orders at the end of 2026-11-03: 3, " in page
    assert 'late: <span class="bad">1</span>' in page


def test_the_sandbox_ships_with_carriers_and_deliveries_without_shifting_its_draws():
    """sandbox/shipping.py draws from its own stream: every other column of the order book is
    what the store drew before it; shipped Shopify orders get a carrier and a delivery, some
    held up for days, and against the shop's 36 h SLA some ship late."""
    from sandbox.orders import HOUR
    from sandbox.shipping import SHIPPING_STREAM, add_shipping
    from tests.test_connector_helpers import tiny_store

    store = tiny_store()
    orders = store.book.orders
    again = add_shipping(store.book, store.seed + 1)  # another stream: the same book otherwise
    new = ["carrier", "tracking_number", "delivered_ts"]
    assert again.orders.drop(new).equals(orders.drop(new)) and SHIPPING_STREAM
    shop = orders.filter((pl.col("channel") == "shop") & pl.col("fulfilled"))
    assert shop["carrier"].null_count() == 0 and shop["delivered_ts"].min() > 0
    others = orders.filter(pl.col("channel") != "shop")
    assert others["carrier"].null_count() == others.height
    transit = (shop["delivered_ts"] - shop["fulfilled_ts"]) / HOUR
    assert 0.03 < (transit > 100).mean() < 0.15  # held up two to five days
    late = ((shop["fulfilled_ts"] - shop["placed_ts"]) / HOUR > 36).mean()
    assert 0.05 < late < 0.25


def test_the_shopify_connector_lands_carrier_and_delivery_from_the_emulator(tmp_path):
    """The emulator answers Fulfillment.trackingInfo, displayStatus and deliveredAt (Shopify's
    published schema) from the REST order; the connector maps them to the raw contract's REST
    fields (tracking_company, tracking_number, shipment_status) and delivered_at."""
    from flows.api_sync import sync_api
    from sandbox.orders import DAY
    from sandbox.render import ts_z
    from tests.test_connector_helpers import api_config, emulated, latest, quarantined, tiny_store

    store = tiny_store()
    with emulated() as eps:
        emu = eps.shop.emulator
        at = int(store.book.orders["placed_ts"].min()) + 12 * DAY
        emu.set_time(at)
        cfg = api_config(tmp_path, eps)
        sync_api(cfg, streams=["orders"])
        got = latest(cfg, "shop__orders")
        assert quarantined(cfg) == []
    book = {str(o["source_id"]): o for o in emu.book.orders}
    delivered = in_transit = 0
    for oid, order in got.items():
        o = book[oid]
        if not order["fulfillments"]:
            continue
        (f,) = order["fulfillments"]
        assert (f["tracking_company"], f["tracking_number"]) == (o["carrier"], o["tracking_number"])
        if o["delivered_ts"] <= at and f["shipment_status"] == "delivered":
            assert f["delivered_at"] == ts_z(o["delivered_ts"])
            delivered += 1
        else:
            assert f["shipment_status"] == "in_transit" and f["delivered_at"] is None
            in_transit += 1
    assert delivered > 10 and in_transit > 0
