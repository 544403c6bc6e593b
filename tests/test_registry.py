"""The channel registry: one spec per kind, and every table the pipeline knows comes from it."""

from __future__ import annotations

import subprocess
import sys
import typing
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest

from connectors import registry
from connectors.checks import BASIC, ID, TIME, Check, txt
from connectors.http import Batch, Page
from connectors.protocol import Connector, ConnectorSettings
from connectors.records import StreamSpec, id_field, ts_field
from connectors.registry import REGISTRY, ChannelSpec

pytestmark = pytest.mark.fast  # make test-fast

# all_raw_tables() as flows/warehouse.py computed it before the registry (commit 0d15ed4).
EXPECTED_RAW_TABLES = [
    "shop__orders",
    "shop__customers",
    "shop__products",
    "amazon__orders",
    "amazon__order_items",
    "amazon__financial_events",
    "woo__orders",
    "woo__refunds",
    "woo__customers",
    "tills__orders",
    "tpl__stock",
    "shop__locations",
    "shop__inventory_levels",
    "woo__products",
    "amazon__inventory",
    "files__supplier_terms",
    "files__purchase_orders",
    "files__fx_rates",
    "files__buyer_decisions",
    "files__promotions",  # issue 18: the promotion calendar, appended
    "files__forecast_overrides",  # issue 18: the buyers' forecast overrides, appended
    "files__bundle_components",  # issue 17: bills of materials, appended
    "files__purchase_order_receipts",  # issue 17: receipts of PO lines, appended
]
CREDENTIALS = {
    "shopify": {"access_token": "T_SHOP_TOKEN"},
    "woocommerce": {"consumer_key": "T_WOO_KEY", "consumer_secret": "T_WOO_SECRET"},
    "amazon": {"refresh_token": "T_AMZ_R", "client_id": "T_AMZ_ID", "client_secret": "T_AMZ_S"},
}


def test_every_configurable_kind_has_a_spec():
    from flows.config import ChannelKind

    assert set(typing.get_args(ChannelKind)) == set(REGISTRY)
    names = {s.name for s in REGISTRY.values()}
    assert names == {"shop", "amazon", "woo", "tills", "tpl"}
    for kind, spec in REGISTRY.items():
        assert spec.kind == kind
        assert registry.by_kind(kind) is spec
        assert registry.by_name(spec.name) is spec
    assert registry.by_name("files") is registry.REFERENCE
    assert "reference" not in REGISTRY  # the reference files are not a configurable kind
    with pytest.raises(KeyError, match="unknown channel kind"):
        registry.by_kind("ebay")


def test_raw_tables_are_the_previous_list():
    from flows.warehouse import all_raw_tables

    assert registry.raw_tables() == EXPECTED_RAW_TABLES
    assert all_raw_tables() == EXPECTED_RAW_TABLES


def test_every_raw_table_declares_its_checks_and_they_are_the_gates():
    from flows import quality

    declared = registry.table_checks()
    for table in registry.raw_tables():
        assert table in declared, f"{table}: declare its checks (BASIC for id and time only)"
        checks = declared[table]
        assert checks[0] == ID and all(isinstance(c, Check) for c in checks)
        assert registry.checks_for(table) == checks
        assert quality.CHECKS[table] == list(checks)
    # API-only streams say explicitly that they have only the basic checks
    for table in (
        "shop__locations",
        "shop__inventory_levels",
        "woo__products",
        "amazon__inventory",
    ):
        assert declared[table] == BASIC
    assert set(declared) == set(registry.raw_tables())
    # a structure or an order-lines entry only for tables that have checks reading them
    assert set(quality.STRUCTURES) <= set(declared)
    assert set(quality.ORDER_LINES) == {"shop__orders", "woo__orders", "amazon__order_items"}


def test_file_streams_and_landing_order():
    from connectors.files.streams import STREAMS

    assert registry.file_streams() == STREAMS
    for (channel, stream), spec in STREAMS.items():
        assert registry.file_stream(channel, stream) is spec
        assert spec.table in registry.raw_tables()
    # every contract stream of every kind, and every reference file, can arrive as a file
    for spec in [*REGISTRY.values(), registry.REFERENCE]:
        assert {f.stream for f in spec.file_streams} == set(spec.streams), spec.kind
    assert registry.landing_order("shop__products") == 0
    assert registry.landing_order("files__supplier_terms") == 1
    assert registry.landing_order("shop__orders") == 9
    assert registry.landing_order("nope__nothing") == 9


def test_api_streams():
    assert registry.api_streams("shopify") == (
        "orders", "customers", "products", "locations", "inventory_levels"
    )  # fmt: skip
    assert registry.primary_streams("woocommerce") == ("orders", "customers", "products")
    assert registry.primary_streams("amazon") == ("orders", "financial_events", "inventory")
    assert registry.api_kinds() == {k: tuple(v) for k, v in CREDENTIALS.items()}
    for kind in ("till_export", "stock_report"):
        assert not registry.by_kind(kind).has_api
        with pytest.raises(ValueError, match="no API connector"):
            registry.make_connector(kind, ConnectorSettings("x", "http://127.0.0.1", {}))


