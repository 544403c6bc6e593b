"""Lead times measured from receipts (issue 17): the receipts file, marts.supplier_performance,
and the planner using the measured lead time once enough receipts back it.

The mart test lands hand-made purchase orders and receipts through the file sync (the landing
gate holds the bad receipts, with their reasons) into a real DuckDB file and builds the models
with a real `dbt build`; its figures are computed by hand below. The planner tests feed
plan_replenishment a hand-made forecast, terms and supplier performance.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from forecasting.lead_times import apply_measured_lead_times
from forecasting.replenishment import plan_replenishment
from forecasting.settings import ReplenishmentSettings
from tests.conftest import make_config
from tests.test_dbt_project import run_dbt

RUN = date(2026, 11, 25)
SETTINGS = ReplenishmentSettings(forecast_level_days=None, min_receipts_for_measured_lead_time=5)

# --- the planner -------------------------------------------------------------------------------


def _forecast(mean: float = 10.0, days: int = 56) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "run_date": RUN,
            "sku": "S1",
            "location_id": "W1",
            "period_start": pl.date_range(RUN, RUN + timedelta(days=days - 1), eager=True),
            "mean": mean,
            "p10": mean - 2.0,
            "p50": mean,
            "p90": mean + 2.0,
            "model": "seasonal_naive",
        }
    )


def _inventory(on_hand: int = 20) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": ["S1"],
            "location_id": ["W1"],
            "on_hand": [on_hand],
            "committed": [0],
            "available": [on_hand],
            "on_order": [0],
            "inventory_position": [on_hand],
        }
    )


def _terms(lead: int = 14, lead_std: float = 1.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "supplier_id": ["SUP1"],
            "supplier_name": ["SUP1 Ltd"],
            "sku": ["S1"],
            "unit_cost": ["2.50"],
            "currency": ["EUR"],
            "lead_time_days": [lead],
            "lead_time_std_days": [lead_std],
            "moq": [1],
            "case_pack": [1],
        }
    )


def _performance(receipts: int, mean: float = 30.4, std: float = 6.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "grain": ["supplier_sku", "supplier"],
            "supplier_id": ["SUP1", "SUP1"],
            "sku": ["S1", None],
            "receipts": [receipts, 100],
            "lead_time_mean_days": [mean, 3.0],
            "lead_time_std_days": [std, 0.5],
        }
    )


@pytest.mark.fast
def test_measured_lead_time_replaces_the_terms_from_enough_receipts():
    terms = apply_measured_lead_times(_terms(), _performance(receipts=5), SETTINGS)
    row = terms.row(0, named=True)
    assert row["lead_time_source"] == "measured"
    assert row["lead_time_days"] == 30  # 30.4 rounded
    assert row["lead_time_std_days"] == 6.0
    assert row["terms_lead_time_days"] == 14 and row["lead_time_receipts"] == 5
    assert row["lead_time_note"] == (
        "lead time 30 days measured from 5 receipts (sd 6.0 days; terms say 14)"
    )
    # the supplier-wide row (3 days over 100 receipts) is never used for a SKU
    below = apply_measured_lead_times(_terms(), _performance(receipts=4), SETTINGS).row(
        0, named=True
    )
    assert below["lead_time_source"] == "terms"
    assert (below["lead_time_days"], below["lead_time_std_days"]) == (14, 1.0)
    assert below["lead_time_note"] == (
        "lead time 14 days from the supplier's terms (4 receipts, 5 needed to measure it)"
    )
    # no performance at all, or a SKU without receipts: the terms
    none = apply_measured_lead_times(_terms(), None, SETTINGS).row(0, named=True)
    assert (none["lead_time_source"], none["lead_time_days"], none["lead_time_receipts"]) == (
        "terms",
        14,
        0,
    )


@pytest.mark.fast
def test_terms_without_a_lead_time_stay_without_one():
    terms = _terms().with_columns(lead_time_days=pl.lit(None, dtype=pl.Int64))
    out = apply_measured_lead_times(terms, _performance(receipts=50), SETTINGS)
    assert out["lead_time_days"].to_list() == [None]
    assert out["lead_time_source"].to_list() == ["terms"]


@pytest.mark.fast
def test_the_purchase_line_uses_and_names_the_measured_lead_time():
    """Measured 30 days (sd 6) against terms of 14 (sd 1): the line is planned over 30 + 7 days,
    so it orders more, arrives later, and says where its lead time came from."""
    plain = plan_replenishment(_forecast(), _inventory(), _terms(), SETTINGS, RUN)
    measured_terms = apply_measured_lead_times(_terms(), _performance(receipts=6), SETTINGS)
    measured = plan_replenishment(_forecast(), _inventory(), measured_terms, SETTINGS, RUN)
    few_terms = apply_measured_lead_times(_terms(), _performance(receipts=4), SETTINGS)
    few = plan_replenishment(_forecast(), _inventory(), few_terms, SETTINGS, RUN)

    p = plain.po_suggestions.row(0, named=True)
    m = measured.po_suggestions.row(0, named=True)
    f = few.po_suggestions.row(0, named=True)
    assert (p["lead_time_days"], p["lead_time_source"]) == (14, "terms")
    assert "lead time" not in p["reason"]  # told nothing about receipts, it says nothing
    assert (m["lead_time_days"], m["lead_time_source"]) == (30, "measured")
    assert m["expected_receipt_date"] == RUN + timedelta(days=30)
    assert "lead time 30 days measured from 6 receipts (sd 6.0 days; terms say 14)" in m["reason"]
    assert measured.replenishment["lead_time_days"].to_list() == [30]
    # demand 10/day over L + R = 37 days, plus z * sqrt(37 * sigma_d^2 + 10^2 * 6^2)
    sigma_d = 4.0 / 2.563
    z = 1.6448536269514722  # 95%, no ABC class
    assert m["order_up_to"] == math.ceil(370 + z * math.sqrt(37 * sigma_d**2 + 100 * 36))
    assert m["suggested_qty"] > p["suggested_qty"]
    # below the threshold: the terms, and the line says why
    assert (f["lead_time_days"], f["lead_time_source"]) == (14, "terms")
    assert f["suggested_qty"] == p["suggested_qty"]
    assert "from the supplier's terms (4 receipts, 5 needed to measure it)" in f["reason"]


# --- the landing gate and the mart ---------------------------------------------------------------

PO_HEADER = (
    "po_id,supplier_id,sku,location_id,quantity_ordered,quantity_received,ordered_at,"
    "expected_at,status,updated_at\n"
)
# SUP-1 x SKU-A: P1 100 ordered 03-01 (expected 03-11), P2 10 ordered 03-01 (expected 03-21),
# P3 50 ordered 03-20 (expected 04-10, open); SUP-1 x SKU-B: P4 20 ordered 03-05 (expected
# 03-15), short by 5; SUP-2 x SKU-A: P5 cancelled. A line without ordered_at (an older file's)
# lands and is not measured.
POS = PO_HEADER + (
    "P1,SUP-1,SKU-A,WH-AMS,100,100,2026-03-01,2026-03-11,received,2026-03-31T12:00:00Z\n"
    "P2,SUP-1,SKU-A,WH-AMS,10,10,2026-03-01,2026-03-21,received,2026-03-21T12:00:00Z\n"
    "P3,SUP-1,SKU-A,WH-AMS,50,0,2026-03-20,2026-04-10,open,2026-03-20T12:00:00Z\n"
    "P4,SUP-1,SKU-B,WH-LON,20,15,2026-03-05,2026-03-15,partial,2026-03-16T12:00:00Z\n"
    "P5,SUP-2,SKU-A,WH-AMS,30,0,2026-03-01,2026-03-05,cancelled,2026-03-03T12:00:00Z\n"
    "P6,SUP-1,SKU-A,WH-AMS,5,5,,2026-03-05,received,2026-03-05T12:00:00Z\n"
)
RECEIPTS = (
    "po_id,sku,location_id,received_at,quantity_received\n"
    "P1,SKU-A,WH-AMS,2026-03-11T09:00:00Z,95\n"  # 10 days, on time
    "P1,SKU-A,WH-AMS,2026-03-31T15:00:00Z,5\n"  # 30 days, late: P1 in full on 03-31
    "P2,SKU-A,WH-AMS,2026-03-21T08:00:00Z,10\n"  # 20 days, on time, in full
    "P4,SKU-B,WH-LON,2026-03-16T10:00:00Z,15\n"  # 11 days, late, short
    "P6,SKU-A,WH-AMS,2026-03-05T10:00:00Z,5\n"  # no order date: no lead time
    # held by the gate, with their reasons:
    "P2,SKU-A,WH-AMS,2026-03-22T08:00:00Z,-2\n"  # negative quantity
    "P2,SKU-A,WH-AMS,2026-03-23T08:00:00Z,0\n"  # nothing received
    "P2,SKU-A,WH-AMS,2026-03-24T08:00:00Z,1.5\n"  # not whole
    "P2,SKU-A,WH-AMS,next Tuesday,3\n"  # unreadable date
    "P2,SKU-A,WH-XXX,2026-03-25T08:00:00Z,3\n"  # unknown location
)


@pytest.fixture(scope="module")
def mart(tmp_path_factory):
    from flows.sync import sync_files

    tmp = tmp_path_factory.mktemp("lead_times")
    from flows.demo import demo_config_dict

    # half of the receipts file is bad on purpose: keep it from being refused whole
    quality = {**demo_config_dict()["quality"], "max_bad_share": 0.9}
    cfg = make_config(tmp, quality=quality)
    drop = Path(cfg.files.drop_dir)
    (drop / "purchase_orders").mkdir(parents=True)
    (drop / "purchase_orders" / "pos.csv").write_text(POS)
    (drop / "purchase_order_receipts").mkdir(parents=True)
    (drop / "purchase_order_receipts" / "receipts.csv").write_text(RECEIPTS)
    report = sync_files(cfg)
    assert report.files_rejected == 0, report.rejected
    # the models the mart needs, with their tests (and none of the marts' it does not need)
    run_dbt(
        Path(cfg.warehouse),
        tmp,
        "build",
        "--quiet",
        "--indirect-selection",
        "cautious",
        "--select",
        "+supplier_performance",
    )
    con = duckdb.connect(cfg.warehouse, read_only=True)
    yield con, report
    con.close()


def test_bad_receipts_are_held_with_their_reason(mart):
    con, report = mart
    assert report.by_table.get("files__purchase_order_receipts") == 5
    held = con.execute(
        """select json_extract_string(payload, '$.quantity_received'),
                  json_extract_string(payload, '$.location_id'), reason
           from ops.quarantine where channel = 'files' and stream = 'purchase_order_receipts'
           order by 1, 2"""
    ).fetchall()
    assert len(held) == 5, held
    reasons = {(q, loc): r for q, loc, r in held}
    assert "quantity_received" in reasons["-2", "WH-AMS"]
    assert "quantity_received" in reasons["0", "WH-AMS"]
    assert "quantity_received" in reasons["1.5", "WH-AMS"]
    assert "location" in reasons["3", "WH-XXX"]
    assert "timestamp" in reasons["3", "WH-AMS"]
    # the PO line without an order date landed (ordered_at is optional)
    assert con.execute(
        "select ordered_date from staging.stg_files__purchase_orders where po_id = 'P6'"
    ).fetchall() == [(None,)]


def test_supplier_performance_equals_the_hand_computation(mart):
    con, _ = mart
    cols = [
        "receipts", "units_received", "lead_time_mean_days", "lead_time_std_days",
        "lead_time_p50_days", "lead_time_p90_days", "lead_time_min_days", "lead_time_max_days",
        "on_time_rate", "po_lines", "lines_judged", "lines_in_full", "lines_on_time_in_full",
        "in_full_rate", "on_time_in_full_rate", "as_of_date",
    ]  # fmt: skip
    rows = con.execute(
        f"""select grain, supplier_id, sku, {", ".join(cols)}
            from marts.supplier_performance order by grain, supplier_id, sku"""
    ).fetchall()
    got = {(g, s, k): dict(zip(cols, rest, strict=True)) for g, s, k, *rest in rows}
    # SUP-2's only line is cancelled: no row. P6 has no order date: not measured.
    assert set(got) == {
        ("supplier_sku", "SUP-1", "SKU-A"),
        ("supplier_sku", "SUP-1", "SKU-B"),
        ("supplier", "SUP-1", None),
    }

    def weighted(pairs: list[tuple[int, int]]) -> tuple[float, float]:
        w = sum(q for q, _ in pairs)
        mean = sum(q * x for q, x in pairs) / w
        denom = w - sum(q * q for q, _ in pairs) / w
        return mean, math.sqrt(sum(q * (x - mean) ** 2 for q, x in pairs) / denom)

    as_of = date(2026, 3, 31)  # the last receipt
    a_mean, a_std = weighted([(95, 10), (5, 30), (10, 20)])
    a = got["supplier_sku", "SUP-1", "SKU-A"]
    assert a == {
        "receipts": 3,
        "units_received": 110,
        "lead_time_mean_days": pytest.approx(round(a_mean, 2)),
        "lead_time_std_days": pytest.approx(round(a_std, 2)),
        "lead_time_p50_days": 10,  # 95 of 110 units by day 10
        "lead_time_p90_days": 20,  # 105 of 110 by day 20 (95 is 86%)
        "lead_time_min_days": 10,
        "lead_time_max_days": 30,
        "on_time_rate": pytest.approx(round(105 / 110, 4)),
        "po_lines": 3,  # P1, P2, P3
        "lines_judged": 2,  # P3 not due by 03-31 and not complete
        "lines_in_full": 2,
        "lines_on_time_in_full": 1,  # P1 completed on 03-31, after 03-11
        "in_full_rate": pytest.approx(1.0),
        "on_time_in_full_rate": pytest.approx(0.5),
        "as_of_date": as_of,
    }
    b = got["supplier_sku", "SUP-1", "SKU-B"]
    assert (b["receipts"], b["lead_time_mean_days"], b["lead_time_std_days"]) == (1, 11, None)
    assert (b["lead_time_p50_days"], b["lead_time_p90_days"], b["on_time_rate"]) == (11, 11, 0)
    assert (b["lines_judged"], b["lines_in_full"], b["in_full_rate"]) == (1, 0, 0)
    s_mean, s_std = weighted([(95, 10), (5, 30), (10, 20), (15, 11)])
    s = got["supplier", "SUP-1", None]
    assert s["receipts"] == 4 and s["units_received"] == 125 and s["po_lines"] == 4
    assert s["lead_time_mean_days"] == pytest.approx(round(s_mean, 2))
    assert s["lead_time_std_days"] == pytest.approx(round(s_std, 2))
    # units by day 10: 95 (76%), by 11: 110 (88%), by 20: 120 (96%)
    assert (s["lead_time_p50_days"], s["lead_time_p90_days"]) == (10, 20)
    assert s["on_time_rate"] == pytest.approx(round(105 / 125, 4))
    assert (s["lines_judged"], s["lines_in_full"], s["lines_on_time_in_full"]) == (3, 2, 1)
    assert s["in_full_rate"] == pytest.approx(round(2 / 3, 4))
