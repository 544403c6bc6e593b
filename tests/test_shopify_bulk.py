"""Bulk Operations of the emulated Shopify: the bulk query rules as a real store answered them
(the validator captures, replayed), the operation's lifecycle and its JSONL result file (children
after their parent, linked by `__parentId`, as `bulk-results/` shows)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from sandbox.shared import PLATFORM_DOCS
from tests.test_connector_helpers import emulated

DOCS = PLATFORM_DOCS / "shopify" / "admin-graphql"
BULK = DOCS / "captures/harry-test-heelo/2026-04/bulk-operations"

RUN = """mutation Run($query: String!) { bulkOperationRunQuery(query: $query) {
  bulkOperation { id status } userErrors { field message code } } }"""
POLL = """query Poll { currentBulkOperation { id status errorCode objectCount rootObjectCount
  fileSize url partialDataUrl } }"""
ORDERS = """{ orders(query: "updated_at:>='2026-05-01T00:00:00Z'") { edges { node { id updatedAt
  totalPriceSet { shopMoney { amount currencyCode } }
  lineItems { edges { node { id sku quantity } } } } } } }"""


def _post(eps, query: str, variables: dict | None = None, version: str = "2026-04") -> dict:
    r = httpx.post(f"{eps.shop.base_url}/admin/api/{version}/graphql.json",
                   json={"query": query, "variables": variables or {}},
                   headers={"X-Shopify-Access-Token": eps.shop.token}, timeout=60)  # fmt: skip
    assert r.status_code == 200
    return r.json()


def _validators():
    doc = json.loads((BULK / "bulk-operation-run-query-validators.json").read_text())
    return sorted(doc["validations"].items())


def test_bulk_query_rules_answer_what_shopify_answered():
    with emulated() as eps:
        cases = _validators()
        assert len(cases) >= 8
        for name, case in cases:
            got = _post(eps, case["query"], case["variables"])
            want = case["response"]["data"]["bulkOperationRunQuery"]
            assert got["data"]["bulkOperationRunQuery"] == want, name


def test_a_bulk_operation_runs_and_its_jsonl_links_lines_to_their_orders():
    with emulated() as eps:
        emu = eps.shop.emulator
        emu.bulk_seconds = 4.0  # RUNNING for 2 s: seen by a 0.1 s poll even on a loaded machine
        started = _post(eps, RUN, {"query": ORDERS})["data"]["bulkOperationRunQuery"]
        assert started["userErrors"] == [] and started["bulkOperation"]["status"] == "CREATED"
        again = _post(eps, RUN, {"query": ORDERS})["data"]["bulkOperationRunQuery"]
        assert again["bulkOperation"] is None
        assert again["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
        assert started["bulkOperation"]["id"] in again["userErrors"][0]["message"]
        statuses = []
        while True:
            op = _post(eps, POLL)["data"]["currentBulkOperation"]
            statuses.append(op["status"])
            if op["status"] not in ("CREATED", "RUNNING"):
                break
            time.sleep(0.1)
        assert op["status"] == "COMPLETED" and "RUNNING" in statuses
        body = httpx.get(op["url"], timeout=60)
        assert body.status_code == 200
        lines = [json.loads(x) for x in body.text.splitlines()]
        assert len(lines) == int(op["objectCount"]) and int(op["fileSize"]) == len(body.content)
        orders = [x for x in lines if "__parentId" not in x]
        children = [x for x in lines if "__parentId" in x]
        assert len(orders) == int(op["rootObjectCount"]) > 0 and children
        assert all(x["updatedAt"] >= "2026-05-01" for x in orders)
        assert all(x["id"].startswith("gid://shopify/Order/") for x in orders)
        seen: set[str] = set()
        for x in lines:  # a child comes after its parent
            if "__parentId" in x:
                assert x["__parentId"] in seen and x["id"].startswith("gid://shopify/LineItem/")
            seen.add(x["id"])
        assert all(set(x) == {"id", "sku", "quantity", "__parentId"} for x in children)
        # the result URL expires
        emu.bulk_url_seconds = 0
        assert httpx.get(op["url"], timeout=60).status_code == 403


@pytest.mark.parametrize("code", ["ACCESS_DENIED", "INTERNAL_SERVER_ERROR", "TIMEOUT"])
def test_a_failed_bulk_operation_names_its_error_and_may_leave_partial_data(code):
    with emulated() as eps:
        emu = eps.shop.emulator
        emu.bulk_failure, emu.bulk_partial = code, code == "TIMEOUT"
        assert (
            _post(eps, RUN, {"query": ORDERS})["data"]["bulkOperationRunQuery"]["userErrors"] == []
        )
        op = _post(eps, POLL)["data"]["currentBulkOperation"]
        assert op["status"] == "FAILED" and op["errorCode"] == code and op["url"] is None
        if code == "TIMEOUT":
            part = httpx.get(op["partialDataUrl"], timeout=60)
            assert part.status_code == 200 and part.text.endswith("\n")
            assert 0 < len(part.text.splitlines()) < int(op["objectCount"])
        else:
            assert op["partialDataUrl"] is None
