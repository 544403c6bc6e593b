"""The Shopify connector's Bulk Operations path (connectors/shopify/bulk.py) against the emulated
Admin API: real HTTP on 127.0.0.1 (GraphQL and the JSONL result URL), real DuckDB, real landing.

A smaller shop (the sandbox 150 days before its end) keeps these quick; every test compares with
the same shop read by paging, which tests/test_connector_shopify.py checks against the truth."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from connectors.http import ChannelAuthError, ChannelError
from connectors.shopify import bulk as bulk_mod
from connectors.shopify.bulk import BulkAccessDenied, bulk_orders_query
from flows.api_sync import sync_api
from sandbox.emulators.base import Reply
from tests.test_connector_helpers import (
    api_config,
    cursors,
    emulated,
    latest,
    quarantined,
    raw_rows,
    tiny_store,
)
from tests.test_connector_shopify import _check_against_truth

DAY = 86400
ORDERS = ["orders"]
FAST = {"page_size": 250, "landing_batch": 5000}
# one window from the backfill start (a test can prepare the very operation the sync will run)
ONE_WINDOW = {**FAST, "bulk_backfill_days": 7, "bulk_window_days": 365}
SINCE = datetime(2025, 6, 1, tzinfo=UTC)  # before the shop's first order


class Crash(Exception):
    pass


@pytest.fixture(scope="module")
def shop():
    """The emulated shop (150 days before the sandbox's end) and its paged read (the reference)."""
    with emulated() as eps:
        eps.shop.emulator.set_time(tiny_store().end_ts - 150 * DAY)
        yield eps


@pytest.fixture(scope="module")
def paged(shop, tmp_path_factory):
    cfg = api_config(tmp_path_factory.mktemp("paged"), shop, **FAST)
    sync_api(cfg, streams=ORDERS, since=SINCE)
    return cfg


@pytest.fixture(autouse=True)
def _fresh_bulk_knobs(shop):
    emu = shop.shop.emulator
    emu.bulk_failure, emu.bulk_partial, emu.bulk_seconds = None, False, 0.0
    emu.bulk_url_seconds = 7 * 86400.0
    emu.bulk_current = None  # no operation of an earlier test is "current"
    yield
    emu.__dict__.pop("bulk_download", None)


def _rows(cfg) -> set[tuple]:
    return {(r[0], r[3]) for r in raw_rows(cfg, "shop__orders")}


def _no_duplicates(cfg) -> None:
    rows = raw_rows(cfg, "shop__orders")
    assert len(rows) == len({(r[0], r[3]) for r in rows})


def _prepare(shop, query: str) -> str:
    """Run `query` as a bulk operation ourselves (as an earlier, killed sync would have)."""
    emu = shop.shop.emulator
    got = emu.bulk_run(query, emu.now, "2025-01")
    assert got["userErrors"] == []
    return got["bulkOperation"]["id"]


def test_bulk_backfill_lands_exactly_the_truth_and_the_same_raw_rows_as_paging(
    shop, paged, tmp_path
):
    emu = shop.shop.emulator
    ops, queries, points = len(emu.bulk_ops), emu.queries, emu.points_spent
    cfg = api_config(tmp_path, shop, **FAST, bulk_backfill_days=7, bulk_window_days=30)
    report = sync_api(cfg, streams=ORDERS, since=SINCE)
    assert len(emu.bulk_ops) - ops >= 3  # several 30-day windows, each one bulk operation
    assert report.rows_quarantined == 0
    _check_against_truth(cfg, shop, emu.now)
    assert _rows(cfg) == _rows(paged)  # the same payloads, byte for byte (payload hash)
    _no_duplicates(cfg)
    assert cursors(cfg) == cursors(paged)
    # far fewer points than paging (the bulk query costs 10; refunds and fulfilments are joined)
    paged_points = sum(1 for _ in raw_rows(paged, "shop__orders")) * 40
    assert emu.points_spent - points < paged_points and emu.queries - queries > 0
    # a first sync (no cursor, no start) reads through bulk too, from the oldest order
    cfg2 = api_config(tmp_path / "first", shop, **FAST, bulk_backfill_days=7)
    before = len(emu.bulk_ops)
    sync_api(cfg2, streams=ORDERS)
    assert len(emu.bulk_ops) > before
    assert _rows(cfg2) == _rows(paged)


def test_bulk_backfill_killed_at_random_points_lands_every_record_once(shop, paged, tmp_path):
    rng = random.Random(12)
    cfg = api_config(tmp_path, shop, **{**FAST, "landing_batch": 300},
                     bulk_backfill_days=7, bulk_window_days=45)  # fmt: skip
    real_download = bulk_mod.BulkReader.download
    crashes = 0
    for _ in range(40):
        budget = rng.randint(0, 3)
        kill_download = rng.random() < 0.3
        seen: list = []

        def on_page(page, seen=seen, budget=budget):
            seen.append(page)
            if len(seen) > budget:
                raise Crash()

        def download(self, url, size, kill=kill_download):
            if kill:  # killed between the poll that said COMPLETED and the download
                raise Crash()
            return real_download(self, url, size)

        bulk_mod.BulkReader.download = download
        try:
            sync_api(cfg, on_page=on_page, streams=ORDERS, since=SINCE)
            break
        except Crash:
            crashes += 1
        finally:
            bulk_mod.BulkReader.download = real_download
    assert crashes >= 3
    assert _rows(cfg) == _rows(paged)
    _no_duplicates(cfg)
    assert cursors(cfg) == cursors(paged)


def test_a_restarted_backfill_reuses_the_finished_operation_and_the_cursor_waits(
    shop, paged, tmp_path
):
    emu = shop.shop.emulator
    cfg = api_config(tmp_path, shop, **{**ONE_WINDOW, "page_size": 50, "landing_batch": 40})

    def crash_on_second_page(page, seen=[]):  # noqa: B006 - a counter across calls
        seen.append(page)
        if len(seen) > 1:
            raise Crash()

    with pytest.raises(Crash):
        sync_api(cfg, on_page=crash_on_second_page, streams=ORDERS, since=SINCE)
    landed = _rows(cfg)
    assert landed and landed < _rows(paged)
    assert cursors(cfg).get(("shop", "orders")) is None  # the window did not land whole
    ops = len(emu.bulk_ops)
    sync_api(cfg, streams=ORDERS, since=SINCE)
    assert len(emu.bulk_ops) == ops  # the finished operation's result was read again
    assert _rows(cfg) == _rows(paged)
    _no_duplicates(cfg)
    assert cursors(cfg) == cursors(paged)


def test_access_denied_fails_clearly_and_lands_nothing(shop, tmp_path):
    emu = shop.shop.emulator
    emu.bulk_failure = "ACCESS_DENIED"
    cfg = api_config(tmp_path, shop, **ONE_WINDOW)
    with pytest.raises(BulkAccessDenied) as err:
        sync_api(cfg, streams=ORDERS, since=SINCE)
    assert isinstance(err.value, ChannelAuthError) and not err.value.retryable
    assert "ACCESS_DENIED" in str(err.value) and "read_orders" in str(err.value)
    assert raw_rows(cfg, "shop__orders") == [] and cursors(cfg) == {}


def test_internal_error_is_retryable_and_the_next_attempt_lands_the_window(shop, paged, tmp_path):
    emu = shop.shop.emulator
    emu.bulk_failure = "INTERNAL_SERVER_ERROR"
    cfg = api_config(tmp_path, shop, **ONE_WINDOW)
    with pytest.raises(ChannelError) as err:
        sync_api(cfg, streams=ORDERS, since=SINCE)
    assert err.value.retryable and "INTERNAL_SERVER_ERROR" in str(err.value)
    assert cursors(cfg) == {}
    emu.bulk_failure = None
    sync_api(cfg, streams=ORDERS, since=SINCE)
    assert _rows(cfg) == _rows(paged) and cursors(cfg) == cursors(paged)


def test_timeout_lands_the_partial_data_then_pages_the_window(shop, paged, tmp_path):
    emu = shop.shop.emulator
    emu.bulk_failure, emu.bulk_partial = "TIMEOUT", True
    cfg = api_config(tmp_path, shop, **ONE_WINDOW)
    queries = emu.queries
    served: list[int] = []
    real = emu.bulk_download

    def counted(name):
        reply = real(name)
        served.append(reply.status)
        return reply

    emu.bulk_download = counted
    sync_api(cfg, streams=ORDERS, since=SINCE)
    assert served == [200]  # the partial file was read
    assert emu.queries - queries > 20  # and the window paged
    assert _rows(cfg) == _rows(paged) and cursors(cfg) == cursors(paged)
    _no_duplicates(cfg)


def test_an_operation_already_running_is_waited_for(shop, paged, tmp_path):
    emu = shop.shop.emulator
    emu.bulk_seconds = 1.5
    other = _prepare(shop, "{ customers { edges { node { id } } } }")  # another job of the app
    emu.bulk_seconds = 0.0
    cfg = api_config(tmp_path, shop, **ONE_WINDOW)
    sync_api(cfg, streams=ORDERS, since=SINCE)
    assert emu.bulk_view(other)["status"] == "COMPLETED"
    assert emu.bulk_current != other  # ours ran after it
    assert _rows(cfg) == _rows(paged)


def test_a_running_operation_of_the_same_window_is_waited_for_not_run_twice(shop, paged, tmp_path):
    emu = shop.shop.emulator
    emu.bulk_seconds = 1.0
    mine = _prepare(shop, bulk_orders_query(SINCE, None))
    ops = len(emu.bulk_ops)
    cfg = api_config(tmp_path, shop, **ONE_WINDOW)
    sync_api(cfg, streams=ORDERS, since=SINCE)
    assert len(emu.bulk_ops) == ops and emu.bulk_current == mine
    assert _rows(cfg) == _rows(paged)


def test_an_expired_result_url_runs_the_window_again(shop, paged, tmp_path):
    emu = shop.shop.emulator
    old = _prepare(shop, bulk_orders_query(SINCE, None))
    emu.bulk_ops[old]["created"] -= 8 * 86400  # finished over a week ago: its URL has expired
    assert httpx.get(emu.bulk_view(old)["url"]).status_code == 403
    ops = len(emu.bulk_ops)
    cfg = api_config(tmp_path, shop, **ONE_WINDOW)
    sync_api(cfg, streams=ORDERS, since=SINCE)
    assert len(emu.bulk_ops) == ops + 1
    assert _rows(cfg) == _rows(paged) and cursors(cfg) == cursors(paged)


def _tamper(shop, op_id: str, edit) -> None:
    emu = shop.shop.emulator
    lines = emu._bulk_files[op_id].splitlines(keepends=True)
    emu._bulk_files[op_id] = b"".join(edit(lines))


def test_bad_lines_are_quarantined_with_their_reason_and_the_rest_lands(shop, paged, tmp_path):
    op = _prepare(shop, bulk_orders_query(SINCE, None))
    emu_lines = shop.shop.emulator._bulk_files[op].splitlines(keepends=True)
    roots = [i for i, x in enumerate(emu_lines) if b"__parentId" not in x]
    no_id = emu_lines[roots[5]]
    no_id_order = no_id.split(b'"gid://shopify/Order/', 1)[1].split(b'"', 1)[0].decode()

    def edit(lines):
        out = list(lines)
        out[roots[5]] = no_id.replace(b'"id":"gid://shopify/Order/' + no_id_order.encode() + b'",',
                                      b"")  # fmt: skip
        out.insert(roots[2] + 1, b'{"__typename":"LineItem","id":"gid://shopify/LineItem/1",'
                                 b'"__parentId":"gid://shopify/Order/999"}\n')  # fmt: skip
        out.insert(roots[1], b'{"id": "gid://shopify/Order/1", "name": \n')  # not JSON
        return out

    _tamper(shop, op, edit)
    cfg = api_config(tmp_path, shop, **ONE_WINDOW)
    report = sync_api(cfg, streams=ORDERS, since=SINCE)
    reasons = [r for *_, r in quarantined(cfg)]
    assert any("not JSON" in r for r in reasons)
    assert any("order without an id" in r for r in reasons)
    assert any("Order/999 names no order" in r for r in reasons)
    # the order that lost its id: its children are held too, named by their parent
    held = {sid for _, _, sid, r in quarantined(cfg) if "__parentId" in r}
    assert no_id_order in held
    assert report.rows_quarantined == len(reasons)
    # every other order landed, as paged
    want = {r for r in _rows(paged) if r[0] != no_id_order}
    assert _rows(cfg) == want


def test_a_truncated_download_quarantines_the_cut_line_and_pages_the_window(shop, paged, tmp_path):
    emu = shop.shop.emulator
    op = _prepare(shop, bulk_orders_query(SINCE, None))
    whole = emu._bulk_files[op]
    cut = whole[: len(whole) // 3 + 17]
    emu.bulk_download = lambda name: Reply(200, cut, {"Content-Type": "application/jsonl"})
    cfg = api_config(tmp_path, shop, **ONE_WINDOW)
    queries = emu.queries
    sync_api(cfg, streams=ORDERS, since=SINCE)
    reasons = [r for *_, r in quarantined(cfg)]
    assert len(reasons) == 1 and "truncated download" in reasons[0]
    assert emu.queries - queries > 20  # the window was paged after the file's whole orders
    assert _rows(cfg) == _rows(paged) and cursors(cfg) == cursors(paged)
    _no_duplicates(cfg)


def test_an_incremental_sync_within_the_threshold_pages(shop, paged, tmp_path):
    emu = shop.shop.emulator
    cfg = api_config(tmp_path, shop, **FAST, bulk_backfill_days=30)
    recent = datetime.fromtimestamp(emu.now, UTC) - timedelta(days=5)
    ops = len(emu.bulk_ops)
    sync_api(cfg, streams=ORDERS, since=recent)
    assert len(emu.bulk_ops) == ops and raw_rows(cfg, "shop__orders")
    got = latest(cfg, "shop__orders")
    assert got and all(v == latest(paged, "shop__orders")[k] for k, v in got.items())


def test_a_window_with_more_orders_than_the_threshold_reads_the_rest_through_bulk(
    shop, paged, tmp_path
):
    emu = shop.shop.emulator
    recent = datetime.fromtimestamp(emu.now, UTC) - timedelta(days=20)
    ref = api_config(tmp_path / "ref", shop, **FAST)
    sync_api(ref, streams=ORDERS, since=recent)
    ops = len(emu.bulk_ops)
    cfg = api_config(tmp_path / "bulk", shop, **FAST, bulk_threshold=10)
    sync_api(cfg, streams=ORDERS, since=recent)
    assert len(emu.bulk_ops) > ops  # the rest went through a bulk operation
    assert _rows(cfg) == _rows(ref) and cursors(cfg) == cursors(ref)
    _no_duplicates(cfg)
    # below the threshold: paged only
    ops = len(emu.bulk_ops)
    cfg2 = api_config(tmp_path / "paged", shop, **FAST, bulk_threshold=100_000)
    sync_api(cfg2, streams=ORDERS, since=recent)
    assert len(emu.bulk_ops) == ops and _rows(cfg2) == _rows(ref)


def test_join_queries_are_priced_from_their_aliases_without_reparsing(shop, tmp_path, monkeypatch):
    """The join query's cost handed to the client (one order's cost times its ids, so the query
    is not priced again for every batch) is the published rules' price of the query with its
    variables and the emulator's requested cost for it; the text is one of a few fixed ones
    (the ids are variables), so the emulator parses and validates it once, not per batch."""
    from connectors.shopify.client import ShopifyConnector
    from connectors.shopify.cost import MAX_QUERY_COST, requested_cost

    seen: list[tuple[str, dict, float | None, float]] = []
    real = ShopifyConnector.graphql

    def spy(self, query, variables, what, priced=None):
        data = real(self, query, variables, what, priced=priced)
        if "JoinBulkOrders" in query:
            seen.append((query, variables, priced, self.last_requested))
        return data

    monkeypatch.setattr(ShopifyConnector, "graphql", spy)
    cfg = api_config(tmp_path, shop, **ONE_WINDOW)
    sync_api(cfg, streams=ORDERS, since=SINCE)
    assert seen
    for text, variables, cost, answered in seen:
        assert cost is not None and cost == requested_cost(text, variables) == answered
        assert cost <= MAX_QUERY_COST
        assert "gid://" not in text  # no id in the text: it is the same for every batch
    assert len({text for text, *_ in seen}) <= 3 < len(seen)
    assert any(len(v["ids"]) > 1 for _, v, *_ in seen)
