"""WooCommerce REST answers -> raw records (orders, refunds, customers, products).

A record that cannot be read is quarantined (`Batch.bad`); the rest of its page lands.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from connectors.http import Batch
from connectors.records import RawRecord, RecordError, parse_timestamp


def _check_int(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"{what} is not a whole number: {value!r}")


def order_record(o: dict) -> RawRecord:
    if "id" not in o:
        raise RecordError("order without id")
    for li in o.get("line_items") or []:
        _check_int(li.get("quantity"), "line item quantity")
    return RawRecord(str(o["id"]), parse_timestamp(o.get("date_modified_gmt")), o)


def refund_record(r: dict, order_id: int) -> RawRecord:
    payload = dict(r, order_id=order_id)
    for li in payload.get("line_items") or []:
        _check_int(li.get("quantity"), "refund line quantity")
    return RawRecord(str(payload["id"]), parse_timestamp(payload.get("date_created_gmt")), payload)


def customer_record(c: dict) -> RawRecord:
    return RawRecord(str(c["id"]), parse_timestamp(c.get("date_modified_gmt")), c)


def product_record(p: dict) -> RawRecord:
    return RawRecord(str(p["id"]), parse_timestamp(p.get("date_modified_gmt")), p)


def _map(items: list, fn: Callable[[dict], RawRecord], what: str) -> Batch:
    batch = Batch()
    for item in items:
        if batch.hold_unreadable(item, what):
            continue
        try:
            batch.records.append(fn(item))
        except (RecordError, KeyError, TypeError, ValueError, AttributeError) as exc:
            sid = (
                str(item.get("id"))
                if isinstance(item, dict) and item.get("id") is not None
                else None
            )
            batch.bad.append((sid, f"unreadable {what}: {exc}", json.dumps(item, sort_keys=True)))
    return batch
