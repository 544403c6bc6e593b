"""The channel registry: one `ChannelSpec` per channel kind, the one place a channel is declared.

A spec names the channel's raw tables (the raw contract's streams, the API-only extras, the
streams that arrive inside another stream's pages), how its files name their records, the
credential keys and connector factory of its API, its landing order and the landing-gate checks
of its streams. The declarations themselves live in the channel's package (`connectors/<kind>/`:
`streams.py`, `checks.py`, and for an API `client.py`); this module only puts them together, and
imports no HTTP client: a factory imports its package when it is called.

The reference files (supplier terms, POs, FX rates, buyer decisions, bills of materials) have a
spec too (`REFERENCE`, channel name `files`); they are not a configurable channel kind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from connectors.amazon import checks as amazon_checks
from connectors.amazon import streams as amazon_streams
from connectors.checks import BASIC, Check, OrderLines
from connectors.records import StreamSpec
from connectors.reference import checks as reference_checks
from connectors.reference import streams as reference_streams
from connectors.shopify import checks as shopify_checks
from connectors.shopify import streams as shopify_streams
from connectors.stock_report import checks as stock_checks
from connectors.stock_report import streams as stock_streams
from connectors.till_export import checks as till_checks
from connectors.till_export import streams as till_streams
from connectors.woocommerce import checks as woo_checks
from connectors.woocommerce import streams as woo_streams

if TYPE_CHECKING:
    from connectors.protocol import Connector, ConnectorSettings

Factory = Callable[["ConnectorSettings"], "Connector"]

DEFAULT_LANDING_ORDER = 9


@dataclass(frozen=True)
class ChannelSpec:
    """Everything the pipeline knows about one channel kind.

    `streams` are the raw contract's (docs/raw-contract.md; dbt's sources read their tables),
    `extra_streams` the ones only its API pulls, `nested_streams` the ones that arrive inside
    another stream's pages (never queried on their own). `checks`, `structures` and
    `order_lines` are keyed by stream; every raw table has an entry in `checks` (`BASIC`: id
    and updated time only). `landing_order` ranks streams that must land before the rest of a
    run (catalogues, so orders are checked against their SKUs); the rest rank 9."""

    kind: str
    name: str
    streams: tuple[str, ...]
    file_streams: tuple[StreamSpec, ...] = ()
    extra_streams: tuple[str, ...] = ()
    nested_streams: tuple[str, ...] = ()
    credential_keys: tuple[str, ...] = ()
    factory: Factory | None = None
    landing_order: Mapping[str, int] = field(default_factory=dict)
    checks: Mapping[str, tuple[Check, ...]] = field(default_factory=dict)
    structures: Mapping[str, dict] = field(default_factory=dict)
    order_lines: Mapping[str, OrderLines] = field(default_factory=dict)
    mapping_fields: tuple[str, ...] = ()  # fields a `mapping:` may name (till exports)
    required_mapping_fields: tuple[str, ...] = ()

    def table(self, stream: str) -> str:
        return f"{self.name}__{stream}"

    @property
    def has_api(self) -> bool:
        return self.factory is not None

    @property
    def api_streams(self) -> tuple[str, ...]:
        """What its API pulls: the contract's streams and the API-only ones."""
        return self.streams + self.extra_streams

    @property
    def primary_streams(self) -> tuple[str, ...]:
        """The API streams queried on their own (nested ones come inside their pages)."""
        return tuple(s for s in self.api_streams if s not in self.nested_streams)

    @property
    def raw_tables(self) -> tuple[str, ...]:
        return tuple(self.table(s) for s in self.streams + self.extra_streams)


def lazy_factory(module: str, name: str = "connect") -> Factory:
    """A factory that imports `module` (the channel's client) only when a connector is built."""

    def build(settings: ConnectorSettings) -> Connector:
        fn: Factory = getattr(importlib.import_module(module), name)
        return fn(settings)

    build.__qualname__ = f"lazy_factory({module}.{name})"
    return build


