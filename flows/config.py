"""`oms.yaml`: the one configuration file, validated before anything runs.

Every model forbids unknown keys, so a typo (`warehose:`) stops the run with a message that names
the key instead of being silently ignored. Secrets are never stored here, only the *name* of the
environment variable that holds them.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from connectors import registry
from connectors.checks import MAX_STOCK, MAX_UNITS
from connectors.till_export.mapping import CreditNoteRule, ExportRules, check_timestamp_format
from forecasting.settings import ReplenishmentSettings

if TYPE_CHECKING:
    from connectors.protocol import ConnectorSettings

DEFAULT_CONFIG_PATH = "oms.yaml"

# ISO 4217 codes we accept. A currency outside this list is a typo or an unsupported tender.
ISO_CURRENCIES = frozenset(
    [
        "AED",
        "AUD",
        "BGN",
        "BRL",
        "CAD",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CZK",
        "DKK",
        "EGP",
        "EUR",
        "GBP",
        "HKD",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "ISK",
        "JPY",
        "KRW",
        "MXN",
        "MYR",
        "NOK",
        "NZD",
        "PHP",
        "PLN",
        "RON",
        "SAR",
        "SEK",
        "SGD",
        "THB",
        "TRY",
        "TWD",
        "UAH",
        "USD",
        "ZAR",
    ]
)

ChannelKind = Literal["shopify", "amazon", "woocommerce", "till_export", "stock_report"]
LocationKind = Literal["own_warehouse", "3pl", "store", "marketplace_fulfilled"]

# Every channel kind is declared once, in connectors/registry.py (its package: connectors/<kind>/).
# These tables are views of it, kept for the modules that read them.
# The raw tables of a channel kind (docs/raw-contract.md). dbt's sources read these names, so in
# this version each kind has one channel and its name is fixed.
CHANNEL_STREAMS: dict[str, tuple[str, ...]] = {k: s.streams for k, s in registry.REGISTRY.items()}
CANONICAL_CHANNEL_NAME: dict[str, str] = {k: s.name for k, s in registry.REGISTRY.items()}
REFERENCE_STREAMS: tuple[str, ...] = registry.REFERENCE.streams
TILL_FIELDS: tuple[str, ...] = registry.by_kind("till_export").mapping_fields
REQUIRED_TILL_FIELDS: tuple[str, ...] = registry.by_kind("till_export").required_mapping_fields


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_currency(value: str) -> str:
    code = value.strip().upper()
    if code not in ISO_CURRENCIES:
        raise ValueError(f"'{value}' is not a known ISO 4217 currency code")
    return code


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Amsterdam)") from exc
    return value


Currency = Annotated[str, Field(min_length=3, max_length=3)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)]


class Location(_Strict):
    id: Identifier
    name: str
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    kind: LocationKind
    external_ids: dict[str, str] = Field(
        default_factory=dict, description="a channel's own id for this location, by channel name"
    )


EnvVarName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=128)]

# Channel kinds that can be pulled from an API, and the credential keys each needs: the value in
# oms.yaml is the *name* of the environment variable holding the secret, never the secret.
API_KINDS: dict[str, tuple[str, ...]] = registry.api_kinds()
# Streams an API channel pulls beyond the raw contract's (they land only where the warehouse has
# the table: see docs/channels.md).
API_EXTRA_STREAMS: dict[str, tuple[str, ...]] = {
    k: s.extra_streams for k, s in registry.REGISTRY.items() if s.extra_streams
}


class ApiSettings(_Strict):
    """How to reach a channel's API (`source: api`)."""

    base_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
    api_version: str | None = Field(
        default=None, description="Shopify Admin API version, e.g. 2025-01 (default 2025-01)"
    )
    credentials: dict[str, EnvVarName] = Field(
        description="credential name -> environment variable holding it"
    )
    auth_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = Field(
        default=None, description="Amazon: the LWA token endpoint"
    )
    auth: Literal["auto", "basic", "query_string", "oauth1"] = Field(
        default="auto",
        description=(
            "WooCommerce: auto = Basic over https://, OAuth 1.0a signatures over http:// (Woo "
            "ignores keys sent in clear); query_string = keys as query parameters (https only, "
            "for hosts that drop the Authorization header); oauth1 = sign over https too"
        ),
    )
    marketplace_ids: list[str] = Field(default_factory=list, description="Amazon marketplaces")
    page_size: Annotated[int, Field(ge=1, le=250)] = 100
    landing_batch: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=10_000, description="land API pages in transactions of about this many records"
    )
    lookback_days: Annotated[float, Field(ge=0, le=90)] = 2
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 8
    retry_base_seconds: Annotated[float, Field(ge=0, le=60)] = 0.5
    retry_max_seconds: Annotated[float, Field(ge=0, le=600)] = 30
    retry_total_seconds: Annotated[float, Field(gt=0, le=3600)] = 300
    sync_deadline_seconds: Annotated[float, Field(gt=0, le=86_400)] = Field(
        default=2700,
        description="one sync of this channel stops after this long in all (what landed is "
        "kept, the rest is read next run), so a slow server cannot run into the next hour",
    )
    requests_per_second: Annotated[float, Field(gt=0)] | None = Field(
        default=None, description="client-side cap (Woo has none of its own; Amazon per operation)"
    )
    burst: Annotated[int, Field(ge=1, le=1000)] = 1
    rate_limit_wait_seconds: Annotated[float, Field(gt=0, le=86400)] = Field(
        default=900,
        description=(
            "Amazon: the most one call waits in all for its operation's rate limit (a 429 "
            "without Retry-After waits for the operation's next token: 60 s for getOrders)"
        ),
    )
    report_backfill_days: Annotated[float, Field(gt=0, le=730)] | None = Field(
        default=None,
        description=(
            "Amazon: a sync reaching back further than this many days (a first sync, a "
            "backfill) reads all but its last day through order reports (Reports API, 30-day "
            "windows) instead of one getOrderItems per order; null: always the Orders API"
        ),
    )

    bulk_backfill_days: Annotated[float, Field(gt=0, le=3650)] | None = Field(
        default=None,
        description=(
            "Shopify: an orders sync reaching back further than this many days (a first sync, "
            "a backfill) reads through Bulk Operations (bulkOperationRunQuery, JSONL) in "
            "windows of bulk_window_days instead of paging; null: always paged"
        ),
    )
    bulk_window_days: Annotated[float, Field(gt=0, le=365)] = Field(
        default=30, description="Shopify: the updated_at window of one bulk operation"
    )
    bulk_threshold: Annotated[int, Field(ge=1)] | None = Field(
        default=None,
        description=(
            "Shopify: an orders read that has paged more than this many orders with more to "
            "come reads the rest of its window through Bulk Operations; null: never"
        ),
    )

    @model_validator(mode="after")
    def _keys_only_over_https(self) -> ApiSettings:
        if self.auth in ("basic", "query_string") and not self.base_url.startswith("https://"):
            raise ValueError(
                f"auth: {self.auth} sends the consumer key and secret themselves, which "
                "WooCommerce accepts only over HTTPS (over http:// it ignores them and answers "
                "401); use an https:// base_url, or auth: auto / oauth1 (OAuth 1.0a signatures)"
            )
        return self


