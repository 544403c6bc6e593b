"""Render store records into the exact source shapes of docs/raw-contract.md.

Each renderer is a small pure function of plain dicts (rows of the Store's order book) and an
`as_of` epoch second, so the same functions can back the file drops now and the emulated HTTP
APIs later: "the order as the platform would have returned it at time as_of".
Money is int cents in the inputs and rendered as 2-decimal strings (Amazon CurrencyAmount as a
JSON number, WooCommerce line `price` as a number, as those platforms do).
"""

from __future__ import annotations

import datetime as dt
import zlib
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.catalog import BUSINESS_TZ, SHOPIFY_LOCATION_IDS, TILL_TZ

Row = dict[str, Any]

AMAZON_MARKETPLACES = {
    False: ("A1PA6795UKMFR9", "Amazon.de"),
    True: ("A1F83G8C2ARO7P", "Amazon.co.uk"),
}
FBA_FEE_CENTS = {"EUR": 310, "GBP": 270}
COMMISSION_PCT = 15
# The till's export, as a real one looks: a non-ISO local time, a credit note numbered "CN…" that
# names the receipt it refunds (Original), postage and card-fee lines, stock write-offs (negative,
# price 0, no customer) and columns no mapping reads (Cashier, Terminal).
TILL_COLUMNS = ["Receipt", "Line", "Timestamp", "Store", "Article", "Description", "Qty", "Price",
                "Discount", "Currency", "Email", "Void", "Original", "Cashier", "Terminal"]  # fmt: skip
TILL_TIME_FORMAT = "%d.%m.%Y %H:%M:%S"
TILL_POSTAGE, TILL_CARD_FEE = "POSTAGE", "CARDFEE"
TILL_CREDIT_PREFIX = "CN"
CASHIERS = ("Anna", "Ben", "Cem", "Dora")
STREETS = ["Main St", "High St", "Keizersgracht", "Hauptstrasse", "Rue de la Paix", "Market Sq"]
# Shopify customer tags the merchant sets (Customer.tags; REST `tags`, comma-separated) and one
# customer in how many carries each: picked from the customer id's CRC, so no random draw shifts.
CUSTOMER_TAGS = (("newsletter", 3), ("vip", 10), ("wholesale", 25))

_BUSINESS = ZoneInfo(BUSINESS_TZ)
_TILL = ZoneInfo(TILL_TZ)
_UTC = dt.UTC


def money(cents: int) -> str:
    """Exact 2-decimal string for integer cents."""
    sign = "-" if cents < 0 else ""
    a = abs(int(cents))
    return f"{sign}{a // 100}.{a % 100:02d}"


def number(cents: int) -> float:
    """JSON number for platforms that send money as numbers (Amazon CurrencyAmount, Woo price)."""
    return int(cents) / 100


@lru_cache(maxsize=65536)
def ts_offset(ts: int) -> str:
    """Shopify style: shop-local time with offset, e.g. 2025-03-01T14:03:22+01:00."""
    return dt.datetime.fromtimestamp(ts, _BUSINESS).isoformat()


