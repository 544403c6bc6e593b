"""Shopify GraphQL Admin API connector -> the REST shapes of docs/raw-contract.md.

Streams: `orders` (line items, discounts, shipping lines, refunds + refund line items with their
restock location, fulfillments, fulfillment orders), `customers`, `products` (variants with their
inventory item and unit cost, and a bundle variant's components: `productVariantComponents`), and the API-only `locations` and `inventory_levels` (on_hand,
committed, available, incoming per location). Incremental by `updated_at` (`query:
"updated_at:>='<cursor - look-back>'"`, `sortKey: UPDATED_AT`), cursor pagination
(`pageInfo { hasNextPage endCursor }`). Pages come sorted by updated time, so each page's cursor
is the greatest `updated_at` it holds and a crash resumes from the last landed page.

Query cost: Shopify refuses a query whose requested cost exceeds 1,000 points, so each page query
is sent at the largest page size that fits (`cost.max_page`, at most `page_size`), lowered when
Shopify answers `MAX_COST_EXCEEDED` (the page is then asked again, smaller) or reports a higher
`requestedQueryCost` than ours. Nested connections come in small first pages; an order (or
product) whose nested connection has more is completed by follow-up queries on that connection
alone (`queries.FOLLOW_UPS`) before it is mapped, so no order lands truncated.

Rate limit: Shopify's cost bucket. Every response carries `extensions.cost.throttleStatus`
(`currentlyAvailable`, `restoreRate`); before a query we wait until the bucket holds the next
query's requested cost, and on a `THROTTLED` error we wait exactly (requested - available) /
restoreRate.

Scopes: without `read_all_orders` Shopify shows only the last 60 days of orders. A sync reading
orders from further back asks `currentAppInstallation { accessScopes }` first and stops with
`MissingScope` naming the scope rather than land a silently short history.

The query text is in `connectors/shopify/queries.py`, the node mapping in
`connectors/shopify/mapping.py`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from connectors.http import (
    ApiClient,
    ChannelConfigError,
    ChannelError,
    Page,
    RetryPolicy,
    credential,
    iso_cursor,
    parse_json,
)
from connectors.protocol import ConnectorSettings
from connectors.shopify.bulk import CURRENT_QUERY, BulkReader
from connectors.shopify.cost import MAX_QUERY_COST, max_page, requested_cost
from connectors.shopify.mapping import STREAMS, StreamDef, _nodes, map_nodes
from connectors.shopify.queries import FOLLOW_UPS, LIST_REFETCH, NESTED

DEFAULT_API_VERSION = "2025-01"
HISTORY_WITHOUT_ALL_ORDERS = timedelta(days=60)
SCOPES_QUERY = "query Scopes { currentAppInstallation { accessScopes { handle } } }"


class QueryTooCostly(ChannelError):
    """Shopify answered MAX_COST_EXCEEDED: `cost` is what it priced the query at."""

    def __init__(self, message: str, cost: float = 0.0) -> None:
        super().__init__(message)
        self.cost = cost

    def __reduce__(self):
        return (type(self), (str(self), self.cost))


class MissingScope(ChannelConfigError):
    """The access token lacks a scope the sync needs (`scope`): never retried."""

    def __init__(self, message: str, scope: str = "") -> None:
        super().__init__(message)
        self.scope = scope

    def __reduce__(self):
        return (type(self), (str(self), self.scope))


class ShopifyConnector:
    """Pages of one Shopify shop's GraphQL Admin API."""

    channel_kind = "shopify"

    def __init__(
        self,
        base_url: str,
        token_env: str,
        *,
        channel: str = "shop",
        api_version: str | None = None,
        page_size: int = 100,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        bulk_backfill_days: float | None = None,
        bulk_window_days: float = 30.0,
        bulk_threshold: int | None = None,
    ) -> None:
        self.channel = channel
        self.version = api_version or DEFAULT_API_VERSION
        self.page_size = page_size
        self.sleep = sleep
        self.timeout = timeout
        # Bulk Operations for orders reaching back further than this (connectors/shopify/bulk.py)
        self.bulk_backfill_days = bulk_backfill_days
        self.bulk_window_days = bulk_window_days
        self.bulk_threshold = bulk_threshold
        self.bulk: BulkReader | None = None
        self._more = False
        token = credential(channel, token_env)
        self.client = ApiClient(
            channel,
            base_url,
            credential_env=token_env,
            headers={"X-Shopify-Access-Token": token, "Content-Type": "application/json"},
            policy=policy,
            timeout=timeout,
            sleep=sleep,
        )
        self.path = f"/admin/api/{self.version}/graphql.json"
        self._available: float | None = None
        self._restore: float = 50.0
        self._maximum: float = 0.0
        self._stamp: float = 0.0
        self._last_cost: float = 0.0
        self.throttle_waits: list[float] = []
        self.points_spent = 0.0  # actual cost Shopify charged, all queries
        self.last_requested = 0.0
        self.requests = 0
        self.follow_ups = 0
        self.server_now: datetime | None = None  # the shop's clock (Date header)
        self._caps: dict[str, int] = {}  # query text -> largest page size that fits

    def close(self) -> None:
        if self.bulk is not None:
            self.bulk.close()
        self.client.close()

    # ------------------------------------------------------------------ GraphQL + cost bucket
    def _note_cost(self, ext: dict | None) -> dict:
        cost = (ext or {}).get("cost") or {}
        status = cost.get("throttleStatus") or {}
        if "currentlyAvailable" in status:
            self._available = float(status["currentlyAvailable"])
            self._maximum = float(status.get("maximumAvailable") or self._available)
            self._restore = float(status.get("restoreRate") or self._restore)
            self._stamp = time.monotonic()
        return cost

    def graphql(self, query: str, variables: dict, what: str, priced: float | None = None) -> dict:
        """Send one query, first waiting for the bucket to hold its requested cost. `priced`: the
        caller priced the query already (the bulk join sums its aliases' costs), so its text,
        some 100 aliased nodes, is not parsed again only to be priced."""
        deadline = time.monotonic() + self.client.policy.total_seconds
        self._last_cost = float(requested_cost(query, variables) if priced is None else priced)
        while True:
            # Wait for the bucket to refill enough for this query's requested cost.
            if self._available is not None:
                # what the bucket holds now: it refilled at restoreRate since the last answer
                elapsed = time.monotonic() - self._stamp
                now_available = min(self._maximum, self._available + elapsed * self._restore)
                if self._last_cost > now_available:
                    self._wait_bucket(self._last_cost - now_available)
            resp = self.client.request(
                "POST", self.path, json_body={"query": query, "variables": variables}, what=what
            )
            self.requests += 1
            self._note_date(resp.headers.get("date"))
            body = parse_json(self.channel, resp, what)
            if not isinstance(body, dict):
                raise ChannelError(f"channel '{self.channel}': {what}: unexpected answer")
            cost = self._note_cost(body.get("extensions"))
            errors = body.get("errors") or []
            if not isinstance(errors, list):
                errors = [{"message": str(errors)}]
            codes = [(e.get("extensions") or {}).get("code") for e in errors]
            if "MAX_COST_EXCEEDED" in codes:
                ext = errors[codes.index("MAX_COST_EXCEEDED")].get("extensions") or {}
                priced = float(ext.get("cost") or 0)
                raise QueryTooCostly(
                    f"channel '{self.channel}': {what}: Shopify priced the query at {priced:g} "
                    f"points, above its {MAX_QUERY_COST} limit",
                    priced,
                )
            if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                requested = float(cost.get("requestedQueryCost") or self._last_cost or 1)
                self._last_cost = requested
                available = float(self._available or 0)
                if time.monotonic() > deadline:
                    raise ChannelError(
                        f"channel '{self.channel}': {what} still throttled; giving up"
                    )
                self._wait_bucket(max(requested - available, 0) or 1 / self._restore)
                self._available = None  # the next answer tells us again
                continue
            if errors:
                msgs = "; ".join(str(e.get("message")) for e in errors)[:300]
                raise ChannelError(f"channel '{self.channel}': {what}: GraphQL errors: {msgs}")
            self.points_spent += float(cost.get("actualQueryCost") or 0)
            self.last_requested = float(cost.get("requestedQueryCost") or 0)
            return body.get("data") or {}

    def _note_date(self, header: str | None) -> None:
        if header:
            with contextlib.suppress(TypeError, ValueError):
                self.server_now = parsedate_to_datetime(header)

    def _wait_bucket(self, points: float) -> None:
        seconds = points / self._restore
        self.throttle_waits.append(seconds)
        self.client.stats.waited_seconds += seconds
        self.sleep(seconds)

    # ------------------------------------------------------------------ page sizes
    def page_cap(self, query: str, extra: dict | None = None) -> int:
        """The page size to send `query` at: `page_size`, or less where the cost limit says."""
        cap = self._caps.get(query)
        if cap is None:
            cap = self._caps[query] = max(1, max_page(query, extra))
        if self._maximum and self._maximum < MAX_QUERY_COST:
            # a bucket smaller than one full page would throttle it for ever
            cap = min(cap, max(1, max_page(query, extra, limit=self._maximum)))
        return max(1, min(self.page_size, cap))

    def _lower_cap(self, query: str, size: int, priced: float) -> None:
        """Shopify priced `query` at `size` higher than it may: scale the page size down."""
        if priced > MAX_QUERY_COST or (priced and self._caps.get(query, 0) >= size):
            fits = math.floor(size * MAX_QUERY_COST / priced) if priced > MAX_QUERY_COST else size
            self._caps[query] = max(1, min(self._caps.get(query, size), fits))

    def _sized(self, query: str, variables: dict, what: str) -> tuple[dict, int]:
        """Send a paged query at the largest size that fits; a MAX_COST_EXCEEDED answer lowers
        it and the same page is asked again."""
        while True:
            size = self.page_cap(query, variables)
            try:
                data = self.graphql(query, {**variables, "first": size}, what)
            except QueryTooCostly as exc:
                if size <= 1:
                    raise
                self._caps[query] = max(
                    1, min(size - 1, math.floor(size * MAX_QUERY_COST / max(exc.cost, 1)))
                )
                continue
            if (
                self.last_requested > MAX_QUERY_COST * 0.999
                and self.last_requested > requested_cost(query, {**variables, "first": size})
            ):
                self._lower_cap(query, size, self.last_requested)
            return data, size

    # ------------------------------------------------------------------ whole nodes
    def complete(self, node: dict, owner_type: str) -> dict:
        """Fetch what a node's nested connections and lists hold beyond their first page."""
        for field, rl in LIST_REFETCH.items():
            if rl.owner_type != owner_type or not isinstance(node.get(field), list):
                continue
            if len(node[field]) >= NESTED[field]:
                first = self.page_cap(rl.query, {"id": node["id"]})
                data = self.graphql(rl.query, {"id": node["id"], "first": first},
                                    f"{field} of {node['id']}")  # fmt: skip
                self.follow_ups += 1
                got = (data.get("node") or {}).get(field)
                if got is None:
                    raise ChannelError(
                        f"channel '{self.channel}': {node['id']} vanished while read"
                    )
                if len(got) >= first:
                    raise ChannelError(
                        f"channel '{self.channel}': {node['id']} has more than {first} {field}, "
                        "more than one query may read: not landed truncated"
                    )
                node[field] = got
        for field, fu in FOLLOW_UPS.items():
            conn = node.get(field)
            if fu.owner_type != owner_type or not isinstance(conn, dict):
                continue
            info = conn.get("pageInfo") or {}
            nodes = list(_nodes(conn))
            while info.get("hasNextPage"):
                data, _ = self._sized(
                    fu.query, {"id": node["id"], "after": info.get("endCursor")},
                    f"{field} of {node['id']}",
                )  # fmt: skip
                self.follow_ups += 1
                more = (data.get("node") or {}).get(field)
                if more is None:
                    raise ChannelError(
                        f"channel '{self.channel}': {node['id']} vanished while read"
                    )
                nodes += _nodes(more)
                info = more.get("pageInfo") or {}
            node[field] = {"nodes": nodes}
        if owner_type == "Order":
            for li in _nodes(node.get("lineItems")):
                self.complete(li, "LineItem")
            for f in node.get("fulfillments") or []:
                self.complete(f, "Fulfillment")
            for r in node.get("refunds") or []:
                self.complete(r, "Refund")
        if owner_type == "Product":
            for v in _nodes(node.get("variants")):
                self.complete(v, "ProductVariant")  # a bundle's components beyond its first
        return node

    # ------------------------------------------------------------------ scopes
    def check_history_scope(self, since: datetime | None) -> None:
        """Orders from more than 60 days back need `read_all_orders`: without it Shopify answers
        only the last 60 days, which would land as a silently short history."""
        now = self.server_now or datetime.now(UTC)
        if since is not None and since >= now - HISTORY_WITHOUT_ALL_ORDERS:
            return
        data = self.graphql(SCOPES_QUERY, {}, "access scopes query")
        self.server_now = self.server_now or now
        if since is not None and since >= self.server_now - HISTORY_WITHOUT_ALL_ORDERS:
            return
        scopes = {
            s.get("handle")
            for s in (data.get("currentAppInstallation") or {}).get("accessScopes") or []
        }
        if "read_all_orders" not in scopes:
            start = "the whole history" if since is None else f"orders since {since:%Y-%m-%d}"
            raise MissingScope(
                f"channel '{self.channel}': {start} asked for, but the access token lacks the "
                "read_all_orders scope, so Shopify shows only the last 60 days of orders: "
                "grant read_all_orders to the app (Shopify must approve it for public apps), "
                "or set the channel's start_date within the last 60 days",
                "read_all_orders",
            )

    # ------------------------------------------------------------------ pages
    def wants_bulk(self, since: datetime | None) -> bool:
        """A read of orders reaching back further than `bulk_backfill_days` (a first sync, a
        backfill) goes through Bulk Operations: no query cost, so hours become minutes."""
        if self.bulk_backfill_days is None:
            return False
        if since is None:
            return True
        if self.server_now is None:
            self.graphql(CURRENT_QUERY, {}, "current bulk operation")  # the shop's clock
        now = self.server_now or datetime.now(UTC)
        return since < now - timedelta(days=self.bulk_backfill_days)

    def pages(self, stream: str, since: datetime | None) -> Iterator[Page]:
        if stream == "locations":
            yield from self._simple_pages("locations", {})
            return
        if stream == "inventory_levels":
            yield from self._level_pages()
            return
        if stream == "orders":
            self.check_history_scope(since)
            if self.wants_bulk(since):
                yield from self._bulk_reader().pages(since)
                return
        query = None
        if since is not None:
            stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            query = f"updated_at:>='{stamp}'"
        if stream != "orders" or self.bulk_threshold is None:
            yield from self._simple_pages(stream, {"query": query})
            return
        # A window holding more orders than `bulk_threshold`: the first pages are paged (they
        # come sorted by updated_at, each with its cursor), the rest goes through bulk from the
        # last paged cursor (inclusively: raw's hash drops the orders both read).
        seen, last = 0, None
        for page in self._simple_pages("orders", {"query": query}):
            yield page
            seen += page.n_records
            last = page.cursor or last
            if seen > self.bulk_threshold and self._more and last is not None:
                rest = datetime.fromisoformat(last) - timedelta(seconds=1)
                yield from self._bulk_reader().pages(rest)
                return

    def _bulk_reader(self) -> BulkReader:
        if self.bulk is None:
            self.bulk = BulkReader(self, self.bulk_window_days)
        return self.bulk

    def _simple_pages(self, stream: str, extra: dict) -> Iterator[Page]:
        spec: StreamDef = STREAMS[stream]
        owner = {"orders": "Order", "products": "Product"}.get(stream)
        after = None
        while True:
            data, _ = self._sized(spec.query, {"after": after, **extra}, f"{stream} query")
            conn = data.get(spec.root)
            if conn is None:
                raise ChannelError(f"channel '{self.channel}': {stream} query returned no data")
            nodes = _nodes(conn)
            if owner:
                nodes = [self.complete(n, owner) for n in nodes]
            batch = map_nodes(stream, nodes)
            cursor = max(
                (r.source_updated_at for r in batch.records if r.source_updated_at), default=None
            )
            info = conn.get("pageInfo") or {}
            self._more = bool(info.get("hasNextPage"))  # read by the bulk threshold
            yield Page(stream, iso_cursor(cursor), {stream: batch})
            if not info.get("hasNextPage"):
                return
            after = info.get("endCursor")

    def _level_pages(self) -> Iterator[Page]:
        locations = []
        for page in self._simple_pages("locations", {}):
            locations += [r.payload["id"] for r in page.batches["locations"].records]
        spec = STREAMS["inventory_levels"]
        for loc in locations:
            after = None
            while True:
                data, _ = self._sized(
                    spec.query,
                    {"locationId": f"gid://shopify/Location/{loc}", "after": after},
                    "inventory levels query",
                )
                conn = data.get("inventoryLevels") or {}
                conn = conn.get("inventoryLevels", conn)
                batch = map_nodes("inventory_levels", _nodes(conn))
                # Levels are a snapshot, not a change feed: no cursor.
                yield Page("inventory_levels", None, {"inventory_levels": batch})
                info = conn.get("pageInfo") or {}
                if not info.get("hasNextPage"):
                    break
                after = info.get("endCursor")


def connect(settings: ConnectorSettings) -> ShopifyConnector:
    """The connector of a Shopify channel (its access token read from the environment now)."""
    return ShopifyConnector(
        settings.base_url,
        settings.credentials["access_token"],
        api_version=settings.api_version,
        channel=settings.channel,
        page_size=settings.page_size,
        policy=settings.policy,
        timeout=settings.timeout,
        sleep=settings.sleep,
        bulk_backfill_days=settings.bulk_backfill_days,
        bulk_window_days=settings.bulk_window_days,
        bulk_threshold=settings.bulk_threshold,
    )
