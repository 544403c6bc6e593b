"""The emulated Shopify is a GraphQL server on Shopify's published schema, priced by Shopify's
cost rules, and every query the connector sends fits Shopify's 1,000-point limit.

Reference material: ../shared/fixtures/platform-docs/shopify/admin-graphql/ (schema SDL and
request/response captures recorded against real development stores).
"""

from __future__ import annotations

import json
import re

import graphql
import httpx
import pytest

from connectors.shopify import queries as Q
from connectors.shopify.client import MissingScope, ShopifyConnector
from connectors.shopify.cost import max_page
from connectors.shopify.cost import requested_cost as estimate
from connectors.shopify.mapping import STREAMS
from flows.api_sync import sync_api
from sandbox.emulators import shopify_cost
from sandbox.emulators.shopify import ALL_SCOPES
from sandbox.emulators.shopify_graphql import load_schema
from sandbox.shared import PLATFORM_DOCS
from tests.test_connector_helpers import api_config, emulated, latest, quarantined, tiny_store

DOCS = PLATFORM_DOCS / "shopify" / "admin-graphql"
CAPTURES = DOCS / "captures"
DAY = 86400

# Every query the connector can send: (name, text, the variables other than the page size).
CONNECTOR_QUERIES = [
    *((f"page:{k}", s.query, {}) for k, s in STREAMS.items()),
    *((f"more:{k}", f.query, {"id": "gid://shopify/Order/1"}) for k, f in Q.FOLLOW_UPS.items()),
    *((f"all:{k}", r.query, {"id": "gid://shopify/Order/1"}) for k, r in Q.LIST_REFETCH.items()),
]


@pytest.fixture(scope="module")
def schema():
    return load_schema("2025-01")


def _post(eps, query: str, variables: dict | None = None, version: str = "2025-01") -> dict:
    url = f"{eps.shop.base_url}/admin/api/{version}/graphql.json"
    r = httpx.post(url, json={"query": query, "variables": variables or {}},
                   headers={"X-Shopify-Access-Token": eps.shop.token}, timeout=60)  # fmt: skip
    assert r.status_code == 200
    return r.json()


# ------------------------------------------------------------------ the cost rules
def _captured_reads():
    """(version, query, variables, Shopify's requestedQueryCost) of every captured read query."""
    out = []

    def walk(o, version):
        if isinstance(o, dict):
            q = o.get("query")
            resp = o.get("response")
            body = (
                resp.get("body") or resp.get("payload") or resp if isinstance(resp, dict) else None
            )
            cost = (
                ((body or {}).get("extensions") or {}).get("cost")
                if isinstance(body, dict)
                else None
            )
            if isinstance(q, str) and cost and "requestedQueryCost" in cost:
                out.append((version, q, o.get("variables") or {}, cost["requestedQueryCost"]))
            for v in o.values():
                walk(v, version)
        elif isinstance(o, list):
            for v in o:
                walk(v, version)

    for f in sorted(CAPTURES.rglob("*.json")):
        walk(json.loads(f.read_text()), f.relative_to(CAPTURES).parts[1])
    return out


def _priced_by_the_published_rules(schema, doc) -> bool:
    """Reads whose cost the published rules decide: no `...Count` field (Shopify prices counts
    its own way) and no list of objects without a size."""
    ok = True
    p = shopify_cost._Pricer(schema, doc, {})

    def walk(sel, t):
        nonlocal ok
        for f, parent in p.fields(sel, t):
            fd = getattr(parent, "fields", {}).get(f.name.value)
            if fd is None:
                continue
            named = graphql.get_named_type(fd.type)
            inner = fd.type.of_type if isinstance(fd.type, graphql.GraphQLNonNull) else fd.type
            sized = any(a.name.value == "first" for a in f.arguments or ())
            if named.name == "Count" or (
                isinstance(inner, graphql.GraphQLList) and f.selection_set and not sized
            ):
                ok = False
            if f.selection_set:
                walk(f.selection_set, named)

    for op in doc.definitions:
        if isinstance(op, graphql.OperationDefinitionNode):
            if op.operation != graphql.OperationType.QUERY:
                return False
            walk(op.selection_set, schema.query_type)
    return ok


@pytest.mark.fast
def test_the_cost_function_never_prices_a_captured_query_below_what_shopify_requested():
    """Shopify's published rules are an upper bound of its requested cost: on every captured
    read the rules decide, the emulator asks at least what the real store asked, so a query the
    emulator accepts is never one Shopify refuses for its cost."""
    checked = 0
    for version, text, variables, shopify in _captured_reads():
        schema = load_schema(version)
        doc = graphql.parse(text)
        if not _priced_by_the_published_rules(schema, doc):
            continue
        checked += 1
        ours = shopify_cost.requested_cost(schema, doc, variables)
        assert ours >= shopify, (text[:200], ours, shopify)
    assert checked >= 40


