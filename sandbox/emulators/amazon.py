"""Emulated Amazon Selling Partner API (and its Login with Amazon token endpoint).

* `POST /auth/o2/token` (grant_type=refresh_token): an access token valid `token_ttl` seconds;
  a wrong refresh token / client answers 400 `invalid_grant` / 401 `invalid_client` like LWA.
* `GET /orders/v0/orders?MarketplaceIds=&LastUpdatedAfter=&MaxResultsPerPage=&NextToken=`
* `GET /orders/v0/orders/{id}/orderItems`
* `GET /finances/v0/financialEvents?PostedAfter=&MaxResultsPerPage=&NextToken=` (shipment and
  refund events with their fees)
* `GET /fba/inventory/v1/summaries?details=true&granularityType=Marketplace&...&nextToken=`
* Reports 2021-06-30: `POST /reports/2021-06-30/reports` (createReport of
  GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL over at most 30 days), `GET
  /reports/2021-06-30/reports/{id}` (getReport: IN_QUEUE for `report_seconds[0]`, IN_PROGRESS for
  `report_seconds[1]`, then DONE with a reportDocumentId, CANCELLED when the window holds no
  order, FATAL for the next `fatal_reports` reports), `GET /reports/2021-06-30/documents/{id}`
  (getReportDocument: a URL on 127.0.0.1 and `compressionAlgorithm: GZIP`) and the document
  itself (gzip of a tab-separated flat file, one row per order item, no token needed: a
  pre-signed URL).
Every call needs `x-amz-access-token`; an expired or wrong one answers 403 `Unauthorized`.
Every answer carries `x-amzn-RequestId`. Per-operation rate limits (token buckets of
`rates[operation] = (requests/s, burst)`: the `fast` preset the demo and tests use, or
`realistic`, Amazon's documented default usage plans), reported in `x-amzn-RateLimit-Limit`; over
the limit answers 429 `QuotaExceeded` with no Retry-After, as Amazon's 429 spec documents.

Written from the published models (../shared/fixtures/platform-docs/amazon, validated against
them in tests/test_amazon_contract.py), not from what the connector reads: an order is `Pending`
without `OrderTotal` for its first `pending_seconds`, getOrderItems answers `items_page_size`
items and a `NextToken`, refunds carry their money in `ItemChargeAdjustmentList` /
`ItemFeeAdjustmentList`. `clock` (a monotonic-seconds callable) drives the buckets and token
expiry, so a benchmark can run the realistic limits in emulated time (`VirtualClock`).
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import polars as pl

from sandbox import render
from sandbox.emulators.base import Emulator, Faults, Reply, Request
from sandbox.emulators.book import ChannelBook
from sandbox.store import Store

MARKETPLACES = ("A1PA6795UKMFR9", "A1F83G8C2ARO7P")
# (requests/s, burst) per operation: the `fast` preset, far above Amazon's real limits so tests
# and the demo run in seconds (pass `rates=` to tighten one operation).
DEFAULT_RATES = {
    "getOrders": (200.0, 50),
    "getOrderItems": (2000.0, 200),
    "listFinancialEvents": (200.0, 50),
    "getInventorySummaries": (200.0, 50),
    "createReport": (200.0, 50),
    "getReport": (200.0, 50),
    "getReportDocument": (200.0, 50),
}
# Amazon's default usage plans, as the operations' models document them.
REALISTIC_RATES = {
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "listFinancialEvents": (0.5, 30),
    "getInventorySummaries": (2.0, 2),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
}
RATE_PRESETS = {"fast": DEFAULT_RATES, "realistic": REALISTIC_RATES}
REPORTS = "/reports/2021-06-30/reports"
DOCUMENTS = "/reports/2021-06-30/documents"
DOWNLOADS = "/report-downloads"
ORDER_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
MAX_REPORT_DAYS = 30  # the report type's longest window
# The flat file's columns (Seller Central's "All Orders" report), one row per order item.
REPORT_COLUMNS = (
    "amazon-order-id", "merchant-order-id", "purchase-date", "last-updated-date", "order-status",
    "fulfillment-channel", "sales-channel", "order-channel", "ship-service-level",
    "product-name", "sku", "asin", "item-status", "quantity", "currency", "item-price",
    "item-tax", "shipping-price", "shipping-tax", "gift-wrap-price", "gift-wrap-tax",
    "item-promotion-discount", "ship-promotion-discount", "ship-city", "ship-state",
    "ship-postal-code", "ship-country", "promotion-ids",
)  # fmt: skip


def scaled(preset: str, factor: float) -> dict[str, tuple[float, int]]:
    """A preset with every rate multiplied by `factor` (bursts unchanged): the realistic plans
    `factor` times faster, so a test sees their shape (bursts, then one token per 1/rate) in
    seconds. The connector follows whatever `x-amzn-RateLimit-Limit` says."""
    return {op: (r * factor, b) for op, (r, b) in RATE_PRESETS[preset].items()}


class VirtualClock:
    """Emulated monotonic time shared by an in-process connector and emulator: `sleep` advances
    it at once, so hours of rate-limit waits run in no time and are still counted."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.slept = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self._lock:
                self.now += seconds
                self.slept += seconds


