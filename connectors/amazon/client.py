"""Amazon Selling Partner API connector (Orders v0, Finances v0, FBA Inventory v1).

* Auth: Login with Amazon. The refresh token, client id and secret come from environment
  variables; an access token is fetched from `auth_url` and refreshed a minute before it expires
  (and once more if the API answers 403 on a token we thought valid). Sent as
  `x-amz-access-token`, never in a URL.
* `orders`: getOrders by `LastUpdatedAfter` (cursor - look-back) with `NextToken`; for every
  order, getOrderItems, whose payload gets the order's `LastUpdateDate` copied in (the contract's
  `amazon__order_items`). An order page and its items land in one transaction. SP-API does not
  promise any order of results, so the cursor only moves with the last page of a listing
  (a crash re-reads the listing; re-reading lands nothing twice).
* `financial_events`: listFinancialEvents by `PostedAfter`: shipment, refund, guarantee-claim and
  chargeback events with their charges and fees (refunds' in the adjustment lists); `EventType`
  is added from the list an event came in (Shipment / Refund / GuaranteeClaim / Chargeback).
* `getOrderItems` is paged too (`NextToken`): all pages of an order make its one record.
* `inventory`: FBA inventory summaries (API-only stream: lands where the warehouse has the table).
* Rate limits per operation: a client-side token bucket per operation at Amazon's documented
  default rate and burst (`DEFAULT_RATES`), re-set from the `x-amzn-RateLimit-Limit` header of
  each answer. A 429 (no Retry-After) empties the operation's bucket and waits for its next token
  (1 / rate), as often as `rate_limit_wait_seconds` allows per call (not counted as failed
  attempts); other failures back off exponentially with jitter. `clock` and `sleep` are
  injectable so tests and benchmarks can run hours of waits in emulated time.
"""

from __future__ import annotations

import csv
import email.utils
import gzip
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import urlsplit

from connectors.amazon.mapping import (
    _safe,
    _z,
    event_record,
    inventory_record,
    items_record,
    order_record,
    report_records,
)
from connectors.http import (
    ApiClient,
    Batch,
    ChannelAuthError,
    ChannelError,
    Page,
    RetryPolicy,
    TokenBucket,
    credential,
    iso_cursor,
    parse_json,
    remember_secret,
)
from connectors.protocol import ConnectorSettings
from connectors.records import RawRecord, RecordError

DEFAULT_AUTH_URL = "https://api.amazon.com/auth/o2/token"
# Amazon's documented default (rate per second, burst) per operation, until a header says otherwise.
# Orders v0, Finances v0, FBA Inventory v1 and Reports 2021-06-30 usage plans as their models
# document them ("Usage Plan: Rate (requests per second) | Burst").
DEFAULT_RATES = {
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "listFinancialEvents": (0.5, 30),
    "getInventorySummaries": (2.0, 2),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
}
ALL_STREAMS = ("orders", "financial_events", "inventory")
# Backfill through the Reports API (2021-06-30): the flat file of every order (one row per
# item) last updated in a window of at most 30 days, per marketplace.
ORDER_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
REPORTS = "/reports/2021-06-30/reports"
DOCUMENTS = "/reports/2021-06-30/documents"
REPORT_WINDOW = timedelta(days=30)
REPORT_POLL_SECONDS = 30.0
# How far back a first sync (no cursor, no start_date) reaches: Amazon keeps about two years.
HISTORY = timedelta(days=730)
# The part of a listing younger than this comes from the Orders API (reports lag behind).
REPORT_LAG = timedelta(days=1)
REPORT_PAGE_ORDERS = 1000
# The Finances v0 event lists that carry an order's money, and the EventType each lands with:
# shipments (ItemChargeList / ItemFeeList) and the three kinds of money given back, which carry
# theirs in ShipmentItemAdjustmentList[].ItemChargeAdjustmentList / ItemFeeAdjustmentList.
EVENT_LISTS = (
    ("Shipment", "ShipmentEventList"),
    ("Refund", "RefundEventList"),
    ("GuaranteeClaim", "GuaranteeClaimEventList"),
    ("Chargeback", "ChargebackEventList"),
)