@pytest.mark.parametrize("kind", sorted(CREDENTIALS))
def test_factories_build_connectors(kind, monkeypatch):
    for env in CREDENTIALS[kind].values():
        monkeypatch.setenv(env, "not-a-real-secret")
    settings = ConnectorSettings(
        channel=registry.by_kind(kind).name,
        base_url="http://127.0.0.1:9",
        credentials=CREDENTIALS[kind],
        marketplace_ids=("A1PA6795UKMFR9",),
        sleep=lambda s: None,
    )
    connector = registry.make_connector(kind, settings)
    try:
        assert isinstance(connector, Connector)
        assert type(connector).__module__ == f"connectors.{kind}.client"
    finally:
        connector.close()


def test_connector_settings_from_a_channel():
    from flows.config import Channel, connector_settings

    ch = Channel.model_validate(
        {
            "name": "amazon",
            "kind": "amazon",
            "source": "api",
            "api": {
                "base_url": "http://127.0.0.1:9",
                "credentials": CREDENTIALS["amazon"],
                "marketplace_ids": ["A1PA6795UKMFR9"],
                "auth_url": "http://127.0.0.1:9/auth/o2/token",
                "page_size": 50,
                "max_attempts": 3,
                "retry_base_seconds": 0.1,
                "retry_max_seconds": 2,
                "retry_total_seconds": 10,
                "timeout_seconds": 5,
                "requests_per_second": 4,
                "burst": 2,
            },
        }
    )
    s = connector_settings(ch, sleep=print)
    assert (s.channel, s.base_url, s.auth_url, s.marketplace_ids) == (
        "amazon", "http://127.0.0.1:9", "http://127.0.0.1:9/auth/o2/token", ("A1PA6795UKMFR9",)
    )  # fmt: skip
    assert dict(s.credentials) == CREDENTIALS["amazon"]
    assert (s.page_size, s.timeout, s.requests_per_second, s.burst, s.sleep) == (50, 5, 4, 2, print)
    p = s.policy
    assert (p.max_attempts, p.base_delay, p.max_delay, p.total_seconds) == (3, 0.1, 2, 10)


class _FakeConnector:
    def __init__(self, settings: ConnectorSettings) -> None:
        self.settings = settings

    def pages(self, stream: str, since: datetime | None) -> Iterator[Page]:
        yield Page(stream, None, {stream: Batch()})

    def close(self) -> None:
        pass


def test_a_new_channel_is_one_spec():
    """A channel is one package (streams, checks, connector) and one registry entry: adding the
    entry is all it takes for its raw tables, file specs, checks and connector to exist."""
    ebay = ChannelSpec(
        kind="ebay",
        name="ebay",
        streams=("orders",),
        file_streams=(StreamSpec("ebay", "orders", "jsonl", id_field("orderId"), ts_field("t")),),
        extra_streams=("listings",),
        credential_keys=("token",),
        factory=_FakeConnector,
        checks={
            "orders": (ID, TIME, Check("currency", "currencies", txt("currency"))),
            "listings": BASIC,
        },
    )
    copy = {**REGISTRY, "ebay": ebay}
    tables = registry.raw_tables(copy)
    assert "ebay__orders" in tables and "ebay__listings" in tables
    # contract tables, then API-only ones, then the reference files
    e = EXPECTED_RAW_TABLES
    assert tables == [*e[:11], "ebay__orders", *e[11:15], "ebay__listings", *e[15:]]
    assert registry.file_streams(copy)[("ebay", "orders")].table == "ebay__orders"
    assert registry.table_checks(copy)["ebay__listings"] == BASIC
    assert registry.by_kind("ebay", copy) is ebay
    assert ebay.factory is not None
    connector = ebay.factory(ConnectorSettings("ebay", "http://127.0.0.1", {"token": "T"}))
    assert isinstance(connector, Connector)
    # the shipped registry is untouched
    assert "ebay__orders" not in registry.raw_tables()
    assert replace(ebay, extra_streams=()).raw_tables == ("ebay__orders",)


def test_importing_the_registry_imports_no_client():
    code = (
        "import sys, connectors.registry, connectors.files.streams, flows.config; "
        "bad = [m for m in ('httpx', 'connectors.shopify.client', 'connectors.amazon.client', "
        "'connectors.woocommerce.client', 'prefect') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_channel_packages_keep_their_names():
    import connectors.amazon as amazon
    import connectors.shopify as shopify
    import connectors.woocommerce as woo
    from connectors.shopify import (  # noqa: F401  (what tests and bench import)
        ShopifyConnector,
        customer_to_rest,
        order_to_rest,
        product_to_rest,
    )

    for pkg in (shopify, amazon, woo):
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None
    with pytest.raises(AttributeError):
        _ = shopify.no_such_name
