"""The WooCommerce emulator answers in the shape of WooCommerce's published examples, and enforces
what WooCommerce enforces (auth by transport, per_page at most 100, paging headers).

The expected shapes are read from the docs' "JSON response example"s
(`../shared/fixtures/platform-docs/woo/`), not from our connector: every object must have exactly
the keys of the documented object, every value the JSON type the examples give it (a key that is
a string in one example and null in another may be either). Lists the examples leave empty
(`fee_lines`, `coupon_lines`) are checked against the docs' property tables for those items
(`_orders.md`, "Order - Fee lines properties" / "Coupon lines properties").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import quote

import httpx
import pytest

from connectors.woocommerce.auth import OAuth1, QueryKeys
from sandbox.emulators import run_emulators
from sandbox.emulators.woocommerce import WooEmulator
from sandbox.shared import PLATFORM_DOCS
from tests.test_connector_helpers import tiny_store

pytestmark = pytest.mark.fast

DOCS = PLATFORM_DOCS / "woo"
PREFIX = "/wp-json/wc/v3"


def _doc(name: str):
    return json.loads((DOCS / f"{name}.json").read_text())


def _jtype(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    raise TypeError(type(v))


def schema_of(examples: list) -> dict:
    """The shape several examples of one value share: its JSON types, an object's keys (each
    with the shape of its values) and a list's element shape (None when every example list is
    empty)."""
    out: dict = {"types": {_jtype(v) for v in examples}, "keys": None, "items": None}
    objects = [v for v in examples if isinstance(v, dict)]
    if objects:
        keys = set().union(*objects)
        out["keys"] = {k: schema_of([o[k] for o in objects if k in o]) for k in keys}
        # a key some examples lack is optional (`_links.customer`: only orders of a customer)
        out["required"] = set.intersection(*(set(o) for o in objects))
    elements = [e for v in examples if isinstance(v, list) for e in v]
    if elements:
        out["items"] = schema_of(elements)
    return out


# The items the examples never show (their lists are empty there), from the docs' tables.
TABLES = {
    "fee_lines": {"id": 1, "name": "", "tax_class": "", "tax_status": "", "total": "",
                  "total_tax": "", "taxes": [{"id": 1, "total": "", "subtotal": ""}],
                  "meta_data": []},
    "coupon_lines": {"id": 1, "code": "", "discount": "", "discount_tax": "", "meta_data": []},
}  # fmt: skip


def mismatches(value: object, schema: dict, path: str = "$") -> list[str]:
    kind = _jtype(value)
    if kind not in schema["types"]:
        return [f"{path}: {kind}, documented {sorted(schema['types'])}"]
    if isinstance(value, dict):
        keys = schema["keys"]
        missing, extra = schema["required"] - set(value), set(value) - set(keys)
        if missing or extra:
            return [f"{path}: missing {sorted(missing)}, not documented {sorted(extra)}"]
        return [m for k in value for m in mismatches(value[k], keys[k], f"{path}.{k}")]
    if isinstance(value, list) and value:
        items = schema["items"]
        name = path.rsplit(".", 1)[-1]
        if items is None and name in TABLES:
            items = schema_of([TABLES[name]])
        if items is None:
            return [f"{path}: documented empty, served {len(value)} items of unknown shape"]
        return [m for n, e in enumerate(value) for m in mismatches(e, items, f"{path}[{n}]")]
    return []


ORDER = schema_of([*_doc("orders__list_all_orders"), _doc("orders__retrieve_an_order")])
REFUND = schema_of([*_doc("order-refunds__list_all_refunds"), _doc("order-refunds__retrieve_a_refund")])  # fmt: skip
CUSTOMER = schema_of([*_doc("customers__list_all_customers"), _doc("customers__retrieve_a_customer")])  # fmt: skip
# a refund line's taxes: the examples' refund has none; its items are order-line taxes
REFUND["keys"]["line_items"]["items"]["keys"]["taxes"] = ORDER["keys"]["line_items"]["items"][
    "keys"
]["taxes"]


def _get(emu: WooEmulator, path: str, **params) -> httpx.Response:
    return httpx.get(
        emu.base_url + PREFIX + path, params=params, auth=OAuth1(emu.key, emu.secret), timeout=10
    )


def _all(emu: WooEmulator, path: str, **params) -> list:
    out, page = [], 1
    while True:
        r = _get(emu, path, page=page, per_page=100, **params)
        assert r.status_code == 200, r.text
        out += r.json()
        if page >= int(r.headers["X-WP-TotalPages"]):
            return out
        page += 1


def test_every_answer_has_the_documented_shape():
    with run_emulators(tiny_store(), channels=("woo",)) as eps:
        emu = eps.woo.emulator
        book = emu.book
        refunded = [str(o["source_id"]) for i, o in enumerate(book.orders) if book.refunds[i]][:3]
        plain = next(str(o["source_id"]) for i, o in enumerate(book.orders) if not book.refunds[i]
                     and not o["cancelled"] and o["placed_ts"] < emu.now)  # fmt: skip
        emu.add_fee(plain, "Payment fee", 250, 50)
        emu.add_fee(plain, "Loyalty discount", -100)
        emu.add_amount_refund(plain, 1000)
        orders = _all(emu, "/orders", orderby="id", order="asc")
        assert len(orders) > 50
        problems = [m for o in orders for m in mismatches(o, ORDER, f"order {o['id']}")]
        for oid in [*refunded, plain]:
            refunds = _all(emu, f"/orders/{oid}/refunds")
            assert refunds
            problems += [m for r in refunds for m in mismatches(r, REFUND, f"refund {r['id']}")]
        customers = _all(emu, "/customers")
        problems += [m for c in customers for m in mismatches(c, CUSTOMER, f"customer {c['id']}")]
        assert problems == []
        # what the served documents say, as Woo computes it
        o = next(o for o in orders if str(o["id"]) == plain)
        parts = sum(float(li["total"]) for li in o["line_items"])
        parts += sum(float(f["total"]) for f in o["fee_lines"])
        parts += float(o["shipping_total"]) + float(o["total_tax"])
        assert abs(parts - float(o["total"])) < 0.005
        assert [f["total"] for f in o["fee_lines"]] == ["2.50", "-1.00"]
        assert sum(float(t["tax_total"]) for t in o["tax_lines"]) == pytest.approx(
            float(o["total_tax"])
        )
        assert o["refunds"] and o["refunds"][0]["total"] == "-10.00"
        (amount_only,) = [r for r in _all(emu, f"/orders/{plain}/refunds") if not r["line_items"]]
        assert amount_only["amount"] == "10.00"
        assert any(o["date_completed_gmt"] for o in orders) and o["prices_include_tax"] is False


def test_paging_limits_and_link_header():
    with run_emulators(tiny_store(), channels=("woo",)) as eps:
        emu = eps.woo.emulator
        r = _get(emu, "/orders", per_page=101)
        assert r.status_code == 400
        body = r.json()
        assert body["code"] == "rest_invalid_param" and body["data"]["status"] == 400
        assert "per_page must be between 1 (inclusive) and 100 (inclusive)" in json.dumps(body)
        first = _get(emu, "/orders")  # WooCommerce's default: 10 per page
        assert len(first.json()) == 10 and 'rel="next"' in first.headers["Link"]
        assert 'rel="prev"' not in first.headers["Link"]
        second = _get(emu, "/orders", page=2, per_page=10)
        links = dict(
            (part.split(";")[1].strip(), part.split(";")[0].strip("<> "))
            for part in second.headers["Link"].split(", ")
        )
        assert set(links) == {'rel="prev"', 'rel="next"'}
        assert "page=1" in links['rel="prev"'] and "page=3" in links['rel="next"']
        total = int(second.headers["X-WP-Total"])
        assert int(second.headers["X-WP-TotalPages"]) == -(-total // 10)


def _signed(emu: WooEmulator, secret: str, nonce: str, stamp: int) -> dict:
    """OAuth 1.0a parameters signed by hand (RFC 5849 3.4), independently of oauthlib."""
    params = {"oauth_consumer_key": emu.key, "oauth_nonce": nonce, "oauth_timestamp": str(stamp),
              "oauth_signature_method": "HMAC-SHA256", "per_page": "5"}  # fmt: skip
    enc = lambda s: quote(s, safe="~")  # noqa: E731
    norm = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(params.items()))
    base = f"GET&{enc(emu.base_url + PREFIX + '/customers')}&{enc(norm)}"
    sig = hmac.new(f"{secret}&".encode(), base.encode(), hashlib.sha256).digest()
    return {**params, "oauth_signature": base64.b64encode(sig).decode()}


def test_auth_is_decided_by_the_transport_as_woocommerce_does():
    store = tiny_store()
    url = PREFIX + "/customers"
    with run_emulators(store, channels=("woo",)) as eps:  # a shop on plain HTTP
        emu = eps.woo.emulator
        keys = (emu.key, emu.secret)
        for kwargs in ({"auth": keys}, {"params": {"consumer_key": keys[0], "consumer_secret": keys[1]}}):  # fmt: skip
            r = httpx.get(emu.base_url + url, **kwargs)
            assert r.status_code == 401 and r.json()["code"] == "woocommerce_rest_cannot_view"
        now = int(time.time())
        ok = httpx.get(emu.base_url + url, params=_signed(emu, emu.secret, "n1", now))
        assert ok.status_code == 200 and len(ok.json()) == 5
        again = httpx.get(emu.base_url + url, params=_signed(emu, emu.secret, "n1", now))
        assert "nonce has already been used" in again.json()["message"]
        stale = httpx.get(emu.base_url + url, params=_signed(emu, emu.secret, "n2", now - 3600))
        assert stale.json()["message"] == "Invalid timestamp."
        wrong = httpx.get(emu.base_url + url, params=_signed(emu, "cs_wrong", "n3", now))
        assert wrong.status_code == 401 and "Invalid signature" in wrong.json()["message"]
        header = httpx.get(emu.base_url + url, auth=OAuth1(*keys))
        assert header.status_code == 200
    emu = WooEmulator(store, scheme="https").start()  # a shop behind TLS
    try:
        assert httpx.get(emu.base_url + url, auth=(emu.key, emu.secret)).status_code == 200
        q = {"consumer_key": emu.key, "consumer_secret": emu.secret}
        assert httpx.get(emu.base_url + url, params=q).status_code == 200
        assert httpx.get(emu.base_url + url, auth=QueryKeys(*q.values())).status_code == 200
        bad = httpx.get(emu.base_url + url, auth=(emu.key, "cs_wrong"))
        assert bad.status_code == 401 and bad.json()["message"] == "Consumer secret is invalid."
        assert emu.auth_seen == {"basic": 1, "query_string": 2}
    finally:
        emu.stop()