@pytest.mark.fast
def test_cost_rules_by_hand(schema):
    doc = graphql.parse("{ shop { currencyCode } locations(first: 1) { nodes { id name } } }")
    assert shopify_cost.requested_cost(schema, doc) == 4  # the capture's figure: 1 + (2 + 1)
    nested = graphql.parse(
        "{ orders(first: 10) { nodes { id lineItems(first: 5) { nodes { id variant { id } } } } } }"
    )
    # 2 + 10 x (1 + (2 + 5 x (1 + 1)))
    assert shopify_cost.requested_cost(schema, nested) == 2 + 10 * (1 + 2 + 5 * 2)


@pytest.mark.fast
@pytest.mark.parametrize(
    "name,text,extra", CONNECTOR_QUERIES, ids=[c[0] for c in CONNECTOR_QUERIES]
)
@pytest.mark.parametrize("page_size", [1, 2, 3, 5, 10, 30, 50, 100, 250])
def test_every_connector_query_fits_at_every_page_size(schema, name, text, extra, page_size):
    """At every configured page size the connector sends at most the size that fits (its own
    estimate of the published rules), and Shopify's rules - the emulator's schema-aware
    pricing - agree that it costs at most 1,000 points."""
    doc = graphql.parse(text)
    assert graphql.validate(schema, doc) == []  # and it is a valid query on Shopify's schema
    sent = max(1, min(page_size, max_page(text, extra)))
    variables = {**extra, "first": sent}
    cost = shopify_cost.requested_cost(schema, doc, variables)
    assert cost <= shopify_cost.MAX_QUERY_COST
    assert estimate(text, variables) == cost


def test_nodes_by_ids_is_priced_as_a_list_of_its_ids_and_served_in_their_order():
    """`nodes(ids: $ids)` answers one object per id (null where none), so the emulator and the
    connector both price it as a list as long as its ids (an upper bound of what Shopify asks: a
    captured 4-id read cost 1); more than 250 ids are refused, as Shopify does."""
    from connectors.shopify.bulk import _JOIN

    text = _JOIN[(True, True)]
    with emulated() as eps:
        got = _post(eps, "{ orders(first: 3) { nodes { id } } }")
        ids = [n["id"] for n in got["data"]["orders"]["nodes"]][::-1] + ["gid://shopify/Order/0"]
        variables = {"ids": ids, "refunds": 2, "fulfillments": 1}
        r = _post(eps, text, variables)
        assert "errors" not in r
        assert [n and n["id"] for n in r["data"]["nodes"]] == ids[:3] + [None]
        one = estimate(text, {**variables, "ids": ids[:1]})
        assert r["extensions"]["cost"]["requestedQueryCost"] == estimate(text, variables)
        assert estimate(text, variables) == 4 * one and one > 1
        plain = "query Ids($ids: [ID!]!) { nodes(ids: $ids) { id } }"
        many = _post(eps, plain, {"ids": ids[:1] * 251})
        assert many["data"] is None and "250" in many["errors"][0]["message"]
        assert many["extensions"]["cost"]["requestedQueryCost"] == 251


@pytest.mark.fast
def test_the_old_order_query_is_refused_by_its_cost(schema):
    """The query the connector sent before (`lineItems(first: 250)` and friends inside each
    order) costs far more than 1,000 points at any page size."""
    old = (
        "query { orders(first: 1) { nodes { id lineItems(first: 250) { nodes { id "
        "originalUnitPriceSet { shopMoney { amount } } } } refunds { refundLineItems(first: 250) "
        "{ nodes { id } } } fulfillments { fulfillmentLineItems(first: 250) { nodes { id } } } } } }"
    )
    assert shopify_cost.requested_cost(schema, graphql.parse(old)) > 1000


