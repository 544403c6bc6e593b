"""Amazon backfill through the Reports API (createReport / getReport / getReportDocument of
GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL: gzip, tab-separated, one row per item,
30-day windows), against the emulator's report flow (IN_QUEUE -> IN_PROGRESS -> DONE / FATAL /
CANCELLED, the document on 127.0.0.1)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest

from connectors.amazon.client import AmazonConnector
from connectors.http import ChannelError, RetryPolicy
from flows.api_sync import sync_api
from sandbox.emulators.amazon import AmazonEmulator, VirtualClock
from tests.test_connector_helpers import api_config, emulated, latest, quarantined, tiny_store

DAY = 86400


def _connector(emu, clock, monkeypatch, **kw) -> AmazonConnector:
    for k, v in {"R_AMZ_REFRESH": emu.refresh_token, "R_AMZ_ID": emu.client_id,
                 "R_AMZ_SECRET": emu.client_secret}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    return AmazonConnector(
        emu.base_url, refresh_token_env="R_AMZ_REFRESH", client_id_env="R_AMZ_ID",
        client_secret_env="R_AMZ_SECRET", marketplace_ids=list(emu.marketplace_ids),
        auth_url=emu.base_url + "/auth/o2/token", policy=RetryPolicy(), sleep=clock.sleep,
        clock=clock.monotonic, report_backfill_days=7, **kw,
    )  # fmt: skip


def _truth_updated_between(store, start: int, end: int) -> set[str]:
    """Amazon orders with a version (placed, fulfilled, cancelled, refunded, edited) in
    [start, end], as the emulator's book lists them."""
    emu = AmazonEmulator(store)
    return {emu.book.orders[i]["source_id"] for v, i in emu.book.since(end, None, start)}


@pytest.mark.fast
def test_report_flow_states_and_what_lands(monkeypatch):
    clock = VirtualClock()
    store = tiny_store()
    emu = AmazonEmulator(store, rates="realistic", clock=clock.monotonic, report_seconds=(90, 120))
    emu.start()
    try:
        con = _connector(emu, clock, monkeypatch)
        since = datetime.fromtimestamp(store.end_ts - 40 * DAY, UTC)
        pages = list(con.pages("orders", since))
        con.close()
        # 40 days to one day before now: two windows (30 + 9 days) x two marketplaces
        assert con.reports_requested == 4 and len(emu.reports) == 4
        assert all(r["end"] - r["start"] <= 30 * DAY for r in emu.reports.values())
        # each report waited in the queue and in progress: polled every 30 s of emulated time
        assert clock.slept >= 4 * 210
        orders = {r.source_id: r.payload for p in pages for r in p.batches["orders"].records}
        items = {r.source_id: r.payload for p in pages for r in p.batches["order_items"].records}
        assert set(orders) == set(items)
        want = _truth_updated_between(store, store.end_ts - 40 * DAY, store.end_ts)
        assert set(orders) == want  # reports for all but the last day, the Orders API for it
        report_rows = [it for it in items.values() if "ReportRows" in it]
        assert report_rows and len(report_rows) < len(items)  # the last day came from the API
        truth = store.truth["order_lines"].filter(pl.col("channel") == "amazon")
        qty = dict(zip(*truth.group_by("order_id").agg(pl.col("quantity").sum()).get_columns(),
                       strict=True))  # fmt: skip
        for oid, it in items.items():
            assert sum(x["QuantityOrdered"] for x in it["OrderItems"]) == qty[oid]
            assert all(Decimal(x["ItemPrice"]["Amount"]) >= 0 for x in it["OrderItems"])
        cursors = [p.cursor for p in pages if p.cursor]
        assert cursors == sorted(cursors)  # moves with each finished window, then the listing
    finally:
        emu.stop()


@pytest.mark.fast
def test_fatal_and_cancelled_reports(monkeypatch):
    clock = VirtualClock()
    store = tiny_store()
    emu = AmazonEmulator(store, clock=clock.monotonic).start()
    try:
        # before the store's first order: every report is CANCELLED (no data), nothing lands,
        # and the cursor still moves past the empty windows
        con = _connector(emu, clock, monkeypatch)
        first = min(o["placed_ts"] for o in emu.book.orders)
        emu.set_time(first - 2 * DAY)
        pages = list(con.pages("orders", datetime.fromtimestamp(first - 50 * DAY, UTC)))
        assert pages and not any(p.batches["orders"].records for p in pages)
        assert all(r.get("document") is None for r in emu.reports.values())
        assert any(p.cursor for p in pages)  # the empty windows still move the cursor
        con.close()
        emu.set_time(store.end_ts)
        emu.fatal_reports = 1
        con = _connector(emu, clock, monkeypatch)  # a new sync: it reads the server's clock
        with pytest.raises(ChannelError, match="ended FATAL") as err:
            list(con.pages("orders", datetime.fromtimestamp(store.end_ts - 20 * DAY, UTC)))
        assert err.value.retryable
        con.close()
    finally:
        emu.stop()


def test_a_30_day_history_at_the_realistic_preset_backfills_through_reports(tmp_path):
    """Through the real sync (gate, raw, cursor) at Amazon's real usage plans, in real time:
    the Orders API would need one getOrderItems per order (0.5/s after a burst of 30, minutes
    for this history); reports need one createReport per marketplace and a few polls."""
    store = tiny_store()
    amazon = {"rates": "realistic"}
    with emulated(channels=("amazon",), amazon=amazon) as eps:
        emu = eps.amazon.emulator
        cfg = api_config(tmp_path, eps, channels=("amazon",), report_backfill_days=7)
        start = datetime.fromtimestamp(store.end_ts, UTC) - timedelta(days=30)
        t0 = time.monotonic()
        sync_api(cfg, streams=["orders"], since=start)  # the backfill flow's call
        took = time.monotonic() - t0
        assert len(emu.reports) == 2  # one 30-day window (less the last day) x 2 marketplaces
        assert emu.stats.throttled == 0 and took < 60
        orders = latest(cfg, "amazon__orders")
        items = latest(cfg, "amazon__order_items")
        want = _truth_updated_between(store, int(start.timestamp()), store.end_ts)
        assert set(orders) == set(items) and want <= set(orders)
        via_reports = sum("ReportRows" in it for it in items.values())
        assert via_reports > 60  # more than a getOrderItems burst: the Orders API would wait
        assert not quarantined(cfg)
