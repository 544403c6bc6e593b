"""WooCommerce REST API v3 connector.

Streams: `orders` by `modified_after` (`orderby=modified&order=asc`, `page`/`per_page`, the page
count from `X-WP-TotalPages`), with each order's refunds (`GET orders/<id>/refunds`, `order_id`
added) landed in the same transaction as the order page that listed them; `customers` (the API
has no modified filter: read whole, deduplicated by payload hash on landing); `products` with
their variations and `stock_quantity` (API-only stream). Auth: HTTP Basic with the consumer key
and secret (over HTTPS in production), never in the URL. WooCommerce sends no rate-limit headers;
`requests_per_second` caps us client-side, and 429/5xx are retried with back-off.

Page-number pagination over a list that changes while we read it can skip a record that moved
(an order modified mid-sync jumps to the end): the look-back window re-reads those next time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial

from connectors.http import (
    ApiClient,
    Batch,
    ChannelError,
    Page,
    RetryPolicy,
    TokenBucket,
    credential,
    iso_cursor,
)
from connectors.protocol import ConnectorSettings
from connectors.woocommerce.mapping import (
    _map,
    customer_record,
    order_record,
    product_record,
    refund_record,
)

PREFIX = "/wp-json/wc/v3"
ALL_STREAMS = ("orders", "customers", "products")


class WooConnector:
    channel_kind = "woocommerce"

    def __init__(
        self,
        base_url: str,
        key_env: str,
        secret_env: str,
        *,
        channel: str = "woo",
        page_size: int = 100,
        policy: RetryPolicy | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        requests_per_second: float | None = None,
        burst: int = 1,
    ) -> None:
        self.channel = channel
        self.page_size = min(page_size, 100)  # WooCommerce's per_page maximum
        key = credential(channel, key_env)
        secret = credential(channel, secret_env)
        self.client = ApiClient(channel, base_url, credential_env=f"{key_env} / {secret_env}",
                                auth=(key, secret), policy=policy, timeout=timeout, sleep=sleep)  # fmt: skip
        self.bucket = (
            TokenBucket(requests_per_second, burst, sleep) if requests_per_second else None
        )

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, params: dict | None, what: str) -> tuple[list, int]:
        body, resp = self.client.get_json(
            PREFIX + path, params=params, bucket=self.bucket, what=what
        )
        if not isinstance(body, list):
            raise ChannelError(f"channel '{self.channel}': {what}: expected a JSON list")
        pages = int(resp.headers.get("x-wp-totalpages") or 1)
        return body, pages

    def _paged(self, path: str, params: dict, what: str) -> Iterator[list]:
        page = 1
        while True:
            items, pages = self._get(
                path, {**params, "page": page, "per_page": self.page_size}, what
            )
            yield items
            if page >= pages or not items:
                return
            page += 1

    def pages(self, stream: str, since: datetime | None) -> Iterator[Page]:
        if stream == "orders":
            params = {"orderby": "modified", "order": "asc", "dates_are_gmt": "true"}
            if since is not None:
                params["modified_after"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            for items in self._paged("/orders", params, "orders list"):
                orders = _map(items, order_record, "order")
                refunds = Batch()
                seen: set[str] = set()
                for rec in orders.records:
                    if not rec.payload.get("refunds") or rec.source_id in seen:
                        continue
                    seen.add(rec.source_id)
                    body, _ = self._get(f"/orders/{rec.source_id}/refunds", None, "order refunds")
                    oid = int(rec.source_id)
                    part = _map(body, partial(refund_record, order_id=oid), "refund")
                    refunds.records += part.records
                    refunds.bad += part.bad
                cursor = max(
                    (r.source_updated_at for r in orders.records if r.source_updated_at),
                    default=None,
                )
                yield Page("orders", iso_cursor(cursor), {"orders": orders, "refunds": refunds})
        elif stream == "customers":
            for items in self._paged(
                "/customers", {"orderby": "id", "order": "asc"}, "customers list"
            ):
                yield Page(
                    "customers", None, {"customers": _map(items, customer_record, "customer")}
                )
        elif stream == "products":
            for items in self._paged(
                "/products", {"orderby": "id", "order": "asc"}, "products list"
            ):
                batch = _map(items, product_record, "product")
                for rec in batch.records:
                    if rec.payload.get("type") == "variable":
                        body, _ = self._get(
                            f"/products/{rec.source_id}/variations", {"per_page": 100}, "variations"
                        )
                        rec.payload["variations_detail"] = body
                yield Page("products", None, {"products": batch})
        else:
            raise ValueError(f"unknown WooCommerce stream {stream!r}")


def connect(settings: ConnectorSettings) -> WooConnector:
    """The connector of a WooCommerce channel (its key and secret read from the environment now)."""
    return WooConnector(
        settings.base_url,
        settings.credentials["consumer_key"],
        settings.credentials["consumer_secret"],
        requests_per_second=settings.requests_per_second,
        burst=settings.burst,
        channel=settings.channel,
        page_size=settings.page_size,
        policy=settings.policy,
        timeout=settings.timeout,
        sleep=settings.sleep,
    )
