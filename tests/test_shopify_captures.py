"""Contract tests on Shopify's own answers: every recorded order, refund, fulfilment, customer,
product and inventory response in admin-graphql/captures/ goes through the connector's mapping
into raw (a real DuckDB file), and raw holds the amounts, currencies and timestamps the capture
shows (money exact, shop money for the amounts, both currencies kept).

The captures select what each recording needed, not our query, so each node is partial: the
mapping must read what is there and leave the rest empty, never guess.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.records import RawRecord, parse_timestamp
from connectors.shopify.mapping import STREAMS
from flows.warehouse import connection, init_warehouse, land_records
from sandbox.shared import PLATFORM_DOCS

DOCS = PLATFORM_DOCS / "shopify" / "admin-graphql"
CAPTURES = DOCS / "captures"

pytestmark = pytest.mark.fast

# captures holding order, refund, fulfilment, customer, product and inventory answers
FILES = [
    "harry-test-heelo/2025-01/orders/refund-create-full-parity.json",
    "harry-test-heelo/2025-01/orders/refund-create-partial-shipping-restock-parity.json",
    "harry-test-heelo/2025-01/orders/money-bag-presentment-parity.json",
    "harry-test-heelo/2025-01/orders/order-create-line-item-fields.json",
    "harry-test-heelo/2025-01/orders/order-create-math-matrix.json",
    "harry-test-heelo/2025-01/orders/fulfillment-multi-tracking-info.json",
    "harry-test-heelo/2026-04/orders/order-catalog-count-read.json",
    "harry-test-heelo/2026-04/orders/orderCancel-restock-refundMethod-parity.json",
    "harry-test-heelo/2026-04/orders/orderUpdate-multi-page-hydration.json",
    "harry-test-heelo/2026-04/shipping-fulfillments/fulfillment-top-level-reads.json",
    "harry-test-heelo/2025-01/customers/customers-catalog.json",
    "harry-test-heelo/2025-01/customers/customers-search.json",
    "very-big-test-store/2025-01/products/products-catalog-page.json",
    "harry-test-heelo/2025-01/products/product-nested-connections.json",
    "very-big-test-store/2025-01/products/product-variants-matrix.json",
    "harry-test-heelo/2025-01/products/inventory-quantity-roots-parity.json",
]
RECORDED = datetime(2026, 7, 1, tzinfo=UTC)
KINDS = {"Order": "orders", "Customer": "customers", "Product": "products"}
ORDER_MONEY = {  # GraphQL MoneyBag -> the REST field raw keeps its shop amount in
    "totalPriceSet": "total_price",
    "subtotalPriceSet": "subtotal_price",
    "totalTaxSet": "total_tax",
    "totalDiscountsSet": "total_discounts",
}


def _nodes(value, kind: str):
    """Every dict of Shopify type `kind` (by its gid) anywhere in a capture's answers."""
    if isinstance(value, dict):
        gid = value.get("id")
        if isinstance(gid, str) and gid.startswith(f"gid://shopify/{kind}/"):
            yield value
        for v in value.values():
            yield from _nodes(v, kind)
    elif isinstance(value, list):
        for v in value:
            yield from _nodes(v, kind)


