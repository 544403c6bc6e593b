"""Shopify GraphQL nodes -> the REST shapes of docs/raw-contract.md.

Each GraphQL node is mapped to the REST object staging reads (money as strings, shop and
presentment money both kept in `*_set`). A node that cannot be mapped is quarantined; the rest of
its page lands.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.http import Batch
from connectors.records import RawRecord, RecordError, parse_timestamp
from connectors.shopify.queries import (
    CUSTOMER_FIELDS,
    LEVELS_QUERY,
    LOCATIONS_QUERY,
    ORDER_FIELDS,
    PRODUCT_FIELDS,
    _list_query,
)


def legacy_id(value: object) -> int | None:
    """`gid://shopify/Order/123` (or a legacyResourceId) -> 123."""
    if value is None:
        return None
    if type(value) is str and "?" not in value:  # the usual gid: no query part to cut
        text = value[value.rfind("/") + 1 :]
    else:
        text = str(value).split("?", 1)[0].rsplit("/", 1)[-1]
    if not text.isdigit():
        raise RecordError(f"not a Shopify id: {value!r}")
    return int(text)


_MONEY_RE = re.compile(r"^-?\d+\.\d\d$")
# One decimal, no leading zero, at most 25 digits before the point (so within Decimal's 28
# digits once quantized): what Decimal writes with 2 decimals is the text and a "0".
_ONE_DECIMAL_RE = re.compile(r"-?(?:0|[1-9][0-9]{0,24})\.[0-9]")


# amount text -> its exact decimal string (`_amount` of a text depends on the text alone; a
# store's prices repeat, and an order holds ~19 amounts: measured, half of `_amount`'s time)
_AMOUNTS: dict[str, str] = {}
_AMOUNTS_MAX = 50_000


def _amount(money: dict | None) -> str | None:
    """A MoneyV2 amount as the exact decimal string (never a float)."""
    text = money.get("amount") if money else None
    if text is None:
        return None
    if type(text) is str:
        got = _AMOUNTS.get(text)
        if got is None:
            got = _amount_text(text)
            if len(_AMOUNTS) < _AMOUNTS_MAX:
                _AMOUNTS[text] = got
        return got
    return _amount_text(str(text))


def _amount_text(text: str) -> str:
    if _MONEY_RE.match(text):
        return text  # the usual case: already an exact 2-decimal string
    if _ONE_DECIMAL_RE.fullmatch(text):
        # Shopify's other usual case ("21.0"): what the Decimal path below gives, without
        # its Decimal (measured: 0.3 us instead of 2.2 us, 13 amounts per order)
        return text + "0"
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise RecordError(f"money amount is not a decimal: {text!r}") from None
    return f"{d:.2f}" if d == d.quantize(Decimal("0.01")) else text


def _set(bag: dict | None) -> dict | None:
    """MoneyBag -> REST price_set (shop and presentment money both kept)."""
    if not bag:
        return None
    sm, pm = bag.get("shopMoney") or {}, bag.get("presentmentMoney") or {}
    shop = {"amount": _amount(sm), "currency_code": sm.get("currencyCode")}
    if pm == sm:  # a single-currency shop: the same money twice (one dict, serialised twice)
        return {"shop_money": shop, "presentment_money": shop}
    return {
        "shop_money": shop,
        "presentment_money": {"amount": _amount(pm), "currency_code": pm.get("currencyCode")},
    }


def _shop(bag: dict | None) -> str | None:
    return _amount((bag or {}).get("shopMoney"))


def _shop_of(price_set: dict | None) -> str | None:
    """The shop amount of a price_set `_set` already built (the bag is not read again)."""
    return price_set["shop_money"]["amount"] if price_set else None


def _nodes(conn: Any) -> list[dict]:
    if conn is None:
        return []
    if isinstance(conn, list):
        return conn
    if "nodes" in conn:
        return conn["nodes"] or []
    return [e["node"] for e in conn.get("edges") or []]


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise RecordError(f"{what} is not a whole number: {value!r}")
    try:
        return int(str(value))
    except ValueError:
        raise RecordError(f"{what} is not a whole number: {value!r}") from None


def _lower(value: object) -> str | None:
    return str(value).lower() if value else None


def _loc(obj: dict | None) -> int | None:
    if not obj:
        return None
    return legacy_id(obj.get("legacyResourceId") or obj.get("id"))


FULFILLMENT_STATUS = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial"}


def order_to_rest(n: dict) -> dict:
    """A GraphQL `Order` node -> the Shopify REST order of docs/raw-contract.md."""
    oid = legacy_id(n.get("legacyResourceId") or n["id"])
    line_items: list[dict[str, Any]] = []
    # A money bag's shop amount is its `_set`'s shop_money amount (`_shop` of the same bag):
    # each bag is read once (this loop is most of a bulk backfill's Python time).
    for li in _nodes(n.get("lineItems")):
        price_set = _set(li.get("originalUnitPriceSet"))
        discount_set = _set(li.get("totalDiscountSet"))
        line_items.append(
            {
                "id": legacy_id(li["id"]),
                "sku": li.get("sku"),
                "variant_id": _loc(li.get("variant")),
                "product_id": _loc(li.get("product")),
                "title": li.get("title"),
                "quantity": _int(li.get("quantity"), "line item quantity"),
                "price": _shop_of(price_set),
                "price_set": price_set,
                "total_discount": _shop_of(discount_set) or "0.00",
                "total_discount_set": discount_set,
                "tax_lines": [_tax_line(t) for t in li.get("taxLines") or []],
            }
        )
    total_lines = _total(line_items)
    discount = _shop(n.get("totalDiscountsSet"))
    codes = [c for c in n.get("discountCodes") or []]
    apps = {
        a.get("code"): a
        for a in _nodes(n.get("discountApplications"))
        if a.get("__typename", "DiscountCodeApplication") == "DiscountCodeApplication"
    }
    discount_codes = []
    for code in codes:
        value = (apps.get(code) or {}).get("value") or {}
        kind = (
            "percentage" if value.get("__typename") == "PricingPercentageValue" else "fixed_amount"
        )
        amount = discount if len(codes) == 1 else _amount(value) if kind == "fixed_amount" else None
        discount_codes.append({"code": code, "amount": amount, "type": kind})
    refunds = []
    for r in n.get("refunds") or []:
        rid = legacy_id(r.get("legacyResourceId") or r["id"])
        rlis = []
        for rl in _nodes(r.get("refundLineItems")):
            li = rl.get("lineItem") or {}
            restock_type = _lower(rl.get("restockType")) or "no_restock"
            rlis.append(
                {
                    "id": legacy_id(rl["id"]) if rl.get("id") else None,
                    "line_item_id": legacy_id(li.get("id")),
                    "quantity": _int(rl.get("quantity"), "refund line quantity"),
                    "restock_type": restock_type,
                    "location_id": _loc(rl.get("location")),
                    "subtotal": _shop(rl.get("subtotalSet")),
                    "subtotal_set": _set(rl.get("subtotalSet")),
                    "total_tax": _shop(rl.get("totalTaxSet")),
                    "total_tax_set": _set(rl.get("totalTaxSet")),
                    "line_item": {
                        "id": legacy_id(li.get("id")),
                        "sku": li.get("sku"),
                        "price": _shop(li.get("originalUnitPriceSet")),
                    },
                }
            )
        refunds.append(
            {
                "id": rid,
                "order_id": oid,
                "created_at": r.get("createdAt"),
                "processed_at": r.get("processedAt") or r.get("createdAt"),
                "restock": any(x["restock_type"] != "no_restock" for x in rlis),
                "refund_line_items": rlis,
                "transactions": [
                    {
                        "amount": _shop(t.get("amountSet")),
                        "kind": _lower(t.get("kind")),
                        "currency": ((t.get("amountSet") or {}).get("shopMoney") or {}).get(
                            "currencyCode"
                        ),
                    }
                    for t in _nodes(r.get("transactions"))
                ],
            }
        )
    cust = n.get("customer")
    addr = n.get("shippingAddress")
    shipping_set = _set(n.get("totalShippingPriceSet"))
    return {
        "id": oid,
        "admin_graphql_api_id": n.get("id"),
        "name": n.get("name"),
        "order_number": int(str(n["name"]).lstrip("#"))
        if str(n.get("name") or "").lstrip("#").isdigit()
        else None,
        "email": n.get("email"),
        "created_at": n.get("createdAt"),
        "updated_at": n.get("updatedAt"),
        "processed_at": n.get("processedAt"),
        "cancelled_at": n.get("cancelledAt"),
        "cancel_reason": _lower(n.get("cancelReason")),
        "currency": n.get("currencyCode"),
        "presentment_currency": n.get("presentmentCurrencyCode"),
        "financial_status": _lower(n.get("displayFinancialStatus")),
        "fulfillment_status": FULFILLMENT_STATUS.get(n.get("displayFulfillmentStatus") or ""),
        "taxes_included": bool(n.get("taxesIncluded")),
        "total_line_items_price": f"{total_lines:.2f}",
        "total_discounts": discount,
        "total_tax": _shop(n.get("totalTaxSet")),
        "total_price": _shop(n.get("totalPriceSet")),
        "subtotal_price": _shop(n.get("subtotalPriceSet")),
        "total_shipping_price_set": shipping_set,
        "customer": (
            {
                "id": legacy_id(cust.get("legacyResourceId") or cust.get("id")),
                "email": cust.get("email"),
                "first_name": cust.get("firstName"),
                "last_name": cust.get("lastName"),
            }
            if cust
            else None
        ),
        "shipping_address": (
            {"country_code": addr.get("countryCodeV2"), "address1": addr.get("address1")}
            if addr
            else None
        ),
        "discount_codes": discount_codes,
        "shipping_lines": [
            {
                "id": legacy_id(s.get("id")),
                "title": s.get("title"),
                "price": _shop(s.get("originalPriceSet")),
                "price_set": _set(s.get("originalPriceSet")),
            }
            for s in _nodes(n.get("shippingLines"))
        ],
        "line_items": line_items,
        "fulfillment_orders": [
            {
                "id": legacy_id(fo.get("id")),
                "assigned_location_id": _loc((fo.get("assignedLocation") or {}).get("location")),
                "status": _lower(fo.get("status")),
            }
            for fo in _nodes(n.get("fulfillmentOrders"))
        ],
        "fulfillments": [
            {
                "id": legacy_id(f.get("id")),
                "location_id": _loc(f.get("location")),
                "status": _lower(f.get("status")),
                "created_at": f.get("createdAt"),
                **_tracking(f),
                "line_items": [
                    {
                        "id": legacy_id((x.get("lineItem") or {}).get("id")),
                        "quantity": _int(x.get("quantity"), "fulfilled quantity"),
                    }
                    for x in _nodes(f.get("fulfillmentLineItems"))
                ],
            }
            for f in n.get("fulfillments") or []
        ],
        "refunds": refunds,
    }


def _tax_line(t: dict) -> dict:
    price_set = _set(t.get("priceSet"))
    return {
        "price": _shop_of(price_set),
        "price_set": price_set,
        "rate": t.get("rate"),
        "title": t.get("title"),
    }


def _total(line_items: list[dict]) -> Decimal:
    """Sum of price x quantity: in whole cents when every price is the usual 2-decimal string
    (exact, and ~10x faster than Decimal arithmetic), else in Decimal; the same value either
    way, so `f"{total:.2f}"` is the same text."""
    cents = 0
    for li in line_items:
        price = li["price"]
        if price is None:
            continue
        qty = li["quantity"]
        # (bounded, so the cents stay within Decimal's 28 digits as the Decimal sum does)
        if type(price) is not str or len(price) > 12 or not _MONEY_RE.match(price):
            break
        if not -1_000_000_000 < qty < 1_000_000_000:
            break
        cents += int(price.replace(".", "", 1)) * qty
    else:
        return Decimal(cents).scaleb(-2)
    return sum(
        (Decimal(li["price"]) * li["quantity"] for li in line_items if li["price"] is not None),
        Decimal(0),
    )


def _tracking(f: dict) -> dict:
    """A fulfillment's carrier fields in the REST shape (tracking_company, tracking_number(s),
    shipment_status, updated_at), plus what only GraphQL has: delivered_at (deliveredAt) and
    estimated_delivery_at (estimatedDeliveryAt) (docs/raw-contract.md)."""
    info = f.get("trackingInfo") or []
    status = _lower(f.get("displayStatus"))
    return {
        "updated_at": f.get("updatedAt"),
        "tracking_company": info[0].get("company") if info else None,
        "tracking_number": info[0].get("number") if info else None,
        "tracking_numbers": [t.get("number") for t in info if t.get("number")],
        "shipment_status": None if status in (None, "fulfilled", "marked_as_fulfilled") else status,
        "delivered_at": f.get("deliveredAt"),
        "estimated_delivery_at": f.get("estimatedDeliveryAt"),
    }


def customer_to_rest(n: dict) -> dict:
    addr = n.get("defaultAddress")
    email = n.get("email") or ((n.get("defaultEmailAddress") or {}).get("emailAddress"))
    return {
        "id": legacy_id(n.get("legacyResourceId") or n["id"]),
        "email": email,
        "first_name": n.get("firstName"),
        "last_name": n.get("lastName"),
        "created_at": n.get("createdAt"),
        "updated_at": n.get("updatedAt"),
        "default_address": {"country_code": addr.get("countryCodeV2")} if addr else None,
        # GraphQL answers a list; the REST customer (raw contract) has one comma-separated string
        "tags": ", ".join(n.get("tags") or []),
    }


def product_to_rest(n: dict) -> dict:
    variants = []
    for v in _nodes(n.get("variants")):
        item = v.get("inventoryItem") or {}
        cost = item.get("unitCost")
        price = v.get("price")
        variants.append(
            {
                "id": legacy_id(v.get("legacyResourceId") or v["id"]),
                "sku": v.get("sku"),
                "title": v.get("title"),
                "price": _amount(price if isinstance(price, dict) else {"amount": price}),
                "inventory_item_id": legacy_id(item.get("legacyResourceId") or item.get("id")),
                "unit_cost": _amount(cost),
                "unit_cost_currency": (cost or {}).get("currencyCode"),
                "created_at": v.get("createdAt"),
                "updated_at": v.get("updatedAt"),
                **_components(v),
            }
        )
    return {
        "id": legacy_id(n.get("legacyResourceId") or n["id"]),
        "title": n.get("title"),
        "product_type": n.get("productType"),
        "vendor": n.get("vendor"),
        "status": _lower(n.get("status")),
        "created_at": n.get("createdAt"),
        "updated_at": n.get("updatedAt"),
        "variants": variants,
    }


def _components(v: dict) -> dict:
    """A bundle variant's components (Shopify's fixed bundles: `productVariantComponents`, each
    `quantity` units of a component variant in one unit of the bundle), as Shopify gave them;
    staging reads them as the bundle's bill of materials (stg_shop__bundle_components). Only
    when the query asked (a product read without them has neither key)."""
    if "productVariantComponents" not in v and "requiresComponents" not in v:
        return {}
    components = []
    for c in _nodes(v.get("productVariantComponents")):
        part = c.get("productVariant") or {}
        components.append(
            {
                "id": legacy_id(c.get("id")),
                "quantity": _int(c.get("quantity"), "component quantity"),
                "variant_id": legacy_id(part.get("legacyResourceId") or part.get("id")),
                "sku": part.get("sku"),
            }
        )
    return {"requires_components": v.get("requiresComponents"), "components": components}


def location_to_rest(n: dict) -> dict:
    return {
        "id": legacy_id(n.get("legacyResourceId") or n["id"]),
        "name": n.get("name"),
        "active": n.get("isActive"),
        "country_code": (n.get("address") or {}).get("countryCode"),
    }


def level_to_rest(n: dict) -> dict:
    item = n.get("item") or {}
    q = {
        x["name"]: _int(x.get("quantity"), f"{x.get('name')} quantity")
        for x in n.get("quantities") or []
    }
    cost = item.get("unitCost")
    return {
        "inventory_item_id": legacy_id(item.get("legacyResourceId") or item.get("id")),
        "location_id": _loc(n.get("location")),
        "sku": item.get("sku"),
        "on_hand": q.get("on_hand"),
        "committed": q.get("committed"),
        "available": q.get("available"),
        "incoming": q.get("incoming"),
        "unit_cost": _amount(cost),
        "updated_at": n.get("updatedAt"),
    }


@dataclass(frozen=True)
class StreamDef:
    root: str
    query: str
    to_rest: Callable[[dict], dict]
    source_id: Callable[[dict], str]
    updated: Callable[[dict], datetime | None]


def _ts(rec: dict) -> datetime | None:
    return parse_timestamp(rec.get("updated_at"))


STREAMS: dict[str, StreamDef] = {
    "orders": StreamDef(
        "orders", _list_query("orders", ORDER_FIELDS), order_to_rest, lambda r: str(r["id"]), _ts
    ),  # fmt: skip
    "customers": StreamDef(
        "customers",
        _list_query("customers", CUSTOMER_FIELDS),
        customer_to_rest,
        lambda r: str(r["id"]),
        _ts,
    ),  # fmt: skip
    "products": StreamDef(
        "products",
        _list_query("products", PRODUCT_FIELDS),
        product_to_rest,
        lambda r: str(r["id"]),
        _ts,
    ),  # fmt: skip
    "locations": StreamDef(
        "locations", LOCATIONS_QUERY, location_to_rest, lambda r: str(r["id"]), lambda r: None
    ),  # fmt: skip
    "inventory_levels": StreamDef(
        "inventoryLevels",
        LEVELS_QUERY,
        level_to_rest,
        lambda r: f"{r['location_id']}:{r['inventory_item_id']}",
        _ts,
    ),  # fmt: skip
}
CONTRACT_STREAMS = ("orders", "customers", "products")
ALL_STREAMS = (*CONTRACT_STREAMS, "locations", "inventory_levels")


def map_node(stream: str, node: dict) -> RawRecord:
    """One GraphQL node -> RawRecord (raises RecordError/KeyError/... when it cannot be read)."""
    spec = STREAMS[stream]
    rest = spec.to_rest(node)
    return RawRecord(spec.source_id(rest), spec.updated(rest), rest)


def map_nodes(stream: str, nodes: list[dict]) -> Batch:
    batch = Batch()
    for node in nodes:
        if batch.hold_unreadable(node, f"{stream} node"):
            continue
        try:
            batch.records.append(map_node(stream, node))
        except (
            RecordError,
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            InvalidOperation,
        ) as exc:
            sid = None
            with contextlib.suppress(Exception):  # the id itself may be what is broken
                sid = str(legacy_id(node.get("legacyResourceId") or node.get("id")))
            batch.bad.append(
                (sid, f"unreadable {stream} node: {exc}", json.dumps(node, sort_keys=True))
            )
    return batch
