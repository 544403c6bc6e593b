"""The Amazon emulator answers as the published SP-API models say (Orders v0, Finances v0, FBA
Inventory v1 definitions in ../shared/fixtures/platform-docs/amazon), not as our connector reads.

Every response kind is fetched over real HTTP from the emulator and validated with `jsonschema`
against the operation's response definition, tightened so that an object may hold only the
properties its definition names (the models allow extras; an emulator inventing a field, like
our old `EventSeq`, is exactly the mistake these tests exist to catch). Where the models say it
in words, the rule is checked too: refund items carry ItemChargeAdjustmentList /
ItemFeeAdjustmentList ("only returned for refunds, guarantee claims, and chargeback events"),
never the shipment lists.
"""

from __future__ import annotations

import copy
import json
from functools import cache

import httpx
import jsonschema
import pytest

from sandbox.emulators.amazon import REALISTIC_RATES, AmazonEmulator
from sandbox.shared import PLATFORM_DOCS
from tests.test_connector_helpers import tiny_store

DOCS = PLATFORM_DOCS / "amazon"

pytestmark = pytest.mark.fast


def _closed(node: object) -> object:
    """Every object schema with `properties` refuses properties it does not name."""
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if "properties" in out and out.get("type", "object") == "object":
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


@cache
def _definitions(model: str) -> dict:
    return json.loads((DOCS / f"{model}_definitions.json").read_text())["definitions"]


def validator(model: str, definition: str) -> jsonschema.Draft7Validator:
    defs = _closed(copy.deepcopy(_definitions(model)))
    return jsonschema.Draft7Validator({"definitions": defs, "$ref": f"#/definitions/{definition}"})


def assert_valid(model: str, definition: str, body: object) -> None:
    errors = sorted(validator(model, definition).iter_errors(body), key=lambda e: list(e.path))
    assert not errors, "\n".join(
        f"{definition} at {'/'.join(map(str, e.path))}: {e.message}" for e in errors[:10]
    )


def test_the_tightened_schemas_catch_an_invented_field_and_a_wrong_type():
    ok = {"payload": {"Orders": [], "NextToken": "x"}}
    assert_valid("ordersV0", "GetOrdersResponse", ok)
    with pytest.raises(AssertionError, match="EventSeq"):
        assert_valid(
            "financesV0",
            "ListFinancialEventsResponse",
            {"payload": {"FinancialEvents": {"RefundEventList": [{"EventSeq": 1}]}}},
        )
    with pytest.raises(AssertionError, match="is not of type 'number'"):
        money = {"CurrencyCode": "EUR", "CurrencyAmount": "1.00"}  # a string, not BigDecimal
        item = {"ItemChargeList": [{"ChargeType": "Principal", "ChargeAmount": money}]}
        assert_valid(
            "financesV0",
            "ListFinancialEventsResponse",
            {"payload": {"FinancialEvents": {"ShipmentEventList": [{"ShipmentItemList": [item]}]}}},
        )


def test_the_published_examples_pass_the_tightened_schemas():
    """The tightening is fair: Amazon's own example and sandbox answers pass it."""
    for name in ("getOrders_example", "getOrders_sandbox_TEST_CASE_200",
                 "getOrders_sandbox_NEXT_TOKEN_page1", "getOrders_sandbox_NEXT_TOKEN_page2"):  # fmt: skip
        assert_valid(
            "ordersV0", "GetOrdersResponse", json.loads((DOCS / f"{name}.json").read_text())
        )
    for name in ("getOrderItems_example", "getOrderItems_sandbox_TEST_CASE_200"):
        body = json.loads((DOCS / f"{name}.json").read_text())
        assert_valid("ordersV0", "GetOrderItemsResponse", body)
    for name in ("getOrder_sandbox_TEST_CASE_200", "getOrder_sandbox_TEST_CASE_IBA_200"):
        body = json.loads((DOCS / f"{name}.json").read_text())
        assert_valid("ordersV0", "GetOrderResponse", body)


class _Client:
    def __init__(self, emu: AmazonEmulator) -> None:
        self.http = httpx.Client(base_url=emu.base_url, timeout=10)
        token = self.http.post(
            "/auth/o2/token",
            data={"grant_type": "refresh_token", "refresh_token": emu.refresh_token,
                  "client_id": emu.client_id, "client_secret": emu.client_secret},
        ).json()["access_token"]  # fmt: skip
        self.http.headers["x-amz-access-token"] = token
        self.responses: list[httpx.Response] = []

    def get(self, path: str, **params: object) -> dict:
        resp = self.http.get(path, params=params)
        self.responses.append(resp)
        assert resp.status_code == 200, resp.text
        return resp.json()


