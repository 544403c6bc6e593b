"""WooCommerce REST API v3 channel.

The package: `mapping.py` (answers -> raw records), `client.py` (`WooConnector`), `auth.py` (Basic,
query-string keys or OAuth 1.0a signatures, as WooCommerce decides by the transport), `streams.py`
(file specs), `checks.py` (landing gate).
Its names are importable from here as before; the client (and httpx) is imported only when one
of them is first used, so the registry can read `checks` and `streams` cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.lazy import lazy_getattr

_EXPORTS = {
    "order_record": "mapping",
    "refund_record": "mapping",
    "customer_record": "mapping",
    "product_record": "mapping",
    "PREFIX": "client",
    "ALL_STREAMS": "client",
    "WooConnector": "client",
    "connect": "client",
}

if TYPE_CHECKING:
    from connectors.woocommerce.client import (
        ALL_STREAMS,
        PREFIX,
        WooConnector,
        connect,
    )
    from connectors.woocommerce.mapping import (
        customer_record,
        order_record,
        product_record,
        refund_record,
    )


__getattr__ = lazy_getattr(__name__, _EXPORTS)


__all__ = [
    "ALL_STREAMS",
    "PREFIX",
    "WooConnector",
    "connect",
    "customer_record",
    "order_record",
    "product_record",
    "refund_record",
]
