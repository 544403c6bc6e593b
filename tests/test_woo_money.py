"""WooCommerce fee lines are part of `total`: the landing gate adds them up as WooCommerce does.

The orders are Woo's published examples (`../shared/fixtures/platform-docs/woo/`) and the
retrieve example's order with a fee line added (Woo publishes none). How fees and amount-only
refunds land in the marts: `tests/test_woo_examples.py` (the documents through the connector and
one `dbt build`).
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from connectors.records import RawRecord
from flows.quality import GateContext, gate
from flows.staged import stage
from sandbox.shared import PLATFORM_DOCS

DOCS = PLATFORM_DOCS / "woo"
D = Decimal


def _doc(name: str):
    return json.loads((DOCS / f"{name}.json").read_text())


def order_with_fee(order_id: int = 9001, fee: str = "2.50", fee_tax: str = "0.00") -> dict:
    """Order 727 of 'Retrieve an order' (18.00 of lines + 10.00 shipping + 1.35 tax = 29.35) with
    a payment fee line added, in the shape of Woo's fee line (its order-properties table): the
    total grows by the fee and its tax, as WooCommerce computes it."""
    o = copy.deepcopy(_doc("orders__retrieve_an_order"))
    o["id"], o["number"] = order_id, str(order_id)
    o["fee_lines"] = [
        {
            "id": 320,
            "name": "Payment fee",
            "tax_class": "",
            "tax_status": "taxable" if D(fee_tax) else "none",
            "total": fee,
            "total_tax": fee_tax,
            "taxes": [],
            "meta_data": [],
        }
    ]
    o["total_tax"] = str(D(o["total_tax"]) + D(fee_tax))
    o["total"] = str(D(o["total"]) + D(fee) + D(fee_tax))
    return o


# ------------------------------------------------------------------------------ the landing gate

CTX = GateContext(("EUR", "USD", "GBP"))


def _records(orders: list[dict]) -> list[RawRecord]:
    from connectors.woocommerce import order_record

    return [order_record(o) for o in orders]


@pytest.mark.fast
def test_gate_adds_up_fee_lines_as_woo_does():
    """An order with a fee line passes the "line totals add up" check; one whose total does not
    include its fee is held. Before fee lines counted, every fee order was held and a page with
    more than 20% of them was refused whole."""
    plain = [order_with_fee(100 + i, fee="0.00") for i in range(3)]
    fees = [order_with_fee(200 + i, fee="2.50", fee_tax="0.19") for i in range(4)]
    fees.append(order_with_fee(299, fee="-1.00"))  # a discount given as a negative fee
    docs = _doc("orders__list_all_orders")  # 727 and 723
    wrong = order_with_fee(300, fee="2.50")
    wrong["total"] = "29.35"  # the fee is not in the total: the parts do not add up
    verdict = gate("woo__orders", stage(_records([*plain, *fees, *docs, wrong])), CTX)
    assert verdict.refused is None
    assert [sid for sid, _, _ in verdict.bad] == ["300"]
    assert "line_totals add up to the total" in verdict.bad[0][1]
    assert len(verdict.good) == len(plain) + len(fees) + len(docs)
