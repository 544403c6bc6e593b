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
