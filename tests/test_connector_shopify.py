"""Shopify connector against the emulated GraphQL Admin API: real HTTP on 127.0.0.1, real DuckDB."""

from __future__ import annotations

import copy
import json
import random
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from connectors.http import ChannelAuthError
from connectors.shopify import ShopifyConnector, customer_to_rest, order_to_rest, product_to_rest
from flows.api_sync import sync_api
from sandbox import render
from sandbox.emulators import Faults
from sandbox.emulators.shopify import (
    rest_customer_to_graphql,
    rest_order_to_graphql,
    rest_product_to_graphql,
)
from sandbox.shared import FIXTURES as SHARED_FIXTURES
from tests.test_connector_helpers import (
    api_config,
    cursors,
    emulated,
    latest,
    quarantined,
    raw_rows,
    tiny_store,
)

FIXTURES = SHARED_FIXTURES / "shopify-rest"
DAY = 86400


# ------------------------------------------------------------------ what staging reads
def _ts(v):
    return None if v is None else datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(UTC)


def _dec(v):
    return None if v is None else Decimal(str(v))


def staging_view(o: dict) -> dict:
    """Every field of a shop order that dbt staging reads (stg_shop__orders, __order_lines,
    __refund_lines), with staging's coalesces, typed as staging types them."""
    ship = (o.get("total_shipping_price_set") or {}).get("shop_money", {}).get("amount")
    if ship is None:
        ship = sum((_dec(s.get("price")) for s in o.get("shipping_lines") or []), Decimal(0))
    return {
        "id": str(o["id"]), "name": o.get("name"), "created_at": _ts(o.get("created_at")),
        "processed_at": _ts(o.get("processed_at")), "updated_at": _ts(o.get("updated_at")),
        "cancelled_at": _ts(o.get("cancelled_at")), "cancel_reason": o.get("cancel_reason"),
        "currency": o.get("currency"), "financial_status": o.get("financial_status"),
        "fulfillment_status": o.get("fulfillment_status"),
        "taxes_included": bool(o.get("taxes_included")),
        "total_discounts": _dec(o.get("total_discounts")), "total_tax": _dec(o.get("total_tax")),
        "total_price": _dec(o.get("total_price")), "subtotal_price": _dec(o.get("subtotal_price")),
        "shipping": _dec(ship),
        "email": (o.get("email") or (o.get("customer") or {}).get("email")),
        "customer": {k: (o.get("customer") or {}).get(k) for k in ("id", "first_name", "last_name")},
        "ship_country": (o.get("shipping_address") or {}).get("country_code"),
        "fulfillments": [
            (str(f.get("location_id")), f.get("status"), _ts(f.get("created_at")),
             [(str(x["id"]), int(x["quantity"])) for x in f.get("line_items") or []])
            for f in o.get("fulfillments") or []
        ],
        "fulfillment_orders": [str(fo.get("assigned_location_id")) for fo in o.get("fulfillment_orders") or []],
        "lines": [
            (str(li["id"]), li.get("sku"), str(li.get("variant_id")), str(li.get("product_id")),
             li.get("title"), int(li["quantity"]), _dec(li.get("price")),
             _dec(li.get("total_discount")) or Decimal(0),
             sum((_dec(t["price"]) for t in li.get("tax_lines") or []), Decimal(0)))
            for li in o.get("line_items") or []
        ],
        "refunds": [
            (str(r["id"]), _ts(r.get("processed_at")) or _ts(r.get("created_at")), bool(r.get("restock")),
             [(str(rl.get("id")), str(rl.get("line_item_id")),
               rl.get("sku") or (rl.get("line_item") or {}).get("sku"), int(rl["quantity"]),
               rl.get("restock_type"), str(rl.get("location_id")), _dec(rl.get("subtotal")),
               _dec(rl.get("total_tax")))
              for rl in r.get("refund_line_items") or []])
            for r in o.get("refunds") or []
        ],
    }  # fmt: skip


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.fast
def test_rest_fixtures_and_graphql_shape_land_the_same_staging_fields():
    order = _fixture("order.json")["order"]
    refund = _fixture("refund.json")["refund"]
    # The refund fixture belongs to the order fixture (order_id 450789469): attach it as
    # Shopify's orders/updated webhook carries it.
    order = copy.deepcopy(order)
    order["refunds"] = [refund]
    node = rest_order_to_graphql(order)
    mapped = order_to_rest(json.loads(json.dumps(node)))
    want, got = staging_view(order), staging_view(mapped)
    # REST refunds made before Shopify had restock_type carry only `restock: true`; GraphQL
    # reports those lines as LEGACY_RESTOCK, which staging counts as restocked.
    for r in want["refunds"]:
        r[3][:] = [x[:4] + ("legacy_restock" if r[2] else "no_restock",) + x[5:] for x in r[3]]
    assert got == want
    # The one field GraphQL has no equivalent for is computed from the lines. (The fixture's own
    # total_line_items_price, 398.00, disagrees with its three 199.00 lines; Shopify's test data.)
    assert mapped["total_line_items_price"] == "597.00"
    assert mapped["currency"] == "USD" and mapped["presentment_currency"] == "USD"

    cust = _fixture("customer.json")["customer"]
    c = customer_to_rest(rest_customer_to_graphql(cust))
    for k in ("id", "email", "first_name", "last_name"):
        assert c[k] == cust[k], k
    for k in ("created_at", "updated_at"):  # GraphQL answers UTC (`Z`), REST the shop's offset
        assert _ts(c[k]) == _ts(cust[k]) and c[k].endswith("Z"), k
    assert c["default_address"]["country_code"] == cust["default_address"]["country_code"] == "US"

    prod = _fixture("product.json")["product"]
    p = product_to_rest(rest_product_to_graphql(prod))
    for k in ("id", "title", "product_type", "vendor"):
        assert p[k] == prod[k], k
    for k in ("created_at", "updated_at"):
        assert _ts(p[k]) == _ts(prod[k]), k
    for pv, fv in zip(p["variants"], prod["variants"], strict=True):
        for k in ("id", "sku", "title", "price"):
            assert pv[k] == fv[k], k
        for k in ("created_at", "updated_at"):
            assert _ts(pv[k]) == _ts(fv[k]), k