SHOPIFY = ChannelSpec(
    kind="shopify",
    name="shop",
    streams=("orders", "customers", "products"),
    file_streams=shopify_streams.STREAMS,
    extra_streams=("locations", "inventory_levels"),
    credential_keys=("access_token",),
    factory=lazy_factory("connectors.shopify.client"),
    landing_order={"products": 0},
    checks=shopify_checks.CHECKS,
    structures=shopify_checks.STRUCTURES,
    order_lines=shopify_checks.ORDER_LINES,
)
AMAZON = ChannelSpec(
    kind="amazon",
    name="amazon",
    streams=("orders", "order_items", "financial_events"),
    file_streams=amazon_streams.STREAMS,
    extra_streams=("inventory",),
    nested_streams=("order_items",),
    credential_keys=("refresh_token", "client_id", "client_secret"),
    factory=lazy_factory("connectors.amazon.client"),
    checks=amazon_checks.CHECKS,
    structures=amazon_checks.STRUCTURES,
    order_lines=amazon_checks.ORDER_LINES,
)
WOOCOMMERCE = ChannelSpec(
    kind="woocommerce",
    name="woo",
    streams=("orders", "refunds", "customers"),
    file_streams=woo_streams.STREAMS,
    extra_streams=("products",),
    nested_streams=("refunds",),
    credential_keys=("consumer_key", "consumer_secret"),
    factory=lazy_factory("connectors.woocommerce.client"),
    checks=woo_checks.CHECKS,
    structures=woo_checks.STRUCTURES,
    order_lines=woo_checks.ORDER_LINES,
)
TILL_EXPORT = ChannelSpec(
    kind="till_export",
    name="tills",
    streams=("orders",),
    file_streams=till_streams.STREAMS,
    checks=till_checks.CHECKS,
    structures=till_checks.STRUCTURES,
    mapping_fields=till_streams.MAPPING_FIELDS,
    required_mapping_fields=till_streams.REQUIRED_MAPPING_FIELDS,
)
STOCK_REPORT = ChannelSpec(
    kind="stock_report",
    name="tpl",
    streams=("stock",),
    file_streams=stock_streams.STREAMS,
    checks=stock_checks.CHECKS,
    structures=stock_checks.STRUCTURES,
)
REFERENCE = ChannelSpec(
    kind="reference",
    name="files",
    streams=(
        "supplier_terms",
        "purchase_orders",
        "fx_rates",
        "buyer_decisions",
        "promotions",
        "forecast_overrides",
        "bundle_components",
        "purchase_order_receipts",
    ),
    file_streams=reference_streams.STREAMS,
    landing_order={"supplier_terms": 1},
    checks=reference_checks.CHECKS,
    structures=reference_checks.STRUCTURES,
)

# kind -> spec, in the order of `flows.config.ChannelKind`
REGISTRY: dict[str, ChannelSpec] = {
    s.kind: s for s in (SHOPIFY, AMAZON, WOOCOMMERCE, TILL_EXPORT, STOCK_REPORT)
}

# The API-only tables were created in this order before the registry existed; kept, so a
# warehouse's tables are created as before. A new kind's go after these, in registry order.
_API_ONLY_ORDER = ("shopify", "woocommerce", "amazon")


def _specs(registry: Mapping[str, ChannelSpec] | None) -> list[ChannelSpec]:
    return [*(REGISTRY if registry is None else registry).values(), REFERENCE]


def by_kind(kind: str, registry: Mapping[str, ChannelSpec] | None = None) -> ChannelSpec:
    """The spec of a configurable channel kind (KeyError naming the kinds otherwise)."""
    reg = REGISTRY if registry is None else registry
    try:
        return reg[kind]
    except KeyError:
        raise KeyError(f"unknown channel kind {kind!r} (kinds: {', '.join(reg)})") from None


def by_name(name: str, registry: Mapping[str, ChannelSpec] | None = None) -> ChannelSpec:
    """The spec whose channel is named `name` (`files`: the reference files)."""
    for spec in _specs(registry):
        if spec.name == name:
            return spec
    raise KeyError(f"unknown channel {name!r}")