def ts_z(ts: int) -> str:
    """Amazon / stock style: UTC with Z."""
    return dt.datetime.fromtimestamp(ts, _UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_gmt(ts: int) -> str:
    """WooCommerce *_gmt style: UTC, no offset."""
    return dt.datetime.fromtimestamp(ts, _UTC).strftime("%Y-%m-%dT%H:%M:%S")


def ts_till(ts: int) -> str:
    """Till export: Europe/Berlin wall time, no offset, day first (TILL_TIME_FORMAT)."""
    return dt.datetime.fromtimestamp(ts, _TILL).strftime(TILL_TIME_FORMAT)


def order_versions(order: Row, refunds: list[Row], end_ts: int) -> list[int]:
    """Times at which the order changed (placed, edited, fulfilled, cancelled, refunded) up to end_ts."""
    times = {order["placed_ts"]}
    if order["edited"]:
        times.add(order["edit_ts"])
    if order["fulfilled"]:
        times.add(order["fulfilled_ts"])
    if order.get("delivered_ts"):  # the carrier's delivery updates the Shopify fulfillment
        times.add(order["delivered_ts"])
    if order["cancelled"]:
        times.add(order["cancelled_ts"])
    if order["channel"] in ("shop", "woo"):  # refunds live inside these orders
        times.update(r["refunded_ts"] for r in refunds)
    return sorted(t for t in times if t <= end_ts)


def refund_events(refunds: list[Row], as_of: int) -> list[list[Row]]:
    """Refund lines grouped into refund events (in time order), only those known at as_of."""
    out: dict[int, list[Row]] = {}
    for r in refunds:
        if r["refunded_ts"] <= as_of:
            out.setdefault(r["event"], []).append(r)
    return [out[k] for k in sorted(out)]


def _address(order: Row, as_of: int) -> str:
    k = order["okey"] + (1 if order["edited"] and order["edit_ts"] <= as_of else 0)
    return f"{k % 97 + 1} {STREETS[k % len(STREETS)]}"


def _set(shop_cents: int, pres_cents: int, pres_cur: str) -> Row:
    return {
        "shop_money": {"amount": money(shop_cents), "currency_code": "EUR"},
        "presentment_money": {"amount": money(pres_cents), "currency_code": pres_cur},
    }


def render_shopify_order(
    order: Row, lines: list[Row], refunds: list[Row], as_of: int, customer: Row | None
) -> Row:
    """Shopify REST Admin order (webhook shape) as it looked at `as_of`."""
    cancelled = order["cancelled"] and order["cancelled_ts"] <= as_of
    fulfilled = order["fulfilled"] and order["fulfilled_ts"] <= as_of
    events = refund_events(refunds, as_of)
    refunded_units = sum(r["quantity"] for ev in events for r in ev)
    if cancelled:
        financial = "voided"
    elif events:
        financial = "refunded" if refunded_units >= order["units"] else "partially_refunded"
    else:
        financial = "paid"
    pres = order["presentment_currency"]
    shopify_loc = SHOPIFY_LOCATION_IDS[order["location_id"]]
    line_items = [
        {
            "id": int(ln["line_id"]),
            "sku": ln["sku"],
            "variant_id": 8100000001 + ln["sku_idx"],
            "product_id": 9100000001 + ln["sku_idx"],
            "title": ln["title"],
            "quantity": ln["quantity"],
            "price": money(ln["unit_price"]),
            "price_set": _set(ln["unit_price"], ln["pres_unit_price"], pres),
            "total_discount": money(ln["discount"]),
            "tax_lines": [{"price": money(ln["tax"]), "rate": ln["vat"] / 100, "title": "VAT"}],
        }
        for ln in lines
    ]
    shipping = order["shipping"]
    out: Row = {
        "id": int(order["source_id"]),
        "name": f"#{order['order_number']}",
        "order_number": order["order_number"],
        "email": order["email"],
        "created_at": ts_offset(order["placed_ts"]),
        "updated_at": ts_offset(as_of),
        "processed_at": ts_offset(order["placed_ts"]),
        "cancelled_at": ts_offset(order["cancelled_ts"]) if cancelled else None,
        "cancel_reason": "customer" if cancelled else None,
        "currency": order["currency"],
        "presentment_currency": pres,
        "financial_status": financial,
        "fulfillment_status": "fulfilled" if fulfilled else None,
        "taxes_included": False,
        "total_line_items_price": money(order["gross"]),
        "total_discounts": money(order["discount"]),
        "total_tax": money(order["tax"]),
        "total_price": money(order["total"]),
        "subtotal_price": money(order["gross"] - order["discount"]),
        "total_shipping_price_set": _set(shipping, order["pres_shipping"], pres),
        "customer": customer,
        "shipping_address": {"country_code": order["country"], "address1": _address(order, as_of)},
        "discount_codes": (
            [
                {
                    "code": order["discount_code"],
                    "amount": money(order["discount"]),
                    "type": "percentage",
                }
            ]
            if order["discount"] > 0
            else []
        ),
        "shipping_lines": [
            {
                "id": 2100000001 + order["seq"],
                "title": "Standard",
                "price": money(shipping),
                "price_set": _set(shipping, order["pres_shipping"], pres),
            }
        ],
        "line_items": line_items,
        # Where Shopify routed the order (GraphQL Order.fulfillmentOrders.assignedLocation; the
        # REST connector adds GET orders/{id}/fulfillment_orders): known before it ships.
        "fulfillment_orders": [
            {
                "id": 4100000001 + order["seq"],
                "assigned_location_id": shopify_loc,
                "status": "closed" if fulfilled else "open",
            }
        ],
        "fulfillments": (
            [
                {
                    "id": 3100000001 + order["seq"],
                    "location_id": shopify_loc,
                    "status": "success",
                    "created_at": ts_offset(order["fulfilled_ts"]),
                    "line_items": [
                        {"id": int(ln["line_id"]), "quantity": ln["quantity"]} for ln in lines
                    ],
                    **_shopify_tracking(order, as_of),
                }
            ]
            if fulfilled
            else []
        ),
        "refunds": [
            {
                "id": int(ev[0]["refund_id"]),
                "order_id": int(order["source_id"]),
                "created_at": ts_offset(ev[0]["refunded_ts"]),
                "processed_at": ts_offset(ev[0]["refunded_ts"]),
                "restock": bool(ev[0]["restock"]),
                "refund_line_items": [
                    {
                        "id": int(r["refund_id"]) * 10 + r["line_no"],
                        "line_item_id": int(r["line_id"]),
                        "quantity": r["quantity"],
                        "restock_type": "return" if r["restock"] else "no_restock",
                        "location_id": shopify_loc,
                        "subtotal": money(r["subtotal"]),
                        "total_tax": money(r["tax"]),
                        "line_item": {
                            "id": int(r["line_id"]),
                            "sku": r["sku"],
                            "price": money(r["unit_price"]),
                        },
                    }
                    for r in ev
                ],
                "transactions": [
                    {
                        "amount": money(sum(r["amount"] for r in ev)),
                        "kind": "refund",
                        "currency": "EUR",
                    }
                ],
            }
            for ev in events
        ],
    }
    return out


def customer_tags(customer_id: int) -> str:
    """The customer's Shopify tags as REST writes them (`"newsletter, vip"`; `""` for none)."""
    h = zlib.crc32(str(customer_id).encode())
    return ", ".join(t for k, (t, every) in enumerate(CUSTOMER_TAGS) if (h >> (8 * k)) % every == 0)


def _shopify_tracking(order: Row, as_of: int) -> Row:
    """A Shopify fulfillment's carrier fields (REST Fulfillment: tracking_company,
    tracking_number(s), shipment_status; updated_at is its last status change, the delivery
    once delivered). Empty for orders without a carrier (sandbox/shipping.py)."""
    if not order.get("carrier"):
        return {}
    delivered = 0 < order["delivered_ts"] <= as_of
    number = order["tracking_number"]
    return {
        "tracking_company": order["carrier"],
        "tracking_number": number,
        "tracking_numbers": [number],
        "shipment_status": "delivered" if delivered else "in_transit",
        "updated_at": ts_offset(order["delivered_ts"] if delivered else order["fulfilled_ts"]),
    }


def render_shopify_customer(cust: Row) -> Row:
    """Shopify customer (`cust` already holds id, names, e-mail, times as epoch, country)."""
    return {
        "id": cust["id"],
        "email": cust["email"],
        "first_name": cust["first_name"],
        "last_name": cust["last_name"],
        "created_at": ts_offset(cust["created_ts"]),
        "updated_at": ts_offset(cust["updated_ts"]),
        "default_address": {"country_code": cust["country"]},
        "tags": customer_tags(int(cust["id"])),
    }


def render_shopify_product(prod: Row) -> Row:
    """Shopify product with one variant per SKU (the master catalogue)."""
    created = ts_offset(prod["created_ts"])
    updated = ts_offset(prod["updated_ts"])
    return {
        "id": 9100000001 + prod["sku_idx"],
        "title": prod["title"],
        "product_type": prod["category"],
        "vendor": prod["vendor"],
        "status": prod["status"],
        "created_at": created,
        "updated_at": updated,
        "variants": [
            {
                "id": 8100000001 + prod["sku_idx"],
                "sku": prod["sku"],
                "title": "Default Title",
                "price": money(prod["list_price"]),
                "inventory_item_id": 4100000001 + prod["sku_idx"],
                "created_at": created,
                "updated_at": updated,
            }
        ],
    }


def _amazon_status(order: Row, as_of: int) -> str:
    if order["cancelled"] and order["cancelled_ts"] <= as_of:
        return "Canceled"
    if order["fulfilled"] and order["fulfilled_ts"] <= as_of:
        return "Shipped"
    return "Unshipped"


def render_amazon_order(order: Row, lines: list[Row], as_of: int) -> Row:
    """SP-API Orders v0 `Order` at `as_of`."""
    status = _amazon_status(order, as_of)
    mkt_id, mkt_name = AMAZON_MARKETPLACES[bool(order["marketplace_uk"])]
    units = sum(ln["quantity"] for ln in lines)
    shipped = units if status == "Shipped" else 0
    return {
        "AmazonOrderId": order["source_id"],
        "PurchaseDate": ts_z(order["placed_ts"]),
        "LastUpdateDate": ts_z(as_of),
        "OrderStatus": status,
        "FulfillmentChannel": "AFN",
        # FBA orders name a service level but no ship or delivery window (Amazon returns
        # LatestShipDate / LatestDeliveryDate for seller-fulfilled orders only)
        "ShipServiceLevel": "Std UK Dom" if order["marketplace_uk"] else "Std DE Dom",
        "ShipmentServiceLevelCategory": "Standard",
        "SalesChannel": mkt_name,
        "MarketplaceId": mkt_id,
        "OrderTotal": {"CurrencyCode": order["currency"], "Amount": money(order["total"])},
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": 0 if status == "Canceled" else units - shipped,
        "BuyerInfo": {"BuyerEmail": order["email"]},
        "ShippingAddress": {"CountryCode": order["country"]},
    }


def _amt(cur: str, cents: int) -> Row:
    return {"CurrencyCode": cur, "Amount": money(cents)}


def render_amazon_order_items(order: Row, lines: list[Row], as_of: int) -> Row:
    """SP-API getOrderItems payload of one order at `as_of` (ItemPrice = whole line)."""
    cur = order["currency"]
    shipped = _amazon_status(order, as_of) == "Shipped"
    return {
        "AmazonOrderId": order["source_id"],
        # The API response has no time; the connector copies the order's (raw-contract.md).
        "LastUpdateDate": ts_z(as_of),
        "OrderItems": [
            {
                "OrderItemId": ln["line_id"],
                "SellerSKU": ln["sku"],
                "ASIN": f"B0{ln['sku_idx'] + 1:08d}",
                "Title": ln["title"],
                "QuantityOrdered": ln["quantity"],
                "QuantityShipped": ln["quantity"] if shipped else 0,
                "ItemPrice": _amt(cur, ln["gross"]),
                "ItemTax": _amt(cur, ln["tax"]),
                "PromotionDiscount": _amt(cur, ln["discount"]),
                "ShippingPrice": _amt(cur, 0),
            }
            for ln in lines
        ],
    }


def _ca(cur: str, cents: int) -> Row:
    return {"CurrencyCode": cur, "CurrencyAmount": number(cents)}


def _refund_fees(cur: str, refunded_cents: int) -> list[Row]:
    """A refund's fee adjustments as Amazon posts them: the referral fee (Commission) of the
    refunded principal comes back (positive) less a refund administration fee (RefundCommission,
    20% of it, at most 5.00; negative)."""
    commission = round(refunded_cents * COMMISSION_PCT / 100)
    admin = min(500, round(commission * 20 / 100))
    return [
        {"FeeType": "Commission", "FeeAmount": _ca(cur, commission)},
        {"FeeType": "RefundCommission", "FeeAmount": _ca(cur, -admin)},
    ]


def render_amazon_financial_events(
    order: Row, lines: list[Row], refunds: list[Row], end_ts: int
) -> list[Row]:
    """Shipment event at fulfilment plus one Refund event per refund (up to end_ts).

    `EventSeq` is added (not an SP-API field) so the connector can build the contract's
    `_source_id` = `<EventType>:<AmazonOrderId>:<seq>` without relying on file line order.
    """
    cur = order["currency"]
    _, mkt_name = AMAZON_MARKETPLACES[bool(order["marketplace_uk"])]
    out: list[Row] = []
    if order["fulfilled"] and order["fulfilled_ts"] <= end_ts:
        items = []
        for ln in lines:
            charges = [{"ChargeType": "Principal", "ChargeAmount": _ca(cur, ln["gross"])}]
            item: Row = {
                "OrderItemId": ln["line_id"],
                "SellerSKU": ln["sku"],
                "QuantityShipped": ln["quantity"],
                "ItemChargeList": charges,
                "ItemFeeList": [
                    {
                        "FeeType": "Commission",
                        "FeeAmount": _ca(
                            cur, -round((ln["gross"] - ln["discount"]) * COMMISSION_PCT / 100)
                        ),
                    },
                    {
                        "FeeType": "FBAPerUnitFulfillmentFee",
                        "FeeAmount": _ca(cur, -FBA_FEE_CENTS[cur] * ln["quantity"]),
                    },
                ],
                "PromotionList": (
                    [
                        {
                            "PromotionType": "PromotionMetaDataDefinitionValue",
                            "PromotionAmount": _ca(cur, -ln["discount"]),
                        }
                    ]  # fmt: skip
                    if ln["discount"]
                    else []
                ),
            }
            items.append(item)
        out.append(
            {
                "EventType": "Shipment",
                "EventSeq": 1,
                "AmazonOrderId": order["source_id"],
                "PostedDate": ts_z(order["fulfilled_ts"]),
                "MarketplaceName": mkt_name,
                "ShipmentItemList": items,
            }
        )
    for ev in refund_events(refunds, end_ts):
        out.append(
            {
                "EventType": "Refund",
                "EventSeq": int(ev[0]["refund_id"]),
                "AmazonOrderId": order["source_id"],
                "PostedDate": ts_z(ev[0]["refunded_ts"]),
                "MarketplaceName": mkt_name,
                # Finances v0: refunds carry their money in the *adjustment* lists of each
                # item (ItemChargeList / ItemFeeList are for shipments)
                "ShipmentItemAdjustmentList": [
                    {
                        "OrderItemId": r["line_id"],
                        "OrderAdjustmentItemId": f"{r['refund_id']}{n:03d}",
                        "SellerSKU": r["sku"],
                        "QuantityShipped": r["quantity"],
                        "ItemChargeAdjustmentList": [
                            {"ChargeType": "Principal", "ChargeAmount": _ca(cur, -r["amount"])}
                        ],
                        "ItemFeeAdjustmentList": _refund_fees(cur, r["amount"]),
                    }
                    for n, r in enumerate(ev)
                ],
            }
        )
    return out


def render_woo_order(
    order: Row, lines: list[Row], refunds: list[Row], as_of: int, customer: Row
) -> Row:
    """WooCommerce REST v3 order at `as_of`."""
    events = refund_events(refunds, as_of)
    refunded_units = sum(r["quantity"] for ev in events for r in ev)
    if order["cancelled"] and order["cancelled_ts"] <= as_of:
        status = "cancelled"
    elif events and refunded_units >= order["units"]:
        status = "refunded"
    elif order["fulfilled"] and order["fulfilled_ts"] <= as_of:
        status = "completed"
    else:
        status = "processing"
    return {
        "id": int(order["source_id"]),
        "number": order["source_id"],
        "status": status,
        "currency": order["currency"],
        "date_created_gmt": ts_gmt(order["placed_ts"]),
        "date_modified_gmt": ts_gmt(as_of),
        "date_paid_gmt": ts_gmt(order["placed_ts"]),
        # the order ships whole when completed (as the emulator's documented order says too)
        "date_completed_gmt": ts_gmt(order["fulfilled_ts"])
        if order["fulfilled"] and order["fulfilled_ts"] <= as_of and status != "cancelled"
        else None,
        "discount_total": money(order["discount"]),
        "shipping_total": money(order["shipping"]),
        "shipping_lines": (
            [
                {
                    "method_title": "Flat rate",
                    "method_id": "flat_rate",
                    "total": money(order["shipping"]),
                }
            ]
            if order["shipping"]
            else []
        ),
        "total_tax": money(order["tax"]),
        "total": money(order["total"]),
        "customer_id": customer["id"],
        "billing": {
            "email": order["email"],
            "first_name": customer["first_name"],
            "last_name": customer["last_name"],
            "country": order["country"],
        },
        "shipping": {"country": order["country"], "address_1": _address(order, as_of)},
        "line_items": [
            {
                "id": int(ln["line_id"]),
                "product_id": ln["sku_idx"] + 1,
                "variation_id": 0,
                "sku": ln["sku"],
                "quantity": ln["quantity"],
                "price": number(ln["unit_price"]),
                "subtotal": money(ln["gross"]),
                "total": money(ln["gross"] - ln["discount"]),
                "total_tax": money(ln["tax"]),
            }
            for ln in lines
        ],
        # the campaign's coupon (WooCommerce stores coupon codes lower-case); its discount is
        # already inside the line totals
        "coupon_lines": (
            [
                {
                    "id": 9000000001 + order["seq"],
                    "code": str(order["discount_code"] or "promo").lower(),
                    "discount": money(order["discount"]),
                    "discount_tax": "0.00",
                    "meta_data": [],
                }
            ]
            if order["discount"] > 0
            else []
        ),
        "refunds": [
            {
                "id": int(ev[0]["refund_id"]),
                "reason": ev[0]["reason"],
                "total": money(-sum(r["amount"] for r in ev)),
            }
            for ev in events
        ],
    }


def render_woo_refund(order: Row, event: list[Row]) -> Row:
    """WooCommerce order refund (one refund event), with `order_id` as the connector adds it."""
    first = event[0]
    return {
        "id": int(first["refund_id"]),
        "order_id": int(order["source_id"]),
        "date_created_gmt": ts_gmt(first["refunded_ts"]),
        "amount": money(sum(r["amount"] for r in event)),
        "reason": first["reason"],
        # As WooCommerce sends them (order-refunds__list_all_refunds.json): each refund line
        # item has its own id and names the order line it refunds only in its meta_data
        # (`_refunded_item_id`); its `sku` may be empty.
        "line_items": [
            {
                "id": int(first["refund_id"]) * 100 + k,
                "sku": r["sku"],
                "product_id": r["sku_idx"] + 1,
                "quantity": -r["quantity"],
                "subtotal": money(-r["subtotal"]),
                "total": money(-r["subtotal"]),
                "meta_data": [
                    {
                        "id": int(first["refund_id"]) * 100 + k,
                        "key": "_refunded_item_id",
                        "value": str(int(r["line_id"])),
                    }
                ],
            }
            for k, r in enumerate(event)
        ],
    }


def render_woo_customer(cust: Row) -> Row:
    """WooCommerce customer."""
    return {
        "id": cust["id"],
        "email": cust["email"],
        "first_name": cust["first_name"],
        "last_name": cust["last_name"],
        "date_created_gmt": ts_gmt(cust["created_ts"]),
        "date_modified_gmt": ts_gmt(cust["updated_ts"]),
        "billing": {"country": cust["country"]},
    }


def _till_row(doc: str, line: int, stamp: str, store: str, sku: str, title: str, qty: int,
              price: int, discount: int, currency: str, email: str, void: str,
              original: str = "") -> list[str]:  # fmt: skip
    n = sum(map(ord, doc)) + line
    return [doc, str(line), stamp, store, sku, title, str(qty), money(price), money(discount),
            currency, email, void, original, CASHIERS[n % len(CASHIERS)], f"T{n % 3 + 1}"]  # fmt: skip


def render_till_rows(order: Row, lines: list[Row]) -> list[list[str]]:
    """Till export rows (vendor columns, see TILL_COLUMNS) of one receipt; void = cancelled.
    Every 9th receipt ships the goods (a POSTAGE line), every 13th is paid by card with a fee
    (CARDFEE): lines the truth does not know, which must stay out of goods and net sales."""
    stamp = ts_till(order["placed_ts"])
    void = "1" if order["cancelled"] else "0"
    email = order["email"] or ""
    doc, store, cur = order["source_id"], order["location_id"], order["currency"]
    rows = [
        _till_row(
            doc,
            int(ln["line_no"]),
            stamp,
            store,
            ln["sku"],
            ln.get("title") or "",
            int(ln["quantity"]),
            int(ln["unit_price"]),
            int(ln["discount"]),
            cur,
            email,
            void,
        )  # fmt: skip
        for ln in lines
    ]
    last = max((int(ln["line_no"]) for ln in lines), default=0)
    if int(doc) % 9 == 0:
        last += 1
        rows.append(_till_row(doc, last, stamp, store, TILL_POSTAGE, "Postage", 1, 495, 0, cur,
                              email, void))  # fmt: skip
    if int(doc) % 13 == 0:
        last += 1
        rows.append(_till_row(doc, last, stamp, store, TILL_CARD_FEE, "Card fee", 1, 35, 0, cur,
                              email, void))  # fmt: skip
    return rows


def render_till_return_rows(order: Row, event: list[Row]) -> list[list[str]]:
    """A credit note ("CN" + refund id) naming the receipt it refunds: negative quantities;
    Discount is the reversed share, so that line value = Qty x Price - Discount holds for sales
    and credit notes alike."""
    stamp = ts_till(event[0]["refunded_ts"])
    email = order["email"] or ""
    return [
        _till_row(
            TILL_CREDIT_PREFIX + str(r["refund_id"]),
            i + 1,
            stamp,
            r["location_id"],
            r["sku"],
            "",
            -int(r["quantity"]),
            int(r["unit_price"]),
            -int(r["discount"]),
            order["currency"],
            email,
            "0",
            str(order["source_id"]),
        )  # fmt: skip
        for i, r in enumerate(event)
    ]


def render_till_write_off(order: Row, line: Row, ts: int) -> list[str]:
    """A stock write-off as tills record one: a document of its own, the article with a
    negative quantity at price 0 and no customer ("damaged"). Not a sale, not a return."""
    return _till_row(f"WO{order['source_id']}", 1, ts_till(ts), order["location_id"],
                     line["sku"], "damaged", -1, 0, 0, order["currency"], "", "0")  # fmt: skip