TillLineType = Literal["product", "shipping", "fee", "discount", "gift_card", "adjustment"]


class CreditNotes(_Strict):
    """How a till export marks a credit note (a refund document, never an order): by an order-id
    prefix, by the mapped `credit_note` flag column, or by a negative document total."""

    prefix: str | None = None
    negative_total: bool = False


class Channel(_Strict):
    name: Identifier
    kind: ChannelKind
    enabled: bool = True
    currency: Currency | None = None
    default_location: str | None = None
    start_date: date | None = None
    source: Literal["files", "api"] = "files"
    path: str | None = Field(
        default=None, description="folder under files.drop_dir that this channel's files arrive in"
    )
    api: ApiSettings | None = None
    timezone: str | None = None
    mapping: dict[str, str] = Field(default_factory=dict)
    # till / order exports only (connectors/till_export/mapping.py)
    constants: dict[str, str] = Field(
        default_factory=dict, description="our field -> a value for every row of the export"
    )
    timestamp_format: str | None = Field(
        default=None, description="strptime format of ordered_at (default: ISO 8601)"
    )
    decimal_comma: bool = False
    thousands_separator: str | None = None
    line_types: dict[TillLineType, list[str]] = Field(
        default_factory=dict, description="line type -> codes or patterns (POST*) of that type"
    )
    credit_notes: CreditNotes | None = None

    @field_validator("currency")
    @classmethod
    def _cur(cls, v: str | None) -> str | None:
        return v if v is None else _check_currency(v)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return v if v is None else _check_timezone(v)

    @model_validator(mode="after")
    def _kind_rules(self) -> Channel:
        spec = registry.by_kind(self.kind)
        expected = spec.name
        if self.name != expected:
            raise ValueError(
                f"a '{self.kind}' channel must be named '{expected}' in this version (got '{self.name}')"
            )
        if self.source == "files" and self.path is None:
            raise ValueError("path: required for a channel with source 'files'")
        if self.source == "files" and self.api is not None:
            raise ValueError("api: only allowed with `source: api`")
        if self.source == "api":
            if not spec.has_api:
                raise ValueError(
                    f"source: a '{self.kind}' channel has no API connector "
                    f"(API channels: {', '.join(registry.api_kinds())})"
                )
            if self.api is None:
                raise ValueError("api: required when source is 'api' (base_url, credentials, ...)")
            need = spec.credential_keys
            missing = [k for k in need if k not in self.api.credentials]
            unknown = sorted(set(self.api.credentials) - set(need))
            if missing or unknown:
                raise ValueError(
                    f"api.credentials: a '{self.kind}' channel needs exactly {list(need)} "
                    f"(environment variable names); missing {missing}, unknown {unknown}"
                )
            if self.kind == "amazon" and not self.api.marketplace_ids:
                raise ValueError("api.marketplace_ids: at least one Amazon marketplace id")
        if self.kind == "till_export":
            allowed = spec.mapping_fields
            unknown = sorted(set(self.mapping) - set(allowed))
            if unknown:
                raise ValueError(
                    f"mapping has unknown field(s) {unknown}; allowed: {', '.join(allowed)}"
                )
            unknown = sorted(set(self.constants) - set(allowed))
            if unknown:
                raise ValueError(
                    f"constants has unknown field(s) {unknown}; allowed: {', '.join(allowed)}"
                )
            both = sorted(set(self.constants) & set(self.mapping))
            if both:
                raise ValueError(f"{both}: in both mapping and constants; keep one")
            given = set(self.mapping) | set(self.constants)
            missing = [f for f in spec.required_mapping_fields if f not in given]
            if "location_id" not in given and self.default_location is None:
                missing.append("location_id")
            if missing:
                raise ValueError(
                    f"mapping is missing required field(s) {missing} (map a column, or set "
                    "`constants:`; location_id may also come from default_location)"
                )
            if self.timestamp_format is not None:
                check_timestamp_format(self.timestamp_format)
        elif (
            self.constants
            or self.timestamp_format
            or self.line_types
            or self.credit_notes
            or self.decimal_comma
            or self.thousands_separator
        ):
            raise ValueError(
                "constants, timestamp_format, decimal_comma, thousands_separator, line_types "
                "and credit_notes are for till_export channels only"
            )
            if self.timezone is None:
                raise ValueError(
                    "timezone is required for till exports (their times have no offset)"
                )
        return self

    def export_rules(self) -> ExportRules:
        """How this till channel's export files are read (connectors/till_export/mapping.py).
        A field neither mapped nor constant takes the channel's default: location_id its
        default_location, currency its currency."""
        constants = dict(self.constants)
        if "location_id" not in self.mapping and self.default_location is not None:
            constants.setdefault("location_id", self.default_location)
        if "currency" not in self.mapping and self.currency is not None:
            constants.setdefault("currency", self.currency)
        cn = self.credit_notes or CreditNotes()
        return ExportRules(
            mapping=dict(self.mapping),
            constants=constants,
            timezone=self.timezone or "UTC",
            timestamp_format=self.timestamp_format,
            decimal_comma=self.decimal_comma,
            thousands_separator=self.thousands_separator,
            line_types={k: tuple(v) for k, v in self.line_types.items()},
            credit_notes=CreditNoteRule(cn.prefix, cn.negative_total),
        )


