"""What every API connector is, and what building one needs.

A connector is a plain object yielding `Page`s (connectors/http.py) of one stream from a time on;
it never imports flows or Prefect and never touches the warehouse. `ConnectorSettings` carries
everything a channel's factory (`connectors.registry.ChannelSpec.factory`) needs, independent of
`flows/config.py` (which builds it from a channel's `api:` block: `flows.config.connector_settings`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from connectors.http import Page, RetryPolicy


@runtime_checkable
class Connector(Protocol):
    """Pages of one channel's API. `pages(stream, since)` yields the stream's pages updated at or
    after `since` (None: everything), each with the batches it lands and its cursor; `close()`
    releases the HTTP clients."""

    def pages(self, stream: str, since: datetime | None) -> Iterator[Page]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class ConnectorSettings:
    """How to reach one channel's API. `credentials` maps a credential key (e.g. `access_token`)
    to the *name* of the environment variable holding it; the factory reads the value."""

    channel: str
    base_url: str
    credentials: Mapping[str, str]
    api_version: str | None = None
    auth_url: str | None = None
    marketplace_ids: tuple[str, ...] = ()
    page_size: int = 100
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = 30.0
    requests_per_second: float | None = None
    burst: int = 1
    sleep: Callable[[float], None] = time.sleep
    # Amazon: the most one call waits in all for its operation's rate limit (429s without
    # Retry-After wait for the operation's next token)
    rate_limit_wait_seconds: float = 900.0
    # Amazon: a listing reaching back further than this many days (a first sync, a backfill)
    # reads through order reports; None: always the Orders API
    report_backfill_days: float | None = None
    # Shopify: an orders sync reaching back further than this many days reads through Bulk
    # Operations in windows of `bulk_window_days` (connectors/shopify/bulk.py); None: paged
    bulk_backfill_days: float | None = None
    bulk_window_days: float = 30.0
    # Shopify: an orders read holding more than this many orders reads the rest through bulk
    bulk_threshold: int | None = None
    # WooCommerce: auto | basic | query_string | oauth1 (connectors/woocommerce/auth.py)
    auth: str = "auto"
