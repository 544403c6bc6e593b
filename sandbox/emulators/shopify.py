"""Emulated Shopify GraphQL Admin API: `POST /admin/api/<version>/graphql.json`.

A GraphQL server (graphql-core, `sandbox/emulators/shopify_graphql.py`) on Shopify's own published
Admin API schema of the requested version: a query is parsed, validated (unknown fields, wrong
arguments or types answer Shopify-shaped errors), priced by Shopify's cost rules
(`sandbox/emulators/shopify_cost.py`) and executed; only the selected fields come back. The data
are the sandbox Store's: orders (line items, discounts, shipping lines, refunds with refund line
items and restock location, fulfillments, fulfillment orders), customers, products with variants
and inventory items (unit cost), locations and their inventory levels (on_hand, committed,
available, incoming), converted from the REST rendering the file drops use
(`rest_order_to_graphql`), with Shopify's GraphQL formats: `gid://shopify/...` ids, UTC `Z`
timestamps, decimal strings as Shopify writes them (`15.0`).

Roots: `orders`, `customers`, `products` (`query:` filters `updated_at`/`created_at` with
`>= > <= < :`, `sortKey` UPDATED_AT/CREATED_AT/ID, `reverse`, `first`/`last` <= 250, cursors),
`order(id)`, `node(id)` (orders, refunds, fulfillments: for the follow-up pages of a nested
connection), `locations`, `location(id) { inventoryLevels }`.

Limits as Shopify's: the requested cost above 1,000 answers `MAX_COST_EXCEEDED`; the cost bucket
(`plan=` presets of `shopify_cost.PLANS`, `extensions.cost.throttleStatus`) answers `THROTTLED`
when it lacks the requested points, and refunds requested - actual after a query ran. A token
without `read_all_orders` sees only orders created in the last 60 days.
Auth: `X-Shopify-Access-Token`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import polars as pl

from sandbox import render
from sandbox.catalog import BOOK_RATE, LOCATION_META, SHOPIFY_LOCATION_IDS
from sandbox.drops import explode_bundles
from sandbox.emulators import shopify_bulk
from sandbox.emulators import shopify_graphql as gql
from sandbox.emulators.base import Emulator, Faults, Reply, Request
from sandbox.emulators.book import ChannelBook
from sandbox.emulators.shopify_cost import MAX_QUERY_COST, PLANS, actual_cost, requested_cost
from sandbox.store import Store

RESTOCK = {"return": "RETURN", "no_restock": "NO_RESTOCK", "cancel": "CANCEL",
           "legacy_restock": "LEGACY_RESTOCK"}  # fmt: skip
ALL_SCOPES = frozenset(
    {"read_orders", "read_all_orders", "read_customers", "read_products", "read_inventory",
     "read_locations"}
)  # fmt: skip
HISTORY_WITHOUT_ALL_ORDERS = 60 * 86400  # Shopify: the last 60 days of orders
DOCS = "https://shopify.dev/api/usage/rate-limits"
MAX_NODE_IDS = 250  # Shopify: `nodes(ids:)` takes at most 250 ids
VARIANT_ID0 = 8100000001  # a SKU's variant id: this + its index (sandbox/render.py)
COMPONENT_ID0 = 6100000001  # a bundle component's id: this + its row in the bill of materials
SEARCH_RE = re.compile(r"(updated_at|created_at):\s*(>=|<=|>|<)?\s*['\"]?([^'\"\s]+)['\"]?")


def gid(kind: str, legacy: object) -> str | None:
    return None if legacy is None else f"gid://shopify/{kind}/{legacy}"


def decimal_text(amount: object) -> str | None:
    """A Decimal as Shopify's GraphQL writes it: no trailing zeros, at least one decimal
    (`15.0`, `12.5`, `199.99`; the captures' `shopMoney.amount`)."""
    if amount is None:
        return None
    d = Decimal(str(amount))
    if d == d.to_integral_value():
        return f"{d.quantize(Decimal(1))}.0"
    return format(d.normalize(), "f")


def utc_z(text: object) -> str | None:
    """A timestamp as Shopify's GraphQL writes it: UTC, seconds, `Z` (`2026-06-22T23:01:18Z`)."""
    if text is None:
        return None
    t = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(amount: object, cur: str | None) -> dict:
    return {"amount": decimal_text(amount), "currencyCode": cur}


def _percent(part: object, whole: object) -> float:
    """The percentage a discount code took (REST keeps only its amount)."""
    try:
        return round(float(Decimal(str(part)) / Decimal(str(whole)) * 100), 2)
    except (ArithmeticError, ValueError, TypeError):
        return 0.0


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
        "__typename": "Order",
        "id": gid("Order", o["id"]),
        "legacyResourceId": str(o["id"]),
        "name": o.get("name"),
        "email": o.get("email"),
        "createdAt": utc_z(o.get("created_at")),
        "updatedAt": utc_z(o.get("updated_at")),
        "processedAt": utc_z(o.get("processed_at")),
        "cancelledAt": utc_z(o.get("cancelled_at")),
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
                        {
                            "__typename": "PricingPercentageValue",
                            "percentage": _percent(
                                d.get("amount"), o.get("total_line_items_price")
                            ),
                        }
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
                "__typename": "Fulfillment",
                "id": gid("Fulfillment", f.get("id")),
                "status": str(f.get("status") or "").upper() or None,
                "createdAt": utc_z(f.get("created_at")),
                "updatedAt": utc_z(f.get("updated_at") or f.get("created_at")),
                "location": loc(f.get("location_id")),
                # REST tracking_company / tracking_number(s) / shipment_status as GraphQL has them
                "trackingInfo": [
                    {"company": f.get("tracking_company"), "number": n, "url": None}
                    for n in (f.get("tracking_numbers") or [f.get("tracking_number")])
                    if n or f.get("tracking_company")
                ],
                "displayStatus": str(f.get("shipment_status") or "fulfilled").upper(),
                "deliveredAt": utc_z(f.get("updated_at"))
                if f.get("shipment_status") == "delivered"
                else None,
                "inTransitAt": utc_z(f.get("created_at")) if f.get("shipment_status") else None,
                "estimatedDeliveryAt": None,
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
                "__typename": "Refund",
                "id": gid("Refund", r.get("id")),
                "legacyResourceId": str(r.get("id")),
                "createdAt": utc_z(r.get("created_at")),
                "processedAt": utc_z(r.get("processed_at") or r.get("created_at")),
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
            "createdAt": utc_z(c.get("created_at")), "updatedAt": utc_z(c.get("updated_at")),
            "defaultAddress": {"countryCodeV2": addr.get("country_code")} if addr else None,
            # REST `tags` is one comma-separated string, GraphQL `Customer.tags` a [String!]!
            "tags": [t.strip() for t in (c.get("tags") or "").split(",") if t.strip()]}  # fmt: skip


