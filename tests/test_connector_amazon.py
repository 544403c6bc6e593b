"""Amazon SP-API connector against the emulated SP-API and LWA: real HTTP, real DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from connectors.http import ChannelAuthError
from flows.api_sync import sync_api
from sandbox.emulators import Faults
from tests.test_connector_helpers import (
    api_config,
    emulated,
    latest,
    quarantined,
    raw_rows,
    tiny_store,
)

DAY = 86400


def _check(cfg, now: int) -> None:
    store = tiny_store()
    now_dt = datetime.fromtimestamp(now, UTC)
    truth = store.truth["orders"].filter(
        (pl.col("channel") == "amazon") & (pl.col("placed_at") <= now_dt)
    )
    orders = latest(cfg, "amazon__orders")
    items = latest(cfg, "amazon__order_items")
    assert set(orders) == set(truth["order_id"]) == set(items)
    lines = store.truth["order_lines"].filter(pl.col("channel") == "amazon")
    qty = dict(
        zip(*lines.group_by("order_id").agg(pl.col("quantity").sum()).get_columns(), strict=True)
    )
    for row in truth.iter_rows(named=True):
        o, it = orders[row["order_id"]], items[row["order_id"]]
        if o["OrderStatus"] == "Pending":  # payment not authorised yet: no OrderTotal (Orders v0)
            assert "OrderTotal" not in o and row["placed_at"] > now_dt - timedelta(minutes=15)
        else:
            assert Decimal(o["OrderTotal"]["Amount"]) == row["total"]
        assert it["LastUpdateDate"] == o["LastUpdateDate"]  # copied from the order (contract)
        assert sum(i["QuantityOrdered"] for i in it["OrderItems"]) == qty[row["order_id"]]
    events = latest(cfg, "amazon__financial_events")
    shipped = truth.filter(
        pl.col("fulfilled_at").is_not_null() & (pl.col("fulfilled_at") <= now_dt)
    )
    assert {k for k in events if k.startswith("Shipment:")} == {
        f"Shipment:{r['order_id']}:{r['fulfilled_at'].strftime('%Y-%m-%dT%H:%M:%SZ')}"
        for r in shipped.iter_rows(named=True)
    }
    refunds = store.truth["refunds"].filter(
        (pl.col("channel") == "amazon") & (pl.col("refunded_at") <= now_dt)
    )
    assert (
        len([k for k in events if k.startswith("Refund:")])
        == refunds.select("order_id", "refund_id").unique().height
    )
    fees = [
        f
        for e in events.values()
        for it in e.get("ShipmentItemList", [])
        for f in it["ItemFeeList"]
    ]
    assert fees and all(f["FeeAmount"]["CurrencyAmount"] < 0 for f in fees)
    # refunds carry their money in the adjustment lists (Finances v0), never the shipment lists
    adjusted = [it for e in events.values() for it in e.get("ShipmentItemAdjustmentList", [])]
    assert adjusted and all(
        "ItemChargeList" not in it
        and it["ItemChargeAdjustmentList"][0]["ChargeType"] == "Principal"
        for it in adjusted
    )
    for t in ("amazon__orders", "amazon__order_items", "amazon__financial_events"):
        rows = raw_rows(cfg, t)
        assert len(rows) == len({(r[0], r[3]) for r in rows}), t


def test_amazon_backfill_incremental_with_faults_and_rate_limits(tmp_path):
    store = tiny_store()
    t1 = store.end_ts - 20 * DAY
    faults = Faults(error_rate=0.12, throttle_rate=0.12, drop_rate=0.06, duplicate_rate=0.3, seed=4)
    rates = {"getOrderItems": (600.0, 5)}  # a tight burst: the connector must pace itself
    with emulated(channels=("amazon",), faults=faults, amazon={"rates": rates}) as eps:
        emu = eps.amazon.emulator
        emu.set_time(t1)
        cfg = api_config(tmp_path, eps, channels=("amazon",))
        sync_api(cfg)
        _check(cfg, t1)
        emu.set_time(store.end_ts)
        sync_api(cfg)
        _check(cfg, store.end_ts)
        assert emu.stats.errors and emu.stats.throttled and emu.stats.dropped
        # one token per sync, reused for every call (a token answer cut off by the drop fault
        # after the grant is asked for again)
        assert emu.token_grants <= 2 + emu.stats.dropped and emu.token_grants < 6


def test_amazon_crash_restart_bad_record_and_bad_credentials(tmp_path, monkeypatch):
    store = tiny_store()
    with emulated(channels=("amazon",)) as eps:
        emu = eps.amazon.emulator
        bad = emu.book.orders[2]["source_id"]
        emu.malformed.add(bad)
        cfg = api_config(tmp_path, eps, channels=("amazon",), landing_batch=400)
        crashes = 0
        for n in (2, 3, 4, 10_000):
            seen = []

            def on_page(page, seen=seen, n=n):
                seen.append(1)
                if len(seen) > n:
                    raise RuntimeError("killed")

            try:
                sync_api(cfg, on_page=on_page)
            except RuntimeError:
                crashes += 1
        assert crashes == 3
        assert [(c, s, sid) for c, s, sid, _ in quarantined(cfg)] == [("amazon", "orders", bad)]
        emu.malformed.clear()
        emu.book.touch(bad, store.end_ts)
        sync_api(cfg)
        _check(cfg, store.end_ts)
        monkeypatch.setenv("OMS_AMAZON_REFRESH_TOKEN", "Atzr|wrong-refresh")
        with pytest.raises(ChannelAuthError) as err:
            sync_api(cfg)
        msg = str(err.value)
        assert (
            "'amazon'" in msg and "OMS_AMAZON_REFRESH_TOKEN" in msg and "wrong-refresh" not in msg
        )


@pytest.mark.fast
def test_order_items_are_read_across_every_next_token_page(monkeypatch):
    """getOrderItems answers one item per page here: every page of every order lands in its one
    record, so no line (and no revenue) of a large order is lost."""
    from connectors.amazon.client import AmazonConnector
    from sandbox.emulators.amazon import AmazonEmulator

    store = tiny_store()
    emu = AmazonEmulator(store, items_page_size=1).start()
    try:
        for k, v in {"P_AMZ_R": emu.refresh_token, "P_AMZ_I": emu.client_id,
                     "P_AMZ_S": emu.client_secret}.items():  # fmt: skip
            monkeypatch.setenv(k, v)
        con = AmazonConnector(emu.base_url, refresh_token_env="P_AMZ_R", client_id_env="P_AMZ_I",
                              client_secret_env="P_AMZ_S", marketplace_ids=list(emu.marketplace_ids),
                              auth_url=emu.base_url + "/auth/o2/token")  # fmt: skip
        since = datetime.fromtimestamp(store.end_ts, UTC) - timedelta(days=60)
        items = {r.source_id: r.payload for p in con.pages("orders", since)
                 for r in p.batches["order_items"].records}  # fmt: skip
        con.close()
        lines = store.truth["order_lines"].filter(pl.col("channel") == "amazon")
        want = dict(zip(*lines.group_by("order_id").agg(pl.len()).get_columns(), strict=True))
        assert any(want[oid] > 1 for oid in items)  # orders that needed a second page
        for oid, payload in items.items():
            assert len(payload["OrderItems"]) == want[oid]
            assert "NextToken" not in payload
    finally:
        emu.stop()