@pytest.mark.fast
def test_sandbox_orders_round_trip_through_graphql_unchanged_for_staging():
    """Every sandbox order version, rendered as the REST file drop has it and as the GraphQL API
    returns it, gives the same staging fields (money exact, both currencies kept)."""
    from sandbox.emulators.book import ChannelBook

    store = tiny_store()
    b = ChannelBook(store, "shop")
    n = 0
    for i in range(len(b.orders)):
        for v in render.order_versions(b.orders[i], b.refunds[i], store.end_ts):
            rest = render.render_shopify_order(
                b.orders[i], b.lines[i], b.refunds[i], v, b.shop_customer(i)
            )
            mapped = order_to_rest(json.loads(json.dumps(rest_order_to_graphql(rest))))
            assert staging_view(mapped) == staging_view(rest)
            assert mapped["total_line_items_price"] == rest["total_line_items_price"]
            assert mapped["total_shipping_price_set"] == rest["total_shipping_price_set"]
            assert [li["price_set"] for li in mapped["line_items"]] == [
                li["price_set"] for li in rest["line_items"]
            ]
            n += 1
    assert n > 1000


# ------------------------------------------------------------------ sync against the truth
def _check_against_truth(cfg, eps, now: int) -> None:
    store = tiny_store()
    truth = store.truth["orders"].filter(pl.col("channel") == "shop")
    now_dt = datetime.fromtimestamp(now, UTC)
    truth = truth.filter(pl.col("placed_at") <= now_dt)
    refunds = (
        store.truth["refunds"].filter((pl.col("channel") == "shop") & (pl.col("refunded_at") <= now_dt))
        .group_by("order_id").agg(pl.col("quantity").sum())
    )  # fmt: skip
    refunded = dict(zip(refunds["order_id"], refunds["quantity"], strict=True))
    got = latest(cfg, "shop__orders")
    assert set(got) == set(truth["order_id"])
    for row in truth.iter_rows(named=True):
        p = got[row["order_id"]]
        cancelled = row["cancelled"] and row["cancelled_at"] <= now_dt
        fulfilled = row["fulfilled_at"] is not None and row["fulfilled_at"] <= now_dt
        assert (p["cancelled_at"] is not None) == cancelled
        assert (p["fulfillment_status"] == "fulfilled") == fulfilled
        assert Decimal(p["total_price"]) == row["total"]
        units = sum(rl["quantity"] for r in p["refunds"] for rl in r["refund_line_items"])
        assert units == refunded.get(row["order_id"], 0)
        changed = max(
            [row["placed_at"]]
            + [t for t in (row["fulfilled_at"], row["cancelled_at"]) if t and t <= now_dt]
        )
        assert changed <= _ts(p["updated_at"]) <= now_dt
    # one raw row per version the API showed: versions differ only between the two syncs
    rows = raw_rows(cfg, "shop__orders")
    assert len({(r[0], r[3]) for r in rows}) == len(rows)  # nothing duplicated