def rest_product_to_graphql(
    p: dict,
    unit_costs: dict[int, dict] | None = None,
    components: Callable[[int], list[dict]] | None = None,
) -> dict:
    """A REST product as the GraphQL Admin API returns it. `components(variant id)`: the
    variant's `productVariantComponents` nodes (a fixed bundle's; none for other variants)."""
    unit_costs = unit_costs or {}
    parts = components or (lambda _: [])
    return {
        "id": gid("Product", p["id"]), "legacyResourceId": str(p["id"]), "title": p.get("title"),
        "productType": p.get("product_type"), "vendor": p.get("vendor"),
        "status": str(p.get("status") or "active").upper(),
        "createdAt": utc_z(p.get("created_at")), "updatedAt": utc_z(p.get("updated_at")),
        "variants": {"nodes": [
            {"id": gid("ProductVariant", v["id"]), "legacyResourceId": str(v["id"]),
             "sku": v.get("sku"), "title": v.get("title"), "price": decimal_text(v.get("price")),
             "createdAt": utc_z(v.get("created_at")), "updatedAt": utc_z(v.get("updated_at")),
             "inventoryItem": {"id": gid("InventoryItem", v.get("inventory_item_id")),
                               "legacyResourceId": None if v.get("inventory_item_id") is None else str(v["inventory_item_id"]),
                               "unitCost": unit_costs.get(v.get("inventory_item_id"))},
             "requiresComponents": bool(parts(v["id"])),
             "productVariantComponents": {"nodes": parts(v["id"])}}
            for v in p.get("variants") or []]},
    }  # fmt: skip


