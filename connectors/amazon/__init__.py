"""Amazon Selling Partner API channel.

The package: `mapping.py` (answers -> raw records), `client.py` (`AmazonConnector`: LWA auth,
per-operation rate limits), `streams.py` (file specs), `checks.py` (landing gate).
Its names are importable from here as before; the client (and httpx) is imported only when one
of them is first used, so the registry can read `checks` and `streams` cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.lazy import lazy_getattr

_EXPORTS = {
    "order_record": "mapping",
    "items_record": "mapping",
    "event_record": "mapping",
    "inventory_record": "mapping",
    "DEFAULT_AUTH_URL": "client",
    "DEFAULT_RATES": "client",
    "ALL_STREAMS": "client",
    "AmazonConnector": "client",
    "connect": "client",
}

if TYPE_CHECKING:
    from connectors.amazon.client import (
        ALL_STREAMS,
        DEFAULT_AUTH_URL,
        DEFAULT_RATES,
        AmazonConnector,
        connect,
    )
    from connectors.amazon.mapping import (
        event_record,
        inventory_record,
        items_record,
        order_record,
    )


__getattr__ = lazy_getattr(__name__, _EXPORTS)


__all__ = [
    "ALL_STREAMS",
    "AmazonConnector",
    "DEFAULT_AUTH_URL",
    "DEFAULT_RATES",
    "connect",
    "event_record",
    "inventory_record",
    "items_record",
    "order_record",
]