def test_backfill_then_incremental_lands_exactly_the_sandbox(tmp_path):
    store = tiny_store()
    t1 = store.end_ts - 20 * DAY
    with emulated() as eps:
        emu = eps.shop.emulator
        emu.set_time(t1)
        cfg = api_config(tmp_path, eps)
        r1 = sync_api(cfg)
        _check_against_truth(cfg, eps, t1)
        assert r1.rows_quarantined == 0
        first = {sid for sid, *_ in raw_rows(cfg, "shop__orders")}
        c1 = cursors(cfg)[("shop", "orders")]
        assert _ts(c1) <= datetime.fromtimestamp(t1, UTC)
        emu.set_time(store.end_ts)
        requests_before = emu.stats.requests
        r2 = sync_api(cfg)
        _check_against_truth(cfg, eps, store.end_ts)
        # incremental: only orders changed since the cursor (minus 2 days' look-back) were read
        assert emu.stats.requests - requests_before < requests_before
        # count per source id = number of distinct versions the two syncs saw
        b = emu.book
        per_id: dict[str, int] = {}
        for sid, *_ in raw_rows(cfg, "shop__orders"):
            per_id[sid] = per_id.get(sid, 0) + 1
        for i, o in enumerate(b.orders):
            v1, v2 = b.version_at(i, t1), b.version_at(i, store.end_ts)
            if v2 is None:
                continue
            assert per_id[str(o["source_id"])] == len({v for v in (v1, v2) if v is not None}), o[
                "source_id"
            ]
        assert first <= set(per_id)
        assert r2.rows_landed > 0
        # customers and products land too
        assert len(latest(cfg, "shop__customers")) == len(b.customers(store.end_ts))
        assert len(latest(cfg, "shop__products")) == len(store.catalog.skus)


