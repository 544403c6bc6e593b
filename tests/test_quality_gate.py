"""The landing gate judges many pages or files in one GX validation, with verdicts per group."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.records import RawRecord
from flows.quality import GateContext, gate, gate_groups
from flows.staged import stage

pytestmark = pytest.mark.fast  # make test-fast

T = datetime(2026, 1, 1, tzinfo=UTC)


def _order(i: int, qty: object = 1, currency: str = "EUR") -> RawRecord:
    line = {"quantity": qty, "price": "10.00", "sku": "SKU-1"}
    return RawRecord(
        str(i),
        T,
        {
            "id": i,
            "created_at": T.isoformat(),
            "currency": currency,
            "total_price": "10.00",
            "total_line_items_price": "10.00",
            "line_items": [line],
        },
    )


CTX = GateContext(("EUR",), known_skus=frozenset({"SKU-1"}))


def test_verdicts_are_per_group_in_one_validation():
    mostly_good = [_order(i) for i in range(9)] + [_order(9, qty="two")]
    mostly_bad = [_order(i) for i in range(5)] + [_order(i, currency="XXX") for i in range(5, 10)]
    # the same ids and times in both groups: uniqueness is judged within a page, not across
    a, b = gate_groups("shop__orders", [stage(mostly_good), stage(mostly_bad)], CTX)
    assert a.refused is None and len(a.good) == 9
    assert [sid for sid, _, _ in a.bad] == ["9"]
    assert "min_quantity is a whole number" in a.bad[0][1]
    assert b.refused is not None and "5 of 10" in str(b.refused) and len(b.good) == 0
    by_name = {o["expectation"]: o["unexpected_count"] for o in b.outcomes}
    assert by_name["currency is one of the configured EUR"] == 5


def test_exact_repeats_land_once_and_conflicts_are_held():
    twice = [_order(1), _order(1), _order(2)] + [_order(i) for i in range(3, 12)]
    conflict = RawRecord("2", T, {**_order(2).payload, "note": "other content, same version"})
    verdict = gate("shop__orders", stage([*twice, conflict]), CTX)
    assert verdict.refused is None
    assert len(verdict.good) == 10  # order 1 once, 3..11; both versions of order 2 held
    assert sorted(sid for sid, _, _ in verdict.bad) == ["2", "2"]
    assert all("id unique" in reason for _, reason, _ in verdict.bad)


def test_unreadable_rows_count_towards_the_refusal():
    verdict = gate("shop__orders", stage([_order(i) for i in range(3)]), CTX, extra_bad=1)
    assert verdict.refused is not None  # 1 of 4 is more than 20%
    assert (
        gate("shop__orders", stage([_order(i) for i in range(4)]), CTX, extra_bad=1).refused is None
    )
