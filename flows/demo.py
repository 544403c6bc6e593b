"""The sandbox store wired to a real configuration: what `oms demo` and the tests run on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
    "title": "Description",
    "original_order_id": "Original",  # the receipt a credit note refunds
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
                # the till writes day-first local times, numbers credit notes CN…, and puts
                # postage and card fees on lines of their own (sandbox/render.py)
                "timestamp_format": "%d.%m.%Y %H:%M:%S",
                "line_types": {"shipping": ["POSTAGE"], "fee": ["CARDFEE"]},
                "credit_notes": {"prefix": "CN"},
            },
            {"name": "tpl", "kind": "stock_report", "path": "stock"},
        ],
        "files": {"drop_dir": drop_dir},
        # Wholesale orders come in every few days, and the store is shut on Sundays.
        "quality": {"freshness_hours_by_channel": {"woo": 168, "tills": 72}},
        "replenishment": {
            "output_dir": output_dir,
            # Stock moves between our own locations before anything is bought
            # (forecasting/transfers.py): per direction, door-to-door days and cost per unit.
            # FBA-EU is fed from the warehouses only (marketplace_buy_direct is false).
            "transfer_lanes": [
                {"from": a, "to": b, "lead_time_days": d, "cost_per_unit": c, "currency": cur}
                for a, b, d, c, cur in (
                    ("WH-AMS", "WH-LON", 3, "0.45", "EUR"),
                    ("WH-LON", "WH-AMS", 3, "0.40", "GBP"),
                    ("WH-AMS", "ST-BER", 2, "0.35", "EUR"),
                    ("WH-AMS", "FBA-EU", 4, "0.60", "EUR"),
                    ("WH-LON", "FBA-EU", 5, "0.55", "GBP"),
                )
            ],
            "transfer_buffer_days": 42,
        },
    }


def write_demo_config(path: Path, **kwargs: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# oms-pipeline configuration for the built-in sandbox store (written by `oms demo`).\n"
    )
    path.write_text(header + yaml.safe_dump(demo_config_dict(**kwargs), sort_keys=False))


def prepare_demo(
    project_dir: Path,
    seed: int = 7,
    scale: str = "demo",
    end_date: date | None = None,
    as_of: date | None = None,
) -> tuple[Config, dict[str, int], date]:
    """Generate the sandbox store into the drop folder; return its config, file counts and the
    last day of data. `as_of` drops only what the channels knew by then (to replay days)."""
    from sandbox import generate_store, write_drops

    cfg = parse_config(demo_config_dict(), source="demo config", base_dir=project_dir)
    store = generate_store(seed=seed, scale=scale, end_date=end_date)
    counts = write_drops(store, Path(cfg.files.drop_dir), as_of=as_of)
    return cfg, counts, min(as_of or store.end_date, store.end_date)


# --------------------------------------------------------------------------- API channels
# Channels `oms demo` pulls from the emulated APIs instead of file drops.
API_DEMO_CHANNELS: tuple[str, ...] = ("shop", "woo", "amazon")


def api_demo_config_dict(
    endpoints, channels: tuple[str, ...] = API_DEMO_CHANNELS, **kwargs: str
) -> dict:
    """The sandbox configuration with `channels` as `source: api` channels pointing at running
    emulators (`sandbox.emulators.Endpoints`)."""
    data = demo_config_dict(**kwargs)
    for ch in data["channels"]:
        if ch["name"] in channels:
            ch.pop("path", None)
            ch.update(endpoints.channel_config(ch["name"], page_size=250))
    return data


@contextmanager
def demo_session(
    project_dir: Path,
    seed: int = 7,
    scale: str = "demo",
    end_date: date | None = None,
    channels: tuple[str, ...] = API_DEMO_CHANNELS,
) -> Iterator[tuple[Config, date]]:
    """Generate the sandbox store, serve `channels` from emulated APIs on 127.0.0.1 and yield
    (config, end date) while they run; the emulators stop when the block ends.

    The other channels (tills, 3PL stock, reference files) arrive as file drops, as before. The
    emulators' credentials are put in this process's environment under the variable names the
    config names (OMS_SHOP_ACCESS_TOKEN, ...), and removed again afterwards.
    """
    import os
    import shutil

    from sandbox import generate_store, write_drops
    from sandbox.emulators import run_emulators

    store = generate_store(seed=seed, scale=scale, end_date=end_date)
    with run_emulators(store, channels=channels) as eps:
        data = api_demo_config_dict(eps, channels)
        cfg = parse_config(data, source="demo config", base_dir=project_dir)
        drop = Path(cfg.files.drop_dir)
        write_drops(store, drop)
        for name in channels:  # these channels come from the APIs, not from files
            folder = {"shop": "shop", "woo": "woo", "amazon": "amazon"}[name]
            shutil.rmtree(drop / folder, ignore_errors=True)
        saved = {k: os.environ.get(k) for k in eps.env()}
        os.environ.update(eps.env())
        try:
            yield cfg, store.end_date
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