def test_late_refund_on_week_old_order_is_picked_up_by_the_lookback(tmp_path):
    store = tiny_store()
    end = store.end_ts - 100 * DAY  # a smaller shop: faster (orders come 3 per query)
    with emulated() as eps:
        emu = eps.shop.emulator
        emu.set_time(end)
        fast = {"page_size": 250, "landing_batch": 5000}
        cfg = api_config(tmp_path / "a", eps, lookback_days=2, **fast)
        cfg0 = api_config(tmp_path / "b", eps, lookback_days=0, **fast)
        sync_api(cfg)
        sync_api(cfg0)
        # an order placed a week before the end, not yet refunded
        week_old = next(
            o for i, o in enumerate(emu.book.orders)
            if end - 8 * DAY < o["placed_ts"] < end - 7 * DAY
            and not emu.book.refunds[i] and not o["cancelled"]
        )  # fmt: skip
        oid = str(week_old["source_id"])
        cursor = _ts(cursors(cfg)[("shop", "orders")])
        # the refund shows up late: stamped a day before our cursor (Shopify's updated_at lags)
        emu.add_refund(oid, quantity=1, at=int(cursor.timestamp()) - DAY)
        sync_api(cfg)
        sync_api(cfg0)
        refunds = latest(cfg, "shop__orders")[oid]["refunds"]
        assert len(refunds) == 1 and refunds[0]["refund_line_items"][0]["quantity"] == 1
        assert refunds[0]["refund_line_items"][0]["restock_type"] == "return"
        # without the look-back window it is missed
        assert latest(cfg0, "shop__orders")[oid]["refunds"] == []


class Crash(Exception):
    pass


def _table_sets(cfg) -> dict[str, set]:
    return {
        t: {(r[0], r[3]) for r in raw_rows(cfg, t)}
        for t in ("shop__orders", "shop__customers", "shop__products")
    }


def test_sync_killed_at_random_points_resumes_without_loss_or_duplicates(tmp_path):
    rng = random.Random(5)
    with emulated() as eps:
        eps.shop.emulator.set_time(tiny_store().end_ts - 150 * DAY)  # a smaller shop: faster
        # The incremental streams (a snapshot stream such as inventory levels has no cursor to
        # resume from: it is re-read whole, so a crash every few pages would never let it end).
        streams = ["orders", "customers", "products"]
        ref = api_config(tmp_path / "ref", eps)
        sync_api(ref, streams=streams)
        # Order pages hold 3 orders (Shopify's cost limit): small landing batches, and a short
        # look-back so that a restart does not re-read more than the next crash allows.
        cfg = api_config(tmp_path / "crash", eps, landing_batch=6, lookback_days=0.05)
        crashes = 0
        for _ in range(200):
            budget = rng.randint(2, 8)
            seen = []

            def on_page(page, seen=seen, budget=budget):
                seen.append(page)
                if len(seen) > budget:
                    raise Crash()

            try:
                sync_api(cfg, on_page=on_page, streams=streams)
                break
            except Crash:
                crashes += 1
        assert crashes >= 3
        assert _table_sets(cfg) == _table_sets(ref)
        for t in ("shop__orders", "shop__customers", "shop__products"):
            rows = raw_rows(cfg, t)
            assert len(rows) == len({(r[0], r[3]) for r in rows}), t
        assert cursors(cfg) == cursors(ref)


