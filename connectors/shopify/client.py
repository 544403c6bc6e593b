"""Shopify GraphQL Admin API connector -> the REST shapes of docs/raw-contract.md.

Streams: `orders` (line items, discounts, shipping lines, refunds + refund line items with their
restock location, fulfillments, fulfillment orders), `customers`, `products` (variants with their
inventory item and unit cost), and the API-only `locations` and `inventory_levels` (on_hand,
committed, available, incoming per location). Incremental by `updated_at` (`query:
"updated_at:>='<cursor - look-back>'"`, `sortKey: UPDATED_AT`), cursor pagination
(`pageInfo { hasNextPage endCursor }`). Pages come sorted by updated time, so each page's cursor
is the greatest `updated_at` it holds and a crash resumes from the last landed page.

Rate limit: Shopify's cost bucket. Every response carries `extensions.cost.throttleStatus`
(`currentlyAvailable`, `restoreRate`); before a query we wait until the bucket holds the last
query's cost, and on a `THROTTLED` error we wait exactly (requested - available) / restoreRate.

The query text is in `connectors/shopify/queries.py`, the node mapping in
`connectors/shopify/mapping.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from connectors.http import (
    ApiClient,
    ChannelError,
    Page,
    RetryPolicy,
    credential,
    iso_cursor,
    parse_json,
)
from connectors.protocol import ConnectorSettings
from connectors.shopify.mapping import STREAMS, StreamDef, _nodes, map_nodes

DEFAULT_API_VERSION = "2025-01"


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
    ) -> None:
        self.channel = channel
        self.version = api_version or DEFAULT_API_VERSION
        self.page_size = page_size
        self.sleep = sleep
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

    def close(self) -> None:
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

    def graphql(self, query: str, variables: dict, what: str) -> dict:
        deadline = time.monotonic() + self.client.policy.total_seconds
        while True:
            # Wait for the bucket to refill enough for a query like the last one.
            if self._available is not None:
                # what the bucket holds now: it refilled at restoreRate since the last answer
                elapsed = time.monotonic() - self._stamp
                now_available = min(self._maximum, self._available + elapsed * self._restore)
                if self._last_cost > now_available:
                    self._wait_bucket(self._last_cost - now_available)
            resp = self.client.request(
                "POST", self.path, json_body={"query": query, "variables": variables}, what=what
            )
            body = parse_json(self.channel, resp, what)
            if not isinstance(body, dict):
                raise ChannelError(f"channel '{self.channel}': {what}: unexpected answer")
            cost = self._note_cost(body.get("extensions"))
            errors = body.get("errors") or []
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
            self._last_cost = float(
                cost.get("actualQueryCost") or cost.get("requestedQueryCost") or 0
            )
            return body.get("data") or {}

    def _wait_bucket(self, points: float) -> None:
        seconds = points / self._restore
        self.throttle_waits.append(seconds)
        self.client.stats.waited_seconds += seconds
        self.sleep(seconds)

    # ------------------------------------------------------------------ pages
    def pages(self, stream: str, since: datetime | None) -> Iterator[Page]:
        if stream == "locations":
            yield from self._simple_pages("locations", {}, None)
            return
        if stream == "inventory_levels":
            yield from self._level_pages()
            return
        spec = STREAMS[stream]
        query = None
        if since is not None:
            stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            query = f"updated_at:>='{stamp}'"
        yield from self._simple_pages(stream, {"query": query}, spec)

    def _simple_pages(self, stream: str, extra: dict, spec: StreamDef | None) -> Iterator[Page]:
        spec = STREAMS[stream]
        after = None
        while True:
            variables = {"first": self.page_size, "after": after, **extra}
            data = self.graphql(spec.query, variables, f"{stream} query")
            conn = data.get(spec.root)
            if conn is None:
                raise ChannelError(f"channel '{self.channel}': {stream} query returned no data")
            batch = map_nodes(stream, _nodes(conn))
            cursor = max(
                (r.source_updated_at for r in batch.records if r.source_updated_at), default=None
            )
            yield Page(stream, iso_cursor(cursor), {stream: batch})
            info = conn.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            after = info.get("endCursor")

    def _level_pages(self) -> Iterator[Page]:
        locations = []
        for page in self._simple_pages("locations", {}, None):
            locations += [r.payload["id"] for r in page.batches["locations"].records]
        spec = STREAMS["inventory_levels"]
        for loc in locations:
            after = None
            while True:
                variables = {
                    "locationId": f"gid://shopify/Location/{loc}",
                    "first": self.page_size,
                    "after": after,
                }
                data = self.graphql(spec.query, variables, "inventory levels query")
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
    )