def connector_settings(
    ch: Channel, sleep: Callable[[float], None] = time.sleep
) -> ConnectorSettings:
    """What the connector factory of an API channel needs, from its `api:` block
    (`connectors.registry.make_connector(ch.kind, connector_settings(ch))`)."""
    from connectors.http import RetryPolicy
    from connectors.protocol import ConnectorSettings

    api = ch.api
    if api is None:
        raise ValueError(f"channel '{ch.name}' has no `api:` block (source: {ch.source})")
    return ConnectorSettings(
        channel=ch.name,
        base_url=api.base_url,
        credentials=dict(api.credentials),
        api_version=api.api_version,
        auth_url=api.auth_url,
        marketplace_ids=tuple(api.marketplace_ids),
        page_size=api.page_size,
        policy=RetryPolicy(
            max_attempts=api.max_attempts,
            base_delay=api.retry_base_seconds,
            max_delay=api.retry_max_seconds,
            total_seconds=api.retry_total_seconds,
            sync_seconds=api.sync_deadline_seconds,
        ),
        timeout=api.timeout_seconds,
        requests_per_second=api.requests_per_second,
        burst=api.burst,
        sleep=sleep,
        rate_limit_wait_seconds=api.rate_limit_wait_seconds,
        report_backfill_days=api.report_backfill_days,
        bulk_backfill_days=api.bulk_backfill_days,
        bulk_window_days=api.bulk_window_days,
        bulk_threshold=api.bulk_threshold,
        auth=api.auth,
    )