def _ts(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _parse(text: str | None) -> int | None:
    if not text:
        return None
    return _ts(text)


def _tok(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode()


def _untok(text: str) -> Any:  # the JSON state _tok encoded
    return json.loads(base64.urlsafe_b64decode(text.encode()))


class _Bucket:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate, self.burst, self.tokens, self.clock = rate, burst, float(burst), clock
        self.stamp = clock()
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class AmazonEmulator(Emulator):
    name = "amazon"

    def __init__(
        self,
        store: Store,
        refresh_token: str = "Atzr|sandbox-refresh-token",
        client_id: str = "amzn1.application-oa2-client.sandbox",
        client_secret: str = "amzn1.oa2-cs.v1.sandbox-secret",
        faults: Faults | None = None,
        now: int | None = None,
        token_ttl: int = 3600,
        rates: str | dict[str, tuple[float, int]] | None = None,
        items_page_size: int = 10,
        pending_seconds: int = 900,
        report_seconds: tuple[float, float] = (0.0, 0.0),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(faults)
        self.store = store
        self.refresh_token, self.client_id, self.client_secret = (
            refresh_token,
            client_id,
            client_secret,
        )
        self.now = store.end_ts if now is None else now
        self.book = ChannelBook(store, "amazon")
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}
        self.clock = clock
        if isinstance(rates, str):
            self.rates = dict(RATE_PRESETS[rates])
        else:
            self.rates = {**DEFAULT_RATES, **(rates or {})}
        self.buckets = {op: _Bucket(r, b, clock) for op, (r, b) in self.rates.items()}
        # Amazon does not document how many items one getOrderItems page holds; 10 makes
        # the paging show on the sandbox's larger orders
        self.items_page_size = items_page_size
        self.pending_seconds = pending_seconds
        self.request_ids: list[str] = []
        # Reports: how long a report waits in the queue and is processed (Amazon does not
        # document it; minutes in practice), the next `fatal_reports` reports end FATAL
        self.report_seconds = report_seconds
        self.fatal_reports = 0
        self.reports: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, bytes] = {}
        self.marketplace_ids = MARKETPLACES
        self.malformed: set[str] = set()
        self.token_grants = 0

    def set_time(self, ts: int) -> None:
        with self.lock:
            self.now = int(ts)

    def add_refund(self, order_id: str, quantity: int = 1, at: int | None = None) -> dict:
        return self.book.add_refund(order_id, self.now if at is None else at, quantity)

    # ------------------------------------------------------------------ HTTP
    def handle(self, req: Request) -> Reply:
        if req.path == "/auth/o2/token":
            return self._token(req)
        if req.path.startswith(DOWNLOADS + "/"):  # the pre-signed document URL: no token
            data = self.documents.get(req.path.rsplit("/", 1)[1])
            if data is None:
                return Reply(404, b"<Error><Code>NoSuchKey</Code></Error>")
            return Reply(200, data)
        token = req.headers.get("x-amz-access-token")
        if not token or self.tokens.get(token, 0) < self.clock():
            self.stats.unauthorized += 1
            return Reply(403, {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.",
                                           "details": "The access token you provided is revoked, malformed or invalid."}]})  # fmt: skip
        with self.lock:
            now = self.now
        if req.path == "/orders/v0/orders":
            return self._limited("getOrders", lambda: self._orders(req, now))
        if req.path.startswith("/orders/v0/orders/") and req.path.endswith("/orderItems"):
            oid = req.path.split("/")[4]
            return self._limited(
                "getOrderItems", lambda: self._items(oid, now, req.arg("NextToken"))
            )
        if req.path == "/finances/v0/financialEvents":
            return self._limited("listFinancialEvents", lambda: self._events(req, now))
        if req.path == "/fba/inventory/v1/summaries":
            return self._limited("getInventorySummaries", lambda: self._inventory(req, now))
        if req.path == REPORTS and req.method == "POST":
            return self._limited("createReport", lambda: self._create_report(req, now))
        if req.path.startswith(REPORTS + "/"):
            rid = req.path.rsplit("/", 1)[1]
            return self._limited("getReport", lambda: self._get_report(rid))
        if req.path.startswith(DOCUMENTS + "/"):
            did = req.path.rsplit("/", 1)[1]
            return self._limited("getReportDocument", lambda: self._get_document(did))
        return Reply(404, {"errors": [{"code": "NotFound", "message": "Resource not found"}]})

    def server_time(self) -> int | None:
        """The emulated clock in the Date header, as Amazon's servers tell theirs."""
        with self.lock:
            return self.now

    def _token(self, req: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            return Reply(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
            )
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != self.refresh_token
        ):
            return Reply(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The request has an invalid grant parameter : refresh_token",
                },
            )
        token = "Atza|" + secrets.token_urlsafe(24)
        self.tokens[token] = self.clock() + self.token_ttl
        self.token_grants += 1
        return Reply(200, {"access_token": token, "refresh_token": self.refresh_token,
                           "token_type": "bearer", "expires_in": self.token_ttl})  # fmt: skip

    def throttle_reply(self) -> Reply:
        """Amazon's 429: `QuotaExceeded`, headers x-amzn-RequestId only (no Retry-After)."""
        return Reply(429, {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource.", "details": ""}]})  # fmt: skip

    def _send(self, h, reply: Reply, drop: bool, gap: float = 0.0) -> None:
        rid = str(uuid.uuid4())
        self.request_ids.append(rid)
        reply.headers.setdefault("x-amzn-RequestId", rid)
        super()._send(h, reply, drop, gap)

    def _pending(self, o: dict, now: int) -> bool:
        """Payment not yet authorised: the first `pending_seconds` of an order's life."""
        return now < o["placed_ts"] + self.pending_seconds and not (
            o["cancelled"] and o["cancelled_ts"] <= now
        )

    def _limited(self, op: str, fn) -> Reply:
        rate, _ = self.rates[op]
        if not self.buckets[op].take():
            self.stats.throttled += 1
            return Reply(429, {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource.", "details": ""}]},
                         {"x-amzn-RateLimit-Limit": f"{rate:g}"})  # fmt: skip
        reply = fn()
        reply.headers["x-amzn-RateLimit-Limit"] = f"{rate:g}"
        return reply

    def _orders(self, req: Request, now: int) -> Reply:
        b = self.book
        size = min(int(req.arg("MaxResultsPerPage", "100")), 100)
        nt = req.arg("NextToken")
        if nt:
            state = _untok(nt)
            after, before, key, mkts = (
                state["after"],
                state["before"],
                tuple(state["key"]),
                state["m"],
            )
        else:
            after = _parse(req.arg("LastUpdatedAfter"))
            if after is None:
                return Reply(
                    400,
                    {
                        "errors": [
                            {
                                "code": "InvalidInput",
                                "message": "Either CreatedAfter or LastUpdatedAfter must be specified",
                            }
                        ]
                    },
                )
            before, key = now, None
            mkts = (req.arg("MarketplaceIds") or "").split(",")
        with b.lock:
            rows = [(v, i) for v, i in b.since(before, key, after)]
            out, last = [], None
            for v, i in rows:
                o = b.orders[i]
                mkt = render.AMAZON_MARKETPLACES[bool(o["marketplace_uk"])][0]
                last = (v, i)
                if mkt not in mkts:
                    continue
                rec = render.render_amazon_order(o, b.lines[i], v)
                if self._pending(o, now):
                    # Orders v0: a Pending order has no OrderTotal yet (getOrders example)
                    rec["OrderStatus"] = "Pending"
                    rec.pop("OrderTotal", None)
                if o["source_id"] in self.malformed:
                    rec["OrderTotal"] = "35.70 EUR"
                out.append(rec)
                if len(out) >= size:
                    break
        payload = {"Orders": self.maybe_duplicate(out), "LastUpdatedBefore": render.ts_z(before)}
        if last is not None and rows and last != rows[-1]:  # more to come
            payload["NextToken"] = _tok(
                {"after": after, "before": before, "key": list(last), "m": mkts}
            )
        return Reply(200, {"payload": payload})

    def _items(self, oid: str, now: int, next_token: str | None = None) -> Reply:
        b = self.book
        i = b.by_id.get(oid)
        if i is None:
            return Reply(
                404, {"errors": [{"code": "InvalidInput", "message": "Invalid AmazonOrderId"}]}
            )
        with b.lock:
            v = b.version_at(i, now) or now
            rec = render.render_amazon_order_items(b.orders[i], b.lines[i], v)
        rec.pop("LastUpdateDate")  # the API has no time; the connector copies the order's
        start = 0
        if next_token:
            state = _untok(next_token)
            if not isinstance(state, dict) or state.get("o") != oid:
                return Reply(400, {"errors": [{"code": "InvalidInput", "message": "Invalid NextToken"}]})  # fmt: skip
            start = int(state["pos"])
        items = rec["OrderItems"]
        rec["OrderItems"] = items[start : start + self.items_page_size]
        if start + self.items_page_size < len(items):
            rec["NextToken"] = _tok({"o": oid, "pos": start + self.items_page_size})
        return Reply(200, {"payload": rec})

    def _all_events(self, now: int) -> list[tuple[int, int, dict[str, Any]]]:
        b = self.book
        out: list[tuple[int, int, dict[str, Any]]] = []
        with b.lock:
            for i, o in enumerate(b.orders):
                if o["placed_ts"] > now:
                    continue
                for ev in render.render_amazon_financial_events(o, b.lines[i], b.refunds[i], now):
                    out.append((_ts(ev["PostedDate"]), i, ev))
        out.sort(key=lambda t: (t[0], t[1], t[2]["EventType"], t[2]["EventSeq"]))
        return out

    def _events(self, req: Request, now: int) -> Reply:
        size = min(int(req.arg("MaxResultsPerPage", "100")), 100)
        nt = req.arg("NextToken")
        if nt:
            state = _untok(nt)
            after, before, pos = state["after"], state["before"], state["pos"]
        else:
            after, before, pos = _parse(req.arg("PostedAfter")) or 0, now, 0
        events = [e for e in self._all_events(before) if e[0] >= after]
        chunk = events[pos : pos + size]
        ship: list[dict[str, Any]] = []
        refund: list[dict[str, Any]] = []
        for _, _, ev in chunk:
            ev = dict(ev)
            kind = ev.pop("EventType")
            ev.pop("EventSeq")  # ours (the file drops' ordering), not an SP-API field
            (ship if kind == "Shipment" else refund).append(ev)
        payload: dict[str, Any] = {
            "FinancialEvents": {
                "ShipmentEventList": self.maybe_duplicate(ship),
                "RefundEventList": refund,
            }
        }
        if pos + size < len(events):
            payload["NextToken"] = _tok({"after": after, "before": before, "pos": pos + size})
        return Reply(200, {"payload": payload})

    # ------------------------------------------------------------------ reports
    def _create_report(self, req: Request, now: int) -> Reply:
        def bad(msg: str) -> Reply:
            return Reply(400, {"errors": [{"code": "InvalidInput", "message": msg}]})

        try:
            spec = req.json()
        except ValueError:
            return bad("The request body is not JSON")
        if spec.get("reportType") != ORDER_REPORT:
            return bad(f"Report type {spec.get('reportType')} is not supported here")
        mkts = spec.get("marketplaceIds") or []
        if not mkts or any(m not in self.marketplace_ids for m in mkts):
            return bad("marketplaceIds must name this seller's marketplaces")
        start = _parse(spec.get("dataStartTime"))
        end = _parse(spec.get("dataEndTime")) if spec.get("dataEndTime") else now
        if start is None or end is None or end <= start or end > now:
            return bad("dataStartTime must be before dataEndTime, which may not be in the future")
        if end - start > MAX_REPORT_DAYS * 86400:
            return bad(f"The date range may be at most {MAX_REPORT_DAYS} days")
        rid = str(50000 + len(self.reports))
        fatal = self.fatal_reports > 0
        self.fatal_reports -= 1 if fatal else 0
        self.reports[rid] = {"spec": {**spec, "marketplaceIds": mkts}, "start": start, "end": end,
                             "created": self.clock(), "created_ts": now, "fatal": fatal}  # fmt: skip
        return Reply(202, {"reportId": rid})

    def _get_report(self, rid: str) -> Reply:
        rep = self.reports.get(rid)
        if rep is None:
            return Reply(404, {"errors": [{"code": "NotFound", "message": "Report not found"}]})
        queue, work = self.report_seconds
        age = self.clock() - rep["created"]
        body: dict[str, Any] = {
            "reportId": rid, "reportType": ORDER_REPORT,
            "dataStartTime": render.ts_z(rep["start"]), "dataEndTime": render.ts_z(rep["end"]),
            "marketplaceIds": rep["spec"]["marketplaceIds"],
            "createdTime": render.ts_z(rep["created_ts"]),
        }  # fmt: skip
        if age < queue:
            return Reply(200, {**body, "processingStatus": "IN_QUEUE"})
        body["processingStartTime"] = render.ts_z(rep["created_ts"] + int(queue))
        if age < queue + work:
            return Reply(200, {**body, "processingStatus": "IN_PROGRESS"})
        body["processingEndTime"] = render.ts_z(rep["created_ts"] + int(queue + work))
        if rep["fatal"]:
            return Reply(200, {**body, "processingStatus": "FATAL"})
        if "document" not in rep:
            rep["document"] = self._render_report(rep)
        if rep["document"] is None:  # Amazon cancels a report that has no data
            return Reply(200, {**body, "processingStatus": "CANCELLED"})
        return Reply(200, {**body, "processingStatus": "DONE", "reportDocumentId": rep["document"]})

    def _get_document(self, did: str) -> Reply:
        if did not in self.documents:
            return Reply(404, {"errors": [{"code": "NotFound", "message": "Document not found"}]})
        return Reply(200, {"reportDocumentId": did, "url": f"{self.base_url}{DOWNLOADS}/{did}",
                           "compressionAlgorithm": "GZIP"})  # fmt: skip

    def _render_report(self, rep: dict[str, Any]) -> str | None:
        """The flat file of the orders last updated in [start, end], as they were at `end`:
        one row per item, tab-separated, a header row; gzip. None when no order is in it."""
        b, mkts = self.book, set(rep["spec"]["marketplaceIds"])
        with b.lock:
            latest: dict[int, int] = {}
            for v, i in b.since(rep["end"], None, rep["start"]):
                latest[i] = max(v, latest.get(i, v))
            rows: list[str] = ["\t".join(REPORT_COLUMNS)]
            for i, v in sorted(latest.items(), key=lambda t: (t[1], t[0])):
                o = b.orders[i]
                mkt, channel = render.AMAZON_MARKETPLACES[bool(o["marketplace_uk"])]
                if mkt not in mkts:
                    continue
                order = render.render_amazon_order(o, b.lines[i], v)
                if self._pending(o, rep["end"]):
                    order["OrderStatus"] = "Pending"
                for it in render.render_amazon_order_items(o, b.lines[i], v)["OrderItems"]:
                    cells = {
                        "amazon-order-id": o["source_id"], "merchant-order-id": "",
                        "purchase-date": order["PurchaseDate"].replace("Z", "+00:00"),
                        "last-updated-date": order["LastUpdateDate"].replace("Z", "+00:00"),
                        "order-status": order["OrderStatus"], "fulfillment-channel": "Amazon",
                        "sales-channel": channel, "order-channel": "", "ship-service-level": "Standard",
                        "product-name": it["Title"], "sku": it["SellerSKU"], "asin": it["ASIN"],
                        "item-status": "Shipped" if order["OrderStatus"] == "Shipped" else "Unshipped",
                        "quantity": str(it["QuantityOrdered"]), "currency": o["currency"],
                        "item-price": it["ItemPrice"]["Amount"], "item-tax": it["ItemTax"]["Amount"],
                        "shipping-price": it["ShippingPrice"]["Amount"], "shipping-tax": "",
                        "gift-wrap-price": "", "gift-wrap-tax": "",
                        "item-promotion-discount": it["PromotionDiscount"]["Amount"],
                        "ship-promotion-discount": "", "ship-city": "", "ship-state": "",
                        "ship-postal-code": "", "ship-country": o["country"], "promotion-ids": "",
                    }  # fmt: skip
                    rows.append("\t".join(cells[c].replace("\t", " ") for c in REPORT_COLUMNS))
        if len(rows) == 1:
            return None
        did = f"amzn1.spdoc.1.4.eu.{uuid.uuid4()}"
        self.documents[did] = gzip.compress(("\n".join(rows) + "\n").encode())
        return did

    def _inventory(self, req: Request, now: int) -> Reply:
        store = self.store
        day = min(store.end_date, dt.datetime.fromtimestamp(now, dt.UTC).date())
        d = (
            store.truth["demand"]
            .filter(
                (pl.col("location_id") == "FBA-EU") & (pl.col("date") == day) & pl.col("is_active")
            )
            .sort("sku")
        )
        next_token = req.arg("nextToken")
        start = int(_untok(next_token)) if next_token else 0
        rows = d.slice(start, 50).to_dicts()
        sku_idx = {s: i for i, s in enumerate(store.catalog.skus)}
        stamp = render.ts_z(min(now, store.end_ts))
        summaries = [
            {"asin": f"B0{sku_idx[r['sku']] + 1:08d}", "fnSku": f"X00{sku_idx[r['sku']] + 1:07d}",
             "sellerSku": r["sku"], "condition": "NewItem", "lastUpdatedTime": stamp,
             "productName": store.catalog.titles[sku_idx[r["sku"]]], "totalQuantity": int(r["on_hand_eod"]),
             "inventoryDetails": {"fulfillableQuantity": int(r["on_hand_eod"]), "inboundWorkingQuantity": 0,
                                  "inboundShippedQuantity": 0, "inboundReceivingQuantity": 0,
                                  "reservedQuantity": {"totalReservedQuantity": 0},
                                  "unfulfillableQuantity": {"totalUnfulfillableQuantity": 0}}}
            for r in rows
        ]  # fmt: skip
        body = {"payload": {"granularity": {"granularityType": "Marketplace", "granularityId": req.arg("granularityId")},
                            "inventorySummaries": summaries}}  # fmt: skip
        if start + 50 < d.height:
            body["pagination"] = {"nextToken": _tok(start + 50)}
        return Reply(200, body)
