"""Transfers between own locations before purchases (forecasting/transfers.py), on hand-made
frames: one SKU selling 10 a day at every location, supplier lead time 14 days, review 7, so
the order-up-to level and the reorder point are both 226 (tests/test_replenishment.py,
test_levels_hand_computed). The tests set the buffer to 14 days: a location keeps the higher
of 226 + 14 days' buffer = 366 and its keep level, the 95% quantile of demand over
L + R + 14 = 35 days (mean 350, variance 4 a day: 350 + 1.645 * sqrt(140) = 369.5), so it
gives stock above 370."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest
from openpyxl import load_workbook

from forecasting.buyer_files import write_buyer_files
from forecasting.replenishment import ReplenishmentPlan, plan_replenishment
from forecasting.schemas import TRANSFER_COLUMNS
from forecasting.settings import ReplenishmentSettings

RUN = date(2026, 11, 25)
KINDS = {"W1": "own_warehouse", "W2": "3pl", "FBA": "marketplace_fulfilled"}


def lane(src: str, dst: str, days: int = 2, cost: str = "0.40", currency: str = "EUR") -> dict:
    return {
        "from": src,
        "to": dst,
        "lead_time_days": days,
        "cost_per_unit": cost,
        "currency": currency,
    }


def settings(*lanes: dict, **kw: object) -> ReplenishmentSettings:
    kw.setdefault("transfer_buffer_days", 14)
    return ReplenishmentSettings(forecast_level_days=None, transfer_lanes=lanes, **kw)


def forecast(locations: list[str]) -> pl.DataFrame:
    half = 2.0 * 2.563 / 2  # sigma 2 a day
    days = pl.date_range(RUN, RUN + timedelta(days=55), eager=True)
    return pl.concat(
        pl.DataFrame(
            {
                "run_date": RUN,
                "sku": "S1",
                "location_id": loc,
                "period_start": days,
                "mean": 10.0,
                "p10": 10.0 - half,
                "p50": 10.0,
                "p90": 10.0 + half,
                "model": "seasonal_naive",
            }
        )
        for loc in locations
    )


def inventory(on_hand: dict[str, int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": ["S1"] * len(on_hand),
            "location_id": list(on_hand),
            "on_hand": list(on_hand.values()),
            "committed": [0] * len(on_hand),
            "on_order": [0] * len(on_hand),
        }
    )


def terms(cost: str = "2.35", currency: str = "EUR") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "supplier_id": ["SUP1"],
            "supplier_name": ["SUP1 Ltd"],
            "sku": ["S1"],
            "unit_cost": [Decimal(cost)],
            "currency": [currency],
            "lead_time_days": [14],
            "lead_time_std_days": [0.0],
            "moq": [1],
            "case_pack": [1],
        },
        schema_overrides={"unit_cost": pl.Decimal(18, 4)},
    )


def plan(
    on_hand: dict[str, int], st: ReplenishmentSettings, fx=None, **kw: object
) -> ReplenishmentPlan:
    return plan_replenishment(
        forecast(list(on_hand)),
        inventory(on_hand),
        kw.pop("supplier_terms", None) or terms(),  # type: ignore[arg-type]
        st,
        RUN,
        location_kinds=KINDS,
        fx_to_base=fx,
        base_currency="EUR",
    )


def lines_at(p: ReplenishmentPlan, loc: str) -> list[dict]:
    return p.po_suggestions.filter(location_id=loc).to_dicts()


@pytest.mark.fast
def test_excess_in_one_warehouse_covers_the_other_and_nothing_is_bought() -> None:
    p = plan({"W1": 1000, "W2": 50}, settings(lane("W1", "W2")))
    assert p.transfers.columns == TRANSFER_COLUMNS
    assert p.transfers.height == 1
    t = p.transfers.row(0, named=True)
    # W2 wants S - IP = 226 - 50; W1 can give 1000 - 370 = 630
    assert (t["sku"], t["from_location_id"], t["to_location_id"], t["quantity"]) == (
        "S1",
        "W1",
        "W2",
        176,
    )
    assert t["expected_arrival_date"] == RUN + timedelta(days=2)
    assert t["transfer_cost"] == Decimal("70.40") and t["currency"] == "EUR"
    assert t["from_excess"] is True and t["to_marketplace_fulfilled"] is False
    assert t["reason"] == (
        "W1 holds 100.0 days of cover: position 1000 above what it keeps, its demand over lead "
        "time + review + 14 days at its service level (= 370; order-up-to 226); W2 below reorder point: position 50 <= 226 (order-up-to 226); "
        "lane W1->W2 2 days at 0.40 EUR/unit vs supplier SUP1 14 days at 2.35 EUR/unit"
    )
    # the transfer brings W2 to its order-up-to level: no purchase anywhere
    assert p.po_suggestions.height == 0
    # the replenishment rows keep the stock as it is
    rep = p.replenishment.filter(location_id="W2").row(0, named=True)
    assert rep["inventory_position"] == 50


@pytest.mark.fast
def test_partial_excess_leaves_a_purchase_for_the_rest() -> None:
    p = plan({"W1": 400, "W2": 50}, settings(lane("W1", "W2")))
    assert p.transfers["quantity"].to_list() == [30]  # 400 - 370
    (line,) = lines_at(p, "W2")
    # position 50 + 30 by transfer = 80, up to 226
    assert line["suggested_qty"] == 146
    assert "position counts 30 arriving by transfer" in line["reason"]
    assert lines_at(p, "W1") == []


@pytest.mark.fast
@pytest.mark.parametrize(
    "slow_or_dear",
    [lane("W1", "W2", days=14), lane("W1", "W2", days=20), lane("W1", "W2", cost="2.35")],
    ids=["as-slow-as-the-supplier", "slower", "as-dear-as-buying"],
)
def test_a_purchase_when_the_transfer_arrives_too_late_or_costs_more(slow_or_dear) -> None:
    p = plan({"W1": 1000, "W2": 50}, settings(slow_or_dear))
    assert p.transfers.height == 0
    (line,) = lines_at(p, "W2")
    assert line["suggested_qty"] == 176


@pytest.mark.fast
def test_costs_in_different_currencies_are_compared_in_the_base_currency() -> None:
    gbp = settings(lane("W1", "W2", cost="2.10", currency="GBP"))
    # 2.10 GBP = 2.457 EUR: dearer than buying at 2.35 EUR
    dear = plan({"W1": 1000, "W2": 50}, gbp, fx={"GBP": Decimal("1.17")})
    assert dear.transfers.height == 0 and len(lines_at(dear, "W2")) == 1
    # at 1.10 EUR per GBP it is 2.31 EUR: cheaper
    cheap = plan({"W1": 1000, "W2": 50}, gbp, fx={"GBP": Decimal("1.10")})
    assert cheap.transfers["quantity"].to_list() == [176]
    assert "2.35 EUR/unit (2.31 vs 2.35 EUR/unit)" in cheap.transfers["reason"][0]
    # no rate: not comparable, so no transfer
    unknown = plan({"W1": 1000, "W2": 50}, gbp, fx=None)
    assert unknown.transfers.height == 0 and len(lines_at(unknown, "W2")) == 1


@pytest.mark.fast
def test_marketplace_location_is_replenished_by_transfer_not_from_the_supplier() -> None:
    # the lane costs more than buying and the sender has no excess: FBA still gets its stock
    # from the warehouse, and the warehouse buys it back
    st = settings(lane("W1", "FBA", days=3, cost="5.00"))
    p = plan({"W1": 300, "FBA": 20}, st)
    # FBA's levels protect the lane's 3 days + the review's 7, not the supplier's 14:
    # ceil(100 + 1.6449 * sqrt(10 * 2^2)) = 111
    fba = p.replenishment.filter(location_id="FBA").row(0, named=True)
    assert (fba["lead_time_days"], fba["order_up_to"], fba["reorder_point"]) == (3, 111, 111)
    assert p.transfers.height == 1
    t = p.transfers.row(0, named=True)
    assert (t["from_location_id"], t["to_location_id"], t["quantity"]) == ("W1", "FBA", 91)
    assert t["from_excess"] is False and t["to_marketplace_fulfilled"] is True
    assert "vs supplier SUP1 14 days" in t["reason"]
    assert "FBA is marketplace-fulfilled: replenished from own locations" in t["reason"]
    assert lines_at(p, "FBA") == []
    # W1 plans for what it sends on: FBA's 10 a day over its own 14 + 7 days on top of its
    # own, order-up-to 442; position 300 - 91 = 209
    w1_rep = p.replenishment.filter(location_id="W1").row(0, named=True)
    assert (w1_rep["lead_time_demand"], w1_rep["order_up_to"]) == (420.0, 442)
    (w1,) = lines_at(p, "W1")
    assert w1["suggested_qty"] == 233
    assert "position counts 91 leaving by transfer as gone" in w1["reason"]


@pytest.mark.fast
def test_marketplace_location_short_after_transfers_needs_attention_unless_buying_direct() -> None:
    st = settings(lane("W1", "FBA", days=3))
    p = plan({"W1": 0, "FBA": 20}, st)
    assert p.transfers.height == 0 and p.po_suggestions.height == 1  # W1 buys for itself only
    assert lines_at(p, "FBA") == []
    need = p.needs_attention.filter(location_id="FBA")["reason"].to_list()
    assert len(need) == 1 and "not bought for directly" in need[0]
    direct = plan({"W1": 0, "FBA": 20}, settings(lane("W1", "FBA", days=3),
                                                   marketplace_buy_direct=True))  # fmt: skip
    # bought direct, FBA protects the supplier's 14 days again: 226 - 20
    assert lines_at(direct, "FBA")[0]["suggested_qty"] == 206


@pytest.mark.fast
def test_without_lanes_the_plan_is_unchanged() -> None:
    with_none = plan({"W1": 1000, "W2": 50, "FBA": 20}, settings())
    assert with_none.transfers.height == 0
    assert sorted(with_none.po_suggestions["location_id"]) == ["FBA", "W2"]


@pytest.mark.fast
def test_most_urgent_receiver_first_and_lanes_in_lead_time_order() -> None:
    st = settings(lane("W1", "W2", days=5), lane("FBA", "W2", days=1), lane("W1", "FBA"))
    # FBA (marketplace, fed in 2 days: order-up-to 100) gives only its excess, 300 - 246
    # (its keep level: 10 a day over 9 + 14 days, 230 + 1.645 * sqrt(92), above 100 + 140);
    # the faster lane first, then W1 its excess: it feeds FBA, so its order-up-to is 442 and
    # it keeps the higher of 442 + 14 days of 20 = 722 and its keep level, demand 20 a day
    # over 35 days at variance 8 a day: 700 + 1.645 * sqrt(280) = 727.5
    p = plan({"W1": 800, "W2": 0, "FBA": 300}, st)
    got = p.transfers.select("from_location_id", "to_location_id", "quantity").rows()
    assert got == [("FBA", "W2", 54), ("W1", "W2", 72)]


@pytest.mark.fast
def test_lane_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="to itself"):
        settings(lane("W1", "W1"))
    with pytest.raises(ValueError, match="more than one lane"):
        settings(lane("W1", "W2"), lane("W1", "W2", days=3))
    with pytest.raises(ValueError):
        settings(lane("W1", "W2", cost="-1"))
    st = settings(lane("W1", "W2"))
    assert st.replace(transfer_buffer_days=3).transfer_lanes == st.transfer_lanes


@pytest.mark.fast
def test_buyer_files_carry_the_transfers(tmp_path) -> None:
    p = plan({"W1": 400, "W2": 50}, settings(lane("W1", "W2")))
    paths = write_buyer_files(p, tmp_path, RUN)
    folder = tmp_path / "reorder" / RUN.isoformat()
    names = sorted(x.name for x in paths)
    assert f"transfers_{RUN}.csv" in names
    with open(folder / f"transfers_{RUN}.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [
        (r["sku"], r["from_location_id"], r["to_location_id"], r["quantity"]) for r in rows
    ] == [("S1", "W1", "W2", "30")]
    assert rows[0]["reason"].startswith("W1 holds 40.0 days of cover")
    wb = load_workbook(folder / f"purchase_orders_{RUN}.xlsx")
    assert "Transfers" in wb.sheetnames
    sheet = list(wb["Transfers"].iter_rows(values_only=True))
    assert list(sheet[0]) == TRANSFER_COLUMNS
    assert sheet[1][TRANSFER_COLUMNS.index("quantity")] == 30
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    assert "## Transfers (1 lines, 30 units)" in summary
    assert "| S1 | W1 | W2 | 30 |" in summary
    # byte for byte again
    first = {x.name: x.read_bytes() for x in paths}
    again = write_buyer_files(p, tmp_path, RUN)
    assert {x.name: x.read_bytes() for x in again} == first


@pytest.mark.fast
def test_no_transfers_no_transfer_files(tmp_path) -> None:
    p = plan({"W1": 100, "W2": 50}, settings(lane("W1", "W2")))
    assert p.transfers.height == 0
    names = {x.name for x in write_buyer_files(p, tmp_path, RUN)}
    assert not any(n.startswith("transfers") for n in names)


@pytest.mark.fast
def test_a_location_holding_stock_it_does_not_sell_is_a_source() -> None:
    # W1 has no forecast for S1 (it does not sell it): all its available stock can go
    p = plan_replenishment(
        forecast(["W2"]),
        inventory({"W1": 100, "W2": 50}),
        terms(),
        settings(lane("W1", "W2")),
        RUN,
        location_kinds=KINDS,
    )
    assert p.transfers["quantity"].to_list() == [100]
    assert p.transfers["reason"][0].startswith(
        "W1 holds stock without forecast demand: position 100 above order-up-to 0"
    )
    (line,) = lines_at(p, "W2")
    assert line["suggested_qty"] == 76  # 226 - 50 - 100


@pytest.mark.fast
def test_a_marketplace_sku_no_own_location_has_is_still_bought_direct() -> None:
    # W1 has a lane to FBA but neither sells nor holds S1: nothing to send, so FBA buys
    p = plan_replenishment(
        forecast(["FBA"]),
        inventory({"FBA": 20}),
        terms(),
        settings(lane("W1", "FBA", days=3)),
        RUN,
        location_kinds=KINDS,
    )
    assert p.transfers.height == 0
    (line,) = lines_at(p, "FBA")
    assert (line["lead_time_days"], line["suggested_qty"]) == (14, 206)


@pytest.mark.fast
def test_units_on_order_are_never_given_away() -> None:
    # W1's position is 1000 but 900 of it is on order: its shelf (100) is below 366, so it
    # sends nothing and W2 buys
    inv = pl.DataFrame(
        {
            "sku": ["S1", "S1"],
            "location_id": ["W1", "W2"],
            "on_hand": [100, 50],
            "committed": [0, 0],
            "on_order": [900, 0],
        }
    )
    p = plan_replenishment(
        forecast(["W1", "W2"]), inv, terms(), settings(lane("W1", "W2")), RUN,
        location_kinds=KINDS,
    )  # fmt: skip
    assert p.transfers.height == 0
    assert lines_at(p, "W2")[0]["suggested_qty"] == 176


@pytest.mark.fast
def test_a_seller_whose_forecast_is_zero_gives_no_excess() -> None:
    # W1 has a forecast for S1, of 0 (a slow mover whose next sale the forecast cannot place):
    # unlike a location without a forecast it keeps its 100 units, and W2 buys (bench: such
    # senders gave their whole shelf away and then lost the sales the forecast missed)
    zero = pl.col("location_id") == "W1"
    fc = forecast(["W1", "W2"]).with_columns(
        [
            pl.when(zero).then(0.0).otherwise(pl.col(c)).alias(c)
            for c in ("mean", "p10", "p50", "p90")
        ]
    )
    p = plan_replenishment(
        fc, inventory({"W1": 100, "W2": 50}), terms(), settings(lane("W1", "W2")), RUN,
        location_kinds=KINDS,
    )  # fmt: skip
    assert p.replenishment.filter(location_id="W1")["order_up_to"].to_list() == [0]
    assert p.transfers.height == 0
    (line,) = lines_at(p, "W2")
    assert line["suggested_qty"] == 176  # 226 - 50


@pytest.mark.fast
def test_a_feeder_with_a_short_shelf_sends_the_marketplace_its_fair_share() -> None:
    # W1 feeds FBA (both sell 10 a day) but holds only 60: topping FBA up to its 111 would take
    # 60 of W1's own customers' units; equal run-out leaves both (60 + 20) / 2 = 40, so 20 go
    st = settings(lane("W1", "FBA", days=3, cost="5.00"))
    p = plan({"W1": 60, "FBA": 20}, st)
    assert p.transfers["quantity"].to_list() == [20]
    # an ample shelf still sends the whole need (test above: 300 on hand, 91 sent)
    assert plan({"W1": 300, "FBA": 20}, st).transfers["quantity"].to_list() == [91]


@pytest.mark.fast
def test_only_the_feeder_gives_the_marketplace_stock_below_its_excess() -> None:
    # W1 (3-day lane) feeds FBA and plans for its demand; W2 (5 days) does not: its 300 are
    # below its 366 threshold, what its own customers need, so it sends nothing and FBA is short
    st = settings(lane("W1", "FBA", days=3, cost="5.00"), lane("W2", "FBA", days=5, cost="5.00"))
    p = plan({"W1": 0, "W2": 300, "FBA": 20}, st)
    assert p.transfers.height == 0
    need = p.needs_attention.filter(location_id="FBA")["reason"].to_list()
    assert len(need) == 1 and "not bought for directly" in need[0]


def errors(level_per_day: dict[str, float]) -> pl.DataFrame:
    """Measured demand errors (measure_demand_errors' columns) with no weight on the variance
    (error_n 0) and the level each location's errors were measured at: per day x (L + R)."""
    locs = list(level_per_day)
    return pl.DataFrame(
        {
            "sku": ["S1"] * len(locs),
            "location_id": locs,
            "error_var": [0.0] * len(locs),
            "error_n": [0.0] * len(locs),
            "error_level": [level_per_day[x] * 21 for x in locs],
        }
    )


@pytest.mark.fast
def test_a_sender_whose_forecast_dipped_keeps_what_its_measured_rate_needs() -> None:
    # W1's forecast says 10 a day, but its last year sold 20 a day (the level its errors were
    # measured at). Its keep level is the quantile over L + R + 14 = 35 days at 20 a day:
    # 700 + 1.645 * sqrt(140) = 719.5, so of its 800 it gives only 80 (not 800 - 370 = 430).
    st = settings(lane("W1", "W2"))
    on_hand = {"W1": 800, "W2": 50}
    args = (forecast(list(on_hand)), inventory(on_hand), terms(), st, RUN)
    kw: dict = {"location_kinds": KINDS, "base_currency": "EUR"}
    assert plan_replenishment(*args, **kw).transfers["quantity"].to_list() == [176]
    dipped = plan_replenishment(*args, **kw, demand_errors=errors({"W1": 20.0, "W2": 10.0}))
    t = dipped.transfers.row(0, named=True)
    assert t["quantity"] == 80
    assert "what it keeps, its demand over lead time + review + 14 days" in t["reason"]
    assert "(= 720; order-up-to 226)" in t["reason"]
    # W2 buys the rest: 226 - 50 - 80
    (line,) = lines_at(dipped, "W2")
    assert line["suggested_qty"] == 96
    # a measured rate below the forecast changes nothing
    lower = plan_replenishment(*args, **kw, demand_errors=errors({"W1": 5.0, "W2": 10.0}))
    assert lower.transfers["quantity"].to_list() == [176]


@pytest.mark.fast
def test_a_marketplace_fed_by_transfer_plans_for_its_measured_rate() -> None:
    # FBA's forecast (its own history cut short by stockouts) says 10 a day; it sold 30 a day
    # when in stock. Fed in 3 days, it protects 3 + 7 = 10 days: at 30 a day its order-up-to is
    # the quantile of 300 (300 + 1.645 * sqrt(40) = 310.4), not of 100 (111): W1 sends 291.
    st = settings(lane("W1", "FBA", days=3, cost="5.00"))
    on_hand = {"W1": 2000, "FBA": 20}
    args = (forecast(list(on_hand)), inventory(on_hand), terms(), st, RUN)
    kw: dict = {"location_kinds": KINDS, "base_currency": "EUR"}
    assert plan_replenishment(*args, **kw).transfers["quantity"].to_list() == [91]
    fed = plan_replenishment(*args, **kw, demand_errors=errors({"W1": 10.0, "FBA": 30.0}))
    rep = fed.replenishment.filter(location_id="FBA").row(0, named=True)
    assert rep["order_up_to"] == 311
    assert fed.transfers["quantity"].to_list() == [291]
