"""Emulated Shopify GraphQL Admin API: `POST /admin/api/<version>/graphql.json`.

Serves orders (line items, discounts, shipping lines, refunds with refund line items and restock
location, fulfillments, fulfillment orders), customers, products with variants and inventory
items (unit cost), locations, and inventory levels per location (on_hand, committed, available,
incoming), each incremental by `query: "updated_at:>='...'"` with `sortKey: UPDATED_AT` and cursor
pagination (`pageInfo { hasNextPage endCursor }`).

It is not a GraphQL engine: it recognises the root field of the query (`orders`, `customers`,
`products`, `locations`, `inventoryLevels`) and returns the full node shape our connector selects,
built by converting the sandbox's REST rendering (`render_shopify_order`) with
`rest_order_to_graphql` - the same converter the mapping test runs on Shopify's own REST fixtures.
Auth: `X-Shopify-Access-Token`. Rate limit: the cost bucket of `extensions.cost.throttleStatus`;
a query costing more than is available answers `THROTTLED` (HTTP 200), like Shopify.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time

import orjson
import polars as pl

from sandbox import render
from sandbox.catalog import BOOK_RATE, LOCATION_META, SHOPIFY_LOCATION_IDS
from sandbox.emulators.base import Emulator, Faults, Reply, Request
from sandbox.emulators.book import ChannelBook
from sandbox.store import Store

ROOT_RE = re.compile(r"\{\s*(?:\w+\s*:\s*)?(orders|customers|products|locations|inventoryLevels)\b")
SINCE_RE = re.compile(r"updated_at:>=?\s*'?\"?([0-9T:\-+.Z]+)")
RESTOCK = {"return": "RETURN", "no_restock": "NO_RESTOCK", "cancel": "CANCEL",
           "legacy_restock": "LEGACY_RESTOCK"}  # fmt: skip


def gid(kind: str, legacy: object) -> str | None:
    return None if legacy is None else f"gid://shopify/{kind}/{legacy}"


def _money(amount: object, cur: str | None) -> dict:
    return {"amount": None if amount is None else str(amount), "currencyCode": cur}


def _bag(price_set: dict | None, amount: object, cur: str | None) -> dict:
    """REST price_set (or a bare shop amount) -> GraphQL MoneyBag."""
    if price_set:
        sm, pm = price_set.get("shop_money") or {}, price_set.get("presentment_money") or {}
        return {
            "shopMoney": _money(sm.get("amount"), sm.get("currency_code")),
            "presentmentMoney": _money(pm.get("amount"), pm.get("currency_code")),
        }
    return {"shopMoney": _money(amount, cur), "presentmentMoney": _money(amount, cur)}


def rest_order_to_graphql(o: dict) -> dict:
    """A Shopify REST order as the GraphQL Admin API returns the same order (our selection)."""
    cur = o.get("currency")
    pres = o.get("presentment_currency") or cur
    li_by_id = {li["id"]: li for li in o.get("line_items") or []}

    def loc(legacy: object) -> dict | None:
        return (
            None
            if legacy is None
            else {"id": gid("Location", legacy), "legacyResourceId": str(legacy)}
        )

    def line_ref(li: dict) -> dict:
        return {"id": gid("LineItem", li["id"]), "sku": li.get("sku"),
                "originalUnitPriceSet": _bag(li.get("price_set"), li.get("price"), cur)}  # fmt: skip

    cust = o.get("customer")
    fin = o.get("financial_status")
    ful = o.get("fulfillment_status")
    return {
        "id": gid("Order", o["id"]),
        "legacyResourceId": str(o["id"]),
        "name": o.get("name"),
        "email": o.get("email"),
        "createdAt": o.get("created_at"),
        "updatedAt": o.get("updated_at"),
        "processedAt": o.get("processed_at"),
        "cancelledAt": o.get("cancelled_at"),
        "cancelReason": o["cancel_reason"].upper() if o.get("cancel_reason") else None,
        "currencyCode": cur,
        "presentmentCurrencyCode": pres,
        "displayFinancialStatus": fin.upper() if fin else None,
        "displayFulfillmentStatus": {None: "UNFULFILLED", "partial": "PARTIALLY_FULFILLED"}.get(
            ful, str(ful).upper()
        ),
        "taxesIncluded": bool(o.get("taxes_included")),
        "subtotalPriceSet": _bag(o.get("subtotal_price_set"), o.get("subtotal_price"), cur),
        "totalDiscountsSet": _bag(o.get("total_discounts_set"), o.get("total_discounts"), cur),
        "totalTaxSet": _bag(o.get("total_tax_set"), o.get("total_tax"), cur),
        "totalPriceSet": _bag(o.get("total_price_set"), o.get("total_price"), cur),
        "totalShippingPriceSet": _bag(o.get("total_shipping_price_set"), None, cur)
        if o.get("total_shipping_price_set")
        else None,
        "customer": (
            {
                "id": gid("Customer", cust["id"]),
                "legacyResourceId": str(cust["id"]),
                "email": cust.get("email"),
                "firstName": cust.get("first_name"),
                "lastName": cust.get("last_name"),
            }  # fmt: skip
            if cust
            else None
        ),
        "shippingAddress": (
            {
                "countryCodeV2": o["shipping_address"].get("country_code"),
                "address1": o["shipping_address"].get("address1"),
            }  # fmt: skip
            if o.get("shipping_address")
            else None
        ),
        "discountCodes": [d.get("code") for d in o.get("discount_codes") or []],
        "discountApplications": {
            "nodes": [
                {
                    "__typename": "DiscountCodeApplication",
                    "code": d.get("code"),
                    "value": (
                        {"__typename": "PricingPercentageValue", "percentage": None}
                        if d.get("type") == "percentage"
                        else {
                            "__typename": "MoneyV2",
                            "amount": d.get("amount"),
                            "currencyCode": cur,
                        }
                    ),
                    "allocatedAmountSet": _bag(None, d.get("amount"), cur),
                }  # fmt: skip
                for d in o.get("discount_codes") or []
            ]
        },
        "shippingLines": {
            "nodes": [
                {
                    "id": gid("ShippingLine", s.get("id")),
                    "title": s.get("title"),
                    "originalPriceSet": _bag(s.get("price_set"), s.get("price"), cur),
                }  # fmt: skip
                for s in o.get("shipping_lines") or []
            ]
        },
        "lineItems": {
            "nodes": [
                {
                    "id": gid("LineItem", li["id"]),
                    "sku": li.get("sku"),
                    "title": li.get("title"),
                    "quantity": li.get("quantity"),
                    "variant": {
                        "id": gid("ProductVariant", li["variant_id"]),
                        "legacyResourceId": str(li["variant_id"]),
                    }
                    if li.get("variant_id")
                    else None,  # fmt: skip
                    "product": {
                        "id": gid("Product", li["product_id"]),
                        "legacyResourceId": str(li["product_id"]),
                    }
                    if li.get("product_id")
                    else None,  # fmt: skip
                    "originalUnitPriceSet": _bag(li.get("price_set"), li.get("price"), cur),
                    "totalDiscountSet": _bag(
                        li.get("total_discount_set"), li.get("total_discount") or "0.00", cur
                    ),
                    "taxLines": [
                        {
                            "priceSet": _bag(t.get("price_set"), t.get("price"), cur),
                            "rate": t.get("rate"),
                            "title": t.get("title"),
                        }  # fmt: skip
                        for t in li.get("tax_lines") or []
                    ],
                }
                for li in o.get("line_items") or []
            ]
        },
        "fulfillmentOrders": {
            "nodes": [
                {
                    "id": gid("FulfillmentOrder", fo.get("id")),
                    "status": str(fo.get("status") or "").upper() or None,
                    "assignedLocation": {"location": loc(fo.get("assigned_location_id"))},
                }  # fmt: skip
                for fo in o.get("fulfillment_orders") or []
            ]
        },
        "fulfillments": [
            {
                "id": gid("Fulfillment", f.get("id")),
                "status": str(f.get("status") or "").upper() or None,
                "createdAt": f.get("created_at"),
                "location": loc(f.get("location_id")),
                "fulfillmentLineItems": {
                    "nodes": [
                        {
                            "lineItem": {"id": gid("LineItem", x["id"])},
                            "quantity": x.get("quantity"),
                        }
                        for x in f.get("line_items") or []
                    ]
                },
            }
            for f in o.get("fulfillments") or []
        ],
        "refunds": [
            {
                "id": gid("Refund", r.get("id")),
                "legacyResourceId": str(r.get("id")),
                "createdAt": r.get("created_at"),
                "processedAt": r.get("processed_at") or r.get("created_at"),
                "refundLineItems": {
                    "nodes": [
                        {
                            "id": gid("RefundLineItem", rl.get("id")),
                            "quantity": rl.get("quantity"),
                            "restockType": RESTOCK.get(rl.get("restock_type"), "NO_RESTOCK")
                            if rl.get("restock_type")
                            else (
                                "LEGACY_RESTOCK" if r.get("restock") else "NO_RESTOCK"
                            ),  # fmt: skip
                            "location": loc(rl.get("location_id")),
                            "lineItem": line_ref(
                                rl.get("line_item")
                                or li_by_id.get(rl.get("line_item_id"))
                                or {"id": rl.get("line_item_id")}
                            ),  # fmt: skip
                            "subtotalSet": _bag(rl.get("subtotal_set"), rl.get("subtotal"), cur),
                            "totalTaxSet": _bag(rl.get("total_tax_set"), rl.get("total_tax"), cur),
                        }
                        for rl in r.get("refund_line_items") or []
                    ]
                },
                "transactions": {
                    "nodes": [
                        {
                            "kind": str(t.get("kind") or "").upper(),
                            "amountSet": _bag(None, t.get("amount"), t.get("currency") or cur),
                        }  # fmt: skip
                        for t in r.get("transactions") or []
                    ]
                },
            }
            for r in o.get("refunds") or []
        ],
    }


def rest_customer_to_graphql(c: dict) -> dict:
    addr = c.get("default_address") or {}
    return {"id": gid("Customer", c["id"]), "legacyResourceId": str(c["id"]), "email": c.get("email"),
            "firstName": c.get("first_name"), "lastName": c.get("last_name"),
            "createdAt": c.get("created_at"), "updatedAt": c.get("updated_at"),
            "defaultAddress": {"countryCodeV2": addr.get("country_code")} if addr else None}  # fmt: skip


def rest_product_to_graphql(p: dict, unit_costs: dict[int, dict] | None = None) -> dict:
    unit_costs = unit_costs or {}
    return {
        "id": gid("Product", p["id"]), "legacyResourceId": str(p["id"]), "title": p.get("title"),
        "productType": p.get("product_type"), "vendor": p.get("vendor"),
        "status": str(p.get("status") or "active").upper(),
        "createdAt": p.get("created_at"), "updatedAt": p.get("updated_at"),
        "variants": {"nodes": [
            {"id": gid("ProductVariant", v["id"]), "legacyResourceId": str(v["id"]),
             "sku": v.get("sku"), "title": v.get("title"), "price": v.get("price"),
             "createdAt": v.get("created_at"), "updatedAt": v.get("updated_at"),
             "inventoryItem": {"id": gid("InventoryItem", v.get("inventory_item_id")),
                               "legacyResourceId": None if v.get("inventory_item_id") is None else str(v["inventory_item_id"]),
                               "unitCost": unit_costs.get(v.get("inventory_item_id"))}}
            for v in p.get("variants") or []]},
    }  # fmt: skip


def _parse_ts(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _cursor(key: tuple) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _uncursor(text: str | None) -> tuple | None:
    if not text:
        return None
    return tuple(json.loads(base64.urlsafe_b64decode(text.encode())))


class ShopifyEmulator(Emulator):
    name = "shopify"

    def __init__(
        self,
        store: Store,
        token: str = "shpat_sandbox_token",
        faults: Faults | None = None,
        now: int | None = None,
        bucket_max: float = 20000.0,
        restore_rate: float = 10000.0,
    ) -> None:
        super().__init__(faults)
        self.store = store
        self.token = token
        self.now = store.end_ts if now is None else now
        self.book = ChannelBook(store, "shop")
        self.bucket_max = bucket_max
        self.restore_rate = restore_rate
        self._available = bucket_max
        self._stamp = time.monotonic()
        self.malformed: set[str] = set()  # order ids served with an unreadable field
        self._products = self._build_products()
        self._unit_costs = self._build_unit_costs()
        # (order index, version time) -> the node's JSON bytes, when `cache_rendered` is on
        self.cache_rendered = False
        self._rendered: dict[tuple[int, int], bytes] = {}

    # ------------------------------------------------------------------ knobs
    def set_time(self, ts: int) -> None:
        with self.lock:
            self.now = int(ts)

    def advance(self, seconds: int) -> None:
        with self.lock:
            self.now += int(seconds)

    def add_refund(self, order_id: str, quantity: int = 1, at: int | None = None) -> dict:
        return self.book.add_refund(order_id, self.now if at is None else at, quantity)

    def touch(self, order_id: str, at: int | None = None) -> None:
        self.book.touch(order_id, self.now if at is None else at)

    # ------------------------------------------------------------------ cost bucket
    def _spend(self, cost: float) -> tuple[bool, dict]:
        with self.lock:
            t = time.monotonic()
            self._available = min(
                self.bucket_max, self._available + (t - self._stamp) * self.restore_rate
            )
            self._stamp = t
            ok = cost <= self._available
            if ok:
                self._available -= cost
            status = {"maximumAvailable": self.bucket_max,
                      "currentlyAvailable": int(self._available), "restoreRate": self.restore_rate}  # fmt: skip
        return ok, {"requestedQueryCost": cost, "actualQueryCost": cost if ok else None,
                    "throttleStatus": status}  # fmt: skip

    def throttle_reply(self) -> Reply:
        # Shopify GraphQL signals throttling in the body; keep 429 for a share of them too.
        return Reply(429, {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."},
                     {"Retry-After": f"{self.faults.retry_after:g}"})  # fmt: skip

    # ------------------------------------------------------------------ HTTP
    def handle(self, req: Request) -> Reply:
        if req.method != "POST" or not re.fullmatch(r"/admin/api/[\w-]+/graphql\.json", req.path):
            return Reply(404, {"errors": "Not Found"})
        if req.headers.get("x-shopify-access-token") != self.token:
            self.stats.unauthorized += 1
            return Reply(
                401,
                {
                    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
                },
            )
        body = req.json()
        query = body.get("query") or ""
        variables = body.get("variables") or {}
        m = ROOT_RE.search(query)
        if not m:
            return Reply(
                200, {"errors": [{"message": "Field not supported by the sandbox emulator"}]}
            )
        root = m.group(1)
        first = min(int(variables.get("first") or 50), 250)
        cost = 2 + first * 2  # roughly: one point per node and per nested connection
        ok, ext = self._spend(cost)
        if not ok:
            self.stats.throttled += 1
            return Reply(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
                         "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                               "extensions": {"cost": ext}})  # fmt: skip
        since_m = SINCE_RE.search(variables.get("query") or "")
        since = _parse_ts(since_m.group(1)) if since_m else None
        after = _uncursor(variables.get("after"))
        with self.lock:
            now = self.now
        if root == "orders" and self.cache_rendered:
            return self._orders_cached(now, since, after, first, ext)
        if root == "orders":
            data = self._orders(now, since, after, first)
        elif root == "customers":
            data = self._keyed(
                self._customer_rows(now), since, after, first, rest_customer_to_graphql
            )
        elif root == "products":
            data = self._keyed(self._product_rows(now), since, after, first,
                               lambda p: rest_product_to_graphql(p, self._unit_costs))  # fmt: skip
        elif root == "locations":
            data = self._locations()
        else:
            data = self._inventory_levels(now, variables.get("locationId"), after, first)
        return Reply(200, {"data": {root: data}, "extensions": {"cost": ext}})

    def prerender(self) -> int:
        """Render every order version visible now, once, and serve them from memory afterwards
        (benchmarks: a real Shopify does not spend *our* CPU rendering pages, so the emulator
        should not either). Fault knobs that edit nodes are ignored for cached nodes."""
        self.cache_rendered = True
        b = self.book
        with b.lock:
            for v, i in b.index(self.now):
                self._node_bytes(i, v)
        return len(self._rendered)

    def _node_bytes(self, i: int, v: int) -> bytes:
        key = (i, v)
        data = self._rendered.get(key)
        if data is None:
            b = self.book
            rest = render.render_shopify_order(
                b.orders[i], b.lines[i], b.refunds[i], v, b.shop_customer(i)
            )
            data = orjson.dumps(rest_order_to_graphql(rest))
            self._rendered[key] = data
        return data

    def _conn(self, nodes: list[dict], keys: list[tuple], has_next: bool) -> dict:
        nodes = self.maybe_duplicate(nodes)
        return {"nodes": nodes, "pageInfo": {"hasNextPage": has_next,
                "endCursor": _cursor(keys[-1]) if keys else None}}  # fmt: skip

    def _orders(self, now: int, since: int | None, after: tuple | None, first: int) -> dict:
        b = self.book
        with b.lock:
            rows = b.since(now, after, since)
            page, more = rows[:first], len(rows) > first
            nodes = []
            for v, i in page:
                rest = render.render_shopify_order(
                    b.orders[i], b.lines[i], b.refunds[i], v, b.shop_customer(i)
                )
                node = rest_order_to_graphql(rest)
                if str(rest["id"]) in self.malformed:
                    node["lineItems"]["nodes"][0]["quantity"] = "two"  # unreadable record
                nodes.append(node)
        return self._conn(nodes, [tuple(k) for k in page], more)

    def _orders_cached(
        self, now: int, since: int | None, after: tuple | None, first: int, ext: dict
    ) -> Reply:
        """The orders page assembled from pre-rendered node bytes (see `prerender`)."""
        b = self.book
        with b.lock:
            rows = b.since(now, after, since)
            page, more = rows[:first], len(rows) > first
            nodes = [self._node_bytes(i, v) for v, i in page]
        info = {"hasNextPage": more, "endCursor": _cursor(tuple(page[-1])) if page else None}
        body = (
            b'{"data":{"orders":{"nodes":['
            + b",".join(nodes)
            + b'],"pageInfo":'
            + orjson.dumps(info)
            + b'}},"extensions":{"cost":'
            + orjson.dumps(ext)
            + b"}}"
        )
        return Reply(200, body)

    def _keyed(
        self, rows: list[dict], since: int | None, after: tuple | None, first: int, conv
    ) -> dict:
        keyed = [((r["_ts"], r["id"]), r) for r in rows]
        if since is not None:
            keyed = [kr for kr in keyed if kr[0][0] >= since]
        if after is not None:
            keyed = [kr for kr in keyed if kr[0] > after]
        page = keyed[:first]
        return self._conn(
            [conv(r["rest"]) for _, r in page], [k for k, _ in page], len(keyed) > first
        )

    def _customer_rows(self, now: int) -> list[dict]:
        out = []
        for c in self.book.customers(now):
            if c["created_ts"] <= now:
                out.append(
                    {
                        "_ts": c["updated_ts"],
                        "id": c["id"],
                        "rest": render.render_shopify_customer(c),
                    }
                )
        return out

    def _build_products(self) -> list[dict]:
        store, cat = self.store, self.store.catalog
        prods = store.truth["products"]
        start_ts = int(dt.datetime.combine(store.start_date, dt.time(9), dt.UTC).timestamp())
        out = []
        for i, p in enumerate(prods.iter_rows(named=True)):
            created = (start_ts - 400 * 86400 if cat.launch_day[i] == 0
                       else start_ts + int(cat.launch_day[i]) * 86400 - 7 * 86400)  # fmt: skip
            updated = (
                created
                if p["discontinued_date"] is None
                else start_ts + int(cat.end_day[i]) * 86400
            )
            out.append({"sku_idx": i, "sku": p["sku"], "title": p["title"], "category": p["category"],
                        "vendor": cat.supplier_names[cat.supplier[i]], "status": p["status"],
                        "list_price": int(cat.list_price_cents[i]), "created_ts": created,
                        "updated_ts": updated})  # fmt: skip
        return out

    def _build_unit_costs(self) -> dict[int, dict]:
        cat = self.store.catalog
        out = {}
        for i in range(len(cat.skus)):
            cur = cat.supplier_currency[cat.supplier[i]]
            eur = round(int(cat.unit_cost_cents[i]) * BOOK_RATE[cur])
            out[4100000001 + i] = {"amount": render.money(eur), "currencyCode": "EUR"}
        return out

    def _product_rows(self, now: int) -> list[dict]:
        out = []
        for p in self._products:
            if p["created_ts"] > now:
                continue
            q = (
                p
                if p["updated_ts"] <= now
                else dict(p, status="active", updated_ts=p["created_ts"])
            )
            out.append({"_ts": q["updated_ts"], "id": 9100000001 + q["sku_idx"],
                        "rest": render.render_shopify_product(q)})  # fmt: skip
        out.sort(key=lambda r: (r["_ts"], r["id"]))
        return out

    def _locations(self) -> dict:
        nodes = []
        for loc_id, legacy in SHOPIFY_LOCATION_IDS.items():
            name, country, _ = LOCATION_META[loc_id]
            nodes.append({"id": gid("Location", legacy), "legacyResourceId": str(legacy), "name": name,
                          "isActive": True, "address": {"countryCode": country}})  # fmt: skip
        return {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}

    def _inventory_levels(
        self, now: int, location_gid: str | None, after: tuple | None, first: int
    ) -> dict:
        """Levels at one Shopify location at the clock's day (from the store's truth)."""
        legacy = int(str(location_gid or "").rsplit("/", 1)[-1] or 0)
        loc_id = next((k for k, v in SHOPIFY_LOCATION_IDS.items() if v == legacy), None)
        if loc_id is None:
            return {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
        rows = self._levels(loc_id, now)
        if after is not None:
            rows = [r for r in rows if (r["sku_idx"],) > tuple(after)]
        page = rows[:first]
        nodes = [
            {"id": f"gid://shopify/InventoryLevel/{4100000001 + r['sku_idx']}?inventory_item_id={legacy}",
             "updatedAt": r["updated_at"],
             "location": {"id": gid("Location", legacy), "legacyResourceId": str(legacy)},
             "item": {"id": gid("InventoryItem", 4100000001 + r["sku_idx"]),
                      "legacyResourceId": str(4100000001 + r["sku_idx"]), "sku": r["sku"],
                      "unitCost": self._unit_costs.get(4100000001 + r["sku_idx"])},
             "quantities": [{"name": n, "quantity": r[n]} for n in ("available", "on_hand", "committed", "incoming")]}
            for r in page
        ]  # fmt: skip
        return {"nodes": nodes, "pageInfo": {"hasNextPage": len(rows) > first,
                "endCursor": _cursor((page[-1]["sku_idx"],)) if page else None}}  # fmt: skip

    def _levels(self, loc_id: str, now: int) -> list[dict]:
        store = self.store
        day = min(store.end_date, dt.datetime.fromtimestamp(now, dt.UTC).date())
        t = store.truth
        d = t["demand"].filter((pl.col("location_id") == loc_id) & (pl.col("date") == day))
        held = (
            t["order_lines"].filter(~pl.col("cancelled") & (pl.col("location_id") == loc_id))
            .join(t["orders"].select("channel", "order_id", "fulfilled_at", "order_date"),
                  on=["channel", "order_id", "order_date"])
            .filter(pl.col("order_date") <= day)
            .filter(pl.col("fulfilled_at").is_null() | (pl.col("fulfilled_at").dt.date() > day))
            .group_by("sku").agg(committed=pl.col("quantity").sum())
        )  # fmt: skip
        po = (
            t["purchase_orders"].filter((pl.col("location_id") == loc_id) & pl.col("status").is_in(["open", "partial"]))
            .group_by("sku").agg(incoming=(pl.col("quantity_ordered") - pl.col("quantity_received")).sum())
        )  # fmt: skip
        df = (d.join(held, on="sku", how="left").join(po, on="sku", how="left")
              .with_columns(pl.col("committed").fill_null(0), pl.col("incoming").fill_null(0))
              .sort("sku"))  # fmt: skip
        sku_idx = {s: i for i, s in enumerate(store.catalog.skus)}
        stamp = render.ts_offset(min(now, store.end_ts))
        return [
            {"sku_idx": sku_idx[r["sku"]], "sku": r["sku"], "on_hand": int(r["on_hand_eod"]) + int(r["committed"]),
             "committed": int(r["committed"]), "available": int(r["on_hand_eod"]),
             "incoming": int(r["incoming"]), "updated_at": stamp}
            for r in df.iter_rows(named=True) if r["is_active"]
        ]  # fmt: skip
