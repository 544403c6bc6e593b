"""WooCommerce connector against the emulated REST API v3: real HTTP, real DuckDB."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest

from connectors.http import ChannelAuthError
from flows.api_sync import sync_api
from sandbox.emulators import Faults
from tests.test_connector_helpers import (
    api_config,
    cursors,
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
        (pl.col("channel") == "woo") & (pl.col("placed_at") <= now_dt)
    )
    got = latest(cfg, "woo__orders")
    assert set(got) == set(truth["order_id"])
    for row in truth.iter_rows(named=True):
        p = got[row["order_id"]]
        assert Decimal(p["total"]) == row["total"]
        assert (p["status"] == "cancelled") == (row["cancelled"] and row["cancelled_at"] <= now_dt)
    rf = store.truth["refunds"].filter(
        (pl.col("channel") == "woo") & (pl.col("refunded_at") <= now_dt)
    )
    refunds = latest(cfg, "woo__refunds")
    assert set(refunds) == set(rf["refund_id"])
    for r in refunds.values():
        assert str(r["order_id"]) in got
        assert -sum(li["quantity"] for li in r["line_items"]) == int(
            rf.filter(pl.col("refund_id") == str(r["id"]))["quantity"].sum()
        )
    rows = raw_rows(cfg, "woo__orders")
    assert len(rows) == len({(r[0], r[3]) for r in rows})


def test_woo_backfill_incremental_and_late_refund(tmp_path):
    store = tiny_store()
    t1 = store.end_ts - 20 * DAY
    with emulated(channels=("woo",)) as eps:
        emu = eps.woo.emulator
        emu.set_time(t1)
        cfg = api_config(tmp_path, eps, channels=("woo",))
        sync_api(cfg)
        _check(cfg, t1)
        emu.set_time(store.end_ts)
        sync_api(cfg)
        _check(cfg, store.end_ts)
        assert len(latest(cfg, "woo__customers")) == len(emu.book.customers(store.end_ts))
        # a late refund on a week-old order, stamped before our cursor: the look-back finds it
        i, o = min(
            ((i, o) for i, o in enumerate(emu.book.orders)
             if not emu.book.refunds[i] and not o["cancelled"]),
            key=lambda io: abs(store.end_ts - 7 * DAY - io[1]["placed_ts"]),
        )  # about a week old  # fmt: skip
        assert 5 * DAY < store.end_ts - o["placed_ts"] < 10 * DAY
        cursor = datetime.fromisoformat(cursors(cfg)[("woo", "orders")])
        row = emu.add_refund(str(o["source_id"]), quantity=1, at=int(cursor.timestamp()) - DAY)
        sync_api(cfg)
        refund = latest(cfg, "woo__refunds")[row["refund_id"]]
        assert (
            refund["order_id"] == int(o["source_id"]) and refund["line_items"][0]["quantity"] == -1
        )
        assert latest(cfg, "woo__orders")[str(o["source_id"])]["refunds"][0]["id"] == int(
            row["refund_id"]
        )


def test_woo_faults_crashes_bad_record_and_bad_credentials(tmp_path, monkeypatch):
    store = tiny_store()
    faults = Faults(error_rate=0.12, throttle_rate=0.12, drop_rate=0.06, duplicate_rate=0.3, seed=9)
    with emulated(channels=("woo",), faults=faults) as eps:
        emu = eps.woo.emulator
        bad_id = str(emu.book.orders[3]["source_id"])
        emu.malformed.add(bad_id)
        cfg = api_config(tmp_path, eps, channels=("woo",), landing_batch=200)
        rng = random.Random(2)
        crashes = 0
        for _ in range(40):
            n = rng.randint(1, 6)
            seen = []

            def on_page(page, seen=seen, n=n):
                seen.append(1)
                if len(seen) > n:
                    raise RuntimeError("killed")

            try:
                sync_api(cfg, on_page=on_page)
                break
            except RuntimeError:
                crashes += 1
        assert crashes >= 2
        assert (
            emu.stats.errors and emu.stats.throttled and emu.stats.dropped and emu.stats.duplicated
        )
        emu.malformed.clear()
        emu.book.touch(bad_id, store.end_ts)  # fixed at the source: a new version comes
        q = quarantined(cfg)
        assert {(c, s, sid) for c, s, sid, _ in q} == {("woo", "orders", bad_id)}
        sync_api(cfg)
        _check(cfg, store.end_ts)
        monkeypatch.setenv("OMS_WOO_CONSUMER_SECRET", "cs_wrong_value")
        with pytest.raises(ChannelAuthError) as err:
            sync_api(cfg)
        assert "'woo'" in str(err.value) and "OMS_WOO_CONSUMER_SECRET" in str(err.value)
        assert "cs_wrong_value" not in str(err.value) and emu.secret not in str(err.value)


def test_woo_twelve_refunds_of_one_order_land_over_oauth(tmp_path):
    """`orders/<id>/refunds` answers 10 per page unless asked for more: 12 refunds of one order
    (here refunds of an amount, without line items, as the Woo admin allows) all land. The
    emulated shop is on plain HTTP, where WooCommerce accepts only OAuth 1.0a signatures: every
    request of the sync is signed. A base_url that names the shop differently (localhost for
    127.0.0.1) makes the signature fail, and the message says so instead of blaming the keys."""
    with emulated(channels=("woo",)) as eps:
        emu = eps.woo.emulator
        i, o = next(
            (i, o) for i, o in enumerate(emu.book.orders)
            if not emu.book.refunds[i] and not o["cancelled"] and o["placed_ts"] < emu.now - DAY
        )  # fmt: skip
        oid = str(o["source_id"])
        made = {str(emu.add_amount_refund(oid, 100 + k, at=o["placed_ts"] + 60 * (k + 1))["id"])
                for k in range(12)}  # fmt: skip
        cfg = api_config(tmp_path, eps, channels=("woo",))
        sync_api(cfg)
        refunds = latest(cfg, "woo__refunds")
        assert {rid for rid, r in refunds.items() if str(r["order_id"]) == oid} == made
        assert sum(Decimal(refunds[r]["amount"]) for r in made) == Decimal("12.66")
        assert set(emu.auth_seen) == {"oauth1"}
        elsewhere = emu.base_url.replace("127.0.0.1", "localhost")
        cfg = api_config(tmp_path / "b", eps, channels=("woo",), base_url=elsewhere)
        with pytest.raises(ChannelAuthError) as err:
            sync_api(cfg)
        msg = str(err.value)
        assert "Invalid signature" in msg and "base_url" in msg and "clock" in msg
        assert "refused the credentials" not in msg and emu.secret not in msg


@pytest.mark.fast
def test_woo_keys_in_clear_over_http_are_refused_at_config_time(tmp_path):
    """Basic auth or query-string keys over http:// would be ignored by WooCommerce (401 whatever
    the keys): refused when oms.yaml is read, saying why and what to use."""
    from flows.config import ConfigError, parse_config
    from flows.demo import demo_config_dict

    data = demo_config_dict(warehouse=str(tmp_path / "w.duckdb"), drop_dir=str(tmp_path / "d"),
                            output_dir=str(tmp_path / "o"))  # fmt: skip
    woo = next(c for c in data["channels"] if c["name"] == "woo")
    woo.pop("path", None)
    woo.update(source="api", api={"base_url": "http://shop.example", "auth": "basic",
               "credentials": {"consumer_key": "K", "consumer_secret": "S"}})  # fmt: skip
    with pytest.raises(ConfigError) as err:
        parse_config(data, source="test config", base_dir=tmp_path)
    assert "only over HTTPS" in str(err.value) and "oauth1" in str(err.value)
    woo["api"]["base_url"] = "https://shop.example"
    assert parse_config(data, source="test config", base_dir=tmp_path)