def test_every_emulator_answer_validates_against_the_models():
    store = tiny_store()
    emu = AmazonEmulator(store, items_page_size=1, pending_seconds=6 * 3600).start()
    try:
        big = max(
            emu.book.orders, key=lambda o: len(emu.book.lines[emu.book.by_id[o["source_id"]]])
        )
        emu.add_refund(big["source_id"], quantity=1, at=store.end_ts - 60)
        c = _Client(emu)
        orders, statuses = [], set()
        params: dict = {"MarketplaceIds": ",".join(emu.marketplace_ids),
                        "LastUpdatedAfter": "2000-01-01T00:00:00Z", "MaxResultsPerPage": 100}  # fmt: skip
        while True:
            body = c.get("/orders/v0/orders", **params)
            assert_valid("ordersV0", "GetOrdersResponse", body)
            orders += body["payload"]["Orders"]
            token = body["payload"].get("NextToken")
            if not token:
                break
            params = {"MarketplaceIds": ",".join(emu.marketplace_ids), "NextToken": token}
        statuses = {o["OrderStatus"] for o in orders}
        assert {"Pending", "Unshipped", "Shipped", "Canceled"} <= statuses
        assert all("OrderTotal" not in o for o in orders if o["OrderStatus"] == "Pending")
        paged = 0
        for o in [o for o in orders if o["AmazonOrderId"] == big["source_id"]] + orders[:5]:
            body = c.get(f"/orders/v0/orders/{o['AmazonOrderId']}/orderItems")
            while True:
                assert_valid("ordersV0", "GetOrderItemsResponse", body)
                token = body["payload"].get("NextToken")
                if not token:
                    break
                paged += 1
                body = c.get(f"/orders/v0/orders/{o['AmazonOrderId']}/orderItems", NextToken=token)
        assert paged, "getOrderItems never answered a NextToken"
        params = {"PostedAfter": "2000-01-01T00:00:00Z", "MaxResultsPerPage": 100}
        refunds = 0
        while True:
            body = c.get("/finances/v0/financialEvents", **params)
            assert_valid("financesV0", "ListFinancialEventsResponse", body)
            events = body["payload"]["FinancialEvents"]
            for ev in events.get("RefundEventList", []):
                for it in ev["ShipmentItemAdjustmentList"]:
                    refunds += 1
                    assert "ItemChargeList" not in it and "ItemFeeList" not in it
                    assert it["ItemChargeAdjustmentList"] and it["ItemFeeAdjustmentList"]
            for ev in events.get("ShipmentEventList", []):
                assert all("ItemChargeAdjustmentList" not in it for it in ev["ShipmentItemList"])
            token = body["payload"].get("NextToken")
            if not token:
                break
            params = {"NextToken": token}
        assert refunds
        params = {"details": "true", "granularityType": "Marketplace",
                  "granularityId": emu.marketplace_ids[0], "marketplaceIds": emu.marketplace_ids[0]}  # fmt: skip
        while True:
            body = c.get("/fba/inventory/v1/summaries", **params)
            assert_valid("fbaInventory", "GetInventorySummariesResponse", body)
            token = (body.get("pagination") or {}).get("nextToken")
            if not token:
                break
            params = {**params, "nextToken": token}
        ids = [r.headers.get("x-amzn-RequestId") for r in c.responses]
        assert all(ids) and len(set(ids)) == len(ids)
        assert all(r.headers.get("x-amzn-RateLimit-Limit") for r in c.responses)
    finally:
        emu.stop()


def test_throttled_answers_are_amazons_429():
    """Over the limit: 429 QuotaExceeded with x-amzn-RequestId and no Retry-After (the model's
    429 spec lists only x-amzn-RequestId); the realistic preset is Amazon's documented plans."""
    assert REALISTIC_RATES["getOrders"] == (0.0167, 20)
    assert REALISTIC_RATES["getOrderItems"] == (0.5, 30)
    assert REALISTIC_RATES["listFinancialEvents"] == (0.5, 30)
    assert REALISTIC_RATES["createReport"] == (0.0167, 15)
    spec = json.loads((DOCS / "getOrders_429_spec.json").read_text())
    assert set(spec["headers"]) == {"x-amzn-RequestId"}
    emu = AmazonEmulator(tiny_store(), rates="realistic").start()
    try:
        c = _Client(emu)
        params = {
            "MarketplaceIds": emu.marketplace_ids[0],
            "LastUpdatedAfter": "2026-06-29T00:00:00Z",
        }
        codes = [c.http.get("/orders/v0/orders", params=params) for _ in range(21)]
        assert [r.status_code for r in codes] == [200] * 20 + [429]
        last = codes[-1]
        assert "retry-after" not in last.headers and last.headers["x-amzn-RequestId"]
        assert last.json()["errors"][0]["code"] == "QuotaExceeded"
        assert_valid("ordersV0", "GetOrdersResponse", last.json())
    finally:
        emu.stop()