def raw_tables(registry: Mapping[str, ChannelSpec] | None = None) -> list[str]:
    """Every raw table: the contract's per kind, then the API-only ones, then the reference
    files'. They always exist, so dbt's sources always resolve."""
    reg = REGISTRY if registry is None else registry
    contract = [s.table(t) for s in reg.values() for t in s.streams]
    ranked = sorted(
        reg.values(),
        key=lambda s: _API_ONLY_ORDER.index(s.kind) if s.kind in _API_ONLY_ORDER else 99,
    )  # stable: kinds outside _API_ONLY_ORDER keep their registry order
    api_only = [s.table(t) for s in ranked for t in s.extra_streams]
    return contract + api_only + [REFERENCE.table(t) for t in REFERENCE.streams]


def file_streams(
    registry: Mapping[str, ChannelSpec] | None = None,
) -> dict[tuple[str, str], StreamSpec]:
    """Every file-borne stream's spec, keyed by (channel name, stream)."""
    return {(f.channel, f.stream): f for s in _specs(registry) for f in s.file_streams}


def file_stream(channel_name: str, stream: str) -> StreamSpec:
    """How the files of one stream name their records."""
    for f in by_name(channel_name).file_streams:
        if f.stream == stream:
            return f
    raise KeyError(f"no file stream {channel_name}__{stream}")


def _by_table(registry: Mapping[str, ChannelSpec] | None) -> Iterable[tuple[ChannelSpec, str]]:
    for spec in _specs(registry):
        for stream in spec.streams + spec.extra_streams:
            yield spec, stream


def table_checks(
    registry: Mapping[str, ChannelSpec] | None = None,
) -> dict[str, tuple[Check, ...]]:
    """The landing-gate checks of every raw table that declares them."""
    return {
        spec.table(stream): spec.checks[stream]
        for spec, stream in _by_table(registry)
        if stream in spec.checks
    }


def checks_for(table: str) -> tuple[Check, ...]:
    """The checks of one raw table; BASIC (id and updated time) when it declares none."""
    spec, _, stream = _split(table)
    return spec.checks.get(stream, BASIC) if spec else BASIC


def structures(registry: Mapping[str, ChannelSpec] | None = None) -> dict[str, dict]:
    """What the checks read of each raw table's payload (DuckDB `json_transform` structures)."""
    return {
        spec.table(stream): spec.structures[stream]
        for spec, stream in _by_table(registry)
        if stream in spec.structures
    }


def order_lines(registry: Mapping[str, ChannelSpec] | None = None) -> dict[str, OrderLines]:
    """The order lines the order checks read, per raw table."""
    return {
        spec.table(stream): spec.order_lines[stream]
        for spec, stream in _by_table(registry)
        if stream in spec.order_lines
    }


def _split(table: str) -> tuple[ChannelSpec | None, str, str]:
    name, _, stream = table.partition("__")
    try:
        return by_name(name), name, stream
    except KeyError:
        return None, name, stream


def landing_order(table: str) -> int:
    """Rank of a raw table in a run's landing (lower first); catalogues land before orders."""
    spec, _, stream = _split(table)
    return spec.landing_order.get(stream, DEFAULT_LANDING_ORDER) if spec else DEFAULT_LANDING_ORDER


def api_kinds() -> dict[str, tuple[str, ...]]:
    """Kinds with an API connector -> the credential keys it needs."""
    return {k: s.credential_keys for k, s in REGISTRY.items() if s.has_api}


def api_streams(kind: str) -> tuple[str, ...]:
    """The streams an API channel of `kind` pulls (contract + API-only)."""
    return by_kind(kind).api_streams


def primary_streams(kind: str) -> tuple[str, ...]:
    """The streams an API channel of `kind` queries on their own (nested ones arrive inside)."""
    return by_kind(kind).primary_streams


def make_connector(kind: str, settings: ConnectorSettings) -> Connector:
    """The connector of an API channel of `kind` (credentials are read from the environment)."""
    spec = by_kind(kind)
    if spec.factory is None:
        raise ValueError(f"no API connector for kind {kind!r}")
    return spec.factory(settings)
