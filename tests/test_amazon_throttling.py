"""Amazon throttling at the real usage plans, in emulated time.

The emulator's `realistic` preset holds Amazon's documented default plans (getOrders 0.0167/s
burst 20, getOrderItems 0.5/s burst 30, ...). Connector and emulator share one `VirtualClock`:
every wait the connector makes advances it at once, so minutes of waits take no real time but
are counted. getOrders' 429 carries no Retry-After and its next token comes 60 s later: the
connector must wait for it (from the operation's rate), within `rate_limit_wait_seconds`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.amazon.client import AmazonConnector
from connectors.http import ChannelError, RetryPolicy
from sandbox.emulators.amazon import AmazonEmulator, VirtualClock
from tests.test_connector_helpers import tiny_store

pytestmark = pytest.mark.fast


def _connector(emu: AmazonEmulator, clock: VirtualClock, monkeypatch, **kw) -> AmazonConnector:
    envs = {"T_AMZ_REFRESH": emu.refresh_token, "T_AMZ_ID": emu.client_id,
            "T_AMZ_SECRET": emu.client_secret}  # fmt: skip
    for k, v in envs.items():
        monkeypatch.setenv(k, v)
    # the retry policy of a default oms.yaml: 8 attempts, back-off up to 30 s, 300 s in all
    return AmazonConnector(
        emu.base_url,
        refresh_token_env="T_AMZ_REFRESH",
        client_id_env="T_AMZ_ID",
        client_secret_env="T_AMZ_SECRET",
        marketplace_ids=list(emu.marketplace_ids),
        auth_url=emu.base_url + "/auth/o2/token",
        policy=RetryPolicy(),
        sleep=clock.sleep,
        clock=clock.monotonic,
        **kw,
    )


def _exhaust(emu: AmazonEmulator, op: str) -> None:
    """Another app of the same seller used the operation's whole burst just now."""
    emu.buckets[op].tokens = 0.0
    emu.buckets[op].stamp = emu.clock()


def test_a_throttled_get_orders_waits_for_its_next_token(monkeypatch):
    clock = VirtualClock()
    store = tiny_store()
    emu = AmazonEmulator(store, rates="realistic", clock=clock.monotonic).start()
    try:
        emu.set_time(store.end_ts)
        _exhaust(emu, "getOrders")
        con = _connector(emu, clock, monkeypatch)
        last_days = datetime.fromtimestamp(store.end_ts, UTC) - timedelta(days=3)
        pages = list(con.pages("orders", last_days))
        con.close()
        assert pages and sum(len(p.batches["orders"].records) for p in pages) > 0
        assert emu.stats.throttled == 1  # one 429, then the connector waited for the token
        # 1 / 0.0167 s: the documented rate (the header says 0.0167 too)
        assert 59.0 < clock.slept < 61.0 + 2 * len(pages)
    finally:
        emu.stop()


def test_the_wait_for_the_rate_limit_is_bounded_by_config(monkeypatch):
    clock = VirtualClock()
    store = tiny_store()
    emu = AmazonEmulator(store, rates="realistic", clock=clock.monotonic).start()
    try:
        _exhaust(emu, "getOrders")
        con = _connector(emu, clock, monkeypatch, rate_limit_wait_seconds=30)
        with pytest.raises(ChannelError, match="throttled .* 30 s") as err:
            list(con.pages("orders", None))
        assert err.value.retryable  # the next run tries again
        con.close()
        assert clock.slept < 30
    finally:
        emu.stop()


def test_a_30_day_orders_api_sync_paces_itself_at_the_documented_rates(monkeypatch):
    """Orders API at the realistic preset: items cost one getOrderItems each (0.5/s after a
    burst of 30), so the emulated wall time is set by them; the connector's own buckets keep
    it from ever being throttled."""
    clock = VirtualClock()
    store = tiny_store()
    emu = AmazonEmulator(store, rates="realistic", clock=clock.monotonic).start()
    try:
        con = _connector(emu, clock, monkeypatch)
        start = datetime.fromtimestamp(store.end_ts, UTC) - timedelta(days=30)
        pages = list(con.pages("orders", start))
        con.close()
        n = sum(len(p.batches["order_items"].records) for p in pages)
        assert n > 60
        assert emu.stats.throttled == 0
        floor = (n - 30) / 0.5  # getOrderItems: burst 30, then one per 2 s
        assert floor <= clock.slept <= floor + 60 * len(pages) + 5
    finally:
        emu.stop()