def parse_search(text: str | None) -> dict[str, list[tuple[str, int]]]:
    """`updated_at:>='2026-06-01T00:00:00Z' created_at:<2026-06-10` -> {field: [(op, epoch)]}.
    A timestamp that does not parse answers Shopify's BAD_REQUEST."""
    out: dict[str, list[tuple[str, int]]] = {}
    for field, op, value in SEARCH_RE.findall(text or ""):
        try:
            t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise gql.bad_request(f"Invalid timestamp for query filter `{field}`.") from None
        if t.tzinfo is None:
            t = t.replace(tzinfo=dt.UTC)
        out.setdefault(field, []).append((op or ":", int(t.timestamp())))
    return out


def _passes(ts: int, conds: list[tuple[str, int]]) -> bool:
    for op, v in conds:
        if (op == ">=" and ts < v) or (op == ">" and ts <= v) or (op == "<=" and ts > v):
            return False
        if (op == "<" and ts >= v) or (op == ":" and not v <= ts < v + 86400):
            return False
    return True


def keyset(
    keys: list[tuple],
    args: dict,
    keep: Any = None,
    lo_key: tuple | None = None,
    bulk: bool = False,
) -> tuple[list[tuple[str, tuple]], bool, bool]:
    """A page of `keys` (sorted ascending) for a connection's arguments: [(cursor, key)],
    hasNextPage, hasPreviousPage. `keep(key)` filters; `lo_key` skips what sorts before it."""
    size, from_end = gql.page_args(args, bulk)
    desc = bool(args.get("reverse")) != from_end  # walk direction over the ascending list
    start_cur = args.get("before") if from_end else args.get("after")
    start = gql.decode_cursor(start_cur)
    n = len(keys)
    if not desc:
        i = bisect.bisect_right(keys, tuple(start)) if start is not None else 0
        if lo_key is not None:
            i = max(i, bisect.bisect_left(keys, lo_key))
        rng = range(i, n)
    else:
        i = bisect.bisect_left(keys, tuple(start)) - 1 if start is not None else n - 1
        rng = range(i, -1, -1)
    page: list[tuple] = []
    more = False
    for j in rng:
        k = keys[j]
        if desc and lo_key is not None and k < lo_key:
            break
        if keep is not None and not keep(k):
            continue
        if len(page) == size:
            more = True
            break
        page.append(k)
    if from_end:
        page.reverse()
    rows = [(gql.encode_cursor(list(k)), k) for k in page]
    has_next, has_prev = (more, start is not None) if not from_end else (start is not None, more)
    return rows, has_next, has_prev