class FilesSettings(_Strict):
    drop_dir: str = "data/drop"
    supplier_terms: str = "supplier_terms"
    purchase_orders: str = "purchase_orders"
    purchase_order_receipts: str = "purchase_order_receipts"  # deliveries against PO lines
    fx_rates: str = "fx_rates"
    bundle_components: str = "bundle_components"  # bills of materials of bundles and kits
    buyer_decisions: str = "inbox"
    promotions: str = "promotions"  # the promotion calendar (docs/forecasting.md)
    forecast_overrides: str = "forecast_overrides"  # the buyers' forecast overrides
    # A file modified less than this many seconds ago is left for the next run (it may still be
    # being written); a file that changes while it is landed is never moved (its hash is
    # compared first).
    settle_seconds: Annotated[float, Field(ge=0, le=3600)] = 0


class QualitySettings(_Strict):
    max_bad_share: Annotated[float, Field(ge=0, le=1)] = 0.2
    future_tolerance_hours: Annotated[float, Field(ge=0)] = 24
    freshness_hours: Annotated[float, Field(gt=0)] = 48
    freshness_hours_by_channel: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict
    )
    volume_z: Annotated[float, Field(gt=0)] = 4
    # landing bounds: a line or a count beyond them is held as a typo (raise them for a
    # wholesaler whose real lines are larger)
    max_units: Annotated[int, Field(ge=1)] = MAX_UNITS
    max_stock: Annotated[int, Field(ge=1)] = MAX_STOCK


# The `replenishment:` section is the planner's own settings model, declared and validated once
# in forecasting/settings.py (a frozen pydantic model that forbids unknown keys, like _Strict).


