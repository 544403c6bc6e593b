"""dbt project (dbt_project/) against a hand-written raw fixture that follows docs/raw-contract.md.

Builds the project in-process (dbtRunner) the way the pipeline does, then checks the marts:
exact totals, refunds dated when refunded, cancelled orders excluded, FX conversion with weekend
carry-forward, customers merged across channels, latest record version wins, inventory arithmetic.
Also checks that the project builds on an all-empty raw schema (a merchant without data yet).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from flows.warehouse import all_raw_tables

dbt_main = pytest.importorskip("dbt.cli.main")
from flows.dbt_runner import invoke as invoke_dbt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROJECT_DIR = ROOT / "dbt_project"
VARS = {"base_currency": "EUR", "business_timezone": "Europe/Amsterdam"}

# Every raw table the warehouse creates (the dbt sources read them all, even when empty).
RAW_TABLES = all_raw_tables()


# ---------------------------------------------------------------------------------------------
# warehouse helpers


def create_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists raw")
    con.execute("create schema if not exists ops")
    for table in RAW_TABLES:
        con.execute(
            f"create table raw.{table} (_source_id varchar, _source_updated_at timestamptz, "
            "_payload json, _payload_hash varchar, _load_id varchar, _loaded_at timestamptz)"
        )
    con.execute(
        "create table ops.locations (location_id varchar, name varchar, country varchar, kind varchar)"
    )
    con.execute(
        "create table ops.location_aliases (channel varchar, external_id varchar, location_id varchar)"
    )
    con.execute(
        "create table ops.channels (channel varchar, kind varchar, currency varchar, default_location_id varchar)"
    )
    con.executemany(
        "insert into ops.locations values (?, ?, ?, ?)",
        [
            ("WH-AMS", "Amsterdam warehouse", "NL", "own_warehouse"),
            ("WH-LON", "London 3PL", "GB", "3pl"),
            ("ST-BER", "Berlin store", "DE", "store"),
            ("FBA-EU", "Amazon FBA EU", "DE", "marketplace_fulfilled"),
        ],
    )
    con.executemany(
        "insert into ops.location_aliases values (?, ?, ?)",
        [("shop", "71000001", "WH-AMS"), ("shop", "71000002", "WH-LON")],
    )
    con.executemany(
        "insert into ops.channels values (?, ?, ?, ?)",
        [
            ("shop", "shopify", "EUR", "WH-AMS"),
            ("amazon", "amazon", "EUR", "FBA-EU"),
            ("woo", "woocommerce", "GBP", "WH-LON"),
            ("tills", "till_export", "EUR", "ST-BER"),
        ],
    )
    return con


def land(
    con,
    table: str,
    source_id: str,
    updated_at: str | None,
    payload: dict,
    loaded_at: str | None = None,
):
    """Append one record version the way connectors do (hash of the canonical payload)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    con.execute(
        f"insert into raw.{table} values (?, cast(? as timestamptz), cast(? as json), ?, ?, cast(? as timestamptz))",
        [source_id, updated_at, canonical, digest, f"load-{digest[:8]}", loaded_at or updated_at],
    )


def run_dbt(warehouse: Path, tmp: Path, *args: str):
    os.environ["OMS_WAREHOUSE"] = str(warehouse)
    result = invoke_dbt(
        [
            *args,
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(tmp / "target"),
            "--log-path",
            str(tmp / "logs"),
            "--vars",
            json.dumps(VARS),
        ]
    )
    failures = []
    if result.result is not None and hasattr(result.result, "results"):
        failures = [
            f"{r.node.unique_id}: {r.status} {r.message}"
            for r in result.result.results
            if str(r.status) not in ("success", "pass")
        ]
    assert result.success, f"dbt {' '.join(args)} failed: {result.exception} {failures}"
    return result


# ---------------------------------------------------------------------------------------------
# the fixture: a few hand-written payloads per stream


def money_set(amount: str, currency: str = "EUR") -> dict:
    return {
        "shop_money": {"amount": amount, "currency_code": currency},
        "presentment_money": {"amount": amount, "currency_code": currency},
    }


def shop_order(
    order_id: int,
    number: int,
    created_at: str,
    updated_at: str,
    email: str,
    customer: dict,
    lines: list[dict],
    totals: dict,
    *,
    cancelled_at: str | None = None,
    financial_status: str = "paid",
    fulfillment_status: str | None = None,
    fulfillments: list | None = None,
    refunds: list | None = None,
    discount_codes: list | None = None,
    shipping: str = "0.00",
) -> dict:
    return {
        "id": order_id,
        "name": f"#{number}",
        "order_number": number,
        "email": email,
        "created_at": created_at,
        "updated_at": updated_at,
        "processed_at": created_at,
        "cancelled_at": cancelled_at,
        "cancel_reason": "customer" if cancelled_at else None,
        "currency": "EUR",
        "presentment_currency": "EUR",
        "financial_status": financial_status,
        "fulfillment_status": fulfillment_status,
        **totals,
        "total_shipping_price_set": money_set(shipping),
        "customer": customer,
        "shipping_address": {"country_code": "NL"},
        "discount_codes": discount_codes or [],
        "shipping_lines": [
            {"id": 1, "title": "Standard", "price": shipping, "price_set": money_set(shipping)}
        ],
        "line_items": lines,
        "fulfillments": fulfillments or [],
        "refunds": refunds or [],
    }


