"""One landing path: a record that arrives through a dropped file and the same record through the
API end as the same raw row, judged by the same checks against the same context."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from flows.api_sync import sync_api
from flows.landing import SyncReport
from flows.sync import sync_files
from flows.warehouse import connection
from sandbox import render
from tests.conftest import make_config
from tests.test_connector_helpers import api_config, emulated, quarantined, raw_rows

UNKNOWN_SKU = "SKU-NOT-IN-ANY-CATALOGUE"


def _flags(report: SyncReport, suite_part: str) -> Counter:
    """Failed records per expectation, summed over every batch of one stream's suite."""
    out: Counter = Counter()
    for o in report.outcomes:
        if suite_part in o["suite"]:
            out[o["expectation"]] += o["unexpected_count"]
    return out


def _versions(cfg, table: str) -> set[tuple]:
    return {(sid, ts, h) for sid, ts, _, h in raw_rows(cfg, table)}


def _drop(cfg, stream: str, payloads: list[str]) -> None:
    shop = next(c for c in cfg.channels if c.name == "shop")
    folder = Path(cfg.files.drop_dir) / str(shop.path) / stream
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{stream}.jsonl").write_text("\n".join(payloads) + "\n", encoding="utf-8")


def test_the_same_order_through_a_file_and_the_api_lands_the_same_row_and_flags(
    tmp_path, monkeypatch
):
    # One order names a SKU no catalogue has, another was fulfilled from a Shopify location
    # that oms.yaml does not map to one of ours.
    monkeypatch.setitem(render.SHOPIFY_LOCATION_IDS, "WH-UNMAPPED", 71000099)
    with emulated() as eps:
        book = eps.shop.emulator.book
        flagged_order = str(book.orders[5]["source_id"])
        book.lines[5][0]["sku"] = UNKNOWN_SKU
        held_order = str(book.orders[7]["source_id"])
        book.orders[7]["location_id"] = "WH-UNMAPPED"
        api_cfg = api_config(tmp_path / "api", eps)
        by_api = sync_api(api_cfg, only_channel="shop", streams=["products", "orders"])
    assert by_api.rows_landed > 0

    # The same payloads, as received (landed or held), dropped as JSON Lines files for a
    # `source: files` channel.
    with connection(api_cfg.warehouse, read_only=True) as con:
        payloads = {
            stream: [
                p
                for (p,) in con.execute(
                    f"""select _payload::varchar from raw.shop__{stream}
                        union all select payload from ops.quarantine where stream = ?""",
                    [stream],
                ).fetchall()
            ]
            for stream in ("products", "orders")
        }
    file_cfg = make_config(tmp_path / "files")
    for stream, texts in payloads.items():
        _drop(file_cfg, stream, texts)
    by_file = sync_files(file_cfg, only_channel="shop")
    assert by_file.files_rejected == 0, by_file.rejected

    for table in ("shop__products", "shop__orders"):
        assert _versions(api_cfg, table) == _versions(file_cfg, table), table
    # The same checks ran and flagged the same record: an unknown SKU on an API order is flagged
    # (it lands: a new product's first orders must not be held back).
    api_flags, file_flags = _flags(by_api, "shop__orders"), _flags(by_file, "shop__orders")
    assert api_flags == file_flags
    assert api_flags["SKU is in the catalogue (flag only)"] == 1
    assert flagged_order in {sid for sid, *_ in raw_rows(api_cfg, "shop__orders")}
    # An order from a location we do not know is held back, with the same reason either way.
    held = quarantined(api_cfg)
    assert held == quarantined(file_cfg)
    assert [(c, s, sid) for c, s, sid, _ in held] == [("shop", "orders", held_order)]
    assert "fulfilment locations are configured locations" in held[0][3]


def test_api_streams_land_the_catalogue_before_the_orders_it_checks(tmp_path):
    """Orders are checked against the SKUs the catalogue knows, so the catalogue streams land
    first in an API sync too (as they do for files): a first sync flags no known SKU."""
    with emulated() as eps:
        cfg = api_config(tmp_path, eps)
        report = sync_api(cfg, only_channel="shop")
    assert _flags(report, "shop__orders")["SKU is in the catalogue (flag only)"] == 0
    assert json.loads(raw_rows(cfg, "shop__products")[0][2])["variants"]