def test_sync_killed_with_sigkill_resumes_without_loss(tmp_path):
    """A real sync process killed with SIGKILL while it lands pages, then resumed."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap

    with emulated() as eps:
        eps.shop.emulator.set_time(tiny_store().end_ts - 150 * DAY)  # a smaller shop: faster
        ref = api_config(tmp_path / "ref", eps)
        sync_api(ref)
        cfg = api_config(tmp_path / "kill", eps, landing_batch=24)  # order pages hold 3
        script = textwrap.dedent(
            """
            import json, pathlib, sys
            from flows.api_sync import sync_api
            from flows.config import parse_config
            cfg = parse_config(json.loads(pathlib.Path(sys.argv[1]).read_text()),
                               base_dir=pathlib.Path(sys.argv[2]))
            sync_api(cfg, on_page=lambda page: print("page", flush=True))
            """
        )
        cfg_file = tmp_path / "cfg.json"
        cfg_file.write_text(cfg.model_dump_json())
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=root)
        proc = subprocess.Popen(
            [sys.executable, "-c", script, str(cfg_file), str(tmp_path)],
            env=env, stdout=subprocess.PIPE, text=True, cwd=root,
        )  # fmt: skip
        for _ in range(12):  # let it land a few pages, then kill it wherever it is
            assert proc.stdout.readline().startswith("page")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        partial = _table_sets(cfg)["shop__orders"]
        assert 0 < len(partial) < len(_table_sets(ref)["shop__orders"])
        sync_api(cfg)  # the next run resumes from the last committed page
        assert _table_sets(cfg) == _table_sets(ref)
        rows = raw_rows(cfg, "shop__orders")
        assert len(rows) == len({(r[0], r[3]) for r in rows})


def test_thirty_percent_errors_and_429s_still_complete(tmp_path):
    faults = Faults(
        error_rate=0.12,
        throttle_rate=0.12,
        drop_rate=0.06,
        duplicate_rate=0.3,
        latency=0.001,
        seed=3,
    )
    with emulated(faults=faults) as eps:
        now = tiny_store().end_ts - 100 * DAY  # a smaller shop: faster
        eps.shop.emulator.set_time(now)
        cfg = api_config(tmp_path, eps)
        report = sync_api(cfg)
        _check_against_truth(cfg, eps, now)
        s = eps.shop.emulator.stats
        assert s.errors and s.throttled and s.dropped and s.duplicated
        assert report.rows_quarantined == 0


def test_cost_bucket_throttling_waits_as_the_restore_rate_requires():
    store = tiny_store()
    import os

    with emulated(shop={"bucket_max": 1000.0, "restore_rate": 2000.0}) as eps:
        now = store.end_ts - 100 * DAY
        eps.shop.emulator.set_time(now)
        c = ShopifyConnector(eps.shop.base_url, "OMS_SHOP_ACCESS_TOKEN", page_size=100)
        n = sum(len(p.batches["orders"].records) for p in c.pages("orders", None))
        assert n == len(eps.shop.emulator.book.index(now)) > 300
        # each page asks up to 1,000 points of a 1,000-point bucket refilling 2000/s: the
        # connector waits (cost - available) / 2000 s before the next page instead of being
        # throttled again
        assert c.throttle_waits and all(w <= 1000 / 2000 + 1e-9 for w in c.throttle_waits)
        assert eps.shop.emulator.stats.throttled <= 2
        assert os.environ["OMS_SHOP_ACCESS_TOKEN"]


def test_bad_token_fails_at_once_naming_channel_and_variable(tmp_path, monkeypatch):
    with emulated() as eps:
        cfg = api_config(tmp_path, eps)
        monkeypatch.setenv("OMS_SHOP_ACCESS_TOKEN", "shpat_WRONG_secret_value")
        with pytest.raises(ChannelAuthError) as err:
            sync_api(cfg)
        msg = str(err.value)
        assert "'shop'" in msg and "OMS_SHOP_ACCESS_TOKEN" in msg and "401" in msg
        assert "WRONG" not in msg and eps.shop.token not in msg
        assert eps.shop.emulator.stats.requests == 1  # not retried
        monkeypatch.delenv("OMS_SHOP_ACCESS_TOKEN")
        with pytest.raises(ChannelAuthError, match="OMS_SHOP_ACCESS_TOKEN is not set"):
            sync_api(cfg)


def test_malformed_record_is_quarantined_and_its_page_lands(tmp_path):
    store = tiny_store()
    with emulated() as eps:
        emu = eps.shop.emulator
        bad_id = str(emu.book.orders[5]["source_id"])
        emu.malformed.add(bad_id)
        cfg = api_config(tmp_path, eps)
        report = sync_api(cfg)
        q = quarantined(cfg)
        assert [(c, s, sid) for c, s, sid, _ in q] == [("shop", "orders", bad_id)]
        assert "not a Shopify id" in q[0][3]  # its line's id
        got = latest(cfg, "shop__orders")
        n_shop = int((store.truth["orders"]["channel"] == "shop").sum())
        assert bad_id not in got and len(got) == n_shop - 1
        assert report.rows_quarantined == 1
        # no credential in the warehouse
        with open(cfg.warehouse, "rb") as fh:
            assert eps.shop.token.encode() not in fh.read()