ANN = {"id": 6100000001, "email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}
BOB = {"id": 6100000002, "email": "bob@example.com", "first_name": "Bob", "last_name": "Stone"}

LINE_1001 = {
    "id": 7100000001,
    "sku": "SKU-0001",
    "variant_id": 8100000001,
    "product_id": 9100000001,
    "title": "Linen shirt",
    "quantity": 2,
    "price": "20.00",
    "price_set": money_set("20.00"),
    "total_discount": "4.00",
    "tax_lines": [{"price": "6.84", "rate": 0.19, "title": "VAT"}],
}
TOTALS_1001 = {
    "total_line_items_price": "40.00",
    "total_discounts": "4.00",
    "total_tax": "6.84",
    "total_price": "47.79",
    "subtotal_price": "36.00",
}
FULFILLMENT_1001 = [
    {
        "id": 1,
        "location_id": 71000001,
        "status": "success",
        "created_at": "2025-03-02T09:00:00+01:00",
        "line_items": [{"id": 7100000001, "quantity": 2}],
    }
]
REFUND_1001 = [
    {
        "id": 1,
        "order_id": 5100000001,
        "created_at": "2025-03-05T10:00:00+01:00",
        "processed_at": "2025-03-05T10:00:00+01:00",
        "restock": True,
        "refund_line_items": [
            {
                "id": 1,
                "line_item_id": 7100000001,
                "quantity": 1,
                "restock_type": "return",
                "location_id": 71000001,
                "subtotal": "18.00",
                "total_tax": "3.42",
                "line_item": {"id": 7100000001, "sku": "SKU-0001", "price": "20.00"},
            }
        ],
        "transactions": [{"amount": "21.42", "kind": "refund", "currency": "EUR"}],
    }
]


def line_1003(quantity: int) -> dict:
    return {
        "id": 7100000003,
        "sku": "SKU-0002",
        "variant_id": 8100000002,
        "product_id": 9100000001,
        "title": "Wool scarf",
        "quantity": quantity,
        "price": "30.00",
        "price_set": money_set("30.00"),
        "total_discount": "0.00",
        "tax_lines": [],
    }


def totals_1003(quantity: int) -> dict:
    amount = f"{30 * quantity:.2f}"
    return {
        "total_line_items_price": amount,
        "total_discounts": "0.00",
        "total_tax": "0.00",
        "total_price": amount,
        "subtotal_price": amount,
    }


def amazon_money(amount: str, currency: str = "GBP") -> dict:
    return {"CurrencyCode": currency, "Amount": amount}


def amazon_amount(amount: float, currency: str = "GBP") -> dict:
    return {"CurrencyCode": currency, "CurrencyAmount": amount}


def till_line(receipt, line, ts, sku, qty, price, discount="0.00", email="", void="0"):
    return {
        "order_id": receipt,
        "line_id": str(line),
        "ordered_at": ts,
        "location_id": "ST-BER",
        "sku": sku,
        "quantity": str(qty),
        "unit_price": price,
        "discount": discount,
        "currency": "EUR",
        "customer_email": email,
        "cancelled": void,
        "timezone": "Europe/Berlin",
        "source_file": "tills_2025-03.csv",
    }


def load_fixture(con) -> None:
    # --- Shopify -------------------------------------------------------------------------------
    # #1001: v1 when placed, v2 after fulfilment + refund of 1 unit on 5 March (a later version)
    v1 = shop_order(
        5100000001,
        1001,
        "2025-03-01T14:03:22+01:00",
        "2025-03-01T14:03:22+01:00",
        "ann@example.com",
        ANN,
        [LINE_1001],
        TOTALS_1001,
        shipping="4.95",
        discount_codes=[{"code": "SPRING10", "amount": "4.00", "type": "percentage"}],
    )
    v2 = {
        **v1,
        "updated_at": "2025-03-05T10:00:00+01:00",
        "financial_status": "partially_refunded",
        "fulfillment_status": "fulfilled",
        "fulfillments": FULFILLMENT_1001,
        "refunds": REFUND_1001,
    }
    land(con, "shop__orders", "5100000001", "2025-03-01T13:03:22Z", v1)
    land(con, "shop__orders", "5100000001", "2025-03-05T09:00:00Z", v2)
    # #1002: the cancelled twin
    twin = shop_order(
        5100000002,
        1002,
        "2025-03-01T15:00:00+01:00",
        "2025-03-01T16:00:00+01:00",
        "ann@example.com",
        ANN,
        [{**LINE_1001, "id": 7100000002}],
        TOTALS_1001,
        shipping="4.95",
        cancelled_at="2025-03-01T16:00:00+01:00",
        financial_status="voided",
    )
    land(con, "shop__orders", "5100000002", "2025-03-01T15:00:00Z", twin)
    # #1003: late edit 1 -> 3 units; the newer version landed *before* the older one (out of order)
    e1 = shop_order(
        5100000003,
        1003,
        "2025-03-04T09:00:00+01:00",
        "2025-03-04T09:00:00+01:00",
        "Bob@Example.com",
        BOB,
        [line_1003(1)],
        totals_1003(1),
    )
    e2 = {
        **shop_order(
            5100000003,
            1003,
            "2025-03-04T09:00:00+01:00",
            "2025-03-06T12:00:00+01:00",
            "Bob@Example.com",
            BOB,
            [line_1003(3)],
            totals_1003(3),
        )
    }
    land(
        con,
        "shop__orders",
        "5100000003",
        "2025-03-06T11:00:00Z",
        e2,
        loaded_at="2025-03-06T12:00:00Z",
    )
    land(
        con,
        "shop__orders",
        "5100000003",
        "2025-03-04T08:00:00Z",
        e1,
        loaded_at="2025-03-07T12:00:00Z",
    )

    land(
        con,
        "shop__customers",
        "6100000001",
        "2025-02-01T00:00:00Z",
        {
            "id": 6100000001,
            "email": "Ann@Example.com",
            "first_name": "Ann",
            "last_name": "Lee",
            "created_at": "2025-02-01T00:00:00+01:00",
            "updated_at": "2025-02-01T00:00:00+01:00",
            "default_address": {"country_code": "NL"},
        },
    )
    land(
        con,
        "shop__products",
        "9100000001",
        "2025-01-01T00:00:00Z",
        {
            "id": 9100000001,
            "title": "Basics",
            "product_type": "Apparel",
            "vendor": "Acme",
            "status": "active",
            "created_at": "2025-01-01T00:00:00+01:00",
            "updated_at": "2025-01-01T00:00:00+01:00",
            "variants": [
                {
                    "id": 8100000001,
                    "sku": "SKU-0001",
                    "title": "Linen shirt",
                    "price": "20.00",
                    "inventory_item_id": 1,
                    "created_at": "2025-01-01T00:00:00+01:00",
                    "updated_at": "2025-01-01T00:00:00+01:00",
                },
                {
                    "id": 8100000002,
                    "sku": "SKU-0002",
                    "title": "Wool scarf",
                    "price": "30.00",
                    "inventory_item_id": 2,
                    "created_at": "2025-01-01T00:00:00+01:00",
                    "updated_at": "2025-01-01T00:00:00+01:00",
                },
            ],
        },
    )

    # --- Amazon (GBP on Amazon.co.uk, plus an unshipped EUR order on Amazon.de) ------------------
    a1 = "302-0000001-0000001"
    land(
        con,
        "amazon__orders",
        a1,
        "2025-03-04T08:00:00Z",
        {
            "AmazonOrderId": a1,
            "PurchaseDate": "2025-03-03T10:00:00Z",
            "LastUpdateDate": "2025-03-04T08:00:00Z",
            "OrderStatus": "Shipped",
            "FulfillmentChannel": "AFN",
            "SalesChannel": "Amazon.co.uk",
            "MarketplaceId": "A1F83G8C2ARO7P",
            "OrderTotal": amazon_money("35.70"),
            "NumberOfItemsShipped": 2,
            "NumberOfItemsUnshipped": 0,
            "BuyerInfo": {"BuyerEmail": "x1y2@marketplace.amazon.co.uk"},
            "ShippingAddress": {"CountryCode": "GB"},
        },
    )
    land(
        con,
        "amazon__order_items",
        a1,
        "2025-03-04T08:00:00Z",
        {
            "AmazonOrderId": a1,
            "OrderItems": [
                {
                    "OrderItemId": "11111",
                    "SellerSKU": "SKU-0002",
                    "ASIN": "B000000002",
                    "Title": "Wool scarf",
                    "QuantityOrdered": 2,
                    "QuantityShipped": 2,
                    "ItemPrice": amazon_money("35.70"),
                    "ItemTax": amazon_money("5.95"),
                    "PromotionDiscount": amazon_money("0.00"),
                    "ShippingPrice": amazon_money("0.00"),
                }
            ],
        },
    )
    land(
        con,
        "amazon__financial_events",
        f"Shipment:{a1}:1",
        "2025-03-04T08:00:00Z",
        {
            "EventType": "Shipment",
            "AmazonOrderId": a1,
            "PostedDate": "2025-03-04T08:00:00Z",
            "MarketplaceName": "Amazon.co.uk",
            "ShipmentItemList": [
                {
                    "OrderItemId": "11111",
                    "SellerSKU": "SKU-0002",
                    "QuantityShipped": 2,
                    "ItemChargeList": [
                        {"ChargeType": "Principal", "ChargeAmount": amazon_amount(35.70)}
                    ],
                    "ItemFeeList": [
                        {"FeeType": "Commission", "FeeAmount": amazon_amount(-5.36)},
                        {"FeeType": "FBAPerUnitFulfillmentFee", "FeeAmount": amazon_amount(-3.10)},
                    ],
                }
            ],
        },
    )
    land(
        con,
        "amazon__financial_events",
        f"Refund:{a1}:1",
        "2025-03-10T08:00:00Z",
        {
            "EventType": "Refund",
            "AmazonOrderId": a1,
            "PostedDate": "2025-03-10T08:00:00Z",
            "MarketplaceName": "Amazon.co.uk",
            "ShipmentItemAdjustmentList": [
                {
                    "OrderItemId": "11111",
                    "SellerSKU": "SKU-0002",
                    "QuantityShipped": 1,
                    "ItemChargeList": [
                        {"ChargeType": "Principal", "ChargeAmount": amazon_amount(-17.85)}
                    ],
                    "ItemFeeList": [{"FeeType": "Commission", "FeeAmount": amazon_amount(0.80)}],
                }
            ],
        },
    )
    a2 = "028-0000002-0000002"
    land(
        con,
        "amazon__orders",
        a2,
        "2025-03-05T12:00:00Z",
        {
            "AmazonOrderId": a2,
            "PurchaseDate": "2025-03-05T12:00:00Z",
            "LastUpdateDate": "2025-03-05T12:00:00Z",
            "OrderStatus": "Unshipped",
            "FulfillmentChannel": "AFN",
            "SalesChannel": "Amazon.de",
            "MarketplaceId": "A1PA6795UKMFR9",
            "OrderTotal": amazon_money("19.00", "EUR"),
            "NumberOfItemsShipped": 0,
            "NumberOfItemsUnshipped": 1,
            "BuyerInfo": {"BuyerEmail": "z9@marketplace.amazon.de"},
            "ShippingAddress": {"CountryCode": "DE"},
        },
    )
    # order items from the API carry no time (_source_updated_at null): the latest landing wins
    for quantity, price, loaded_at in [
        (2, "38.00", "2025-03-05T12:00:00Z"),
        (1, "19.00", "2025-03-05T13:00:00Z"),
    ]:
        land(
            con,
            "amazon__order_items",
            a2,
            None,
            {
                "AmazonOrderId": a2,
                "OrderItems": [
                    {
                        "OrderItemId": "22222",
                        "SellerSKU": "SKU-0001",
                        "ASIN": "B000000001",
                        "Title": "Linen shirt",
                        "QuantityOrdered": quantity,
                        "QuantityShipped": 0,
                        "ItemPrice": amazon_money(price, "EUR"),
                        "ItemTax": amazon_money("3.03", "EUR"),
                        "PromotionDiscount": amazon_money("0.00", "EUR"),
                        "ShippingPrice": amazon_money("0.00", "EUR"),
                    }
                ],
            },
            loaded_at=loaded_at,
        )

    # --- WooCommerce (GBP): placed Sat 23:30 UTC = Sunday in Amsterdam; refunded on Tuesday ---
    land(
        con,
        "woo__orders",
        "4001",
        "2025-03-04T09:00:00Z",
        {
            "id": 4001,
            "number": "4001",
            "status": "completed",
            "currency": "GBP",
            "date_created_gmt": "2025-03-01T23:30:00",
            "date_modified_gmt": "2025-03-04T09:00:00",
            "date_paid_gmt": "2025-03-01T23:30:00",
            "discount_total": "0.00",
            "shipping_total": "12.00",
            "total_tax": "0.00",
            "total": "252.00",
            "customer_id": 301,
            "billing": {
                "email": "buyer@shop.co.uk",
                "first_name": "Cat",
                "last_name": "Ng",
                "country": "GB",
            },
            "shipping": {"country": "GB"},
            "line_items": [
                {
                    "id": 9001,
                    "product_id": 1,
                    "variation_id": 0,
                    "sku": "SKU-0001",
                    "quantity": 24,
                    "price": 10.0,
                    "subtotal": "240.00",
                    "total": "240.00",
                    "total_tax": "0.00",
                }
            ],
            "refunds": [{"id": 5001, "reason": "damaged", "total": "-20.00"}],
        },
    )
    land(
        con,
        "woo__refunds",
        "5001",
        "2025-03-04T09:00:00Z",
        {
            "id": 5001,
            "order_id": 4001,
            "date_created_gmt": "2025-03-04T09:00:00",
            "amount": "20.00",
            "reason": "damaged",
            "line_items": [
                {
                    "id": 1,
                    "sku": "SKU-0001",
                    "product_id": 1,
                    "quantity": -2,
                    "subtotal": "-20.00",
                    "total": "-20.00",
                }
            ],
        },
    )
    land(
        con,
        "woo__customers",
        "301",
        "2025-02-01T00:00:00Z",
        {
            "id": 301,
            "email": "buyer@shop.co.uk",
            "first_name": "Cat",
            "last_name": "Ng",
            "date_created_gmt": "2025-02-01T00:00:00",
            "date_modified_gmt": "2025-02-01T00:00:00",
            "billing": {"country": "GB"},
        },
    )

    # --- Tills (Berlin store, local time) ---------------------------------------------------
    tills = [
        # Ann again, e-mail differently cased; line 2 voided
        till_line(
            "R100",
            1,
            "2025-03-01 18:30:00",
            "SKU-0001",
            2,
            "20.00",
            "2.00",
            email=" ANN@Example.com ",
        ),
        till_line(
            "R100",
            2,
            "2025-03-01 18:30:00",
            "SKU-0002",
            1,
            "30.00",
            email=" ANN@Example.com ",
            void="1",
        ),
        # a return on another receipt
        till_line("R101", 1, "2025-03-03 11:00:00", "SKU-0001", -1, "20.00"),
        # a fully voided receipt
        till_line("R102", 1, "2025-03-03 12:00:00", "SKU-0002", 1, "30.00", void="1"),
    ]
    for t in tills:
        local = datetime.fromisoformat(t["ordered_at"])
        utc = local.replace(hour=local.hour - 1, tzinfo=UTC)  # Berlin is UTC+1 in March
        land(con, "tills__orders", f"{t['order_id']}:{t['line_id']}", utc.isoformat(), t)

    # --- stock counts (end of day, UTC) ------------------------------------------------------
    counts = [
        ("SKU-0001", "WH-AMS", "10", "2025-03-01"),
        ("SKU-0001", "WH-AMS", "0", "2025-03-03"),
        ("SKU-0001", "WH-AMS", "5", "2025-03-05"),
        ("SKU-0002", "WH-AMS", "7", "2025-03-01"),
        ("SKU-0001", "ST-BER", "3", "2025-03-01"),
        ("SKU-0001", "WH-LON", "40", "2025-03-01"),
    ]
    for sku, loc, on_hand, day in counts:
        counted = f"{day}T23:59:00Z"
        land(
            con,
            "tpl__stock",
            f"{loc}:{sku}:{counted}",
            counted,
            {"sku": sku, "location_id": loc, "on_hand": on_hand, "counted_at": counted},
        )

    # --- files -------------------------------------------------------------------------------
    terms = [
        ("SUP-1", "SKU-0001", "8.00", "EUR"),
        ("SUP-2", "SKU-0001", "9.00", "EUR"),
        ("SUP-1", "SKU-0002", "10.00", "GBP"),
    ]
    for sup, sku, cost, cur in terms:
        land(
            con,
            "files__supplier_terms",
            f"{sup}:{sku}",
            "2025-01-01T00:00:00Z",
            {
                "supplier_id": sup,
                "supplier_name": f"Supplier {sup}",
                "supplier_email": "po@supplier.test",
                "sku": sku,
                "unit_cost": cost,
                "currency": cur,
                "lead_time_days": "14",
                "lead_time_std_days": "3",
                "moq": "10",
                "case_pack": "5",
            },
        )
    pos = [
        ("PO-1", "SKU-0001", "WH-AMS", "50", "20", "partial"),
        ("PO-2", "SKU-0002", "WH-AMS", "10", "10", "received"),
        ("PO-3", "SKU-0002", "WH-AMS", "5", "0", "cancelled"),
        ("PO-4", "SKU-0002", "WH-AMS", "12", "0", "open"),
    ]
    for po, sku, loc, ordered, received, status in pos:
        land(
            con,
            "files__purchase_orders",
            f"{po}:{sku}:{loc}",
            "2025-03-01T00:00:00Z",
            {
                "po_id": po,
                "supplier_id": "SUP-1",
                "sku": sku,
                "location_id": loc,
                "quantity_ordered": ordered,
                "quantity_received": received,
                "ordered_at": "2025-02-20",
                "expected_at": "2025-03-20",
                "status": status,
                "updated_at": "2025-03-01T00:00:00Z",
            },
        )
    # GBP rates on business days only: Fri 28 Feb, then Mon 3 and Tue 4 March (weekend gap)
    for day, rate in [("2025-02-28", "1.2000"), ("2025-03-03", "1.1900"), ("2025-03-04", "1.1800")]:
        land(
            con,
            "files__fx_rates",
            f"{day}:GBP",
            f"{day}T00:00:00Z",
            {"date": day, "currency": "GBP", "rate": rate},
        )


# ---------------------------------------------------------------------------------------------
# tests


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dbt_fixture")
    warehouse = tmp / "oms.duckdb"
    con = create_warehouse(warehouse)
    load_fixture(con)
    con.close()
    run_dbt(warehouse, tmp, "build")
    con = duckdb.connect(str(warehouse), read_only=True)
    yield con
    con.close()


def rows(con, sql: str) -> list[dict]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def one(con, sql: str) -> dict:
    result = rows(con, sql)
    assert len(result) == 1, result
    return result[0]


D = Decimal


def test_schemas_and_marts_exist(built):
    tables = {
        (s, t)
        for s, t in built.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
    }
    for mart in (
        "orders",
        "order_lines",
        "customers",
        "inventory_levels",
        "daily_demand",
        "inventory_snapshots",
        "fx_rates",
        "products",
        "returns",
        "sales_daily",
        "finance_monthly",
    ):
        assert ("marts", mart) in tables
    assert ("staging", "stg_shop__orders") in tables
    assert ("intermediate", "int_orders_unioned") in tables


def test_order_with_discount_and_refund(built):
    o = one(built, "select * from marts.orders where order_key = 'shop:5100000001'")
    assert o["order_number"] == "#1001"
    assert o["order_date"] == date(2025, 3, 1)
    assert o["status"] == "fulfilled"
    assert o["financial_status"] == "partially_refunded"
    assert (o["gross_sales"], o["discounts"], o["shipping"], o["taxes"]) == (
        D("40"),
        D("4"),
        D("4.95"),
        D("6.84"),
    )
    assert o["refunds"] == D("18")
    assert o["net_sales"] == D("18")
    assert o["units"] == 2
    assert o["cogs"] == D("8")  # 1 unit kept x 8.00 EUR (cheapest supplier)
    assert o["gross_margin"] == D("10")
    assert o["fulfillment_location_id"] == "WH-AMS"
    line = one(built, "select * from marts.order_lines where order_key = 'shop:5100000001'")
    assert (line["quantity"], line["quantity_refunded"]) == (2, 1)
    assert (line["gross"], line["discount"], line["net"], line["unit_cost"]) == (
        D("40"),
        D("4"),
        D("36"),
        D("8"),
    )


def test_cancelled_order_excluded(built):
    o = one(built, "select * from marts.orders where order_key = 'shop:5100000002'")
    assert o["status"] == "cancelled" and o["is_cancelled"]
    assert o["net_sales"] == 0 and o["gross_sales"] == 0 and o["units"] == 0
    assert o["customer_order_seq"] is None and not o["is_first_order"]
    till = one(built, "select * from marts.orders where order_key = 'tills:R102'")
    assert till["status"] == "cancelled" and till["net_sales"] == 0


def test_latest_version_wins(built):
    o = one(built, "select * from marts.orders where order_key = 'shop:5100000003'")
    assert o["units"] == 3 and o["gross_sales"] == D("90") and o["status"] == "open"
    # no source time (Amazon order items from the API): the latest landing wins
    a2 = one(built, "select * from marts.orders where order_key = 'amazon:028-0000002-0000002'")
    assert a2["units"] == 1 and a2["gross_sales"] == D("19") and a2["taxes_included"]
    assert built.execute("select count(*) from staging.stg_shop__orders").fetchone()[0] == 3


def test_fx_conversion_and_weekend_carry_forward(built):
    woo = one(built, "select * from marts.orders where order_key = 'woo:4001'")
    # placed Sat 23:30 UTC -> Sunday 2 March in Amsterdam; Friday's GBP rate carried forward
    assert woo["order_date"] == date(2025, 3, 2)
    assert woo["currency"] == "GBP" and woo["fx_rate"] == D("1.2")
    assert woo["gross_sales"] == D("288") and woo["shipping"] == D("14.4")
    assert woo["refunds"] == D("24") and woo["net_sales"] == D("264")
    amz = one(built, "select * from marts.orders where order_key = 'amazon:302-0000001-0000001'")
    assert amz["fx_rate"] == D("1.19")
    assert amz["gross_sales"] == D("42.483")
    assert amz["refunds"] == D("21.2415")
    assert amz["net_sales"] == D("21.2415")
    assert amz["marketplace_fees"] == D("9.1154")  # (5.36 + 3.10 - 0.80) GBP x 1.19
    assert amz["cogs"] == D("11.9")  # 1 unit kept x 10.00 GBP x 1.19
    fx = dict(
        built.execute(
            "select rate_date, rate_to_base from marts.fx_rates where currency = 'GBP' "
            "and rate_date between '2025-02-28' and '2025-03-03'"
        ).fetchall()
    )
    assert fx == {
        date(2025, 2, 28): D("1.2"),
        date(2025, 3, 1): D("1.2"),
        date(2025, 3, 2): D("1.2"),
        date(2025, 3, 3): D("1.19"),
    }


def test_exact_totals(built):
    t = one(
        built, "select sum(net_sales) as net, sum(units) as units, count(*) as n from marts.orders"
    )
    # 18 + 90 + 264 + 21.2415 + 19 + 38 - 20
    assert t["net"] == D("430.2415")
    assert t["units"] == 2 + 3 + 24 + 2 + 1 + 2
    assert t["n"] == 9
    r101 = one(built, "select * from marts.orders where order_key = 'tills:R101'")
    assert r101["refunds"] == D("20") and r101["net_sales"] == D("-20")


def test_refunds_dated_when_refunded(built):
    dd = rows(
        built,
        "select demand_date, units_ordered, units_returned from marts.daily_demand "
        "where sku = 'SKU-0001' and location_id = 'WH-AMS' and "
        "(units_ordered > 0 or units_returned > 0) order by 1",
    )
    assert dd == [
        {"demand_date": date(2025, 3, 1), "units_ordered": 2, "units_returned": 0},
        {"demand_date": date(2025, 3, 5), "units_ordered": 0, "units_returned": 1},
    ]
    lon = rows(
        built,
        "select demand_date, units_ordered, units_returned, revenue, units_woo "
        "from marts.daily_demand where sku = 'SKU-0001' and location_id = 'WH-LON' "
        "and (units_ordered > 0 or units_returned > 0) order by 1",
    )
    assert lon == [
        {
            "demand_date": date(2025, 3, 2),
            "units_ordered": 24,
            "units_returned": 0,
            "revenue": D("288"),
            "units_woo": 24,
        },
        {
            "demand_date": date(2025, 3, 4),
            "units_ordered": 0,
            "units_returned": 2,
            "revenue": D("0"),
            "units_woo": 0,
        },
    ]


def test_daily_demand_stockouts_and_totals(built):
    so = dict(
        built.execute(
            "select demand_date, is_stockout from marts.daily_demand where sku = 'SKU-0001' "
            "and location_id = 'WH-AMS' and demand_date between '2025-03-02' and '2025-03-05'"
        ).fetchall()
    )
    assert so == {
        date(2025, 3, 2): False,
        date(2025, 3, 3): True,
        date(2025, 3, 4): True,
        date(2025, 3, 5): False,
    }
    t = one(
        built,
        "select sum(units_ordered) as u, sum(units_returned) as r, sum(orders_count) as n "
        "from marts.daily_demand",
    )
    # ordered: 2 (#1001) + 3 (#1003) + 24 (woo) + 2 + 1 (amazon) + 2 (R100, void line excluded)
    assert (t["u"], t["r"], t["n"]) == (34, 1 + 2 + 1 + 1, 6)
    assert (
        built.execute("select count(*) from marts.daily_demand where units_ordered < 0").fetchone()[
            0
        ]
        == 0
    )


def test_customer_merged_across_channels(built):
    ann_key = hashlib.md5(b"ann@example.com").hexdigest()
    ann = one(built, f"select * from marts.customers where customer_key = '{ann_key}'")
    assert ann["channels"] == "shop,tills"
    assert ann["orders_count"] == 2 and ann["is_repeat"]
    assert ann["lifetime_net"] == D("56")  # 18 (shop) + 38 (till)
    assert ann["country"] == "NL" and ann["region"] == "EU"
    seq = dict(
        built.execute(
            f"select order_key, customer_order_seq from marts.orders where customer_key = '{ann_key}'"
        ).fetchall()
    )
    assert seq == {"shop:5100000001": 1, "shop:5100000002": None, "tills:R100": 2}
    first = dict(
        built.execute(
            f"select order_key, is_first_order from marts.orders where customer_key = '{ann_key}'"
        ).fetchall()
    )
    assert first == {"shop:5100000001": True, "shop:5100000002": False, "tills:R100": False}
    bob = one(built, "select * from marts.customers where email = 'bob@example.com'")
    assert bob["orders_count"] == 1
    # Amazon relay addresses never merge with anyone; anonymous till receipts have no customer
    assert built.execute("select count(*) from marts.customers").fetchone()[0] == 5
    assert (
        built.execute(
            "select customer_key from marts.orders where order_key = 'tills:R101'"
        ).fetchone()[0]
        is None
    )


def test_inventory_levels_arithmetic(built):
    inv = {
        (r["sku"], r["location_id"]): r for r in rows(built, "select * from marts.inventory_levels")
    }
    ams1 = inv[("SKU-0001", "WH-AMS")]
    assert (
        ams1["on_hand"],
        ams1["committed"],
        ams1["available"],
        ams1["on_order"],
        ams1["inventory_position"],
    ) == (5, 0, 5, 30, 35)
    ams2 = inv[("SKU-0002", "WH-AMS")]
    assert (
        ams2["on_hand"],
        ams2["committed"],
        ams2["available"],
        ams2["on_order"],
        ams2["inventory_position"],
    ) == (7, 3, 4, 12, 16)
    fba = inv[("SKU-0001", "FBA-EU")]
    assert (fba["on_hand"], fba["committed"], fba["available"], fba["source"]) == (
        0,
        1,
        -1,
        "no_count",
    )
    assert ams1["counted_at"] == datetime(2025, 3, 5, 23, 59, tzinfo=UTC)


def test_build_on_empty_raw(tmp_path):
    warehouse = tmp_path / "empty.duckdb"
    create_warehouse(warehouse).close()
    run_dbt(warehouse, tmp_path, "build")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        for mart in ("orders", "order_lines", "customers", "inventory_levels", "daily_demand"):
            assert con.execute(f"select count(*) from marts.{mart}").fetchone()[0] == 0
    finally:
        con.close()


def test_returns_and_finance(built):
    ret = {r["order_key"]: r for r in rows(built, "select * from marts.returns")}
    assert set(ret) == {"shop:5100000001", "amazon:302-0000001-0000001", "woo:4001", "tills:R101"}
    assert ret["shop:5100000001"]["refund_date"] == date(2025, 3, 5)
    assert ret["shop:5100000001"]["days_to_return"] == 4
    assert (
        ret["shop:5100000001"]["restocked"]
        and ret["shop:5100000001"]["restock_location_id"] == "WH-AMS"
    )
    assert ret["woo:4001"]["amount"] == D("24")  # 20.00 GBP at the order's rate 1.20
    fin = one(
        built,
        "select sum(net_sales) as net, sum(marketplace_fees) as fees, sum(refunds) as refunds "
        "from marts.finance_monthly",
    )
    assert fin == {"net": D("430.2415"), "fees": D("9.1154"), "refunds": D("83.2415")}
    daily = one(built, "select sum(net_sales) as net, sum(units) as units from marts.sales_daily")
    assert daily == {"net": D("430.2415"), "units": 34}


def test_currency_without_any_fx_rate_fails_the_build(built, tmp_path):
    """Carry-forward covers gaps between rates; a currency with no rate at all is a named error."""
    source = built.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0][0]
    warehouse = tmp_path / "no_chf.duckdb"
    shutil.copyfile(source, warehouse)
    con = duckdb.connect(str(warehouse))
    land(
        con,
        "woo__orders",
        "4999",
        "2025-03-04T09:00:00Z",
        {
            "id": 4999,
            "number": "4999",
            "status": "processing",
            "currency": "CHF",
            "date_created_gmt": "2025-03-04T09:00:00",
            "date_modified_gmt": "2025-03-04T09:00:00",
            "discount_total": "0.00",
            "shipping_total": "0.00",
            "total_tax": "0.00",
            "total": "10.00",
            "customer_id": 302,
            "billing": {"email": "zurich@example.ch", "country": "CH"},
            "shipping": {"country": "CH"},
            "line_items": [
                {
                    "id": 9999,
                    "sku": "SKU-0001",
                    "quantity": 1,
                    "price": 10.0,
                    "subtotal": "10.00",
                    "total": "10.00",
                    "total_tax": "0.00",
                }
            ],
        },
        loaded_at="2025-04-01T00:00:00Z",  # lands after everything the build has seen
    )
    con.close()
    os.environ["OMS_WAREHOUSE"] = str(warehouse)
    result = invoke_dbt(
        [
            "build",
            "--select",
            "+int_orders_unioned",
            "--project-dir",
            str(PROJECT_DIR),
            "--profiles-dir",
            str(PROJECT_DIR),
            "--target-path",
            str(tmp_path / "target"),
            "--log-path",
            str(tmp_path / "logs"),
            "--vars",
            json.dumps(VARS),
        ]
    )
    assert not result.success
    failed = {r.node.name: r for r in result.result.results if str(r.status) == "fail"}
    assert set(failed) == {"order_currency_has_fx_rates"}, failed
    assert failed["order_currency_has_fx_rates"].failures == 1


