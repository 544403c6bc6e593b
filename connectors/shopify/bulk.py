"""Shopify Bulk Operations for order backfills: one `bulkOperationRunQuery` per updated_at window,
its JSONL result rebuilt into the same order nodes (and so the same REST payloads) as paged reads.

Why: paged, a Standard store allows about 10 orders/s (restore rate / points per order); a bulk
operation has no query cost. Shopify's bulk rules (sandbox/emulators/shopify_bulk.py, from the
captures) shape the query: at most 5 connections, nesting depth 2, and no connection inside a list
field. So the bulk query holds the order, its discount applications, shipping lines, line items
(tax lines inline) and fulfilment orders (the 5 connections), and only the ids of its `refunds`
and `fulfillments` (lists). Their nested connections (refund lines, transactions, fulfilment
lines) are joined on those ids by ordinary, cost-priced queries: `nodes(ids: $ids)` over the
orders with as many refunds and fulfilments (`first: $refunds`, exact), as many ids as fit 1,000
points (at most 250). The query text is one of three fixed ones and the ids travel as variables,
so Shopify (and the emulator, which caches the parsed and validated document by text) parses it
once, however many orders; a nested connection longer than its first page is completed by the
connector's follow-ups as in a paged read.

Lifecycle of one window: if `currentBulkOperation` is this very query (same text) and COMPLETED,
its result is reused (a restarted backfill); if it is still running (ours or another's) we wait
for it; otherwise we start ours (OPERATION_IN_PROGRESS: wait and start again). Polling backs off
from 0.25 s to 5 s. The result is streamed to a temporary file and read line by line (flat
memory: only one page of `page_size` orders is held as dicts). A result URL that has expired
(403/404) is asked again from the operation; if it is still refused the window is run again, once.

Besides backfills (`bulk_backfill_days`), a read that has paged more than `bulk_threshold` orders
with more to come reads the rest of its window this way (ShopifyConnector.pages).

Failures: ACCESS_DENIED is a `BulkAccessDenied` (a ChannelAuthError: never retried, names the
scope); INTERNAL_SERVER_ERROR a retryable ChannelError (the window's cursor has not moved, the
next attempt runs it again); TIMEOUT lands what `partialDataUrl` holds, then pages the whole
window (raw's payload hash drops the orders both read). A truncated download (shorter than
`fileSize`, or cut mid-line) is downloaded once more, then treated like partial data.

Bad lines: a line that is not JSON, a child whose `__parentId` names no order of the file, an
order without an id, are quarantined with the reason (`Batch.bad`); the rest of the window lands.

Cursor: every page of a window carries no cursor except the window's last, so a kill anywhere in
the window leaves the cursor where it was and the next run reads the window again (the landed
part lands nothing twice).

Why Python, not DuckDB, reads the lines (measured; README "Performance"): the raw payload must be
byte-identical to the paginated path's (its hash is the de-duplication key), so mapping in SQL
needs a type and shape check on every value the mapping reads, with the Python mapping kept for
what fails them. That version (commit 9ac5d8b, reverted) landed identical raw rows on the
24,263-order bench file, but DuckDB took ~47 us per line for the parse, checks and pieces
alone (`json_type` + `json_transform` + the string building, one thread, the Arrow scan of a
chunk not parallelised) against ~35 us per line for orjson + rebuild + `order_to_rest` here,
and the whole read 10.1 s against 4.0-4.3 s. What is left of the landing's cost is mostly the
gate's feature query, its GX validation and the insert (~60% of it), not the reading.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import orjson

from connectors.http import ChannelAuthError, ChannelError, Page, iso_cursor
from connectors.shopify.cost import MAX_QUERY_COST, requested_cost
from connectors.shopify.mapping import map_nodes
from connectors.shopify.queries import (
    BAG,
    DISCOUNT_APP,
    FULFILLMENT,
    FULFILLMENT_ORDER,
    REFUND,
    SHIPPING_LINE,
    TAX_LINE,
)

if TYPE_CHECKING:
    from connectors.shopify.client import ShopifyConnector

TERMINAL = {"COMPLETED", "FAILED", "CANCELED", "EXPIRED"}

# --- the bulk query: the order, its 5 connections (through edges > node), refund and fulfilment
# ids (lists: Shopify refuses a connection inside them)
_BULK_LINE_ITEM = f"""__typename id sku title quantity variant {{ id legacyResourceId }}
  product {{ id legacyResourceId }} originalUnitPriceSet {{ {BAG} }}
  totalDiscountSet {{ {BAG} }} taxLines {{ {TAX_LINE} }}"""
_BULK_ORDER = f"""id legacyResourceId name email createdAt updatedAt processedAt cancelledAt
cancelReason currencyCode presentmentCurrencyCode displayFinancialStatus displayFulfillmentStatus
taxesIncluded subtotalPriceSet {{ {BAG} }} totalDiscountsSet {{ {BAG} }} totalTaxSet {{ {BAG} }}
totalPriceSet {{ {BAG} }} totalShippingPriceSet {{ {BAG} }}
customer {{ id legacyResourceId email firstName lastName }}
shippingAddress {{ countryCodeV2 address1 }}
discountCodes
discountApplications {{ edges {{ node {{ {DISCOUNT_APP} }} }} }}
shippingLines {{ edges {{ node {{ __typename {SHIPPING_LINE} }} }} }}
lineItems {{ edges {{ node {{ {_BULK_LINE_ITEM} }} }} }}
fulfillmentOrders {{ edges {{ node {{ __typename {FULFILLMENT_ORDER} }} }} }}
fulfillments {{ id }}
refunds {{ id }}"""

# child lines -> the order connection they belong to, by __typename
_CHILD_FIELD = {
    "LineItem": "lineItems",
    "ShippingLine": "shippingLines",
    "FulfillmentOrder": "fulfillmentOrders",
}


def _stamp(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def window_search(lo: datetime | None, hi: datetime | None) -> str:
    parts = []
    if lo is not None:
        parts.append(f"updated_at:>='{_stamp(lo)}'")
    if hi is not None:
        parts.append(f"updated_at:<'{_stamp(hi)}'")
    return " AND ".join(parts)


def bulk_orders_query(lo: datetime | None, hi: datetime | None) -> str:
    """The bulk query of one window; the same window gives the same text (a restarted backfill
    recognises its finished operation by it)."""
    search = window_search(lo, hi)
    args = f'(query: "{search}", sortKey: UPDATED_AT)' if search else "(sortKey: UPDATED_AT)"
    return f"{{ orders{args} {{ edges {{ node {{ {_BULK_ORDER} }} }} }} }}"


RUN_MUTATION = """mutation RunBulk($query: String!) { bulkOperationRunQuery(query: $query) {
  bulkOperation { id status } userErrors { field message code } } }"""
_OP_FIELDS = "id status errorCode query objectCount rootObjectCount fileSize url partialDataUrl"
CURRENT_QUERY = f"query CurrentBulk {{ currentBulkOperation {{ {_OP_FIELDS} }} }}"
OP_QUERY = (
    f"query BulkOp($id: ID!) {{ node(id: $id) {{ ... on BulkOperation {{ {_OP_FIELDS} }} }} }}"
)
OLDEST_QUERY = "query Oldest { orders(first: 1, sortKey: UPDATED_AT) { nodes { updatedAt } } }"


class BulkAccessDenied(ChannelAuthError):
    """The bulk operation failed with ACCESS_DENIED: the token lacks a scope the query reads."""


class BulkFailed(ChannelError):
    """The bulk operation failed (INTERNAL_SERVER_ERROR, ...): retryable, the window is re-run."""


class ResultGone(ChannelError):
    """The result URL answered 403/404: it expired (Shopify's are signed, valid a week)."""


@dataclass
class Download:
    path: str
    truncated: bool


@dataclass
class BulkStats:
    operations_started: int = 0
    operations_reused: int = 0
    polls: int = 0
    downloads: int = 0
    join_queries: int = 0
    paged_windows: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)


