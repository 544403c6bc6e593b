"""WooCommerce REST API v3 connector.

Streams: `orders` by `modified_after` (`orderby=id&order=asc`, `page`/`per_page`, the page
count from `X-WP-TotalPages`), with each order's refunds (`GET orders/<id>/refunds`, `order_id`
added) landed in the same transaction as the order page that listed them; `customers` (the API
has no modified filter: read whole, deduplicated by payload hash on landing); `products` with
their variations and `stock_quantity` (API-only stream). Every list is paged (`per_page` at most
100, WooCommerce's maximum; its default is 10), an order's refunds too. Auth (`auth.py`): over
`https://` HTTP Basic with the consumer key and secret (or, `auth: query_string`, the keys as
query parameters for hosts that drop the Authorization header); over `http://` OAuth 1.0a
one-legged signatures, as WooCommerce requires there. WooCommerce sends no rate-limit headers;
`requests_per_second` caps us client-side, and 429/5xx are retried with back-off.

Page-number paging over a list that changes while we read it skips records when it is ordered by
a field that changes (`orderby=modified`: an order edited mid-listing jumps to the end and every
later order moves up one place, so one is never seen). The listing is therefore ordered by id,
which never changes (new orders append at the end), its cursor moves only when the listing is
complete, and the orders that changed while it ran are read once more (`modified_after` the
server's time when it started, from its `Date` header) before the cursor moves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
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
from connectors.woocommerce import auth as woo_auth
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
        auth: str = "auto",
    ) -> None:
        self.channel = channel
        self.page_size = min(page_size, 100)  # WooCommerce's per_page maximum
        self.auth_mode = woo_auth.resolve(auth, base_url)  # before the keys: a config error
        key = credential(channel, key_env)
        secret = credential(channel, secret_env)
        envs = f"{key_env} / {secret_env}"
        self.client = ApiClient(channel, base_url, credential_env=envs,
                                auth=woo_auth.httpx_auth(self.auth_mode, key, secret),
                                policy=policy, timeout=timeout, sleep=sleep)  # fmt: skip
        self.client.auth_hint = woo_auth.refusal_hint(self.auth_mode, base_url, envs)
        self.bucket = (
            TokenBucket(requests_per_second, burst, sleep) if requests_per_second else None
        )

    def close(self) -> None:
        self.client.close()

    def _get(self, path: str, params: dict | None, what: str) -> tuple[list, int]:
        body, pages, _ = self._get_dated(path, params, what)
        return body, pages

    def _get_dated(
        self, path: str, params: dict | None, what: str
    ) -> tuple[list, int, datetime | None]:
        """The list, its page count, and the server's time of the answer (`Date` header)."""
        body, resp = self.client.get_json(
            PREFIX + path, params=params, bucket=self.bucket, what=what
        )
        if not isinstance(body, list):
            raise ChannelError(f"channel '{self.channel}': {what}: expected a JSON list")
        pages = int(resp.headers.get("x-wp-totalpages") or 1)
        try:
            served_at: datetime | None = parsedate_to_datetime(resp.headers["date"])
        except (KeyError, TypeError, ValueError):
            served_at = None
        return body, pages, served_at

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

    def _order_pages(self, since: datetime | None) -> Iterator[tuple[Page, datetime | None]]:
        """One listing of the orders modified after `since`, by id; each page with the server's
        time of its answer. Pages carry no cursor (the listing is not in time order)."""
        params = {"orderby": "id", "order": "asc", "dates_are_gmt": "true"}
        if since is not None:
            params["modified_after"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        page = 1
        while True:
            items, pages, served_at = self._get_dated(
                "/orders", {**params, "page": page, "per_page": self.page_size}, "orders list"
            )
            orders = _map(items, order_record, "order")
            refunds = Batch()
            seen: set[str] = set()
            for rec in orders.records:
                if not rec.payload.get("refunds") or rec.source_id in seen:
                    continue
                seen.add(rec.source_id)
                # paged like every list (Woo answers 10 per page unless asked for more)
                for body in self._paged(f"/orders/{rec.source_id}/refunds", {}, "order refunds"):
                    part = _map(body, partial(refund_record, order_id=int(rec.source_id)), "refund")
                    refunds.records += part.records
                    refunds.bad += part.bad
            yield Page("orders", None, {"orders": orders, "refunds": refunds}), served_at
            if page >= pages or not items:
                return
            page += 1

    def pages(self, stream: str, since: datetime | None) -> Iterator[Page]:
        if stream == "orders":
            newest: datetime | None = None
            window = since
            for _listing in ("changed since the cursor", "changed while it was read"):
                started: datetime | None = None
                for page, served_at in self._order_pages(window):
                    started = started or served_at
                    times = [r.source_updated_at for r in page.batches["orders"].records]
                    newest = max(
                        [t for t in times if t] + ([newest] if newest else []), default=None
                    )
                    yield page
                if started is None:  # no Date header: the look-back window re-reads instead
                    break
                # `modified_after` is exclusive and counts seconds: one second of margin.
                window = started - timedelta(seconds=1)
            # The listing (and its re-read) is complete: now the cursor may move.
            yield Page("orders", iso_cursor(newest), {"orders": Batch(), "refunds": Batch()})
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
                        rec.payload["variations_detail"] = [
                            v
                            for body in self._paged(
                                f"/products/{rec.source_id}/variations", {}, "variations"
                            )
                            for v in body
                        ]
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
        auth=settings.auth,
    )