class ShopifyEmulator(Emulator):
    name = "shopify"
    default_version = "2025-01"

    def __init__(
        self,
        store: Store,
        token: str = "shpat_sandbox_token",
        faults: Faults | None = None,
        now: int | None = None,
        plan: str = "fast",
        bucket_max: float | None = None,
        restore_rate: float | None = None,
        scopes: frozenset[str] | set[str] = ALL_SCOPES,
    ) -> None:
        super().__init__(faults)
        self.store = store
        self.token = token
        self.scopes = frozenset(scopes)
        self.now = store.end_ts if now is None else now
        self.book = ChannelBook(store, "shop")
        size, rate = PLANS[plan]
        self.plan = plan
        self.bucket_max = float(bucket_max if bucket_max is not None else size)
        self.restore_rate = float(restore_rate if restore_rate is not None else rate)
        self._available = self.bucket_max
        self._stamp = time.monotonic()
        gql.load_schema(self.default_version)  # ~3 s once per process: not in a request
        self.points_spent = 0.0  # actual cost charged, all queries
        self.queries = 0
        self.malformed: set[str] = set()  # order ids served with an unreadable line id
        self._products = self._build_products()
        self._unit_costs = self._build_unit_costs()
        self._bundles = self._build_bundles()
        self._nodes: dict[str, tuple[str, int]] = {}  # gid -> (kind, order index): node(id)
        # Bulk Operations: seconds until an operation completes, the errorCode it fails with
        # (ACCESS_DENIED, INTERNAL_SERVER_ERROR, TIMEOUT; None: it succeeds), whether a failed
        # one leaves a partialDataUrl, and how long its result URL stays valid (Shopify: a week)
        self.bulk_seconds = 0.0
        self.bulk_failure: str | None = None
        self.bulk_partial = False
        self.bulk_url_seconds = 7 * 86400.0
        self.bulk_ops: dict[str, dict] = {}
        self.bulk_current: str | None = None
        self._bulk_files: dict[str, bytes] = {}
        self._sorted: dict[tuple, list[tuple]] = {}

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

    def server_time(self) -> int | None:
        return self.now  # the Date header tells the shop's (emulated) clock

    # ------------------------------------------------------------------ cost bucket
    def _refill(self) -> None:
        t = time.monotonic()
        self._available = min(
            self.bucket_max, self._available + (t - self._stamp) * self.restore_rate
        )
        self._stamp = t

    def _status(self) -> dict:
        return {"maximumAvailable": self.bucket_max,
                "currentlyAvailable": int(self._available), "restoreRate": self.restore_rate}  # fmt: skip

    def throttle_reply(self) -> Reply:
        # Shopify GraphQL signals throttling in the body; keep 429 for a share of them too.
        return Reply(429, {"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."},
                     {"Retry-After": f"{self.faults.retry_after:g}"})  # fmt: skip

    # ------------------------------------------------------------------ HTTP
    def handle(self, req: Request) -> Reply:
        if req.method == "GET" and req.path.startswith("/bulk/"):
            return self.bulk_download(req.path.rsplit("/", 1)[-1])
        m = re.fullmatch(r"/admin/api/([\w-]+)/graphql\.json", req.path)
        if req.method != "POST" or not m:
            return Reply(404, {"errors": "Not Found"})
        if req.headers.get("x-shopify-access-token") != self.token:
            self.stats.unauthorized += 1
            return Reply(
                401,
                {
                    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
                },
            )
        try:
            schema = gql.load_schema(m.group(1))
        except gql.UnknownVersion:
            return Reply(404, {"errors": "Not Found"})
        body = req.json()
        query = body.get("query") or ""
        variables = body.get("variables") or {}
        op_name = body.get("operationName")
        doc, errors = gql.prepare(m.group(1), query)
        if errors or doc is None:
            return Reply(200, {"errors": errors})
        cost = requested_cost(schema, doc, variables, op_name)
        with self.lock:
            self._refill()
            if cost > MAX_QUERY_COST:
                return Reply(200, {"errors": [{
                    "message": f"Query cost is {cost}, which exceeds the single query max cost "
                    f"limit ({MAX_QUERY_COST}).\n\nSee {DOCS} for more information on how the\n"
                    "cost of a query is calculated.\n\nTo query larger amounts of data with "
                    "fewer limits, bulk operations should be used instead.\n",
                    "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost,
                                   "maxCost": MAX_QUERY_COST, "documentation": DOCS}}]})  # fmt: skip
            if cost > self._available:
                self.stats.throttled += 1
                return Reply(200, {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": DOCS}}],
                    "extensions": {"cost": {"requestedQueryCost": cost, "actualQueryCost": None,
                                            "throttleStatus": self._status()}}})  # fmt: skip
            self._available -= cost
            now = self.now
        data, errors = gql.run(schema, doc, _Root(self, now, m.group(1)), variables, op_name)
        actual = actual_cost(schema, doc, data, variables, op_name) if data else cost
        actual = min(actual, cost)
        with self.lock:
            self._available = min(self.bucket_max, self._available + cost - actual)
            self.points_spent += actual
            self.queries += 1
            ext = {"requestedQueryCost": cost, "actualQueryCost": actual,
                   "throttleStatus": self._status()}  # fmt: skip
        out: dict[str, Any] = {}
        if errors:
            out["errors"] = errors
        out["data"] = data
        out["extensions"] = {"cost": ext}
        return Reply(200, out)

    # ------------------------------------------------------------------ bulk operations
    def bulk_run(self, query: str, now: int, version: str) -> dict:
        """`bulkOperationRunQuery`: validate as Shopify does, run the query at `now` into a
        JSONL file (served on this server), and answer the operation as CREATED."""
        with self.lock:
            cur = self.bulk_view(self.bulk_current)
            if cur is not None and cur["status"] in ("CREATED", "RUNNING"):
                return {"bulkOperation": None, "userErrors": [{"field": None, "code": "OPERATION_IN_PROGRESS",
                        "message": "A bulk query operation for this app and shop is already in "
                        f"progress: {cur['id']}."}]}  # fmt: skip
        schema = gql.load_schema(version)
        doc, errors = shopify_bulk.validate_bulk(schema, query)
        if doc is None:
            return {"bulkOperation": None, "userErrors": errors}
        data, _ = gql.run(schema, doc, _Root(self, now, version, bulk=True), {}, None, bulk=True)
        lines = list(shopify_bulk.to_jsonl(schema, doc, data or {}))
        with self.lock:
            n = len(self.bulk_ops) + 1
            op_id = f"gid://shopify/BulkOperation/{7749099000000 + n}"
            self._bulk_files[op_id] = b"".join(lines)
            self.bulk_ops[op_id] = {
                "query": query, "created": time.monotonic(), "createdAt": utc_z(render.ts_z(now)),
                "objects": len(lines), "roots": sum(b'"__parentId"' not in x for x in lines),
                "failure": self.bulk_failure, "partial": self.bulk_partial,
                "seconds": self.bulk_seconds,
            }  # fmt: skip
            self.bulk_current = op_id
        return {"bulkOperation": self.bulk_view(op_id), "userErrors": []}

    def bulk_view(self, op_id: str | None) -> dict | None:
        """The BulkOperation object as it stands now (CREATED, RUNNING, then COMPLETED/FAILED)."""
        op = self.bulk_ops.get(str(op_id)) if op_id else None
        if op is None:
            return None
        age = time.monotonic() - op["created"]
        done = age >= op["seconds"]
        status = "CREATED" if age < op["seconds"] / 2 else "RUNNING"
        out = {"__typename": "BulkOperation", "id": op_id, "type": "QUERY", "query": op["query"],
               "createdAt": op["createdAt"], "completedAt": None, "errorCode": None,
               "objectCount": "0", "rootObjectCount": "0", "fileSize": None, "url": None,
               "partialDataUrl": None, "status": status}  # fmt: skip
        if not done:
            return out
        url = f"{self.base_url}/bulk/{str(op_id).rsplit('/', 1)[-1]}.jsonl"
        size = len(self._bulk_files[str(op_id)])
        out.update(completedAt=op["createdAt"], objectCount=str(op["objects"]),
                   rootObjectCount=str(op["roots"]))  # fmt: skip
        if op["failure"]:
            out.update(status="FAILED", errorCode=op["failure"])
            if op["partial"]:
                out["partialDataUrl"] = url + "?partial=1"
            return out
        out.update(status="COMPLETED", url=url, fileSize=str(size) if size else None)
        if not size:
            out["url"] = None  # Shopify: no objects, no file
        return out

    def bulk_download(self, name: str) -> Reply:
        """The result file (a signed storage URL at Shopify; here on 127.0.0.1). An expired one
        answers 403 as the storage does."""
        op_id = f"gid://shopify/BulkOperation/{name.split('.', 1)[0]}"
        op = self.bulk_ops.get(op_id)
        if op is None:
            return Reply(404, b"<Error><Code>NoSuchKey</Code></Error>")
        if time.monotonic() - op["created"] > op["seconds"] + self.bulk_url_seconds:
            return Reply(
                403,
                b"<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>",
            )
        data = self._bulk_files[op_id]
        if op["failure"] and op["partial"]:
            data = data[: len(data) // 2]
            data = data[: data.rfind(b"\n") + 1]
        return Reply(200, data, {"Content-Type": "application/jsonl"})

    # ------------------------------------------------------------------ orders
    def order_node(self, i: int, v: int) -> dict:
        b = self.book
        rest = render.render_shopify_order(
            b.orders[i], b.lines[i], b.refunds[i], v, b.shop_customer(i)
        )
        node = rest_order_to_graphql(rest)
        if str(rest["id"]) in self.malformed and node["lineItems"]["nodes"]:
            node["lineItems"]["nodes"][0]["id"] = "gid://shopify/LineItem/two"  # unreadable
        with self.lock:
            self._nodes[node["id"]] = ("Order", i)
            for r in node["refunds"]:
                self._nodes[r["id"]] = ("Refund", i)
            for f in node["fulfillments"]:
                self._nodes[f["id"]] = ("Fulfillment", i)
        return node

    def sorted_orders(self, now: int, sort: str) -> list[tuple]:
        """Keys of the orders visible at `now` in `sort` order (ascending): (value, index)."""
        b = self.book
        idx = b.index(now)
        if sort == "UPDATED_AT":
            return idx
        key = (now, b.generation, sort)
        got = self._sorted.get(key)
        if got is None:
            if sort in ("CREATED_AT", "PROCESSED_AT"):
                got = sorted((int(b.orders[i]["placed_ts"]), i) for _, i in idx)
            else:  # ID and anything else we do not model: by id
                got = sorted((int(b.orders[i]["source_id"]), i) for _, i in idx)
            self._sorted = {key: got}
        return got

    # ------------------------------------------------------------------ products & stock
    def _customer_rows(self, now: int) -> list[dict]:
        out = []
        for c in self.book.customers(now):
            if c["created_ts"] <= now:
                out.append({"_ts": c["updated_ts"], "_created": c["created_ts"], "id": c["id"],
                            "rest": render.render_shopify_customer(c)})  # fmt: skip
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
                        "vendor": cat.vendor(i), "status": p["status"],
                        "list_price": int(cat.list_price_cents[i]), "created_ts": created,
                        "updated_ts": updated})  # fmt: skip
        return out

    def _build_unit_costs(self) -> dict[int, dict]:
        cat = self.store.catalog
        out = {}
        for i in range(len(cat.skus)):
            if cat.supplier[i] < 0:  # a bundle: no cost of its own (no supplier)
                continue
            cur = cat.supplier_currency[cat.supplier[i]]
            eur = round(int(cat.unit_cost_cents[i]) * BOOK_RATE[cur])
            out[4100000001 + i] = {"amount": decimal_text(render.money(eur)), "currencyCode": "EUR"}
        return out

    def _build_bundles(self) -> dict[int, list[tuple[int, int, int]]]:
        """The sandbox's bundles as Shopify fixed bundles (sandbox/bundles.py's bill of
        materials): bundle variant id -> [(component id, quantity, component sku index)]."""
        sku_idx = {s: i for i, s in enumerate(self.store.catalog.skus)}
        bom = self.store.truth["bundle_components"].sort("bundle_sku", "component_sku")
        out: dict[int, list[tuple[int, int, int]]] = {}
        for n, r in enumerate(bom.iter_rows(named=True)):
            variant = VARIANT_ID0 + sku_idx[r["bundle_sku"]]
            out.setdefault(variant, []).append(
                (COMPONENT_ID0 + n, int(r["quantity"]), sku_idx[r["component_sku"]])
            )
        return out

    def _product_at(self, p: dict, now: int) -> dict | None:
        """A product row as the shop shows it at `now` (None before it was created)."""
        if p["created_ts"] > now:
            return None
        return p if p["updated_ts"] <= now else dict(p, status="active", updated_ts=p["created_ts"])

    def _product_rows(self, now: int) -> list[dict]:
        out = []
        for p in self._products:
            q = self._product_at(p, now)
            if q is None:
                continue
            out.append({"_ts": q["updated_ts"], "_created": q["created_ts"],
                        "id": 9100000001 + q["sku_idx"],
                        "rest": render.render_shopify_product(q)})  # fmt: skip
        out.sort(key=lambda r: (r["_ts"], r["id"]))
        return out

    def product_node(self, rest: dict, now: int) -> dict:
        return rest_product_to_graphql(rest, self._unit_costs, lambda v: self._components(v, now))

    def variant_node(self, sku_idx: int, now: int) -> dict | None:
        """The variant of SKU `sku_idx` at `now` (`node(id:)`, a component's `productVariant`)."""
        if not 0 <= sku_idx < len(self._products):
            return None
        q = self._product_at(self._products[sku_idx], now)
        if q is None:
            return None
        node = self.product_node(render.render_shopify_product(q), now)["variants"]["nodes"][0]
        return {"__typename": "ProductVariant", **node}

    def _components(self, variant_id: int, now: int) -> list[dict]:
        return [
            {"__typename": "ProductVariantComponent",
             "id": gid("ProductVariantComponent", cid), "quantity": qty,
             # resolved only when selected (the resolver calls it)
             "productVariant": lambda info, c=c: self.variant_node(c, now)}
            for cid, qty, c in self._bundles.get(variant_id, [])
        ]  # fmt: skip

    def _locations(self) -> list[dict]:
        nodes = []
        for loc_id, legacy in SHOPIFY_LOCATION_IDS.items():
            name, country, _ = LOCATION_META[loc_id]
            nodes.append({"__typename": "Location", "id": gid("Location", legacy),
                          "legacyResourceId": str(legacy), "name": name, "isActive": True,
                          "address": {"countryCode": country}})  # fmt: skip
        return nodes

    def _inventory_levels(self, now: int, location_gid: str | None) -> list[dict]:
        """Levels at one Shopify location at the clock's day (from the store's truth)."""
        legacy = int(str(location_gid or "").rsplit("/", 1)[-1] or 0)
        loc_id = next((k for k, v in SHOPIFY_LOCATION_IDS.items() if v == legacy), None)
        if loc_id is None:
            return []
        return [
            {"id": f"gid://shopify/InventoryLevel/{4100000001 + r['sku_idx']}?inventory_item_id={legacy}",
             "updatedAt": utc_z(r["updated_at"]),
             "location": {"id": gid("Location", legacy), "legacyResourceId": str(legacy)},
             "item": {"id": gid("InventoryItem", 4100000001 + r["sku_idx"]),
                      "legacyResourceId": str(4100000001 + r["sku_idx"]), "sku": r["sku"],
                      "unitCost": self._unit_costs.get(4100000001 + r["sku_idx"])},
             "quantities": lambda info, names=(), r=r: [
                 {"name": n, "quantity": r[n]} for n in names if n in r]}
            for r in self._levels(loc_id, now)
        ]  # fmt: skip

    def _levels(self, loc_id: str, now: int) -> list[dict]:
        store = self.store
        day = min(store.end_date, dt.datetime.fromtimestamp(now, dt.UTC).date())
        t = store.truth
        d = t["demand"].filter((pl.col("location_id") == loc_id) & (pl.col("date") == day))
        # a bundle's open orders hold its components (sandbox/bundles.py); a bundle has no
        # inventory item of its own
        bundles = t["bundle_components"]["bundle_sku"].unique().implode()
        d = d.filter(~pl.col("sku").is_in(bundles))
        held = (
            explode_bundles(t["order_lines"], t["bundle_components"])
            .filter(~pl.col("cancelled") & (pl.col("location_id") == loc_id))
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


class _Root:
    """QueryRoot of one request: each method answers the root field of its name."""

    def __init__(
        self, emu: ShopifyEmulator, now: int, version: str = "2025-01", bulk: bool = False
    ) -> None:
        self.emu = emu
        self.now = now
        self.version = version
        self.bulk = bulk

    # ------------------------------------------------------------------ bulk operations
    def bulkOperationRunQuery(  # noqa: N802 - Shopify's name
        self,
        info: Any,
        query: str,
        groupObjects: bool = False,  # noqa: N803
    ) -> dict:
        return self.emu.bulk_run(query, self.now, self.version)

    def currentBulkOperation(self, info: Any, type: str | None = None) -> dict | None:  # noqa: N802, A002
        return self.emu.bulk_view(self.emu.bulk_current)

    def bulkOperation(self, info: Any, id: str) -> dict | None:  # noqa: N802, A002 (2026-04 on)
        return self.emu.bulk_view(id)

    def orders(self, info: Any, **args: Any) -> dict:
        emu, b, now = self.emu, self.emu.book, self.now
        search = parse_search(args.get("query"))
        sort = args.get("sortKey") or "ID"
        upd, created = search.get("updated_at", []), search.get("created_at", [])
        floor = None
        if "read_all_orders" not in emu.scopes:
            floor = now - HISTORY_WITHOUT_ALL_ORDERS
        with b.lock:
            keys = emu.sorted_orders(now, sort)
            lo_key = None
            if sort == "UPDATED_AT":
                lows = [v + (op == ">") for op, v in upd if op in (">=", ">")]
                lo_key = (max(lows), -1) if lows else None

            def keep(k: tuple) -> bool:
                i = k[1]
                placed = int(b.orders[i]["placed_ts"])
                if floor is not None and placed < floor:
                    return False
                v = b.version_at(i, now) if sort != "UPDATED_AT" else k[0]
                return _passes(v or 0, upd) and _passes(placed, created)

            rows, has_next, has_prev = keyset(keys, args, keep, lo_key, self.bulk)
            nodes = []
            for cur, k in rows:
                i = k[1]
                v = k[0] if sort == "UPDATED_AT" else b.version_at(i, now)
                nodes.append((cur, emu.order_node(i, int(v or 0))))
        return gql.make_page(emu.maybe_duplicate(nodes), has_next, has_prev)

    def order(self, info: Any, id: str) -> dict | None:
        return self._order_by_gid(id)

    def _order_by_gid(self, gid_: str) -> dict | None:
        b = self.emu.book
        legacy = str(gid_).rsplit("/", 1)[-1]
        i = b.by_id.get(legacy)
        if i is None:
            return None
        v = b.version_at(i, self.now)
        if v is None:
            return None
        if "read_all_orders" not in self.emu.scopes and (
            int(b.orders[i]["placed_ts"]) < self.now - HISTORY_WITHOUT_ALL_ORDERS
        ):
            return None
        return self.emu.order_node(i, v)

    def node(self, info: Any, id: str) -> dict | None:
        kind = str(id).split("/")[-2] if str(id).count("/") >= 3 else ""
        if kind == "BulkOperation":
            return self.emu.bulk_view(id)
        if kind == "Order":
            return self._order_by_gid(id)
        if kind == "ProductVariant":  # a bundle's further components (`productVariantComponents`)
            legacy = str(id).rsplit("/", 1)[-1]
            return (
                self.emu.variant_node(int(legacy) - VARIANT_ID0, self.now)
                if legacy.isdigit()
                else None
            )
        where = self.emu._nodes.get(str(id))
        if where is None:
            return None
        order = self._order_by_gid(gid("Order", self.emu.book.orders[where[1]]["source_id"]) or "")
        if order is None:
            return None
        key = "refunds" if where[0] == "Refund" else "fulfillments"
        return next((x for x in order[key] if x["id"] == id), None)

    def nodes(self, info: Any, ids: list[str]) -> list[dict | None]:
        """`nodes(ids:)`: each id as `node(id:)` answers it, null where none (Shopify refuses
        more than 250 ids)."""
        if len(ids) > MAX_NODE_IDS:
            raise gql.bad_request(
                f"The maximum number of IDs that can be requested is {MAX_NODE_IDS}."
            )
        return [self.node(info, i) for i in ids]

    def _keyed(self, rows: list[dict], args: dict, conv: Any) -> dict:
        search = parse_search(args.get("query"))
        upd, created = search.get("updated_at", []), search.get("created_at", [])
        sort = args.get("sortKey") or "ID"
        field = {"UPDATED_AT": "_ts", "CREATED_AT": "_created"}.get(sort)
        keys = sorted(((r[field] if field else r["id"]), r["id"]) for r in rows)
        by_id = {r["id"]: r for r in rows}

        def keep(k: tuple) -> bool:
            r = by_id[k[1]]
            return _passes(r["_ts"], upd) and _passes(r["_created"], created)

        page, has_next, has_prev = keyset(keys, args, keep, bulk=self.bulk)
        served = [(c, conv(by_id[k[1]]["rest"])) for c, k in page]
        return gql.make_page(self.emu.maybe_duplicate(served), has_next, has_prev)

    def customers(self, info: Any, **args: Any) -> dict:
        return self._keyed(self.emu._customer_rows(self.now), args, rest_customer_to_graphql)

    def products(self, info: Any, **args: Any) -> dict:
        return self._keyed(
            self.emu._product_rows(self.now),
            args,
            lambda p: self.emu.product_node(p, self.now),
        )

    def currentAppInstallation(self, info: Any) -> dict:  # noqa: N802 - Shopify's name
        return {"accessScopes": [{"handle": h} for h in sorted(self.emu.scopes)]}

    def locations(self, info: Any, **args: Any) -> list[dict]:
        return self.emu._locations()

    def location(self, info: Any, id: str | None = None) -> dict | None:
        legacy = str(id or "").rsplit("/", 1)[-1]
        loc = next((x for x in self.emu._locations() if x["legacyResourceId"] == legacy), None)
        if loc is None:
            return None
        now = self.now
        return {**loc, "inventoryLevels": lambda info, **a: self.emu._inventory_levels(now, id)}