class BulkReader:
    """Bulk reads of one connector's orders (uses its GraphQL client and cost bucket)."""

    def __init__(self, conn: ShopifyConnector, window_days: float = 30.0) -> None:
        self.conn = conn
        self.window = timedelta(days=window_days)
        self.stats = BulkStats()
        # the result URL is a signed storage URL: no access token goes to it
        self.http = httpx.Client(timeout=conn.timeout)
        self._alias_cost: dict[tuple[int, int], int] = {}

    def close(self) -> None:
        self.http.close()

    # ------------------------------------------------------------------ windows
    def windows(self, since: datetime | None) -> list[tuple[datetime | None, datetime | None]]:
        """[lo, hi) updated_at windows from `since` to now; the last one open-ended."""
        lo = since
        if lo is None:
            data = self.conn.graphql(OLDEST_QUERY, {}, "oldest order query")
            nodes = ((data.get("orders") or {}).get("nodes")) or []
            if not nodes:
                return [(None, None)]
            lo = datetime.fromisoformat(nodes[0]["updatedAt"].replace("Z", "+00:00"))
            lo = lo.replace(microsecond=0)
        now = self.conn.server_now or datetime.now(UTC)
        out: list[tuple[datetime | None, datetime | None]] = []
        first: datetime | None = None if since is None else lo
        while lo + self.window < now:
            out.append((first, lo + self.window))
            lo = lo + self.window
            first = lo
        out.append((first, None))
        return out

    # ------------------------------------------------------------------ pages
    def pages(self, since: datetime | None) -> Iterator[Page]:
        if self.conn.server_now is None:
            self.current()  # learn the shop's clock (Date header): the windows end there
        for lo, hi in self.windows(since):
            yield from self.window_pages(lo, hi)

    def window_pages(self, lo: datetime | None, hi: datetime | None) -> Iterator[Page]:
        query = bulk_orders_query(lo, hi)
        op = self.operation(query)
        cursor: str | None = None
        page_rest = False
        if op["status"] == "FAILED":
            code = op.get("errorCode")
            if code == "ACCESS_DENIED":
                raise BulkAccessDenied(
                    f"channel '{self.conn.channel}': bulk operation {op['id']} failed with "
                    "ACCESS_DENIED: the access token lacks a scope the orders query reads "
                    "(read_orders, and read_all_orders for more than 60 days)"
                )
            if code != "TIMEOUT":
                raise BulkFailed(
                    f"channel '{self.conn.channel}': bulk operation {op['id']} failed "
                    f"with {code}; the window is run again on the next attempt"
                )
            page_rest = True  # TIMEOUT: land the partial data, then page the window
            self.stats.notes.append(f"{op['id']} TIMEOUT: window paged after its partial data")
        url = op.get("url") if op["status"] == "COMPLETED" else op.get("partialDataUrl")
        pending: Page | None = None
        if url:
            dl = self.fetch(op, query, url, partial=op["status"] != "COMPLETED")
            page_rest = page_rest or dl.truncated
            try:
                for page in self.file_pages(dl.path, drop_last=dl.truncated or page_rest):
                    cursor = _later(cursor, page.cursor)
                    if pending is not None:
                        yield pending
                    pending = Page("orders", None, page.batches)
            finally:
                os.unlink(dl.path)
        if page_rest:
            self.stats.paged_windows += 1
            extra = {"query": window_search(lo, hi) or None}
            for page in self.conn._simple_pages("orders", extra):
                cursor = _later(cursor, page.cursor)
                if pending is not None:
                    yield pending
                pending = Page("orders", None, page.batches)
        if pending is not None:
            # the window's cursor, only with its last page: it moves once the window landed
            yield Page("orders", cursor, pending.batches)

    # ------------------------------------------------------------------ the operation
    def operation(self, query: str) -> dict:
        """A finished operation of `query`: the current one if it is ours, else a new one."""
        cur = self.current()
        if cur is not None and cur.get("query") == query:
            if cur["status"] not in TERMINAL:
                return self.wait(cur["id"])
            if cur["status"] == "COMPLETED" and cur.get("url"):
                self.stats.operations_reused += 1
                return cur
        return self.start(query)

    def current(self) -> dict | None:
        data = self.conn.graphql(CURRENT_QUERY, {}, "current bulk operation")
        return data.get("currentBulkOperation")

    def start(self, query: str) -> dict:
        for _ in range(100):
            data = self.conn.graphql(RUN_MUTATION, {"query": query}, "bulk operation run")
            res = data.get("bulkOperationRunQuery") or {}
            errors = res.get("userErrors") or []
            if not errors and res.get("bulkOperation"):
                self.stats.operations_started += 1
                return self.wait(res["bulkOperation"]["id"])
            if any(e.get("code") == "OPERATION_IN_PROGRESS" for e in errors):
                cur = self.current()  # another operation of this app: wait for it, then ours
                if cur is not None and cur["status"] not in TERMINAL:
                    self.wait(cur["id"])
                continue
            msgs = "; ".join(str(e.get("message")) for e in errors)[:300]
            raise ChannelError(f"channel '{self.conn.channel}': bulk query refused: {msgs}")
        raise ChannelError(f"channel '{self.conn.channel}': bulk operations stayed busy")

    def wait(self, op_id: str) -> dict:
        """Poll the operation with back-off until it is finished."""
        delay = 0.25
        deadline = time.monotonic() + (self.conn.client.policy.sync_seconds or 2700.0)
        while True:
            data = self.conn.graphql(OP_QUERY, {"id": op_id}, "bulk operation poll")
            self.stats.polls += 1
            op = data.get("node")
            if op is None:
                raise ChannelError(f"channel '{self.conn.channel}': {op_id} not found")
            if op["status"] in TERMINAL:
                if op["status"] in ("CANCELED", "EXPIRED"):
                    raise BulkFailed(
                        f"channel '{self.conn.channel}': bulk operation {op_id} {op['status']}"
                    )
                return op
            if time.monotonic() > deadline:
                raise ChannelError(f"channel '{self.conn.channel}': {op_id} still running")
            self.conn.sleep(delay)
            delay = min(delay * 2, 5.0)

    # ------------------------------------------------------------------ the result file
    def fetch(self, op: dict, query: str, url: str, partial: bool) -> Download:
        """Download the result; an expired URL is asked again, then the operation re-run once;
        a truncated file is downloaded once more."""
        rerun = False
        dl: Download | None = None
        for _ in range(4):
            try:
                dl = self.download(url, None if partial else op.get("fileSize"))
            except ResultGone:
                fresh = self.wait(op["id"])
                new = fresh.get("partialDataUrl" if partial else "url")
                if new and new != url:
                    url = new
                    continue
                if rerun or partial:
                    raise
                rerun = True
                op = self.start(query)
                url = op.get("url") or ""
                if op["status"] != "COMPLETED" or not url:
                    raise
                continue
            if not dl.truncated:
                return dl
            self.stats.notes.append(f"{op['id']}: truncated download")
            os.unlink(dl.path)
        assert dl is not None
        return self.download(url, None if partial else op.get("fileSize"))

    def download(self, url: str, size: object) -> Download:
        fd, path = tempfile.mkstemp(prefix="shopify-bulk-", suffix=".jsonl")
        got = 0
        last = b"\n"
        try:
            with os.fdopen(fd, "wb") as out, self.http.stream("GET", url) as resp:
                if resp.status_code in (403, 404):
                    raise ResultGone(
                        f"channel '{self.conn.channel}': bulk result URL refused "
                        f"({resp.status_code}): expired",
                        resp.status_code,
                    )
                if resp.status_code != 200:
                    raise ChannelError(
                        f"channel '{self.conn.channel}': bulk result download answered "
                        f"{resp.status_code}",
                        resp.status_code,
                    )
                try:
                    for chunk in resp.iter_bytes(1 << 20):
                        out.write(chunk)
                        got += len(chunk)
                        last = chunk[-1:] or last
                except httpx.HTTPError:
                    pass  # a dropped transfer: what arrived is checked below
        except BaseException:
            os.unlink(path)
            raise
        self.stats.downloads += 1
        self.stats.bytes += got
        expected = int(str(size)) if size not in (None, "") else None
        truncated = (expected is not None and got < expected) or (got > 0 and last != b"\n")
        return Download(path, truncated)

    def file_pages(self, path: str, drop_last: bool = False) -> Iterator[Page]:
        """Orders rebuilt from the JSONL file, `page_size` at a time (each page with its
        cursor, the greatest updated_at it holds). `drop_last`: the file ends early (partial
        data, a truncated download), so its last order may lack children: it is left to the
        paged read that follows."""
        bad: list[tuple[str | None, str, str]] = []
        orders: dict[str, dict] = {}
        flushed: set[str] = set()
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                text = raw.rstrip(b"\n")
                if not text.strip():
                    continue
                try:
                    obj = orjson.loads(text)
                    if not isinstance(obj, dict):
                        raise ValueError("not an object")
                except (orjson.JSONDecodeError, ValueError) as exc:
                    cut = drop_last and not raw.endswith(b"\n")
                    why = "truncated download, line cut" if cut else "not JSON"
                    bad.append(
                        (
                            None,
                            f"bulk result line {n} {why}: {exc}",
                            text.decode("utf-8", "replace"),
                        )
                    )
                    continue
                parent = obj.pop("__parentId", None)
                if parent is None:
                    oid = obj.get("id")
                    if not oid:
                        bad.append((None, f"bulk result line {n}: order without an id",
                                    orjson.dumps(obj).decode()))  # fmt: skip
                        continue
                    if len(orders) >= self.conn.page_size:
                        flushed |= set(orders)
                        yield self._page(list(orders.values()), bad)
                        orders, bad = {}, []
                    orders[oid] = _empty_order(obj)
                    continue
                owner = orders.get(parent)
                if owner is None:
                    why = ("arrived after its order had landed" if parent in flushed
                           else "names no order of the file")  # fmt: skip
                    sid = str(parent).rsplit("/", 1)[-1] or None
                    bad.append((sid, f"bulk result line {n}: child whose __parentId {parent} {why}",
                                orjson.dumps({**obj, "__parentId": parent}).decode()))  # fmt: skip
                    continue
                kind = obj.get("__typename") or ""
                fld = _CHILD_FIELD.get(kind) or (
                    "discountApplications" if kind.endswith("Application") else None
                )
                if fld is None:
                    bad.append((str(parent).rsplit("/", 1)[-1], f"bulk result line {n}: child "
                                f"of unknown type {kind!r}", orjson.dumps(obj).decode()))  # fmt: skip
                    continue
                owner[fld]["nodes"].append(obj)
        if drop_last and orders:
            orders.popitem()  # may lack children: the paged read of the window lands it
        if orders or bad:
            yield self._page(list(orders.values()), bad)

    def _page(self, nodes: list[dict], bad: list) -> Page:
        self.join(nodes)
        batch = map_nodes("orders", nodes)
        batch.bad[:0] = bad
        cursor = max(
            (r.source_updated_at for r in batch.records if r.source_updated_at), default=None
        )
        return Page("orders", iso_cursor(cursor), {"orders": batch})

    # ------------------------------------------------------------------ the join on ids
    def join(self, orders: list[dict]) -> None:
        """Fill each order's refunds and fulfilments (with their lines) by `nodes(ids:)` queries
        of orders alike (as many refunds, as many fulfilments: `first` is exact), as many ids
        per query as fit Shopify's 1,000 points. The text is one of three fixed ones, the ids and
        sizes are variables: Shopify (and the emulator) parse and validate it once."""
        shapes: dict[tuple[int, int], list[dict]] = {}
        for o in orders:
            shape = (len(o["refunds"]), len(o["fulfillments"]))
            if shape != (0, 0):
                shapes.setdefault(shape, []).append(o)
        for shape, alike in shapes.items():
            text = _JOIN[(shape[0] > 0, shape[1] > 0)]
            # the size variables the text declares (GraphQL refuses one it does not declare)
            sizes = {k: n for k, n in zip(("refunds", "fulfillments"), shape, strict=True) if n}
            one = self._alias_cost.get(shape)
            if one is None:  # priced once per shape: a list of n ids costs n times one
                one = self._alias_cost[shape] = requested_cost(
                    text, {"ids": [alike[0]["id"]], **sizes}
                )
            per_query = max(1, min(MAX_NODE_IDS, MAX_QUERY_COST // max(one, 1)))
            for at in range(0, len(alike), per_query):
                self._join_chunk(alike[at : at + per_query], text, sizes, one)

    def _join_chunk(self, chunk: list[dict], text: str, sizes: dict, one: int) -> None:
        variables = {"ids": [o["id"] for o in chunk], **sizes}
        data = self.conn.graphql(
            text, variables, "refunds and fulfillments of bulk orders", priced=one * len(chunk)
        )
        self.stats.join_queries += 1
        got_all = data.get("nodes") or []
        for i, o in enumerate(chunk):
            got = got_all[i] if i < len(got_all) else None
            if got is None or got.get("id") != o["id"]:
                raise ChannelError(f"channel '{self.conn.channel}': {o['id']} vanished while read")
            o["refunds"] = got.get("refunds") or []
            o["fulfillments"] = got.get("fulfillments") or []
            for r in o["refunds"]:
                self.conn.complete(r, "Refund")
            for fl in o["fulfillments"]:
                self.conn.complete(fl, "Fulfillment")


MAX_NODE_IDS = 250  # Shopify's limit on the ids of one `nodes(ids:)`


def _join_text(refunds: bool, fulfillments: bool) -> str:
    args = ["$ids: [ID!]!"]
    sel = []
    if refunds:
        args.append("$refunds: Int!")
        sel.append(f"refunds(first: $refunds) {{ {REFUND} }}")
    if fulfillments:
        args.append("$fulfillments: Int!")
        sel.append(f"fulfillments(first: $fulfillments) {{ {FULFILLMENT} }}")
    return (
        f"query JoinBulkOrders({', '.join(args)}) "
        f"{{ nodes(ids: $ids) {{ ... on Order {{ id {' '.join(sel)} }} }} }}"
    )


# (has refunds, has fulfilments) -> the join query: three fixed texts
_JOIN = {(r, f): _join_text(r, f) for r in (False, True) for f in (False, True) if r or f}


def _empty_order(obj: dict) -> dict:
    for fld in ("discountApplications", "shippingLines", "lineItems", "fulfillmentOrders"):
        obj[fld] = {"nodes": []}
    obj["refunds"] = obj.get("refunds") or []
    obj["fulfillments"] = obj.get("fulfillments") or []
    return obj


def _later(a: str | None, b: str | None) -> str | None:
    return max((c for c in (a, b) if c), default=None)
