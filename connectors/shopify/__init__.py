"""Shopify GraphQL Admin API channel.

The package: `queries.py` (GraphQL text), `mapping.py` (node -> REST-shaped record), `client.py`
(`ShopifyConnector` and its cost bucket), `streams.py` (file specs), `checks.py` (landing gate).
Its names are importable from here as before; the client (and httpx) is imported only when one
of them is first used, so the registry can read `checks` and `streams` cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.lazy import lazy_getattr

_EXPORTS = {
    "MONEY": "queries",
    "BAG": "queries",
    "LOC": "queries",
    "ORDER_FIELDS": "queries",
    "CUSTOMER_FIELDS": "queries",
    "PRODUCT_FIELDS": "queries",
    "LOCATIONS_QUERY": "queries",
    "LEVELS_QUERY": "queries",
    "legacy_id": "mapping",
    "FULFILLMENT_STATUS": "mapping",
    "order_to_rest": "mapping",
    "customer_to_rest": "mapping",
    "product_to_rest": "mapping",
    "location_to_rest": "mapping",
    "level_to_rest": "mapping",
    "StreamDef": "mapping",
    "STREAMS": "mapping",
    "CONTRACT_STREAMS": "mapping",
    "ALL_STREAMS": "mapping",
    "map_node": "mapping",
    "map_nodes": "mapping",
    "DEFAULT_API_VERSION": "client",
    "ShopifyConnector": "client",
    "connect": "client",
}

if TYPE_CHECKING:
    from connectors.shopify.client import (
        DEFAULT_API_VERSION,
        ShopifyConnector,
        connect,
    )
    from connectors.shopify.mapping import (
        ALL_STREAMS,
        CONTRACT_STREAMS,
        FULFILLMENT_STATUS,
        STREAMS,
        StreamDef,
        customer_to_rest,
        legacy_id,
        level_to_rest,
        location_to_rest,
        map_node,
        map_nodes,
        order_to_rest,
        product_to_rest,
    )
    from connectors.shopify.queries import (
        BAG,
        CUSTOMER_FIELDS,
        LEVELS_QUERY,
        LOC,
        LOCATIONS_QUERY,
        MONEY,
        ORDER_FIELDS,
        PRODUCT_FIELDS,
    )


__getattr__ = lazy_getattr(__name__, _EXPORTS)


__all__ = [
    "ALL_STREAMS",
    "BAG",
    "CONTRACT_STREAMS",
    "CUSTOMER_FIELDS",
    "DEFAULT_API_VERSION",
    "FULFILLMENT_STATUS",
    "LEVELS_QUERY",
    "LOC",
    "LOCATIONS_QUERY",
    "MONEY",
    "ORDER_FIELDS",
    "PRODUCT_FIELDS",
    "STREAMS",
    "ShopifyConnector",
    "StreamDef",
    "connect",
    "customer_to_rest",
    "legacy_id",
    "level_to_rest",
    "location_to_rest",
    "map_node",
    "map_nodes",
    "order_to_rest",
    "product_to_rest",
]
