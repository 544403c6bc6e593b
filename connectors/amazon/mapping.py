"""Amazon SP-API answers -> raw records (orders, order items, financial events, inventory).

A record that cannot be read is quarantined (`Batch.bad`); the rest of its page lands.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from connectors.http import Batch
from connectors.records import RawRecord, RecordError, parse_timestamp


def _z(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_record(o: dict) -> RawRecord:
    total = o.get("OrderTotal")
    if total is not None and not isinstance(total, dict):
        raise RecordError(f"OrderTotal is not an object: {total!r}")
    return RawRecord(str(o["AmazonOrderId"]), parse_timestamp(o.get("LastUpdateDate")), o)


def items_record(items: dict, order: dict) -> RawRecord:
    """getOrderItems' payload of `order` (all its pages) with the order's LastUpdateDate copied
    in. An answer naming another order is not this order's items (Amazon's sandbox answers one
    static document whatever the id): it is quarantined, never filed under the wrong order."""
    named = items.get("AmazonOrderId")
    if named is not None and str(named) != str(order["AmazonOrderId"]):
        raise RecordError(f"getOrderItems answered for order {named}, not {order['AmazonOrderId']}")
    payload = {"AmazonOrderId": order["AmazonOrderId"], "LastUpdateDate": order.get("LastUpdateDate"),
               **{k: v for k, v in items.items() if k not in ("AmazonOrderId", "NextToken")}}  # fmt: skip
    for it in payload.get("OrderItems") or []:
        q = it.get("QuantityOrdered")
        if isinstance(q, bool) or not isinstance(q, int):
            raise RecordError(f"QuantityOrdered is not a whole number: {q!r}")
    return RawRecord(
        str(order["AmazonOrderId"]), parse_timestamp(order.get("LastUpdateDate")), payload
    )


def event_record(ev: dict, kind: str) -> RawRecord:
    payload = {"EventType": kind, **ev}
    sid = f"{kind}:{payload['AmazonOrderId']}:{payload['PostedDate']}"
    return RawRecord(sid, parse_timestamp(payload.get("PostedDate")), payload)


def inventory_record(s: dict, marketplace: str) -> RawRecord:
    payload = {"marketplaceId": marketplace, **s}
    return RawRecord(
        f"{marketplace}:{s['sellerSku']}", parse_timestamp(s.get("lastUpdatedTime")), payload
    )


def _safe(
    batch: Batch, fn: Callable[[], RawRecord], raw: object, sid: str | None, what: str
) -> None:
    if batch.hold_unreadable(raw, what):
        return
    try:
        batch.records.append(fn())
    except (RecordError, KeyError, TypeError, ValueError, AttributeError) as exc:
        batch.bad.append((sid, f"unreadable {what}: {exc}", json.dumps(raw, sort_keys=True)))


# ------------------------------------------------------------------ Reports API backfill
# GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL spells one status differently
REPORT_STATUS = {"Cancelled": "Canceled"}


def _money(cur: str, text: str | None) -> dict:
    return {"CurrencyCode": cur, "Amount": (text or "").strip() or "0.00"}


def report_records(
    order_id: str, rows: list[dict[str, str]], marketplace_id: str, report: dict[str, str]
) -> tuple[RawRecord, RawRecord]:
    """The flat-file rows of one order (one per item) -> its `amazon__orders` and
    `amazon__order_items` records in the Orders API shape staging reads, with the rows kept
    whole under `ReportRows` (raw keeps what was received). The report has no OrderItemId (it
    is made `<order>:<sku>:<n>`) and no OrderTotal (staging takes the items' currency, as for a
    Pending order); a later Orders API version of the order replaces both records."""
    first = rows[0]
    updated = _z(parse_timestamp(first.get("last-updated-date")))
    status = first.get("order-status") or ""
    order = {
        "AmazonOrderId": order_id,
        "PurchaseDate": _z(parse_timestamp(first.get("purchase-date"))),
        "LastUpdateDate": updated,
        "OrderStatus": REPORT_STATUS.get(status, status),
        "FulfillmentChannel": "AFN" if first.get("fulfillment-channel") == "Amazon" else "MFN",
        "SalesChannel": first.get("sales-channel"),
        "MarketplaceId": marketplace_id,
        "ShippingAddress": {
            "City": first.get("ship-city") or None,
            "StateOrRegion": first.get("ship-state") or None,
            "PostalCode": first.get("ship-postal-code") or None,
            "CountryCode": first.get("ship-country") or None,
        },
        "ReportSource": report,
    }
    items = []
    for n, r in enumerate(rows, 1):
        cur = (r.get("currency") or "").strip()
        qty_text = (r.get("quantity") or "").strip()
        if not qty_text.isdigit():
            raise RecordError(f"report quantity is not a whole number: {qty_text!r}")
        qty = int(qty_text)
        items.append(
            {
                "OrderItemId": f"{order_id}:{r.get('sku')}:{n}",
                "SellerSKU": r.get("sku"),
                "ASIN": r.get("asin"),
                "Title": r.get("product-name"),
                "QuantityOrdered": qty,
                "QuantityShipped": qty if r.get("item-status") == "Shipped" else 0,
                "ItemPrice": _money(cur, r.get("item-price")),
                "ItemTax": _money(cur, r.get("item-tax")),
                "ShippingPrice": _money(cur, r.get("shipping-price")),
                "PromotionDiscount": _money(cur, r.get("item-promotion-discount")),
            }
        )
    ts = parse_timestamp(updated)
    payload = {"AmazonOrderId": order_id, "LastUpdateDate": updated, "OrderItems": items,
               "ReportRows": rows, "ReportSource": report}  # fmt: skip
    return RawRecord(order_id, ts, order), RawRecord(order_id, ts, payload)
