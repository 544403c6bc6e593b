"""The bulk landing's faster steps give the same results as the slower ones they replaced: the
mapping's line total in cents, the gate's list shapes from one `json_extract`, and the redaction
probe that scans a batch once."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.http import remember_secret
from connectors.records import RawRecord
from connectors.shopify.mapping import _total, order_to_rest
from flows.landing import redacted
from flows.quality import GateContext, gate
from flows.staged import stage

pytestmark = pytest.mark.fast  # make test-fast

T = datetime(2026, 1, 1, tzinfo=UTC)


def _decimal_total(line_items: list[dict]) -> str:
    """The line total as the mapping computed it before (Decimal arithmetic throughout)."""
    total = sum(
        (Decimal(li["price"]) * li["quantity"] for li in line_items if li["price"] is not None),
        Decimal(0),
    )
    return f"{total:.2f}"


def test_the_line_total_in_cents_is_the_decimal_total():
    rnd = random.Random(12)
    odd = ["10.5", "1e2", "0.00", "-0.00", "-3.25", "007.10", "1.005", "123456789012.99"]
    for _ in range(2000):
        items = []
        for _ in range(rnd.randint(0, 6)):
            r = rnd.random()
            if r < 0.1:
                price = None
            elif r < 0.2:
                price = rnd.choice(odd)
            else:
                price = f"{rnd.choice(['', '-'])}{rnd.randint(0, 99_999)}.{rnd.randint(0, 99):02d}"
            qty = rnd.choice([rnd.randint(-5, 50), 10**12, -(10**10), 0])
            items.append({"price": price, "quantity": qty})
        assert f"{_total(items):.2f}" == _decimal_total(items), items


def _bag(amount: object) -> dict:
    return {"shopMoney": {"amount": amount, "currencyCode": "EUR"},
            "presentmentMoney": {"amount": amount, "currencyCode": "EUR"}}  # fmt: skip


def test_a_mapped_order_keeps_its_prices_and_discounts():
    line = {"id": "gid://shopify/LineItem/7", "sku": "A", "quantity": 3, "title": "t",
            "originalUnitPriceSet": _bag("2.50"), "totalDiscountSet": None,
            "taxLines": [{"priceSet": _bag("0.40"), "rate": 0.2, "title": "VAT"}]}  # fmt: skip
    odd = {**line, "id": "gid://shopify/LineItem/8?x=1", "originalUnitPriceSet": _bag("1.5"),
           "totalDiscountSet": _bag("0.50")}  # fmt: skip
    order = {"id": "gid://shopify/Order/5", "name": "#1005",
             "lineItems": {"nodes": [line, odd]}}  # fmt: skip
    rest = order_to_rest(order)
    first, second = rest["line_items"]
    assert (first["id"], first["price"], first["total_discount"]) == (7, "2.50", "0.00")
    assert first["total_discount_set"] is None
    assert first["tax_lines"][0]["price"] == "0.40"
    assert first["tax_lines"][0]["price_set"]["presentment_money"]["amount"] == "0.40"
    assert (second["id"], second["price"], second["total_discount"]) == (8, "1.50", "0.50")
    assert rest["total_line_items_price"] == "12.00"  # 3 x 2.50 + 3 x 1.50


def _order(i: int, **fields: object) -> RawRecord:
    payload = {"id": i, "created_at": T.isoformat(), "currency": "EUR", "total_price": "10.00",
               "total_line_items_price": "10.00",
               "line_items": [{"quantity": 1, "price": "10.00", "sku": "SKU-1"}]}  # fmt: skip
    payload.update(fields)
    for key, value in list(payload.items()):
        if value is _ABSENT:
            del payload[key]
    return RawRecord(str(i), T, payload)


_ABSENT = object()


def test_the_gate_reads_each_list_shape_as_before():
    """A list that is absent or null is no list (nothing to check); one that is an object, or
    holds something other than objects, is unreadable and the order is held."""
    ctx = GateContext(("EUR",), known_skus=frozenset({"SKU-1"}), max_bad_share=1.0)
    fine = [_order(i) for i in range(10)]
    shapes = [
        _order(10, line_items=_ABSENT, total_line_items_price="0.00"),
        _order(11, line_items=None, total_line_items_price="0.00"),
        _order(12, refunds=None, fulfillments=_ABSENT),
        _order(13, line_items={"quantity": 1, "price": "10.00"}),
        _order(14, line_items=[1, {"quantity": 1, "price": "10.00", "sku": "SKU-1"}]),
        _order(15, refunds={"created_at": T.isoformat()}),
        _order(16, fulfillments=["x"]),
        _order(17, refunds=[], fulfillments=[], fulfillment_orders=[]),
    ]
    verdict = gate("shop__orders", stage(fine + shapes), ctx)
    assert verdict.refused is None
    held = {sid: reason for sid, reason, _ in verdict.bad}
    assert sorted(held) == ["10", "11", "13", "14"], held
    # no lines: held for that alone, not as unreadable
    assert held["10"] == held["11"] == "line_count at least 1"
    assert all("min_quantity is a whole number" in held[k] for k in ("13", "14"))
    assert len(verdict.good) == 14


def test_redaction_scans_once_and_replaces_what_it_finds():
    secret = "p@ss.w*rd(1)|[x]+"  # regex metacharacters: the probe must take it literally
    remember_secret(secret)
    plain = [
        RawRecord(str(i), T, {"id": i, "note": "restock_type ck_ ordinary"}) for i in range(20)
    ]
    staged = stage(plain)
    assert redacted(staged) is staged  # nothing found: no copy of the column
    leak = RawRecord("20", T, {"id": 20, "note": f"pasted {secret} and shpat_{'a1' * 10}"})
    near = RawRecord("21", T, {"id": 21, "note": "p@ssXw*rd(1)|[x]+ is not it"})
    texts = redacted(stage([*plain, leak, near])).payload_texts()
    assert secret not in texts[20] and "shpat_" not in texts[20]
    assert texts[20].count("[redacted]") == 2
    assert "[redacted]" not in texts[21] and all("[redacted]" not in t for t in texts[:20])