class AmazonConnector:
    channel_kind = "amazon"

    def __init__(
        self,
        base_url: str,
        *,
        refresh_token_env: str,
        client_id_env: str,
        client_secret_env: str,
        marketplace_ids: list[str],
        auth_url: str | None = None,
        channel: str = "amazon",
        page_size: int = 100,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        requests_per_second: float | None = None,
        rate_limit_wait_seconds: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        report_backfill_days: float | None = None,
        report_wait_seconds: float = 3600.0,
    ) -> None:
        self.channel = channel
        self.page_size = min(page_size, 100)
        self.marketplace_ids = list(marketplace_ids)
        self.envs = (refresh_token_env, client_id_env, client_secret_env)
        self._secrets = tuple(credential(channel, e) for e in self.envs)
        self.sleep = sleep
        self.clock = clock
        self.client = ApiClient(channel, base_url, credential_env=refresh_token_env, policy=policy,
                                timeout=timeout, sleep=sleep, clock=clock)  # fmt: skip
        self.client.on_throttle = self._on_throttle
        self.client.throttle_wait = self._throttle_wait
        self.client.throttle_total_seconds = rate_limit_wait_seconds
        parts = urlsplit(auth_url or DEFAULT_AUTH_URL)
        self._auth_path = parts.path or "/"
        self.auth = ApiClient(channel, f"{parts.scheme}://{parts.netloc}",
                              credential_env=" / ".join(self.envs), policy=policy, timeout=timeout,
                              sleep=sleep, clock=clock)  # fmt: skip
        self.auth_url = auth_url or DEFAULT_AUTH_URL
        self._token_expires = 0.0
        self.cap = requests_per_second
        self.buckets = {
            op: TokenBucket(min(r, self.cap or r), b, sleep, clock)
            for op, (r, b) in DEFAULT_RATES.items()
        }
        self.token_refreshes = 0
        # A listing reaching back further than this many days (a first sync, a backfill) reads
        # all but its last day through reports; None: always the Orders API
        self.report_backfill_days = report_backfill_days
        self.report_wait_seconds = report_wait_seconds
        self._server_date: tuple[datetime, float] | None = None
        self._downloads: dict[str, ApiClient] = {}
        self.reports_requested = 0

    def close(self) -> None:
        self.client.close()
        self.auth.close()
        for c in self._downloads.values():
            c.close()

    def _note_date(self, resp) -> None:
        """The server's clock from its Date header (report windows end at the server's now)."""
        try:
            when = email.utils.parsedate_to_datetime(resp.headers.get("date") or "")
        except (TypeError, ValueError):
            return
        if when.tzinfo is not None:
            self._server_date = (when.astimezone(UTC), self.clock())

    def server_now(self) -> datetime:
        if self._server_date is None:
            return datetime.now(UTC)
        when, stamp = self._server_date
        return when + timedelta(seconds=self.clock() - stamp)

    # ------------------------------------------------------------------ auth
    def _ensure_token(self, force: bool = False) -> None:
        if not force and self.clock() < self._token_expires - 60:
            return
        refresh, cid, csecret = self._secrets
        resp = self.auth.request(
            "POST", self._auth_path, data={"grant_type": "refresh_token", "refresh_token": refresh,
                              "client_id": cid, "client_secret": csecret},
            what="LWA token refresh", auth_statuses=(400, 401, 403),
        )  # fmt: skip
        self._note_date(resp)
        body = parse_json(self.channel, resp, "LWA token refresh")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise ChannelAuthError(
                f"channel '{self.channel}': Login with Amazon gave no access token; check "
                f"{' / '.join(self.envs)}"
            )
        assert isinstance(body, dict)  # a token came in it
        remember_secret(str(token))
        self.client.set_header("x-amz-access-token", token)
        self._token_expires = self.clock() + float(body.get("expires_in") or 3600)
        self.token_refreshes += 1

    # ------------------------------------------------------------------ calls
    def _on_throttle(self, resp) -> None:
        op = getattr(self, "_current_op", None)
        self._adopt_rate(op, resp)

    def _throttle_wait(self, resp) -> float | None:
        """A 429 of an SP-API operation carries no Retry-After: the operation's bucket is empty
        at the server, so wait until ours holds its next token (1 / rate: 60 s for getOrders at
        0.0167/s), the rate being the header's when it came, else the documented default."""
        op = getattr(self, "_current_op", None)
        if op is None:
            return None
        return self.buckets[op].empty()

    def _adopt_rate(self, op: str | None, resp) -> None:
        limit = resp.headers.get("x-amzn-ratelimit-limit")
        if op and limit:
            try:
                rate = float(limit)
            except ValueError:
                return
            if rate > 0:
                self.buckets[op].rate = min(rate, self.cap or rate)

    def _call(
        self,
        op: str,
        path: str,
        params: dict | None,
        what: str,
        method: str = "GET",
        json_body: object | None = None,
        wrapped: bool = True,
    ) -> dict:
        """One SP-API call; `wrapped`: the answer's data is under `payload` (v0 APIs; the
        2021-06-30 Reports API answers its objects bare)."""
        self._ensure_token()
        self._current_op = op
        kw = {"params": params, "json_body": json_body, "bucket": self.buckets[op], "what": what}
        try:
            resp = self.client.request(method, path, **kw)  # type: ignore[arg-type]
        except ChannelAuthError:
            # the token may have been revoked early: one fresh token, one more try
            self._ensure_token(force=True)
            resp = self.client.request(method, path, **kw)  # type: ignore[arg-type]
        self._adopt_rate(op, resp)
        self._note_date(resp)
        body = parse_json(self.channel, resp, what)
        if not isinstance(body, dict) or (wrapped and not isinstance(body.get("payload"), dict)):
            raise ChannelError(f"channel '{self.channel}': {what}: answer without a payload")
        return body

    # ------------------------------------------------------------------ pages
    def pages(self, stream: str, since: datetime | None) -> Iterator[Page]:
        if stream == "orders":
            yield from self._order_pages(since)
        elif stream == "financial_events":
            yield from self._event_pages(since)
        elif stream == "inventory":
            yield from self._inventory_pages()
        else:
            raise ValueError(f"unknown Amazon stream {stream!r}")

    def _order_pages(self, since: datetime | None) -> Iterator[Page]:
        self._ensure_token()  # also tells the server's clock
        now = self.server_now()
        if self.report_backfill_days is not None and (
            since is None or now - since > timedelta(days=self.report_backfill_days)
        ):
            start = since or now - HISTORY
            end = now - REPORT_LAG
            yield from self._report_pages(start, end)
            since = end - timedelta(hours=1)  # the Orders API from there, overlapping
        after = since or datetime(2000, 1, 1, tzinfo=UTC)
        params: dict = {"MarketplaceIds": ",".join(self.marketplace_ids), "LastUpdatedAfter": _z(after),
                        "MaxResultsPerPage": self.page_size}  # fmt: skip
        newest: datetime | None = None
        while True:
            body = self._call("getOrders", "/orders/v0/orders", params, "getOrders")
            payload = body["payload"]
            orders, items = Batch(), Batch()
            seen: set[str] = set()
            for o in payload.get("Orders") or []:
                sid = str(o.get("AmazonOrderId")) if isinstance(o, dict) else None
                _safe(orders, partial(order_record, o), o, sid, "order")
                if (
                    sid is None
                    or not orders.records
                    or orders.records[-1].payload is not o
                    or sid in seen
                ):
                    continue
                seen.add(sid)
                newest = max(
                    filter(None, [newest, orders.records[-1].source_updated_at]), default=None
                )
                ib = self._order_items(sid)
                _safe(items, partial(_items_of, ib, o), ib, sid, "order items")
            token = payload.get("NextToken")
            # the cursor moves only when the whole listing has landed (results are unordered)
            yield Page("orders", iso_cursor(newest) if not token else None,
                       {"orders": orders, "order_items": items})  # fmt: skip
            if not token:
                return
            params = {"MarketplaceIds": ",".join(self.marketplace_ids), "NextToken": token}

    # ------------------------------------------------------------------ reports backfill
    def _report_pages(self, start: datetime, end: datetime) -> Iterator[Page]:
        """Orders and their items last updated in [start, end) from order reports: windows of
        30 days, one report per marketplace; the cursor moves with each finished window."""
        t = start
        while t < end:
            w_end = min(t + REPORT_WINDOW, end)
            for n, mkt in enumerate(self.marketplace_ids):
                last = n == len(self.marketplace_ids) - 1
                yield from self._report_window(t, w_end, mkt, iso_cursor(w_end) if last else None)
            t = w_end

    def _report_window(
        self, start: datetime, end: datetime, mkt: str, cursor: str | None
    ) -> Iterator[Page]:
        spec = {"reportType": ORDER_REPORT, "marketplaceIds": [mkt],
                "dataStartTime": _z(start), "dataEndTime": _z(end)}  # fmt: skip
        created = self._call("createReport", REPORTS, None, "createReport", "POST", spec, False)
        self.reports_requested += 1
        rid = str(created.get("reportId") or "")
        if not rid:
            raise ChannelError(f"channel '{self.channel}': createReport answered no reportId")
        waited = 0.0
        while True:
            rep = self._call("getReport", f"{REPORTS}/{rid}", None, "getReport", wrapped=False)
            status = rep.get("processingStatus")
            if status == "DONE":
                break
            if status == "CANCELLED":  # Amazon cancels a report without data
                yield Page("orders", cursor, {"orders": Batch(), "order_items": Batch()})
                return
            if status == "FATAL":
                raise ChannelError(
                    f"channel '{self.channel}': order report {rid} ({_z(start)} to {_z(end)}, "
                    f"{mkt}) ended FATAL; the next run requests it again from the cursor"
                )
            if waited >= self.report_wait_seconds:
                raise ChannelError(
                    f"channel '{self.channel}': order report {rid} still {status} after "
                    f"{waited:g} s; the next run requests it again from the cursor"
                )
            self.sleep(REPORT_POLL_SECONDS)
            waited += REPORT_POLL_SECONDS
        doc_id = rep.get("reportDocumentId")
        doc = self._call(
            "getReportDocument", f"{DOCUMENTS}/{doc_id}", None, "getReportDocument", wrapped=False
        )
        data = self._download(str(doc.get("url") or ""))
        if doc.get("compressionAlgorithm") == "GZIP":
            data = gzip.decompress(data)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ChannelError(
                f"channel '{self.channel}': order report {rid} is not UTF-8 text"
            ) from None
        groups: dict[str, list[dict[str, str]]] = {}
        for row in csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE):
            groups.setdefault(row.get("amazon-order-id") or "", []).append(row)
        source = {"reportType": ORDER_REPORT, "reportId": rid, "reportDocumentId": str(doc_id)}
        ids = list(groups)
        for i in range(0, max(len(ids), 1), REPORT_PAGE_ORDERS):
            orders, items = Batch(), Batch()
            for oid in ids[i : i + REPORT_PAGE_ORDERS]:
                rows = groups[oid]
                try:
                    if not oid:
                        raise RecordError("report rows without amazon-order-id")
                    o, it = report_records(oid, rows, mkt, source)
                except (RecordError, KeyError, TypeError, ValueError) as exc:
                    orders.bad.append((oid or None, f"unreadable report rows: {exc}",
                                       json.dumps(rows, sort_keys=True)))  # fmt: skip
                    continue
                orders.records.append(o)
                items.records.append(it)
            done = i + REPORT_PAGE_ORDERS >= len(ids)
            yield Page("orders", cursor if done else None, {"orders": orders, "order_items": items})

    def _download(self, url: str) -> bytes:
        """A report document from its pre-signed URL (no SP-API token goes there)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ChannelError(f"channel '{self.channel}': getReportDocument gave no usable url")
        host = f"{parts.scheme}://{parts.netloc}"
        if host not in self._downloads:
            self._downloads[host] = ApiClient(
                self.channel, host, credential_env=" / ".join(self.envs),
                policy=self.client.policy, sleep=self.sleep, clock=self.clock,
            )  # fmt: skip
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self._downloads[host].request("GET", path, what="report document download").content

    def _order_items(self, order_id: str) -> dict:
        """Every item of one order: getOrderItems answers a page and a `NextToken` while the
        order has more items; the pages are joined into one answer (one raw record per order)."""
        path = f"/orders/v0/orders/{order_id}/orderItems"
        body = self._call("getOrderItems", path, None, "getOrderItems")
        token = body["payload"].get("NextToken")
        pages = 1
        while token:
            more = self._call("getOrderItems", path, {"NextToken": token}, "getOrderItems")
            items = more["payload"].get("OrderItems")
            if not isinstance(items, list):
                raise ChannelError(
                    f"channel '{self.channel}': getOrderItems page {pages + 1} of order "
                    f"{order_id} has no OrderItems list"
                )
            body["payload"]["OrderItems"] = [*(body["payload"].get("OrderItems") or []), *items]
            token = more["payload"].get("NextToken")
            pages += 1
        body["payload"].pop("NextToken", None)
        return body

    def _event_pages(self, since: datetime | None) -> Iterator[Page]:
        params: dict = {"MaxResultsPerPage": self.page_size}
        params["PostedAfter"] = _z(since or datetime(2000, 1, 1, tzinfo=UTC))
        newest: datetime | None = None
        while True:
            body = self._call(
                "listFinancialEvents", "/finances/v0/financialEvents", params, "listFinancialEvents"
            )
            payload = body["payload"]
            events = payload.get("FinancialEvents") or {}
            batch = Batch()
            for kind, key in EVENT_LISTS:
                for ev in events.get(key) or []:
                    sid = (
                        f"{kind}:{ev.get('AmazonOrderId')}:{ev.get('PostedDate')}"
                        if isinstance(ev, dict)
                        else None
                    )
                    _safe(
                        batch,
                        partial(event_record, ev, kind),
                        ev,
                        sid,
                        "financial event",
                    )
            newest = max(
                filter(None, [newest, *(r.source_updated_at for r in batch.records)]), default=None
            )
            token = payload.get("NextToken")
            yield Page("financial_events", iso_cursor(newest) if not token else None,
                       {"financial_events": batch})  # fmt: skip
            if not token:
                return
            params = {"NextToken": token}

    def _inventory_pages(self) -> Iterator[Page]:
        for mkt in self.marketplace_ids[:1]:  # FBA Europe pools stock across EU marketplaces
            params: dict = {"details": "true", "granularityType": "Marketplace",
                            "granularityId": mkt, "marketplaceIds": mkt}  # fmt: skip
            while True:
                body = self._call(
                    "getInventorySummaries",
                    "/fba/inventory/v1/summaries",
                    params,
                    "getInventorySummaries",
                )
                batch = Batch()
                for s in body["payload"].get("inventorySummaries") or []:
                    _safe(
                        batch,
                        partial(inventory_record, s, mkt),
                        s,
                        s.get("sellerSku"),
                        "inventory summary",
                    )
                yield Page("inventory", None, {"inventory": batch})
                token = (body.get("pagination") or {}).get("nextToken")
                if not token:
                    break
                params = {**params, "nextToken": token}


def _items_of(answer: dict, order: dict) -> RawRecord:
    """getOrderItems' answer -> the order's `amazon__order_items` record."""
    return items_record(answer["payload"], order)


def connect(settings: ConnectorSettings) -> AmazonConnector:
    """The connector of an Amazon channel (its LWA credentials read from the environment now)."""
    return AmazonConnector(
        settings.base_url,
        auth_url=settings.auth_url,
        marketplace_ids=list(settings.marketplace_ids),
        refresh_token_env=settings.credentials["refresh_token"],
        client_id_env=settings.credentials["client_id"],
        client_secret_env=settings.credentials["client_secret"],
        requests_per_second=settings.requests_per_second,
        rate_limit_wait_seconds=settings.rate_limit_wait_seconds,
        report_backfill_days=settings.report_backfill_days,
        channel=settings.channel,
        page_size=settings.page_size,
        policy=settings.policy,
        timeout=settings.timeout,
        sleep=settings.sleep,
    )
