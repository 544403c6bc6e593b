"""Emulated WooCommerce REST API v3 (`/wp-json/wc/v3/...`), bound to WooCommerce's published docs.

What it serves is the shape of the "JSON response example"s of woocommerce-rest-api-docs
(`../shared/fixtures/platform-docs/woo/`; `tests/test_woo_emulator_contract.py` compares every
answer's keys and value types with them): the whole documented order (`fee_lines`,
`coupon_lines`, `tax_lines`, `shipping_lines`, `prices_include_tax`, `date_completed_gmt`, the
`refunds` summary with `refund` as its reason, site-local dates beside the `*_gmt` ones, `_links`),
refunds as `orders/<id>/refunds` lists them (also refunds of an amount with no line items), and
customers with their billing and shipping addresses.

Routes: `GET orders` (`modified_after`, `orderby` date|id|modified, `order`), `orders/<id>/refunds`,
`customers`, `products` (+ `products/<id>/variations`; Woo publishes no product example, so these
stay minimal). Every list is paged as WordPress pages: `page`, `per_page` (default 10; above 100
or below 1 a 400 `rest_invalid_param` as WordPress answers it), `X-WP-Total`, `X-WP-TotalPages`
and a `Link` header with `rel="prev"` / `rel="next"`.

Authentication as `WC_REST_Authentication` decides it (see `connectors/woocommerce/auth.py`):
the emulator listens on plain HTTP; `scheme="http"` (the default) is a shop served over HTTP,
where only OAuth 1.0a one-legged signatures count (parameters in the query string or an
`Authorization: OAuth` header; HMAC-SHA1/SHA256; timestamp within 15 minutes of the real clock;
nonces used once; the signed URL is the shop's own site URL, `base_url`) and Basic auth or
query-string keys are ignored, so the request is answered 401 "cannot list resources";
`scheme="https"` is a shop behind TLS (a terminating proxy that tells WordPress), which reads
Basic auth or `consumer_key`/`consumer_secret` query parameters (and still OAuth).

Knobs for tests: `add_refund` (a late refund of a line), `add_amount_refund` (a refund of an
amount, no line items), `add_fee` (a fee line, part of the total), `malformed`. WooCommerce has
no rate-limit headers of its own; the fault knobs add 429s and errors.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import math
import re
import time
from urllib.parse import quote, unquote, urlencode
from zoneinfo import ZoneInfo

import polars as pl

from sandbox import render
from sandbox.emulators.base import Emulator, Faults, Reply, Request
from sandbox.emulators.book import ChannelBook
from sandbox.store import Store

PREFIX = "/wp-json/wc/v3"
MAX_PER_PAGE = 100  # WC_REST_CRUD_Controller::get_collection_params: 1..100, default 10
DEFAULT_PER_PAGE = 10
OAUTH_WINDOW = 15 * 60  # WC_REST_Authentication::check_oauth_timestamp_and_nonce
SITE_TZ = ZoneInfo("Europe/London")  # the GBP shop's WordPress time zone (non-_gmt dates)
OAUTH_PARAMS = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
ITEM_ID_BASE = 9_000_000_000  # ids of tax/shipping/fee/coupon items (Woo numbers all order items)
AMOUNT_REFUND_ID_BASE = 980_000


def _parse(text: str | None) -> int | None:
    if not text:
        return None
    ts = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return int(ts.timestamp())


def _local(ts: int) -> str:
    """A non-_gmt Woo date: the site's wall time, no offset."""
    return dt.datetime.fromtimestamp(ts, SITE_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def _cents(text: str) -> int:
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("-").partition(".")
    return sign * (int(whole) * 100 + int((frac + "00")[:2]))


def _error(status: int, code: str, message: str, **data: object) -> Reply:
    return Reply(status, {"code": code, "message": message, "data": {"status": status, **data}})


def _php_encode(value: str) -> str:
    """`wc_rest_urlencode_rfc3986`: rawurlencode(rawurldecode(v)) with % double-encoded."""
    return quote(unquote(value), safe="~").replace("%", "%25")


class WooEmulator(Emulator):
    name = "woocommerce"

    def __init__(
        self,
        store: Store,
        key: str = "ck_sandbox_key",
        secret: str = "cs_sandbox_secret",
        faults: Faults | None = None,
        now: int | None = None,
        scheme: str = "http",
    ) -> None:
        super().__init__(faults)
        if scheme not in ("http", "https"):
            raise ValueError(f"scheme must be http or https, not {scheme!r}")
        self.store = store
        self.key, self.secret = key, secret
        self.scheme = scheme
        self.now = store.end_ts if now is None else now
        self.book = ChannelBook(store, "woo")
        self.malformed: set[str] = set()
        self.fees: dict[str, list[tuple[str, int, int]]] = {}  # order id -> (name, cents, tax)
        self.amount_refunds: dict[str, list[dict]] = {}  # order id -> refunds without items
        self._nonces: dict[str, float] = {}
        self.auth_seen: dict[str, int] = {}  # how requests authenticated (oauth1, basic, ...)

    # ------------------------------------------------------------------ test knobs
    def set_time(self, ts: int) -> None:
        with self.lock:
            self.now = int(ts)

    def add_refund(self, order_id: str, quantity: int = 1, at: int | None = None) -> dict:
        return self.book.add_refund(order_id, self.now if at is None else at, quantity)

    def add_amount_refund(
        self, order_id: str, cents: int, at: int | None = None, reason: str = ""
    ) -> dict:
        """A refund of an amount with no line items (Woo admin: "Refund" with only an amount)."""
        at = self.now if at is None else at
        with self.lock:
            n = sum(len(v) for v in self.amount_refunds.values()) + 1
            row = {"id": AMOUNT_REFUND_ID_BASE + n, "cents": int(cents), "ts": at, "reason": reason}
            self.amount_refunds.setdefault(str(order_id), []).append(row)
        self.book.touch(str(order_id), at)
        return row

    def add_fee(self, order_id: str, name: str, cents: int, tax_cents: int = 0) -> None:
        """A fee line on the order (payment, handling fee), part of its total from then on."""
        with self.lock:
            self.fees.setdefault(str(order_id), []).append((name, int(cents), int(tax_cents)))
        self.book.touch(str(order_id), self.now)

    # ------------------------------------------------------------------ auth
    @property
    def site_url(self) -> str:
        """The shop's own URL, over which OAuth signatures are computed (WordPress home_url)."""
        return self.base_url.replace("http://", f"{self.scheme}://", 1)

    def _seen(self, how: str) -> None:
        with self.lock:
            self.auth_seen[how] = self.auth_seen.get(how, 0) + 1

    def _authenticate(self, req: Request) -> Reply | None:
        """None when the request is authenticated, else WooCommerce's 401."""
        if self.scheme == "https":  # is_ssl(): perform_basic_authentication
            user = pw = None
            auth = req.headers.get("authorization", "")
            if auth.startswith("Basic "):
                try:
                    user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                except ValueError:
                    user = pw = None
                how = "basic"
            elif req.arg("consumer_key") is not None:
                user, pw, how = req.arg("consumer_key"), req.arg("consumer_secret"), "query_string"
            if user is not None:
                if user != self.key:
                    return _error(401, "woocommerce_rest_authentication_error",
                                  "Consumer key is invalid.")  # fmt: skip
                if pw != self.secret:
                    return _error(401, "woocommerce_rest_authentication_error",
                                  "Consumer secret is invalid.")  # fmt: skip
                self._seen(how)
                return None
        params = {k: v[0] for k, v in req.query.items() if v}
        auth = req.headers.get("authorization", "")
        if auth.startswith("OAuth "):
            for k, v in re.findall(r'(oauth_[a-z_-]*)="?([^",]*)"?', auth):
                params[k] = unquote(v)
        if not any(k.startswith("oauth_") for k in params):
            return _error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        for p in OAUTH_PARAMS:
            if p not in params:
                return _error(401, "woocommerce_rest_authentication_missing_parameter",
                              f"Missing OAuth parameter {p}")  # fmt: skip
        if params["oauth_consumer_key"] != self.key:
            return _error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
        method = params["oauth_signature_method"]
        if method not in ("HMAC-SHA1", "HMAC-SHA256"):
            return _error(401, "woocommerce_rest_authentication_error",
                          "Signature method is invalid.")  # fmt: skip
        given = params.pop("oauth_signature").replace(" ", "+")
        pairs = sorted((_php_encode(k), _php_encode(v)) for k, v in params.items())
        query = "%26".join(f"{k}%3D{v}" for k, v in pairs)
        base = f"{req.method.upper()}&{quote(self.site_url + req.path, safe='~')}&{query}"
        algo = hashlib.sha1 if method == "HMAC-SHA1" else hashlib.sha256
        digest = hmac.new(f"{self.secret}&".encode(), base.encode(), algo).digest()
        if not hmac.compare_digest(base64.b64encode(digest).decode(), given):
            return _error(401, "woocommerce_rest_authentication_error",
                          "Invalid signature - provided signature does not match.")  # fmt: skip
        try:
            stamp = int(params["oauth_timestamp"])
        except ValueError:
            stamp = 0
        real_now = time.time()  # the shop's clock, not the emulated data clock
        if abs(real_now - stamp) > OAUTH_WINDOW:
            return _error(401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
        with self.lock:
            self._nonces = {n: t for n, t in self._nonces.items() if t > real_now - OAUTH_WINDOW}
            nonce = params["oauth_nonce"]
            if nonce in self._nonces:
                return _error(401, "woocommerce_rest_authentication_error",
                              "Invalid nonce - nonce has already been used.")  # fmt: skip
            self._nonces[nonce] = real_now
        self._seen("oauth1")
        return None

    # ------------------------------------------------------------------ routes
    def handle(self, req: Request) -> Reply:
        if not req.path.startswith(PREFIX):
            return _error(404, "rest_no_route",
                          "No route was found matching the URL and request method.")  # fmt: skip
        refused = self._authenticate(req)
        if refused is not None:
            self.stats.unauthorized += 1
            return refused
        path = req.path[len(PREFIX) :]
        try:
            page = int(req.arg("page", "1"))
            per_page = int(req.arg("per_page", str(DEFAULT_PER_PAGE)))
        except ValueError:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): page, per_page")
        if not 1 <= per_page <= MAX_PER_PAGE:
            why = f"per_page must be between 1 (inclusive) and {MAX_PER_PAGE} (inclusive)"
            return _error(400, "rest_invalid_param", "Invalid parameter(s): per_page",
                          params={"per_page": why},
                          details={"per_page": {"code": "rest_out_of_bounds", "message": why,
                                                "data": None}})  # fmt: skip
        page = max(page, 1)
        with self.lock:
            now = self.now
        if path == "/orders":
            return self._orders(req, now, page, per_page)
        m = re.fullmatch(r"/orders/(\d+)/refunds", path)
        if m:
            i = self.book.by_id.get(m.group(1))
            if i is None:
                return _error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            refunds = self._refunds(i, now)
            return self._list(req, refunds, page, per_page, duplicates=False)
        if path == "/customers":
            customers = [self._customer(c) for c in self.book.customers(now)]
            customers.sort(key=lambda c: c["id"])
            return self._list(req, customers, page, per_page)
        if path == "/products":
            return self._list(req, self._products(now), page, per_page)
        if re.fullmatch(r"/products/\d+/variations", path):
            return self._list(req, [], page, per_page)
        return _error(404, "rest_no_route",
                      "No route was found matching the URL and request method.")  # fmt: skip

    def _orders(self, req: Request, now: int, page: int, per_page: int) -> Reply:
        after = _parse(req.arg("modified_after"))
        b = self.book
        with b.lock:
            idx = b.since(now, None, None if after is None else after + 1)  # strictly after
            idx = self._ordered(idx, req.arg("orderby", "date"), req.arg("order", "desc"))
            chunk, total, pages = self._paged(idx, page, per_page)
            items = []
            for v, i in chunk:
                o = self._order(i, v)
                if str(o["id"]) in self.malformed:
                    o["line_items"][0]["quantity"] = "two"
                items.append(o)
        return self._reply(req, items, total, pages, page)

    def _ordered(
        self, idx: list[tuple[int, int]], orderby: str, order: str
    ) -> list[tuple[int, int]]:
        """WooCommerce's `orderby` (date: created, the default; id; modified) and `order` (desc
        by default). Page-number paging over `modified` shifts records between pages when they
        change during a listing; over `id` it is stable."""
        orders = self.book.orders
        keys = {
            "date": lambda e: (orders[e[1]]["placed_ts"], int(orders[e[1]]["source_id"])),
            "id": lambda e: (int(orders[e[1]]["source_id"]),),
            "modified": lambda e: (e[0], int(orders[e[1]]["source_id"])),
        }
        key = keys.get(orderby, keys["date"])
        return sorted(idx, key=key, reverse=(order != "asc"))

    def server_time(self) -> int:
        with self.lock:
            return self.now

    @staticmethod
    def _paged(rows: list, page: int, per_page: int) -> tuple[list, int, int]:
        total = len(rows)
        return rows[(page - 1) * per_page : page * per_page], total, math.ceil(total / per_page)

    def _list(
        self, req: Request, rows: list, page: int, per_page: int, duplicates: bool = True
    ) -> Reply:
        chunk, total, pages = self._paged(rows, page, per_page)
        return self._reply(req, chunk, total, pages, page, duplicates)

    def _reply(
        self,
        req: Request,
        items: list,
        total: int,
        pages: int,
        page: int,
        duplicates: bool = True,
    ) -> Reply:
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        links = []
        query = {k: v[0] for k, v in req.query.items() if v}
        url = f"{self.site_url}{req.path}"
        if page > 1:
            links.append(f'<{url}?{urlencode({**query, "page": page - 1})}>; rel="prev"')
        if page < pages:
            links.append(f'<{url}?{urlencode({**query, "page": page + 1})}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return Reply(200, self.maybe_duplicate(items) if duplicates else items, headers)

    # ------------------------------------------------------------------ documents
    def _links(self, *parts: tuple[str, str]) -> dict:
        return {rel: [{"href": f"{self.site_url}{PREFIX}{path}"}] for rel, path in parts}

    def _order(self, i: int, as_of: int) -> dict:
        """The whole documented order (orders__retrieve_an_order.json) at `as_of`."""
        b = self.book
        row, lines = b.orders[i], b.lines[i]
        o = render.render_woo_order(row, lines, b.refunds[i], as_of, b.woo_customer(i))
        oid = str(o["id"])
        item_id = ITEM_ID_BASE + int(oid) * 10
        fees = self.fees.get(oid, [])
        fee_cents = sum(c for _, c, _ in fees)
        fee_tax = sum(t for _, _, t in fees)
        cart_tax = _cents(o["total_tax"]) + fee_tax
        shipping = _cents(o["shipping_total"])
        total = _cents(o["total"]) + fee_cents + fee_tax
        placed, paid = row["placed_ts"], row["placed_ts"]
        done = row["fulfilled"] and row["fulfilled_ts"] <= as_of
        completed = row["fulfilled_ts"] if done and o["status"] != "cancelled" else None
        refunds = [
            {"id": r["id"], "refund": r["reason"], "total": r["total"]} for r in o["refunds"]
        ]
        refunds += [
            {"id": r["id"], "refund": r["reason"], "total": render.money(-r["cents"])}
            for r in self.amount_refunds.get(oid, [])
            if r["ts"] <= as_of
        ]
        refunds.sort(key=lambda r: -r["id"])  # newest first, as Woo lists them
        billing, shipping_addr = self._addresses(o)
        return {
            "id": o["id"],
            "parent_id": 0,
            "number": o["number"],
            "order_key": f"wc_order_{hashlib.md5(oid.encode()).hexdigest()[:13]}",
            "created_via": "checkout",
            "version": "8.6.1",
            "status": o["status"],
            "currency": o["currency"],
            "date_created": _local(placed),
            "date_created_gmt": o["date_created_gmt"],
            "date_modified": _local(as_of),
            "date_modified_gmt": o["date_modified_gmt"],
            "discount_total": o["discount_total"],
            "discount_tax": "0.00",
            "shipping_total": o["shipping_total"],
            "shipping_tax": "0.00",
            "cart_tax": render.money(cart_tax),
            "total": render.money(total),
            "total_tax": render.money(cart_tax),
            "prices_include_tax": False,  # line totals + total_tax = total (tax on top)
            "customer_id": o["customer_id"],
            "customer_ip_address": "",
            "customer_user_agent": "",
            "customer_note": "",
            "billing": billing,
            "shipping": shipping_addr,
            "payment_method": "stripe",
            "payment_method_title": "Credit card",
            "transaction_id": f"ch_{oid}",
            "date_paid": _local(paid),
            "date_paid_gmt": render.ts_gmt(paid),
            "date_completed": None if completed is None else _local(completed),
            "date_completed_gmt": None if completed is None else render.ts_gmt(completed),
            "cart_hash": "",
            "meta_data": [],
            "line_items": [self._line(li) for li in o["line_items"]],
            "tax_lines": [
                {"id": item_id + 1, "rate_code": f"{billing['country']}-VAT-1", "rate_id": 1,
                 "label": "VAT", "compound": False, "tax_total": render.money(cart_tax),
                 "shipping_tax_total": "0.00", "meta_data": []}
            ] if cart_tax else [],
            "shipping_lines": [
                {"id": item_id + 2, "method_title": "Flat rate", "method_id": "flat_rate",
                 "total": o["shipping_total"], "total_tax": "0.00", "taxes": [], "meta_data": []}
            ] if shipping else [],
            "fee_lines": [
                {"id": item_id + 3 + k, "name": name, "tax_class": "",
                 "tax_status": "taxable" if tax else "none", "total": render.money(cents),
                 "total_tax": render.money(tax),
                 "taxes": [{"id": 1, "total": render.money(tax), "subtotal": ""}] if tax else [],
                 "meta_data": []}
                for k, (name, cents, tax) in enumerate(fees)
            ],
            "coupon_lines": [
                {"id": item_id + 9, "code": c["code"], "discount": c["discount"],
                 "discount_tax": c["discount_tax"], "meta_data": []}
                for c in o["coupon_lines"]
            ],
            "refunds": refunds,
            "_links": self._links(
                ("self", f"/orders/{oid}"), ("collection", "/orders"),
                *([("customer", f"/customers/{o['customer_id']}")] if o["customer_id"] else []),
            ),
        }  # fmt: skip

    def _line(self, li: dict) -> dict:
        tax = li["total_tax"]
        return {
            "id": li["id"],
            "name": self.store.catalog.titles[li["product_id"] - 1],
            "product_id": li["product_id"],
            "variation_id": li["variation_id"],
            "quantity": li["quantity"],
            "tax_class": "",
            "subtotal": li["subtotal"],
            "subtotal_tax": tax,
            "total": li["total"],
            "total_tax": tax,
            "taxes": [{"id": 1, "total": tax, "subtotal": tax}] if _cents(tax) else [],
            "meta_data": [],
            "sku": li["sku"],
            "price": li["price"],
        }

    @staticmethod
    def _addresses(o: dict) -> tuple[dict, dict]:
        b, s = o["billing"], o["shipping"]
        billing = {
            "first_name": b["first_name"], "last_name": b["last_name"], "company": "",
            "address_1": s.get("address_1", ""), "address_2": "", "city": "", "state": "",
            "postcode": "", "country": b["country"], "email": b["email"] or "", "phone": "",
        }  # fmt: skip
        shipping = {k: billing[k] for k in billing if k not in ("email", "phone")}
        shipping["country"] = s["country"]
        return billing, shipping

    def _refunds(self, i: int, now: int) -> list[dict]:
        """The order's refunds as `orders/<id>/refunds` lists them, newest first."""
        b = self.book
        oid = str(b.orders[i]["source_id"])
        out = []
        with b.lock:
            for ev in render.refund_events(b.refunds[i], now):
                r = render.render_woo_refund(b.orders[i], ev)
                lines = []
                for li, src in zip(r["line_items"], ev, strict=True):
                    qty = li["quantity"]
                    tax = render.money(-src["tax"])
                    lines.append({
                        "id": li["id"], "name": self.store.catalog.titles[li["product_id"] - 1],
                        "product_id": li["product_id"], "variation_id": 0, "quantity": qty,
                        "tax_class": "", "subtotal": li["subtotal"], "subtotal_tax": tax,
                        "total": li["total"], "total_tax": tax,
                        "taxes": [{"id": 1, "total": tax, "subtotal": tax}] if src["tax"] else [],
                        "meta_data": li["meta_data"], "sku": li["sku"],
                        "price": -abs(_cents(li["total"]) / 100 / qty) if qty else 0,
                    })  # fmt: skip
                out.append(self._refund(oid, r["id"], ev[0]["refunded_ts"], r["amount"],
                                        r["reason"], lines))  # fmt: skip
        for a in self.amount_refunds.get(oid, []):
            if a["ts"] <= now:
                out.append(self._refund(oid, a["id"], a["ts"], render.money(a["cents"]),
                                        a["reason"], []))  # fmt: skip
        out.sort(key=lambda r: (r["date_created_gmt"], r["id"]), reverse=True)
        return out

    def _refund(
        self, oid: str, rid: int, ts: int, amount: str, reason: str, lines: list[dict]
    ) -> dict:
        return {
            "id": rid,
            "date_created": _local(ts),
            "date_created_gmt": render.ts_gmt(ts),
            "amount": amount,
            "reason": reason,
            "refunded_by": 1,
            "refunded_payment": False,
            "meta_data": [],
            "line_items": lines,
            "_links": self._links(
                ("self", f"/orders/{oid}/refunds/{rid}"),
                ("collection", f"/orders/{oid}/refunds"),
                ("up", f"/orders/{oid}"),
            ),
        }

    def _customer(self, c: dict) -> dict:
        r = render.render_woo_customer(c)
        address = {
            "first_name": r["first_name"], "last_name": r["last_name"], "company": "",
            "address_1": "", "address_2": "", "city": "", "state": "", "postcode": "",
            "country": r["billing"]["country"],
        }  # fmt: skip
        digest = hashlib.md5((r["email"] or "").encode()).hexdigest()
        return {
            "id": r["id"],
            "date_created": _local(c["created_ts"]),
            "date_created_gmt": r["date_created_gmt"],
            "date_modified": _local(c["updated_ts"]),
            "date_modified_gmt": r["date_modified_gmt"],
            "email": r["email"],
            "first_name": r["first_name"],
            "last_name": r["last_name"],
            "role": "customer",
            "username": (r["email"] or f"customer{r['id']}").split("@")[0],
            "billing": {**address, "email": r["email"] or "", "phone": ""},
            "shipping": address,
            "is_paying_customer": True,
            "avatar_url": f"https://secure.gravatar.com/avatar/{digest}?s=96",
            "meta_data": [],
            "_links": self._links(("self", f"/customers/{r['id']}"), ("collection", "/customers")),
        }

    def _products(self, now: int) -> list[dict]:
        store, cat = self.store, self.store.catalog
        day = min(store.end_date, dt.datetime.fromtimestamp(now, dt.UTC).date())
        stock = store.truth["demand"].filter(
            (pl.col("location_id") == "WH-LON") & (pl.col("date") == day)
        )
        on_hand = dict(zip(stock["sku"], stock["on_hand_eod"], strict=True))
        stamp = render.ts_gmt(min(now, store.end_ts))
        return [
            {"id": i + 1, "name": cat.titles[i], "sku": sku, "type": "simple", "status": "publish",
             "regular_price": render.money(int(cat.list_price_cents[i])), "manage_stock": True,
             "stock_quantity": int(on_hand.get(sku, 0)), "date_modified_gmt": stamp, "variations": []}
            for i, sku in enumerate(cat.skus)
            if i not in cat.bundles  # the bundles are sold on Shopify only
        ]  # fmt: skip