def _answers(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "data" and isinstance(v, dict):
                yield v
            else:
                yield from _answers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _answers(v)


def _ts(text):
    return (
        None
        if text is None
        else datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    )


def _orders_of(capture: dict) -> list[dict]:
    """Order nodes; a refund recorded on its own (refundCreate's answer) joins its order, as the
    order's `refunds` would hold it."""
    out = []
    for n in (n for d in _answers(capture) for n in _nodes(d, "Order")):
        lines = (n.get("lineItems") or {}).get("nodes") or []
        if any("id" not in li for li in lines):
            # the recording did not select the lines' ids (which raw needs): order level only
            n = {k: v for k, v in n.items() if k != "lineItems"}
        out.append(n)
    order_id = ((capture.get("variables") or {}).get("input") or {}).get("orderId")
    for d in _answers(capture):
        refund = (d.get("refundCreate") or {}).get("refund")
        if refund and order_id:
            out.append({"id": order_id, "refunds": [refund]})
    return out


def _land(tmp_path, stream: str, nodes: list[dict]) -> dict[str, dict]:
    """Map and land `nodes` into raw; the payloads raw holds, by source id (last version)."""
    records = []
    for n in nodes:
        spec = STREAMS[stream]
        rest = spec.to_rest(n)
        # a recording that did not select updatedAt lands at a fixed time (raw needs one)
        when = parse_timestamp(rest["updated_at"]) if rest.get("updated_at") else RECORDED
        records.append(RawRecord(spec.source_id(rest), when, rest))

    with connection(str(tmp_path / "oms.duckdb")) as con:
        init_warehouse(con)
        land_records(con, f"shop__{stream}", records, "capture")
        rows = con.execute(
            f"select _source_id, _payload::varchar from raw.shop__{stream}"
        ).fetchall()
    got: dict[str, dict] = {}
    for sid, payload in rows:
        got.setdefault(sid, []).append(json.loads(payload))  # type: ignore[attr-defined]
    return got  # type: ignore[return-value]


def _rest(stream: str, node: dict) -> dict:
    return STREAMS[stream].to_rest(json.loads(json.dumps(node)))


def _shop(bag):
    return (bag or {}).get("shopMoney") or {}


@pytest.mark.parametrize("name", FILES, ids=[Path(f).stem for f in FILES])
def test_capture_lands_with_its_amounts_currencies_and_times(tmp_path, name):
    capture = json.loads((CAPTURES / name).read_text())
    checked = 0
    orders = _orders_of(capture)
    if orders:
        raw = _land(tmp_path / "o", "orders", orders)
        for node in orders:
            versions = raw[str(int(node["id"].rsplit("/", 1)[1]))]
            o = _rest("orders", node)
            assert o in versions  # raw holds this node's version, as mapped
            for field, rest in ORDER_MONEY.items():
                if node.get(field):
                    assert Decimal(o[rest]) == Decimal(_shop(node[field])["amount"]), (
                        field,
                        o[rest],
                    )
                    checked += 1
            if node.get("totalShippingPriceSet"):
                sm = o["total_shipping_price_set"]["shop_money"]
                assert Decimal(sm["amount"]) == Decimal(
                    _shop(node["totalShippingPriceSet"])["amount"]
                )
                assert sm["currency_code"] == _shop(node["totalShippingPriceSet"])["currencyCode"]
                checked += 1
            if node.get("currencyCode"):
                assert o["currency"] == node["currencyCode"]
                checked += 1
            for key, rest in (("createdAt", "created_at"), ("updatedAt", "updated_at"),
                              ("cancelledAt", "cancelled_at")):  # fmt: skip
                if node.get(key):
                    assert _ts(o[rest]) == _ts(node[key])
                    checked += 1
            lines = (node.get("lineItems") or {}).get("nodes") or [
                e["node"] for e in (node.get("lineItems") or {}).get("edges") or []
            ]
            assert len(o["line_items"]) == len(lines)
            for li, src in zip(o["line_items"], lines, strict=True):
                if "quantity" in src:
                    assert li["quantity"] == src["quantity"]
                price = src.get("originalUnitPriceSet")
                if price:
                    assert Decimal(li["price"]) == Decimal(_shop(price)["amount"])
                    assert (
                        li["price_set"]["shop_money"]["currency_code"]
                        == _shop(price)["currencyCode"]
                    )
                    if price.get("presentmentMoney"):
                        pm = li["price_set"]["presentment_money"]
                        assert pm["currency_code"] == price["presentmentMoney"]["currencyCode"]
                        assert Decimal(pm["amount"]) == Decimal(price["presentmentMoney"]["amount"])
                    checked += 1
            for r, src in zip(o["refunds"], node.get("refunds") or [], strict=True):
                assert r["id"] == int(src["id"].rsplit("/", 1)[1])
                if src.get("createdAt"):
                    assert _ts(r["created_at"]) == _ts(src["createdAt"])
                txs = (src.get("transactions") or {}).get("nodes") or []
                assert [(Decimal(t["amount"]), t["currency"], t["kind"]) for t in r["transactions"]] == [
                    (Decimal(_shop(t["amountSet"])["amount"]), _shop(t["amountSet"])["currencyCode"],
                     t["kind"].lower()) for t in txs
                ]  # fmt: skip
                rlis = (src.get("refundLineItems") or {}).get("nodes") or []
                assert [(x["quantity"], x["restock_type"]) for x in r["refund_line_items"]] == [
                    (x["quantity"], x["restockType"].lower()) for x in rlis
                ]
                for x, s in zip(r["refund_line_items"], rlis, strict=True):
                    if s.get("subtotalSet"):
                        assert Decimal(x["subtotal"]) == Decimal(_shop(s["subtotalSet"])["amount"])
                        assert (
                            x["subtotal_set"]["shop_money"]["currency_code"]
                            == _shop(s["subtotalSet"])["currencyCode"]
                        )
                checked += 1 + len(txs) + len(rlis)
            for f, src in zip(o["fulfillments"], node.get("fulfillments") or [], strict=True):
                assert f["id"] == int(src["id"].rsplit("/", 1)[1])
                assert f["status"] == (src.get("status") or "").lower() or None
                if src.get("createdAt"):
                    assert _ts(f["created_at"]) == _ts(src["createdAt"])
                checked += 1
    customers = [
        n
        for d in _answers(capture)
        for n in _nodes(d, "Customer")
        if "createdAt" in n or "email" in n
    ]
    if customers and "customers" in name:
        raw = _land(tmp_path / "c", "customers", customers)
        for node in customers:
            c = _rest("customers", node)
            assert c in raw[str(int(node["id"].rsplit("/", 1)[1]))]
            assert c["email"] == (
                node.get("email") or (node.get("defaultEmailAddress") or {}).get("emailAddress")
            )
            for key, rest in (("createdAt", "created_at"), ("updatedAt", "updated_at")):
                if node.get(key):
                    assert _ts(c[rest]) == _ts(node[key])
            checked += 1
    products = [n for d in _answers(capture) for n in _nodes(d, "Product") if "title" in n]
    if products and "products" in name:
        raw = _land(tmp_path / "p", "products", products)
        for node in products:
            p = _rest("products", node)
            assert p in raw[str(int(node["id"].rsplit("/", 1)[1]))]
            assert p["title"] == node["title"]
            variants = (node.get("variants") or {}).get("nodes") or [
                e["node"] for e in (node.get("variants") or {}).get("edges") or []
            ]
            assert [v["sku"] for v in p["variants"]] == [v.get("sku") for v in variants]
            for v, src in zip(p["variants"], variants, strict=True):
                if src.get("price") is not None:
                    assert Decimal(v["price"]) == Decimal(str(src["price"]))
                cost = (src.get("inventoryItem") or {}).get("unitCost")
                if cost:
                    assert Decimal(v["unit_cost"]) == Decimal(cost["amount"])
                    assert v["unit_cost_currency"] == cost["currencyCode"]
            checked += 1
    levels = [
        n for d in _answers(capture) for n in _nodes(d, "InventoryLevel") if "quantities" in n
    ]
    for node in levels:
        lv = _rest("inventory_levels", node)
        for q in node["quantities"]:
            if q["name"] in ("available", "on_hand", "committed", "incoming"):
                assert lv[q["name"]] == q["quantity"]
                checked += 1
    assert checked > 0, "nothing of this capture was checked"