# ------------------------------------------------------------------ the server
def test_the_emulator_answers_like_shopify_for_shape_errors_and_cost():
    with emulated() as eps:
        # only the selected fields come back, edges and nodes both work
        r = _post(eps, "{ orders(first: 2, sortKey: CREATED_AT, reverse: true) { edges { cursor "
                       "node { id createdAt } } nodes { id } pageInfo { hasNextPage hasPreviousPage "
                       "startCursor endCursor } } }")  # fmt: skip
        page = r["data"]["orders"]
        assert [set(e["node"]) for e in page["edges"]] == [{"id", "createdAt"}] * 2
        assert [n["id"] for n in page["nodes"]] == [e["node"]["id"] for e in page["edges"]]
        assert page["edges"][0]["node"]["createdAt"] >= page["edges"][1]["node"]["createdAt"]
        assert set(page["pageInfo"]) == {
            "hasNextPage",
            "hasPreviousPage",
            "startCursor",
            "endCursor",
        }
        assert set(r["extensions"]["cost"]) == {
            "requestedQueryCost",
            "actualQueryCost",
            "throttleStatus",
        }
        # a query above 1,000 requested points is refused before it runs
        big = _post(
            eps, "{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }"
        )
        assert big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
        assert (
            big["errors"][0]["extensions"]["cost"] == 2 + 250 * (1 + 2 + 250) and "data" not in big
        )
        # first/last required and at most 250
        for q, msg in (("{ orders { nodes { id } } }", "you must provide one of first or last"),
                       ("{ orders(first: 1, last: 1) { nodes { id } } }", "providing both first and last is not supported"),
                       ("{ orders(first: 251) { nodes { id } } }", "250")):  # fmt: skip
            err = _post(eps, q)
            assert err["data"] is None and msg in err["errors"][0]["message"]
            assert err["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        # a literal first and reverse are honoured
        two = _post(eps, "{ orders(first: 2, sortKey: UPDATED_AT) { nodes { updatedAt } } }")
        back = _post(
            eps, "{ orders(first: 2, sortKey: UPDATED_AT, reverse: true) { nodes { updatedAt } } }"
        )
        asc = [n["updatedAt"] for n in two["data"]["orders"]["nodes"]]
        desc = [n["updatedAt"] for n in back["data"]["orders"]["nodes"]]
        assert len(asc) == 2 and asc == sorted(asc) and desc == sorted(desc, reverse=True)
        assert asc[-1] < desc[-1]
        # query: filters
        since = "2026-06-20T00:00:00Z"
        got = _post(
            eps,
            f"{{ orders(first: 50, query: \"created_at:>='{since}'\") {{ nodes {{ createdAt }} }} }}",
        )
        assert got["data"]["orders"]["nodes"] and all(
            n["createdAt"] >= since for n in got["data"]["orders"]["nodes"]
        )
        bad = _post(eps, '{ orders(first: 1, query: "created_at:>=not-a-date") { nodes { id } } }')
        assert bad["errors"][0]["message"] == "Invalid timestamp for query filter `created_at`."
        # a wrong variable type
        var = _post(eps, "query($n: Int!) { orders(first: $n) { nodes { id } } }", {"n": "ten"})
        assert var["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
        # another published version is served by its own schema
        assert "data" in _post(eps, "{ orders(first: 1) { nodes { id } } }", version="2026-04")


def _validation_cases():
    doc = json.loads(
        (
            CAPTURES
            / "harry-test-heelo/2025-01/admin-platform/graphql-base-validation-unhappy-paths.json"
        ).read_text()
    )
    keep = ("invalidSyntax", "missingSubselection", "unknownQueryRoot", "unknownMutationRoot",
            "unknownProductField", "unknownOrderField")  # fmt: skip
    return [(k, doc["cases"][k]) for k in keep]


def test_validation_errors_are_the_ones_shopify_answered():
    """The recorded unhappy paths of a real store, asked of the emulator: the same errors
    (message, location, path, extensions), and no data."""
    with emulated() as eps:
        for name, case in _validation_cases():
            got = _post(eps, case["request"]["query"], case["request"]["variables"])
            assert got == case["response"]["payload"], name


_GID = re.compile(r"^gid://shopify/[A-Za-z]+/\d+(\?.*)?$")
_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
_AMOUNT = re.compile(r"^-?\d+\.(0|\d*[1-9])$")


def _formats(value, key=""):
    """(kind, text) of every id, timestamp and money amount in an answer."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in ("capturedAt", "recordedAt"):  # the recording's own metadata
                yield from _formats(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _formats(v, key)
    elif isinstance(value, str):
        if key == "id":
            yield "id", value
        elif key.endswith("At"):
            yield "ts", value
        elif key == "amount":
            yield "amount", value


def _answers(value):
    """The `data` of every recorded answer (not the requests' own variables)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "data" and isinstance(v, dict):
                yield v
            else:
                yield from _answers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _answers(v)


def test_ids_timestamps_and_money_are_written_as_the_captures_write_them():
    captured = {"id": set(), "ts": set(), "amount": set()}
    for f in CAPTURES.rglob("*.json"):
        for data in _answers(json.loads(f.read_text())):
            for kind, text in _formats(data):
                captured[kind].add(text)
    # what the captures show (ids of every kind; UTC `Z` seconds; `15.0`, `12.5`)
    assert sum(bool(_GID.match(x)) for x in captured["id"]) > 0.95 * len(captured["id"])
    assert sum(bool(_TS.match(x)) for x in captured["ts"]) > 0.95 * len(captured["ts"])
    assert all(_AMOUNT.match(x) for x in captured["amount"]) and "15.0" in captured["amount"]
    with emulated() as eps:
        text = STREAMS["orders"].query
        got = _post(eps, text, {"first": 3, "after": None, "query": None})
        prods = _post(eps, STREAMS["products"].query, {"first": 3, "after": None, "query": None})
    assert "errors" not in got and "errors" not in prods
    seen = list(_formats(got["data"])) + list(_formats(prods["data"]))
    assert {k for k, _ in seen} == {"id", "ts", "amount"}
    for kind, value in seen:
        assert {"id": _GID, "ts": _TS, "amount": _AMOUNT}[kind].match(value), (kind, value)


# ------------------------------------------------------------------ the connector
def _inflate(emu, order_id: str, n_lines: int, n_refunded: int) -> None:
    """Give one sandbox order `n_lines` lines, `n_refunded` of them refunded in one refund."""
    b = emu.book
    i = b.by_id[order_id]
    with b.lock:
        first = b.lines[i][0]
        lines = [dict(first, line_id=int(first["line_id"]) * 1000 + k, line_no=k + 1, quantity=1)
                 for k in range(n_lines)]  # fmt: skip
        at = int(b.orders[i]["placed_ts"]) + 5 * DAY
        refund_id = str(8990000000 + 777)
        b.lines[i] = lines
        b.refunds[i] = [
            dict(ln, event=10**6, refund_id=refund_id, refunded_ts=at, restock=True, quantity=1,
                 subtotal=ln["unit_price"], tax=0, amount=ln["unit_price"], reason="test")
            for ln in lines[:n_refunded]
        ]  # fmt: skip
        b._touch(i, at)


def test_an_order_with_600_lines_and_300_refunded_lands_whole(tmp_path):
    store = tiny_store()
    with emulated() as eps:
        emu = eps.shop.emulator
        emu.set_time(store.end_ts - 150 * DAY)
        oid = str(emu.book.orders[3]["source_id"])
        _inflate(emu, oid, 600, 300)
        cfg = api_config(tmp_path, eps)
        sync_api(cfg, streams=["orders"])
        order = latest(cfg, "shop__orders")[oid]
        assert len(order["line_items"]) == 600
        assert len({li["id"] for li in order["line_items"]}) == 600
        assert [len(r["refund_line_items"]) for r in order["refunds"]] == [300]
        assert len(order["fulfillments"][0]["line_items"]) == 600 if order["fulfillments"] else True
        assert quarantined(cfg) == []


def test_page_size_follows_the_cost_shopify_reports():
    """A page size above what fits is lowered before the first query, and lowered again when
    Shopify prices the query higher than the connector did (MAX_COST_EXCEEDED)."""
    with emulated() as eps:
        c = ShopifyConnector(eps.shop.base_url, "OMS_SHOP_ACCESS_TOKEN", page_size=250)
        text = STREAMS["orders"].query
        assert c.page_cap(text) == max_page(text) < 250
        c._caps[text] = 10  # as if our estimate were too low: Shopify refuses, we shrink
        data, size = c._sized(text, {"after": None, "query": None}, "orders query")
        assert size <= max_page(text) and len(data["orders"]["nodes"]) == size
        assert c.requests == 2


def test_without_read_all_orders_shopify_shows_60_days_and_the_connector_names_the_scope(tmp_path):
    limited = ALL_SCOPES - {"read_all_orders"}
    with emulated(shop={"scopes": limited}) as eps:
        emu = eps.shop.emulator
        old = _post(eps, "{ orders(first: 250, sortKey: CREATED_AT) { nodes { createdAt } } }")
        oldest = old["data"]["orders"]["nodes"][0]["createdAt"]
        from datetime import UTC, datetime

        cutoff = datetime.fromtimestamp(emu.now - 60 * DAY, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert oldest >= cutoff  # older orders exist in the store but are not shown
        assert min(int(o["placed_ts"]) for o in emu.book.orders) < emu.now - 60 * DAY
        cfg = api_config(tmp_path, eps)
        with pytest.raises(MissingScope) as err:
            sync_api(cfg, streams=["orders"])
        assert err.value.scope == "read_all_orders" and "read_all_orders" in str(err.value)
        # a window within the last 60 days needs no such scope
        c = ShopifyConnector(eps.shop.base_url, "OMS_SHOP_ACCESS_TOKEN")
        recent = datetime.fromtimestamp(emu.now - 10 * DAY, UTC)
        assert sum(len(p.batches["orders"].records) for p in c.pages("orders", recent)) > 0
