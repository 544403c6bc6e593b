"""Emulated WooCommerce REST API v3 (`/wp-json/wc/v3/...`).

`GET orders?modified_after=&page=&per_page=&orderby=modified&order=asc`, `GET orders/<id>/refunds`,
`GET customers`, `GET products` (+ `products/<id>/variations`), with `X-WP-Total` and
`X-WP-TotalPages` headers; HTTP Basic auth with the consumer key and secret (401 otherwise).
WooCommerce has no rate-limit headers of its own; the fault knobs add 429s and errors.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import re

import polars as pl

from sandbox import render
from sandbox.emulators.base import Emulator, Faults, Reply, Request
from sandbox.emulators.book import ChannelBook
from sandbox.store import Store

PREFIX = "/wp-json/wc/v3"


def _parse(text: str | None) -> int | None:
    if not text:
        return None
    ts = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    return int(ts.timestamp())


class WooEmulator(Emulator):
    name = "woocommerce"

    def __init__(
        self,
        store: Store,
        key: str = "ck_sandbox_key",
        secret: str = "cs_sandbox_secret",
        faults: Faults | None = None,
        now: int | None = None,
    ) -> None:
        super().__init__(faults)
        self.store = store
        self.key, self.secret = key, secret
        self.now = store.end_ts if now is None else now
        self.book = ChannelBook(store, "woo")
        self.malformed: set[str] = set()

    def set_time(self, ts: int) -> None:
        with self.lock:
            self.now = int(ts)

    def add_refund(self, order_id: str, quantity: int = 1, at: int | None = None) -> dict:
        return self.book.add_refund(order_id, self.now if at is None else at, quantity)

    def _authorized(self, req: Request) -> bool:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, pw) == (self.key, self.secret)

    def handle(self, req: Request) -> Reply:
        if not req.path.startswith(PREFIX):
            return Reply(
                404,
                {
                    "code": "rest_no_route",
                    "message": "No route was found matching the URL and request method.",
                    "data": {"status": 404},
                },
            )
        if not self._authorized(req):
            self.stats.unauthorized += 1
            return Reply(
                401,
                {
                    "code": "woocommerce_rest_cannot_view",
                    "message": "Sorry, you cannot list resources.",
                    "data": {"status": 401},
                },
            )
        path = req.path[len(PREFIX) :]
        page = max(int(req.arg("page", "1")), 1)
        per_page = min(max(int(req.arg("per_page", "10")), 1), 100)
        with self.lock:
            now = self.now
        if path == "/orders":
            after = _parse(req.arg("modified_after"))
            b = self.book
            with b.lock:
                idx = b.since(now, None, None if after is None else after + 1)  # strictly after
                idx = self._ordered(idx, req.arg("orderby", "date"), req.arg("order", "desc"))
                chunk, total, pages = self._paged(idx, page, per_page)
                items = []
                for v, i in chunk:
                    o = render.render_woo_order(
                        b.orders[i], b.lines[i], b.refunds[i], v, b.woo_customer(i)
                    )
                    if str(o["id"]) in self.malformed:
                        o["line_items"][0]["quantity"] = "two"
                    items.append(o)
            return self._list(items, total, pages)
        m = re.fullmatch(r"/orders/(\d+)/refunds", path)
        if m:
            b = self.book
            i = b.by_id.get(m.group(1))
            if i is None:
                return Reply(
                    404,
                    {
                        "code": "woocommerce_rest_shop_order_invalid_id",
                        "message": "Invalid ID.",
                        "data": {"status": 404},
                    },
                )
            with b.lock:
                out = []
                for ev in reversed(render.refund_events(b.refunds[i], now)):  # newest first, as Woo
                    r = render.render_woo_refund(b.orders[i], ev)
                    r.pop("order_id")  # the API does not say; the connector adds it
                    r["date_created"] = r["date_created_gmt"]
                    out.append(r)
            return Reply(200, out, {"X-WP-Total": str(len(out)), "X-WP-TotalPages": "1"})
        if path == "/customers":
            customers = [render.render_woo_customer(c) for c in self.book.customers(now)]
            customers.sort(key=lambda c: c["id"])
            chunk, total, pages = self._paged(customers, page, per_page)
            return self._list(chunk, total, pages)
        if path == "/products":
            chunk, total, pages = self._paged(self._products(now), page, per_page)
            return self._list(chunk, total, pages)
        if re.fullmatch(r"/products/\d+/variations", path):
            return Reply(200, [], {"X-WP-Total": "0", "X-WP-TotalPages": "0"})
        return Reply(404, {"code": "rest_no_route", "message": "No route", "data": {"status": 404}})

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

    def _list(self, items: list, total: int, pages: int) -> Reply:
        return Reply(200, self.maybe_duplicate(items),
                     {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)})  # fmt: skip

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
        ]  # fmt: skip
