"""The bulk landing's faster steps give the same results as the slower ones they replaced: the
mapping's line total in cents, the gate's list shapes from one `json_extract`, and the redaction
probe that scans a batch once."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import pytest

from connectors.http import remember_secret
from connectors.records import RawRecord, RecordError
from connectors.shopify.mapping import _amount, _total, order_to_rest
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


def _decimal_amount(text: object) -> str:
    """An amount as the mapping wrote it before its shortcuts (Decimal for all but the exact
    2-decimal text); raises as it raised."""
    text = str(text)
    if _MONEY_DECIMALS.match(text):
        return text
    d = Decimal(text)
    return f"{d:.2f}" if d == d.quantize(Decimal("0.01")) else text


_MONEY_DECIMALS = re.compile(r"^-?\d+\.\d\d$")


def test_an_amount_is_the_decimal_text_whatever_its_shape():
    rnd = random.Random(7)
    cases = [
        "21.0",
        "0.0",
        "-0.0",
        "-3.5",
        "007.5",
        "00.0",
        "1.",
        ".5",
        "1.5e3",
        "1e2",
        "NaN",
        "٢١.٠",
        "21.0\n",
        " 21.0",
        "+21.0",
        "1_0.5",
        "21.05",
        "21.050",
        "21.123",
        "",
        "9" * 25 + ".5",
        "9" * 26 + ".5",
        "9" * 30 + ".5",
        "-" + "9" * 25 + ".5",
        21.0,
        7,
    ]
    for _ in range(3000):
        digits = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(1, 28)))
        frac = "".join(rnd.choice("0123456789") for _ in range(rnd.randint(0, 3)))
        cases.append(
            f"{rnd.choice(['', '-'])}{digits}" + (f".{frac}" if frac or rnd.random() < 0.3 else "")
        )
    for text in cases:
        try:
            want: object = _decimal_amount(text)
        except (InvalidOperation, ValueError):
            want = RecordError
        try:
            got: object = _amount({"amount": text})
        except (RecordError, InvalidOperation):  # (map_nodes quarantines either)
            got = RecordError
        assert got == want, text


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


def _loop_load_id(unit) -> str:
    """The batch id as flows.api_sync computed it before (a Python loop over the records)."""
    import hashlib

    h = hashlib.sha256()
    for part in sorted(unit.parts, key=lambda p: p.stream):
        ids = part.staged.table.column("_source_id").to_pylist()
        times = part.staged.table.column("_source_updated_at").to_pylist()
        for sid, ts in zip(ids, times, strict=True):
            h.update(f"{part.stream}\x1f{sid}\x1f{ts}\x1e".encode())
        for sid, _, text in part.unreadable:
            h.update(f"{part.stream}{sid}{text}".encode())
    return f"api:{unit.channel}:{unit.cursor_stream}:{h.hexdigest()[:24]}"


def test_the_batch_id_is_the_one_the_record_loop_gave():
    from datetime import timedelta

    from flows.api_sync import _load_id, merge_pages
    from flows.landing import Part, Unit

    rnd = random.Random(3)
    for _ in range(200):
        units = []
        for _ in range(rnd.randint(1, 3)):  # merged pages: several chunks per column
            parts = []
            for stream in rnd.sample(["orders", "refunds", "products"], rnd.randint(1, 2)):
                recs = []
                for _ in range(rnd.randint(0, 5)):
                    ts = T + timedelta(seconds=rnd.randint(-10**9, 10**9),
                                       microseconds=rnd.choice([0, 0, 1, 500, 999_999]))  # fmt: skip
                    sid = rnd.choice([str(rnd.randint(0, 10**12)), "é-1", "a\x1fb"])
                    recs.append(RawRecord(sid, rnd.choice([ts, ts, None]), {"id": sid}))
                bad = [(rnd.choice([None, "7"]), "why", "text")] if rnd.random() < 0.3 else []
                parts.append(Part(stream, f"shop__{stream}", stage(recs), bad))
            units.append(Unit("shop", "orders", "", parts, cursor=None))
        unit = units[0]
        for more in units[1:]:
            unit = merge_pages(unit, more)
        assert _load_id(unit) == _loop_load_id(unit)
