"""The sandbox store wired to a real configuration: what `oms demo` and the tests run on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml

from flows.config import Config, parse_config

TILL_MAPPING = {
    "order_id": "Receipt",
    "line_id": "Line",
    "ordered_at": "Timestamp",
    "location_id": "Store",
    "sku": "Article",
    "quantity": "Qty",
    "unit_price": "Price",
    "discount": "Discount",
    "currency": "Currency",
    "customer_email": "Email",
    "cancelled": "Void",
}


def demo_config_dict(
    warehouse: str = "data/oms.duckdb", drop_dir: str = "data/drop", output_dir: str = "out"
) -> dict:
    """The configuration of the sandbox merchant (docs/raw-contract.md, 'Sandbox configuration')."""
    return {
        "warehouse": warehouse,
        "base_currency": "EUR",
        "currencies": ["EUR", "GBP", "USD"],
        "business_timezone": "Europe/Amsterdam",
        "lock_timeout_seconds": 120,
        "locations": [
            {
                "id": "WH-AMS",
                "name": "Amsterdam warehouse",
                "country": "NL",
                "kind": "own_warehouse",
                "external_ids": {"shop": "71000001"},
            },
            {
                "id": "WH-LON",
                "name": "London 3PL",
                "country": "GB",
                "kind": "3pl",
                "external_ids": {"shop": "71000002"},
            },
            {"id": "ST-BER", "name": "Berlin store", "country": "DE", "kind": "store"},
            {
                "id": "FBA-EU",
                "name": "Amazon FBA Europe",
                "country": "DE",
                "kind": "marketplace_fulfilled",
            },
        ],
        "channels": [
            {
                "name": "shop",
                "kind": "shopify",
                "currency": "EUR",
                "default_location": "WH-AMS",
                "path": "shop",
            },
            {
                "name": "amazon",
                "kind": "amazon",
                "currency": "EUR",
                "default_location": "FBA-EU",
                "path": "amazon",
            },
            {
                "name": "woo",
                "kind": "woocommerce",
                "currency": "GBP",
                "default_location": "WH-LON",
                "path": "woo",
            },
            {
                "name": "tills",
                "kind": "till_export",
                "currency": "EUR",
                "default_location": "ST-BER",
                "path": "tills",
                "timezone": "Europe/Berlin",
                "mapping": dict(TILL_MAPPING),
            },
            {"name": "tpl", "kind": "stock_report", "path": "stock"},
        ],
        "files": {"drop_dir": drop_dir},
        "replenishment": {"output_dir": output_dir},
    }


def write_demo_config(path: Path, **kwargs: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# oms-pipeline configuration for the built-in sandbox store (written by `oms demo`).\n"
    )
    path.write_text(header + yaml.safe_dump(demo_config_dict(**kwargs), sort_keys=False))


def prepare_demo(
    project_dir: Path, seed: int = 7, scale: str = "demo", end_date: date | None = None
) -> tuple[Config, dict[str, int], date]:
    """Generate the sandbox store into the drop folder; return its config, file counts, end date."""
    from connectors.sandbox import generate_store, write_drops

    cfg = parse_config(demo_config_dict(), source="demo config", base_dir=project_dir)
    store = generate_store(seed=seed, scale=scale, end_date=end_date)
    counts = write_drops(store, Path(cfg.files.drop_dir))
    return cfg, counts, store.end_date
