"""The emulated channel APIs speak the platforms' protocols: auth, pagination, rate limits, faults."""

from __future__ import annotations

import httpx
import pytest

from connectors.woocommerce.auth import OAuth1
from sandbox.emulators import Faults, run_emulators
from tests.test_connector_helpers import tiny_store

pytestmark = pytest.mark.fast  # make test-fast

Q = "query Sync($first: Int!, $after: String, $query: String) { orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) { nodes { id updatedAt } pageInfo { hasNextPage endCursor } } }"


def test_auth_pagination_and_shapes():
    with run_emulators(tiny_store(), channels=("shop", "woo", "amazon")) as eps:
        assert len({eps.shop.base_url, eps.woo.base_url, eps.amazon.base_url}) == 3
        url = eps.shop.base_url + "/admin/api/2025-01/graphql.json"
        body = {
            "query": Q,
            "variables": {"first": 5, "query": "updated_at:>='2026-06-01T00:00:00Z'"},
        }
        assert (
            httpx.post(url, json=body, headers={"X-Shopify-Access-Token": "nope"}).status_code
            == 401
        )
        r = httpx.post(url, json=body, headers={"X-Shopify-Access-Token": eps.shop.token}).json()
        page = r["data"]["orders"]
        assert len(page["nodes"]) == 5 and page["pageInfo"]["hasNextPage"]
        assert page["nodes"][0]["id"].startswith("gid://shopify/Order/")
        assert page["nodes"][0]["updatedAt"] >= "2026-06-01"
        assert set(r["extensions"]["cost"]["throttleStatus"]) == {
            "maximumAvailable",
            "currentlyAvailable",
            "restoreRate",
        }
        nxt = httpx.post(url, headers={"X-Shopify-Access-Token": eps.shop.token},
                         json={**body, "variables": {**body["variables"], "after": page["pageInfo"]["endCursor"]}}).json()  # fmt: skip
        assert {n["id"] for n in nxt["data"]["orders"]["nodes"]}.isdisjoint(
            {n["id"] for n in page["nodes"]}
        )

        woo = eps.woo.base_url + "/wp-json/wc/v3/orders"
        keys = (eps.woo.secrets["consumer_key"], eps.woo.secrets["consumer_secret"])
        assert httpx.get(woo, auth=OAuth1("ck", "bad")).status_code == 401
        assert httpx.get(woo, auth=keys).status_code == 401  # Basic over plain HTTP: Woo ignores it
        r = httpx.get(woo, params={"per_page": 10, "page": 2}, auth=OAuth1(*keys))
        assert r.status_code == 200 and len(r.json()) == 10
        assert int(r.headers["X-WP-TotalPages"]) == -(-int(r.headers["X-WP-Total"]) // 10)

        amz = eps.amazon.base_url
        assert httpx.get(amz + "/orders/v0/orders").status_code == 403
        bad = httpx.post(amz + "/auth/o2/token", data={"grant_type": "refresh_token", "refresh_token": "x",
                         "client_id": eps.amazon.secrets["client_id"], "client_secret": eps.amazon.secrets["client_secret"]})  # fmt: skip
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
        tok = httpx.post(
            amz + "/auth/o2/token", data={"grant_type": "refresh_token", **eps.amazon.secrets}
        ).json()
        r = httpx.get(amz + "/orders/v0/orders", headers={"x-amz-access-token": tok["access_token"]},
                      params={"MarketplaceIds": "A1PA6795UKMFR9", "LastUpdatedAfter": "2026-06-01T00:00:00Z"})  # fmt: skip
        assert r.status_code == 200 and "x-amzn-RateLimit-Limit" in r.headers
        assert all(o["MarketplaceId"] == "A1PA6795UKMFR9" for o in r.json()["payload"]["Orders"])
    with pytest.raises(httpx.ConnectError):  # stopped on exit
        httpx.post(url, json=body, timeout=2)


def test_fault_knobs_and_cost_bucket():
    faults = Faults(drop_rate=1.0)
    with run_emulators(
        tiny_store(), faults=faults, shop={"bucket_max": 100.0, "restore_rate": 1.0}
    ) as eps:
        url = eps.shop.base_url + "/admin/api/2025-01/graphql.json"
        hdr = {"X-Shopify-Access-Token": eps.shop.token}
        small = {"query": Q, "variables": {"first": 2}}
        with pytest.raises(httpx.RemoteProtocolError):  # body cut half-way
            httpx.post(url, json=small, headers=hdr)
        eps.shop.emulator.faults = Faults()
        big = httpx.post(url, json={"query": Q, "variables": {"first": 100}}, headers=hdr).json()
        assert big["errors"][0]["extensions"]["code"] == "THROTTLED"  # costs 102 of 100 points
        # 2 + 100 x 1 by Shopify's rules
        assert big["extensions"]["cost"]["requestedQueryCost"] == 102
    with run_emulators(
        tiny_store(), faults=Faults(throttle_rate=1.0, retry_after=2), channels=("woo",)
    ) as eps:
        r = httpx.get(eps.woo.base_url + "/wp-json/wc/v3/orders")
        assert r.status_code == 429 and r.headers["Retry-After"] == "2"
