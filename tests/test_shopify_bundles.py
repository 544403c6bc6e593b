"""Shopify bundles (issue 17): the emulated Shopify serves the sandbox's bundles as fixed bundles
(`ProductVariant.requiresComponents`, `productVariantComponents`) on the published schema, the
connector reads every component within the cost limit (follow-up pages past the first), raw keeps
them in the product's variants, and dbt lands them in the bill of materials the drop folder's
file feeds (int_bundle_components; the file wins a bundle both define).

The end-to-end demand test follows tests/test_bundles.py: a hand-made store on a real DuckDB
file, raw records as the connector lands them, a real `dbt build`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import graphql
import httpx
import polars as pl
import pytest

from connectors.shopify import queries as Q
from connectors.shopify.mapping import product_to_rest
from flows.api_sync import sync_api
from sandbox.emulators.shopify import VARIANT_ID0
from sandbox.emulators.shopify_graphql import load_schema
from tests.test_bundles import DAYS, FIRST, _till, _write_bom
from tests.test_connector_helpers import api_config, emulated, latest, quarantined, tiny_store
from tests.test_dbt_project import create_warehouse, land, run_dbt

BUNDLE_QUERY = """query Bundles($first: Int!) { products(first: $first, sortKey: ID) { nodes {
  variants(first: 1) { nodes { sku requiresComponents
    productVariantComponents(first: 5) { nodes { id quantity productVariant { id sku } }
      pageInfo { hasNextPage } } } } } } }"""


def _post(eps, query: str, variables: dict | None = None) -> dict:
    url = f"{eps.shop.base_url}/admin/api/2025-01/graphql.json"
    r = httpx.post(url, json={"query": query, "variables": variables or {}},
                   headers={"X-Shopify-Access-Token": eps.shop.token}, timeout=60)  # fmt: skip
    assert r.status_code == 200
    return r.json()


def _conforms(schema: graphql.GraphQLSchema, query: str, variables: dict, data: dict) -> None:
    """`data` is a valid answer to `query` on `schema`: executed again with the answer as its
    own source (each field read back by its response key), graphql-core's completion checks
    every value against its type (non-null, Int, lists, objects) and must give it back whole."""

    def back(source: Any, info: graphql.GraphQLResolveInfo, **_: Any) -> Any:
        assert isinstance(source, dict), (info.path.as_list(), source)
        key = info.path.key
        assert key in source, f"{info.path.as_list()} missing from the answer"
        return source[key]

    doc = graphql.parse(query)
    assert graphql.validate(schema, doc) == []
    again = graphql.execute(schema, doc, root_value=data, variable_values=variables,
                            field_resolver=back)  # fmt: skip
    assert isinstance(again, graphql.ExecutionResult)
    assert again.errors is None, again.errors
    assert again.data == data


def _truth_bom(store) -> list[tuple[str, str, int]]:
    return sorted(store.truth["bundle_components"].iter_rows())


@pytest.fixture(scope="module")
def schema():
    return load_schema("2025-01")


def test_the_emulator_serves_the_sandbox_bundles_on_the_schema_selected_fields_only(schema):
    store = tiny_store()
    with emulated(store) as eps:
        r = _post(eps, BUNDLE_QUERY, {"first": 50})  # 2 + 50 x 16 points; tiny has 22
        assert "errors" not in r, r
        _conforms(schema, BUNDLE_QUERY, {"first": 50}, r["data"])
        assert len(r["data"]["products"]["nodes"]) == len(store.catalog.skus)
        variants = [p["variants"]["nodes"][0] for p in r["data"]["products"]["nodes"]]
        served = sorted(
            (v["sku"], c["productVariant"]["sku"], c["quantity"])
            for v in variants
            for c in v["productVariantComponents"]["nodes"]
        )
        assert served == _truth_bom(store) and served
        bundles = {b for b, _, _ in served}
        # a bundle requires its components; no other variant has any
        assert {v["sku"] for v in variants if v["requiresComponents"]} == bundles
        assert all(
            v["productVariantComponents"]["nodes"] == []
            for v in variants
            if v["sku"] not in bundles
        )
        # selected fields only, and the cost of the components by the same rules
        small = "{ products(first: 50) { nodes { variants(first: 1) { nodes { productVariantComponents(first: 3) { nodes { quantity } } } } } } }"  # noqa: E501
        got = _post(eps, small)
        nodes = [
            c
            for p in got["data"]["products"]["nodes"]
            for c in p["variants"]["nodes"][0]["productVariantComponents"]["nodes"]
        ]
        assert nodes and all(set(c) == {"quantity"} for c in nodes)
        # 2 + 50 x (1 + (2 + 1 x (1 + (2 + 3 x 1))))
        assert got["extensions"]["cost"]["requestedQueryCost"] == 2 + 50 * (1 + 2 + 1 * (1 + 2 + 3))
        # a bundle's further components: node(id:) on the variant, paged
        bundle = store.catalog.skus.index(served[0][0])
        more = _post(eps, Q.FOLLOW_UPS["productVariantComponents"].query,
                     {"id": f"gid://shopify/ProductVariant/{VARIANT_ID0 + bundle}", "first": 1})  # fmt: skip
        conn = more["data"]["node"]["productVariantComponents"]
        assert len(conn["nodes"]) == 1 and conn["pageInfo"]["hasNextPage"] is True
        rest = _post(eps, Q.FOLLOW_UPS["productVariantComponents"].query,
                     {"id": f"gid://shopify/ProductVariant/{VARIANT_ID0 + bundle}", "first": 250,
                      "after": conn["pageInfo"]["endCursor"]})  # fmt: skip
        parts = [conn["nodes"][0], *rest["data"]["node"]["productVariantComponents"]["nodes"]]
        assert [(p["productVariant"]["sku"], p["quantity"]) for p in parts] == [
            (c, q) for b, c, q in served if b == served[0][0]
        ]


def test_a_bundles_components_land_from_shopify_and_equal_the_truth(tmp_path):
    """Through the real connector and sync into raw, then dbt: Shopify's bill of materials is
    the sandbox's truth (with no file, int_bundle_components is Shopify's)."""
    store = tiny_store()
    with emulated(store) as eps:
        cfg = api_config(tmp_path, eps)
        report = sync_api(cfg, streams=["products"])
        assert report.rows_landed == len(store.catalog.skus) and report.rows_quarantined == 0
        assert quarantined(cfg) == []
    products = latest(cfg, "shop__products")
    raw = sorted(
        (v["sku"], c["sku"], c["quantity"])
        for p in products.values()
        for v in p["variants"]
        for c in v["components"]
    )
    assert raw == _truth_bom(store)
    run_dbt(Path(cfg.warehouse), tmp_path, "build", "--indirect-selection", "cautious",
            "--select", "+int_bundle_components")  # fmt: skip
    with duckdb.connect(cfg.warehouse, read_only=True) as con:
        got = con.execute(
            "select bundle_sku, component_sku, quantity, bom_source "
            "from intermediate.int_bundle_components order by all"
        ).fetchall()
    assert got == [(*row, "shopify") for row in _truth_bom(store)]


def test_a_bundle_with_more_components_than_one_page_lands_whole(tmp_path):
    """A bundle of 7 components (Shopify allows 30): its first 3 come with the product, the rest
    by follow-up queries on the variant, within the cost limit; raw holds all 7 in order."""
    store = tiny_store()
    with emulated(store) as eps:
        emu = eps.shop.emulator
        bundle = store.catalog.skus.index("BUN-0001")
        parts = [(9000 + n, n % 3 + 1, n) for n in range(7)]  # (component id, quantity, sku idx)
        emu._bundles[VARIANT_ID0 + bundle] = parts
        cfg = api_config(tmp_path, eps, page_size=250)
        sync_api(cfg, streams=["products"])
        assert emu.queries > 1
    got = next(
        v["components"]
        for p in latest(cfg, "shop__products").values()
        for v in p["variants"]
        if v["sku"] == "BUN-0001"
    )
    assert [(c["id"], c["quantity"], c["sku"]) for c in got] == [
        (cid, q, store.catalog.skus[c]) for cid, q, c in parts
    ]
    assert len(got) > Q.NESTED["productVariantComponents"]


@pytest.mark.fast
def test_a_component_with_an_unreadable_quantity_quarantines_its_product():
    from connectors.shopify.mapping import map_nodes

    node = {
        "id": "gid://shopify/Product/1", "legacyResourceId": "1", "title": "Kit",
        "variants": {"nodes": [{
            "id": "gid://shopify/ProductVariant/2", "legacyResourceId": "2", "sku": "KIT",
            "requiresComponents": True,
            "productVariantComponents": {"nodes": [
                {"id": "gid://shopify/ProductVariantComponent/3", "quantity": "two",
                 "productVariant": {"id": "gid://shopify/ProductVariant/4", "sku": "A"}}]},
        }]},
    }  # fmt: skip
    batch = map_nodes("products", [node])
    assert batch.records == [] and len(batch.bad) == 1 and "component quantity" in batch.bad[0][1]
    ok = product_to_rest({**node, "variants": {"nodes": [{**node["variants"]["nodes"][0],
                          "productVariantComponents": {"nodes": [{"id": "gid://shopify/ProductVariantComponent/3", "quantity": 2,
                          "productVariant": {"legacyResourceId": "4", "sku": "A"}}]}}]}})  # fmt: skip
    assert ok["variants"][0]["components"] == [
        {"id": 3, "quantity": 2, "variant_id": 4, "sku": "A"}
    ]
    assert ok["variants"][0]["requires_components"] is True


# ------------------------------------------------------------------ demand, end to end
# The file defines BUN-1 = 2 A + 1 B; Shopify defines BUN-1 = 1 A + 1 C (the file wins) and
# BUN-2 = 1 B + 3 C, which the file does not have. Every day the Berlin store sells 1 BUN-1 and
# 1 BUN-2 (till receipts), so B's demand is 1 (BUN-1) + 1 (BUN-2) a day and C's 3 (BUN-2 only).
SHOP_BUNDLES = {"BUN-1": [("A", 1), ("C", 1)], "BUN-2": [("B", 1), ("C", 3)]}


def _shop_product(n: int, sku: str, parts: list[tuple[str, int]]) -> dict:
    """A product as the connector lands it (connectors/shopify/mapping.product_to_rest)."""
    node = {
        "id": f"gid://shopify/Product/{900 + n}", "legacyResourceId": str(900 + n),
        "title": f"{sku} gift set", "productType": "Gifts", "vendor": "Test", "status": "ACTIVE",
        "createdAt": "2025-12-01T09:00:00Z", "updatedAt": "2025-12-01T09:00:00Z",
        "variants": {"nodes": [{
            "id": f"gid://shopify/ProductVariant/{800 + n}", "legacyResourceId": str(800 + n),
            "sku": sku, "title": "Default Title", "price": "25.0",
            "createdAt": "2025-12-01T09:00:00Z", "updatedAt": "2025-12-01T09:00:00Z",
            "inventoryItem": {"id": f"gid://shopify/InventoryItem/{700 + n}",
                              "legacyResourceId": str(700 + n), "unitCost": None},
            "requiresComponents": True,
            "productVariantComponents": {"nodes": [
                {"id": f"gid://shopify/ProductVariantComponent/{600 + 10 * n + k}", "quantity": q,
                 "productVariant": {"id": f"gid://shopify/ProductVariant/{500 + k}",
                                    "legacyResourceId": str(500 + k), "sku": c}}
                for k, (c, q) in enumerate(parts)]},
        }]},
    }  # fmt: skip
    return product_to_rest(node)


@pytest.fixture(scope="module")
def shop_store(tmp_path_factory):
    from flows.sync import sync_files
    from tests.conftest import make_config

    tmp = tmp_path_factory.mktemp("shop_bundles")
    cfg = make_config(tmp)
    con = create_warehouse(Path(cfg.warehouse))
    for d in range(DAYS):
        day = FIRST + timedelta(days=d)
        utc = datetime.combine(day, time(10, 0)).isoformat() + "Z"
        for n, sku in enumerate(("BUN-1", "BUN-2")):
            t = _till(f"R{d:03d}{n}", day, sku, "25.00")
            land(con, "tills__orders", f"{t['order_id']}:{t['line_id']}", utc, t)
    for n, (sku, parts) in enumerate(SHOP_BUNDLES.items()):
        p = _shop_product(n, sku, parts)
        land(con, "shop__products", str(p["id"]), p["updated_at"], p)
    counted = f"{(FIRST + timedelta(days=DAYS - 1)).isoformat()}T21:59:59Z"
    for sku, on_hand in (("A", 7), ("B", 5), ("C", 7)):
        payload = {
            "sku": sku,
            "location_id": "ST-BER",
            "on_hand": str(on_hand),
            "counted_at": counted,
        }
        land(con, "tpl__stock", f"ST-BER:{sku}:{counted}", counted, payload)
    con.close()
    _write_bom(Path(cfg.files.drop_dir), [("BUN-1", "A", "2"), ("BUN-1", "B", "1")])
    report = sync_files(cfg, only_channel="files")
    assert (report.rows_landed, report.rows_quarantined) == (2, 0), report
    run_dbt(Path(cfg.warehouse), tmp, "build", "--indirect-selection", "cautious",
            "--select", "+daily_demand", "+inventory_levels")  # fmt: skip
    con = duckdb.connect(cfg.warehouse, read_only=True)
    yield con
    con.close()


def test_the_file_overrides_shopify_for_a_bundle_both_define(shop_store):
    got = shop_store.execute(
        "select bundle_sku, component_sku, quantity, bom_source "
        "from intermediate.int_bundle_components order by all"
    ).fetchall()
    assert got == [
        ("BUN-1", "A", 2, "file"),
        ("BUN-1", "B", 1, "file"),
        ("BUN-2", "B", 1, "shopify"),
        ("BUN-2", "C", 3, "shopify"),
    ]


def test_a_bundle_only_shopify_defines_raises_its_components_demand(shop_store):
    frame = pl.from_arrow(
        shop_store.sql(
            """select sku, bundle_sku, sum(units_ordered) as units from marts.daily_demand
               where location_id = 'ST-BER' and demand_source = 'bundle'
               group by all order by all"""
        ).to_arrow_table()
    )
    assert isinstance(frame, pl.DataFrame)
    assert frame.rows() == [
        ("A", "BUN-1", 2 * DAYS),  # the file's BUN-1: 2 A, never Shopify's 1
        ("B", "BUN-1", DAYS),
        ("B", "BUN-2", DAYS),  # Shopify's BUN-2
        ("C", "BUN-2", 3 * DAYS),  # C is in no file: its demand is Shopify's bundle alone
    ]
    # and its availability is the least its components make: min(5 // 1, 7 // 3) = 2
    level = shop_store.execute(
        "select available, source from marts.inventory_levels "
        "where sku = 'BUN-2' and location_id = 'ST-BER'"
    ).fetchall()
    assert level == [(2, "bundle")]