def test_woo_refund_lines_match_the_order_line_they_name(tmp_path):
    """A Woo order with two lines of one SKU; the refund names the second line only in its
    `_refunded_item_id` meta (and, as in Woo's published example, has an empty sku). Matching on
    the SKU put the 2 refunded units on the 1-unit first line."""
    warehouse = tmp_path / "woo.duckdb"
    con = create_warehouse(warehouse)
    line = {"product_id": 1, "variation_id": 0, "sku": "SKU-0001", "price": 10.0,
            "total_tax": "0.00"}  # fmt: skip
    land(con, "woo__orders", "4101", "2025-03-04T09:00:00Z", {
        "id": 4101, "number": "4101", "status": "completed", "currency": "EUR",
        "date_created_gmt": "2025-03-01T10:00:00", "date_modified_gmt": "2025-03-04T09:00:00",
        "discount_total": "0.00", "shipping_total": "0.00", "total_tax": "0.00", "total": "40.00",
        "billing": {"email": "a@b.co.uk", "country": "GB"}, "shipping": {"country": "GB"},
        "line_items": [
            {**line, "id": 311, "quantity": 1, "subtotal": "10.00", "total": "10.00"},
            {**line, "id": 312, "quantity": 3, "subtotal": "30.00", "total": "30.00"},
        ],
        "refunds": [{"id": 724, "reason": "", "total": "-20.00"}],
    })  # fmt: skip
    land(con, "woo__refunds", "724", "2025-03-04T09:00:00Z", {
        "id": 724, "order_id": 4101, "date_created_gmt": "2025-03-04T09:00:00",
        "amount": "20.00", "reason": "",
        "line_items": [{
            "id": 314, "sku": "", "product_id": 1, "quantity": -2, "subtotal": "-20.00",
            "total": "-20.00", "meta_data": [
                {"id": 2076, "key": "_refunded_item_id", "value": "312"}],
        }],
    })  # fmt: skip
    con.close()
    run_dbt(warehouse, tmp_path, "build")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        got = con.execute(
            "select order_line_key, quantity, quantity_refunded from marts.order_lines "
            "order by order_line_key"
        ).fetchall()
        returns = con.execute("select sku, quantity from marts.returns").fetchall()
    finally:
        con.close()
    assert got == [("woo:4101:311", 1, 0), ("woo:4101:312", 3, 2)]
    assert returns == [("SKU-0001", 2)]