class Config(_Strict):
    warehouse: str = "data/oms.duckdb"
    published_warehouse: str | None = Field(
        default=None,
        description="the read-only copy for analysts and BI tools, replaced whole after every "
        "run (default: <warehouse name>_read.duckdb beside the warehouse)",
    )
    base_currency: Currency = "EUR"
    currencies: list[Currency] = Field(default_factory=lambda: ["EUR"])
    business_timezone: str = "Europe/Amsterdam"
    lock_timeout_seconds: Annotated[float, Field(ge=0)] = 120
    locations: list[Location]
    channels: list[Channel]
    files: FilesSettings = FilesSettings()
    quality: QualitySettings = QualitySettings()
    replenishment: ReplenishmentSettings = ReplenishmentSettings()

    @field_validator("base_currency")
    @classmethod
    def _base(cls, v: str) -> str:
        return _check_currency(v)

    @field_validator("currencies")
    @classmethod
    def _currencies(cls, v: list[str]) -> list[str]:
        return sorted({_check_currency(c) for c in v})

    @field_validator("business_timezone")
    @classmethod
    def _btz(cls, v: str) -> str:
        return _check_timezone(v)

    @model_validator(mode="after")
    def _cross_checks(self) -> Config:
        location_ids = [loc.id for loc in self.locations]
        if len(set(location_ids)) != len(location_ids):
            raise ValueError(f"locations: duplicate id in {location_ids}")
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError(f"channels: duplicate name in {names}")
        for i, ch in enumerate(self.channels):
            if ch.default_location is not None and ch.default_location not in location_ids:
                raise ValueError(
                    f"channels[{i}].default_location: '{ch.default_location}' is not one of the "
                    f"locations {location_ids}"
                )
            if ch.currency is not None and ch.currency not in self.currencies:
                raise ValueError(
                    f"channels[{i}].currency: '{ch.currency}' is not listed in currencies"
                )
        if self.base_currency not in self.currencies:
            raise ValueError(f"currencies: must include the base currency {self.base_currency}")
        for i, lane in enumerate(self.replenishment.transfer_lanes):
            for end in (lane.from_location, lane.to):
                if end not in location_ids:
                    raise ValueError(
                        f"replenishment.transfer_lanes[{i}]: '{end}' is not one of the "
                        f"locations {location_ids}"
                    )
        for loc in self.locations:
            unknown = sorted(set(loc.external_ids) - set(names))
            if unknown:
                raise ValueError(f"locations[{loc.id}].external_ids: unknown channel(s) {unknown}")
        return self

    # ------------------------------------------------------------------ derived paths
    def resolve(self, base_dir: Path) -> Config:
        """Return a copy whose relative paths are anchored at `base_dir` (the config's folder)."""

        def anchor(p: str) -> str:
            path = Path(p).expanduser()
            return str(path if path.is_absolute() else (base_dir / path).resolve())

        return self.model_copy(
            update={
                "warehouse": anchor(self.warehouse),
                "published_warehouse": (
                    anchor(self.published_warehouse) if self.published_warehouse else None
                ),
                "files": self.files.model_copy(update={"drop_dir": anchor(self.files.drop_dir)}),
                "replenishment": self.replenishment.model_copy(
                    update={"output_dir": anchor(self.replenishment.output_dir)}
                ),
            }
        )

    def published_path(self) -> str:
        """The published, read-only copy of the warehouse (`published_warehouse`, or
        `<warehouse stem>_read.duckdb` beside the warehouse)."""
        if self.published_warehouse:
            return self.published_warehouse
        w = Path(self.warehouse)
        return str(w.with_name(f"{w.stem}_read{w.suffix or '.duckdb'}"))

    def channel(self, kind: str) -> Channel | None:
        return next((c for c in self.channels if c.kind == kind and c.enabled), None)


def _format_errors(source: str, exc: ValidationError) -> str:
    lines = [f"{source} is not valid:"]
    for err in exc.errors():
        loc = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in err["loc"])
        loc = re.sub(r"\.\[", "[", loc)
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see `oms init` for every key)"
        lines.append(f"  - {loc or '(top level)'}: {msg}")
    return "\n".join(lines)


def parse_config(
    data: object, source: str = DEFAULT_CONFIG_PATH, base_dir: Path | None = None
) -> Config:
    """Validate a parsed YAML document; raise ConfigError naming every bad key."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source} must be a mapping of keys to values, got {type(data).__name__}"
        )
    try:
        cfg = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(source, exc)) from None
    return cfg.resolve(base_dir or Path.cwd())


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get("OMS_CONFIG") or DEFAULT_CONFIG_PATH)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate `oms.yaml` (or `--config` / `OMS_CONFIG`)."""
    p = config_path(path)
    if not p.exists():
        raise ConfigError(f"{p}: no such file (run `oms init` to write a starter, or `oms demo`)")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    return parse_config(data, source=str(p), base_dir=p.resolve().parent)
