"""Transfers between own locations before purchases.

Why: a purchase plan computed per SKU and location buys for one warehouse while another of our
warehouses holds months of the same item. Every daily plan therefore first moves stock:

- a **source** is a location whose inventory position and available stock (on hand -
  committed) are both above what it keeps: its order-up-to level plus a buffer
  (``transfer_buffer_days`` of its own daily demand), or, when higher, its *keep level*
  (``keep_level``, from the purchase plan: the service-level quantile of its demand over
  L + R + the buffer at the higher of its forecast and the rate its errors were measured at;
  a transfer cannot be undone and the sender buys back at its supplier's lead time, so a
  forecast that dipped for a slow mover must not give its stock away); it can give the part
  of the lower of the two above that (its *excess*): what is on order does not sell until
  it arrives, so it is never given away. A
  location with a forecast whose order-up-to level is 0 (a slow mover whose next sale the
  forecast cannot place) has no excess: only a location that does not sell the SKU (stock
  without a forecast, or of demand class ``inactive`` (no demand in its last 13 weeks) or
  ``new`` (none yet); ``sells`` false) gives all of it;
- a **receiver** is a location below its reorder point (the purchase plan's trigger,
  ``IP <= s`` and ``S > IP``); it wants ``S - IP``, what a purchase would bring;
- stock moves only along a configured lane (``transfer_lanes``: from, to, lead time, cost per
  unit and its currency), and only when the lane arrives before a purchase would (lane lead time
  below the supplier's) and moving a unit costs less than buying one (lane cost below the
  supplier's unit cost, both in the base currency when they differ);
- a **marketplace-fulfilled** location (Amazon FBA) with at least one inbound lane is never
  bought for from the supplier (unless ``marketplace_buy_direct``): it is replenished by
  transfer, first from other locations' excess, then from the available stock of its
  *feeder* (the one sender that plans for its demand, :func:`with_fed_demand`; the sender's
  purchase plan counts the units as gone, so it buys them back at its own lead time), and
  from that only its fair share of a short shelf (equal run-out, :func:`_fair_share`). Without
  an inbound lane it is bought for directly as before (there is no way to send it stock).

Receivers are served most urgent first (furthest below their reorder point), each from its
lanes in order of lead time, cost and source id; quantities are whole units, not case packs (a
transfer moves loose units). :func:`apply_transfers` then counts each proposed transfer as on
order at the receiving location and as gone from the sending one, so the purchase plan buys
only what the transfers do not cover.

Pure: polars frames in, polars frames out; money is Decimal.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from forecasting.schemas import SERIES_KEYS, TRANSFER_COLUMNS, TRANSFER_SUGGESTIONS
from forecasting.settings import ReplenishmentSettings, TransferLane

MARKETPLACE_FULFILLED = "marketplace_fulfilled"

# location id -> kind (oms.yaml locations[].kind); currency -> rate to the base currency
LocationKinds = Mapping[str, str]
FxRates = Mapping[str, Decimal]

# What plan_transfers reads per SKU and location (plan_replenishment builds it).
POSITION_COLUMNS: list[str] = [
    "sku",
    "location_id",
    "inventory_position",
    "available",
    "reorder_point",
    "order_up_to",
    "daily_demand",
    "supplier_id",
    "supplier_lead_time_days",
    "unit_cost",
    "currency",
]

_CENT = Decimal("0.01")


def empty_transfers() -> pl.DataFrame:
    """A transfer frame without rows, in the columns of ``planning.transfer_suggestions``."""
    return TRANSFER_SUGGESTIONS.empty()


def _money(value: Decimal) -> str:
    return str(value.quantize(_CENT)) if value == value.quantize(_CENT) else str(value.normalize())


@dataclass
class _Pool:
    """What one source location can still give for one SKU."""

    row: dict
    excess: int  # above order-up-to + buffer, on the shelf
    spare: int  # on the shelf at all (marketplace receivers may take it)
    threshold: int  # what it keeps: order-up-to + buffer, or its keep level when higher
    by_keep_level: bool = False  # the keep level (measured demand over L + R + buffer) set it


def _to_base(
    amount: Decimal, currency: str, base: str | None, fx: Mapping[str, Decimal] | None
) -> Decimal | None:
    if base is not None and currency == base:
        return amount
    if fx is None or currency not in fx:
        return None
    return amount * Decimal(str(fx[currency]))


def _cost_comparison(
    lane: TransferLane,
    unit_cost: Decimal,
    currency: str,
    base: str | None,
    fx: Mapping[str, Decimal] | None,
) -> tuple[Decimal, Decimal] | None:
    """Lane cost and purchase cost per unit in one currency (None: not comparable)."""
    if lane.currency == currency:
        return lane.cost_per_unit, unit_cost
    a = _to_base(lane.cost_per_unit, lane.currency, base, fx)
    b = _to_base(unit_cost, currency, base, fx)
    if a is None or b is None:
        return None
    return a, b


def plan_transfers(
    positions: pl.DataFrame,
    settings: ReplenishmentSettings,
    run_date: date,
    location_kinds: Mapping[str, str] | None = None,
    fx_to_base: Mapping[str, Decimal] | None = None,
    base_currency: str | None = None,
    feeders: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Transfer suggestions for ``run_date`` (columns of ``planning.transfer_suggestions``).

    ``positions`` has one row per SKU and location (:data:`POSITION_COLUMNS`: the plan's
    inventory position, available stock, reorder point, order-up-to level, mean daily demand
    over L + R, and the SKU's supplier with lead time, unit cost and currency).
    ``location_kinds`` maps a location id to its kind (``oms.yaml`` ``locations[].kind``);
    ``fx_to_base`` gives the rate to ``base_currency`` per currency, used only when a lane's
    currency differs from the supplier's (a pair that cannot be converted gets no transfer).
    An optional ``keep_level`` column (the purchase plan's, :func:`transfer_positions`) raises
    what a sender keeps above its order-up-to level plus the buffer.
    ``feeders`` (``sku, location_id, feeder``: :func:`fed_series`) names, per marketplace
    series fed by transfer, the one sender that plans for its demand (:func:`with_fed_demand`):
    only that sender gives it stock below its own excess. Without it every inbound lane may.
    """
    lanes = settings.transfer_lanes
    if not lanes or positions.height == 0:
        return empty_transfers()
    kinds = dict(location_kinds or {})
    buffer_days = settings.transfer_buffer_days
    inbound: dict[str, list[TransferLane]] = {}
    for lane in lanes:
        inbound.setdefault(lane.to, []).append(lane)
    pos = positions.filter(pl.col("sku").is_in(positions.filter(
        pl.col("location_id").is_in(list(inbound))
    )["sku"].unique().implode()))  # fmt: skip
    feeder_of: dict[tuple[str, str], str] = {}
    if feeders is not None and feeders.height:
        feeder_of = {
            (r["sku"], r["location_id"]): r["feeder"]
            for r in feeders.select("sku", "location_id", "feeder").iter_rows(named=True)
        }
    out: list[dict] = []
    for (_sku,), group in pos.sort(SERIES_KEYS).group_by(["sku"], maintain_order=True):
        rows = {r["location_id"]: r for r in group.iter_rows(named=True)}
        pools: dict[str, _Pool] = {}
        receivers: list[dict] = []
        for loc, r in rows.items():
            ip, avail = int(r["inventory_position"]), max(int(r["available"] or 0), 0)
            s_level, s_up = float(r["reorder_point"]), float(r["order_up_to"])
            d = float(r["daily_demand"] or 0.0)
            keep, above_up_to = float(r.get("keep_level") or 0.0), s_up + buffer_days * d
            threshold = math.ceil(max(above_up_to, keep) - 1e-9)
            # both the position and the shelf stay above the threshold: units on order do not
            # sell until they arrive, so a sender never ships the shelf it lives on meanwhile
            # a zero forecast where the SKU still sells (a slow mover whose next sale the
            # forecast cannot place) is no excess; only stock a location does not sell is
            excess = max(0, min(avail, ip) - threshold)
            if r.get("sells") and s_up <= 0:
                excess = 0
            pools[loc] = _Pool(r, excess, avail, threshold, keep > above_up_to)
            if loc in inbound and ip <= s_level and s_up > ip:
                receivers.append(r)
        receivers.sort(
            key=lambda r: (r["inventory_position"] - r["reorder_point"], r["location_id"])
        )
        for r in receivers:
            feeder = feeder_of.get((r["sku"], r["location_id"])) if feeder_of else None
            out += _serve(r, inbound[r["location_id"]], pools, kinds, settings, run_date,
                          fx_to_base, base_currency, feeder)  # fmt: skip
    if not out:
        return empty_transfers()
    return (
        pl.DataFrame(out, schema=TRANSFER_SUGGESTIONS.schema, orient="row")
        .select(TRANSFER_COLUMNS)
        .sort(["from_location_id", "to_location_id", "sku"])
    )


def _serve(
    r: dict,
    lanes: list[TransferLane],
    pools: dict[str, _Pool],
    kinds: Mapping[str, str],
    settings: ReplenishmentSettings,
    run_date: date,
    fx: Mapping[str, Decimal] | None,
    base: str | None,
    feeder: str | None = None,
) -> list[dict]:
    """Transfers to one receiver: excess first (every receiver), then, for a marketplace
    location that may not buy direct, the other available stock of its feeder (``feeder``;
    every sender when None).

    Why only the feeder: it alone plans for the marketplace's demand; another warehouse's
    stock below its excess is what its own customers need until its next receipt, and giving
    it away lost more sales there than it saved at the marketplace (bench.replenishment)."""
    loc = r["location_id"]
    marketplace = kinds.get(loc) == MARKETPLACE_FULFILLED and not settings.marketplace_buy_direct
    need = math.ceil(float(r["order_up_to"]) - 1e-9) - int(r["inventory_position"])
    lead = r["supplier_lead_time_days"]
    unit_cost = r["unit_cost"]
    usable: list[tuple[TransferLane, tuple[Decimal, Decimal] | None]] = []
    for lane in lanes:
        if lane.from_location not in pools:
            continue
        costs = (
            _cost_comparison(lane, unit_cost, r["currency"], base, fx)
            if unit_cost is not None and r["currency"] is not None
            else None
        )
        if not marketplace:
            # A transfer must beat the purchase it replaces on both time and money.
            if lead is None or lane.lead_time_days >= lead or costs is None:
                continue
            if costs[0] >= costs[1]:
                continue
        usable.append((lane, costs))
    usable.sort(key=lambda lc: (lc[0].lead_time_days, lc[1][0] if lc[1] else Decimal(0),
                                lc[0].from_location))  # fmt: skip
    lines: list[dict] = []
    passes = ("excess", "spare") if marketplace else ("excess",)
    for kind in passes:
        for lane, costs in usable:
            if need <= 0:
                break
            pool = pools[lane.from_location]
            if kind == "spare" and feeder is not None and lane.from_location != feeder:
                continue
            have = pool.excess if kind == "excess" else _fair_share(pool, r)
            qty = min(need, have)
            if qty <= 0:
                continue
            pool.excess -= min(qty, pool.excess)
            pool.spare -= qty
            need -= qty
            lines.append(
                _line(r, lane, pool, qty, kind, marketplace, costs, settings, run_date, base)
            )
    return lines


def _fair_share(pool: _Pool, r: dict) -> int:
    """What a feeder sends a marketplace receiver from its stock below its excess: at most what
    leaves both with the same days of cover (the receiver's position counted, the feeder's own
    demand its forecast less the receiver's, which :func:`with_fed_demand` added to it).

    Why: when the feeder's shelf is short (its next receipt still weeks out) topping the
    receiver up to its order-up-to level took the units the feeder's own customers needed
    first; equal run-out, the usual fair-share rule of distribution planning, splits a short
    shelf in proportion to demand, and gives the whole need when the shelf is ample.
    """
    if pool.spare <= 0:
        return 0
    d_to = max(float(r["daily_demand"] or 0.0), 0.0)
    d_from = max(float(pool.row["daily_demand"] or 0.0) - d_to, 0.0)
    if d_to <= 0 or d_from <= 0:
        return pool.spare
    total = pool.spare + max(int(r["inventory_position"]), 0)
    share = math.floor(total * d_to / (d_to + d_from) + 1e-9) - int(r["inventory_position"])
    return max(0, min(pool.spare, share))


def _line(
    r: dict,
    lane: TransferLane,
    pool: _Pool,
    qty: int,
    kind: str,
    marketplace: bool,
    costs: tuple[Decimal, Decimal] | None,
    settings: ReplenishmentSettings,
    run_date: date,
    base: str | None,
) -> dict:
    src = pool.row
    d_src = float(src["daily_demand"] or 0.0)
    ip_src = int(src["inventory_position"])
    cover = round(ip_src / d_src, 1) if d_src > 0 else None
    if kind == "excess":
        held = f"{cover} days of cover" if cover is not None else "stock without forecast demand"
        keeps = (
            f"what it keeps, its demand over lead time + review + "
            f"{settings.transfer_buffer_days} days at its service level (= {pool.threshold}; "
            f"order-up-to {_num(src['order_up_to'])})"
            if pool.by_keep_level
            else f"order-up-to {_num(src['order_up_to'])} + {settings.transfer_buffer_days} "
            f"days' buffer (= {pool.threshold})"
        )
        why_src = f"{lane.from_location} holds {held}: position {ip_src} above {keeps}"
    else:
        why_src = (
            f"{lane.from_location} sends from its own available stock; its purchase plan counts "
            f"the {qty} units as gone"
        )
    why_dst = (
        f"{r['location_id']} below reorder point: position {r['inventory_position']} <= "
        f"{_num(r['reorder_point'])} (order-up-to {_num(r['order_up_to'])})"
    )
    lane_words = (
        f"lane {lane.from_location}->{lane.to} {lane.lead_time_days} days at "
        f"{_money(lane.cost_per_unit)} {lane.currency}/unit"
    )
    supplier = r["supplier_id"]
    if supplier is not None and r["unit_cost"] is not None:
        purchase = (
            f"supplier {supplier} {r['supplier_lead_time_days']} days at "
            f"{_money(r['unit_cost'])} {r['currency']}/unit"
        )
        if costs is not None and lane.currency != r["currency"]:
            unit = base or "base currency"
            purchase += f" ({_money(costs[0])} vs {_money(costs[1])} {unit}/unit)"
        lane_words += f" vs {purchase}"
    parts = [why_src, why_dst, lane_words]
    if marketplace:
        parts.append(
            f"{r['location_id']} is marketplace-fulfilled: replenished from own locations, not "
            "bought direct (marketplace_buy_direct)"
        )
    cost = lane.cost_per_unit
    return {
        "run_date": run_date,
        "sku": r["sku"],
        "from_location_id": lane.from_location,
        "to_location_id": lane.to,
        "quantity": qty,
        "lead_time_days": lane.lead_time_days,
        "expected_arrival_date": run_date + timedelta(days=lane.lead_time_days),
        "cost_per_unit": cost,
        "currency": lane.currency,
        "transfer_cost": cost * qty,
        "supplier_id": supplier,
        "supplier_lead_time_days": r["supplier_lead_time_days"],
        "supplier_unit_cost": r["unit_cost"],
        "supplier_currency": r["currency"],
        "from_inventory_position": ip_src,
        "from_order_up_to": float(src["order_up_to"]),
        "from_days_of_cover": cover,
        "from_excess": kind == "excess",
        "to_inventory_position": int(r["inventory_position"]),
        "to_reorder_point": float(r["reorder_point"]),
        "to_order_up_to": float(r["order_up_to"]),
        "to_marketplace_fulfilled": marketplace,
        "reason": "; ".join(parts),
    }


def _num(v: object) -> str:
    f = float(v)  # type: ignore[arg-type]
    return str(int(f)) if f == int(f) else str(f)


def transfer_positions(
    rep: pl.DataFrame, terms: pl.DataFrame, inventory: pl.DataFrame | None = None
) -> pl.DataFrame:
    """:data:`POSITION_COLUMNS` from the planner's per-series frame (``d_daily``, the mean
    daily demand over L + R, and ``lead_time``) and the chosen supplier terms per SKU.

    ``inventory`` (``sku, location_id, on_hand, committed, on_order``) adds the locations that
    hold a SKU without selling it (no forecast, so no levels): order-up-to and reorder point 0,
    so all their available stock above the buffer (0 days of no demand) can be sent.
    """
    planned = rep.select(
        *SERIES_KEYS,
        pl.col("inventory_position").cast(pl.Int64),
        pl.col("available").cast(pl.Int64),
        pl.col("reorder_point").cast(pl.Float64),
        pl.col("order_up_to").cast(pl.Float64),
        daily_demand=pl.col("d_daily").cast(pl.Float64),
        keep_level=pl.col("keep_level").cast(pl.Float64)
        if "keep_level" in rep.columns
        else pl.lit(0.0),
        # an inactive series (no demand in its last 13 weeks, forecasting/classify.py) no
        # longer sells the SKU, a new one with a zero forecast has not sold it yet
        sells=~pl.col("demand_class").fill_null("").is_in(["inactive", "new"])
        if "demand_class" in rep.columns
        else pl.lit(True),
    )
    if inventory is not None and inventory.height:
        unplanned = inventory.join(rep.select(SERIES_KEYS), on=SERIES_KEYS, how="anti").select(
            *SERIES_KEYS,
            inventory_position=(
                pl.col("on_hand").fill_null(0)
                - pl.col("committed").fill_null(0)
                + pl.col("on_order").fill_null(0)
            ).cast(pl.Int64),
            available=(pl.col("on_hand").fill_null(0) - pl.col("committed").fill_null(0)).cast(
                pl.Int64
            ),
            reorder_point=pl.lit(0.0),
            order_up_to=pl.lit(0.0),
            daily_demand=pl.lit(0.0),
            keep_level=pl.lit(0.0),
            sells=pl.lit(False),
        )
        planned = pl.concat([planned, unplanned])
    supplier = terms.select(
        "sku",
        "supplier_id",
        "unit_cost",
        "currency",
        supplier_lead_time_days=pl.col("lead_time_days").cast(pl.Int64),
    )
    return planned.join(supplier, on="sku", how="left").select(
        *POSITION_COLUMNS, "sells", "keep_level"
    )


def apply_transfers(rep: pl.DataFrame, transfers: pl.DataFrame) -> pl.DataFrame:
    """``rep`` with the proposed transfers counted: ``transfer_in`` (on order at the receiver),
    ``transfer_out`` (gone from the sender), ``inventory_position`` moved by both.

    Why: the purchase plan must buy only the shortage the transfers leave, and a sender that
    gives stock below its own needs must buy it back.
    """
    if transfers.height == 0:
        return rep.with_columns(
            transfer_in=pl.lit(0, dtype=pl.Int64), transfer_out=pl.lit(0, dtype=pl.Int64)
        )
    t_in = transfers.group_by("sku", location_id="to_location_id").agg(
        transfer_in=pl.col("quantity").sum().cast(pl.Int64)
    )
    t_out = transfers.group_by("sku", location_id="from_location_id").agg(
        transfer_out=pl.col("quantity").sum().cast(pl.Int64)
    )
    return (
        rep.join(t_in, on=SERIES_KEYS, how="left", maintain_order="left")
        .join(t_out, on=SERIES_KEYS, how="left", maintain_order="left")
        .with_columns(pl.col("transfer_in").fill_null(0), pl.col("transfer_out").fill_null(0))
        .with_columns(
            inventory_position=pl.col("inventory_position")
            + pl.col("transfer_in")
            - pl.col("transfer_out")
        )
    )


def fed_series(
    settings: ReplenishmentSettings,
    location_kinds: LocationKinds | None,
    series: pl.DataFrame,
) -> pl.DataFrame:
    """``sku, location_id, fed_lead_time_days``: the marketplace-fulfilled series replenished by
    transfer rather than bought for (unless ``marketplace_buy_direct``): those with an inbound
    lane from a location that holds or sells the SKU (``series``: every SKU and location the
    plan knows, forecast or stock). ``fed_lead_time_days`` is the fastest such lane's.

    Why the lane's lead time: sized on the supplier's, an FBA location would hold L + R of cover
    that the warehouses behind it already hold; refilled from a lane of a few days, it needs
    the lane's days plus the review period. A SKU no sender has is still bought direct: there
    is nothing to send it.
    """
    empty = pl.DataFrame(
        schema={
            "sku": pl.String,
            "location_id": pl.String,
            "fed_lead_time_days": pl.Int64,
            "feeder": pl.String,
        }
    )
    if settings.marketplace_buy_direct or not location_kinds or not settings.transfer_lanes:
        return empty
    fed = [
        lane for lane in settings.transfer_lanes
        if location_kinds.get(lane.to) == MARKETPLACE_FULFILLED
    ]  # fmt: skip
    if not fed:
        return empty
    lanes = pl.DataFrame(
        {
            "location_id": [lane.to for lane in fed],
            "source": [lane.from_location for lane in fed],
            "days": [lane.lead_time_days for lane in fed],
        },
        schema={"location_id": pl.String, "source": pl.String, "days": pl.Int64},
    )
    have = series.select("sku", source="location_id").unique()
    return (
        lanes.join(have, on="source", how="inner")
        .sort("days", "source")
        .group_by("sku", "location_id")
        .agg(fed_lead_time_days=pl.col("days").first(), feeder=pl.col("source").first())
        .sort(SERIES_KEYS)
    )


def with_fed_demand(fc: pl.DataFrame, fed: pl.DataFrame) -> pl.DataFrame:
    """The planner's daily forecast with each fed marketplace series' demand added to its
    feeder's (mean and variance, day by day; a feeder without a forecast of its own gets one).

    Why: a marketplace location fed by transfer is never bought for, so its demand must be
    bought somewhere: the warehouse that feeds it plans for both (its levels cover its own
    demand and what it will send on over its supplier's lead time), the way a multi-echelon
    plan charges a central warehouse with the demand of the locations it serves. Without it the
    feeder's stock, sized for its own customers, ran out for both (bench.replenishment).
    """
    if fed.height == 0 or fc.height == 0:
        return fc
    keys = [*SERIES_KEYS, "period_start", "day"]
    add = (
        fc.join(fed.select(*SERIES_KEYS, "feeder"), on=SERIES_KEYS, how="inner")
        .group_by("sku", "feeder", "period_start", "day")
        .agg(add_mean=pl.col("mean").sum(), add_var=pl.col("var").sum())
        .rename({"feeder": "location_id"})
    )
    out = fc.join(add, on=keys, how="full", coalesce=True)
    return (
        out.with_columns(
            mean=pl.col("mean").fill_null(0.0) + pl.col("add_mean").fill_null(0.0),
            var=pl.col("var").fill_null(0.0) + pl.col("add_var").fill_null(0.0),
            p50_zero=pl.col("p50_zero").fill_null(False)
            & pl.col("add_mean").fill_null(0.0).eq(0.0),
        )
        .drop("add_mean", "add_var")
        .select(fc.columns)
    )


def unserved_marketplace(rep: pl.DataFrame, fed: pl.DataFrame) -> pl.DataFrame:
    """Needs-attention rows (``sku, location_id, reason``) for the marketplace-fulfilled series
    fed by transfer (:func:`fed_series`) still below their reorder point after transfers:
    nobody could send enough and they are not bought for directly."""
    blocked = rep.join(fed.select(SERIES_KEYS), on=SERIES_KEYS, how="semi").filter(
        (pl.col("inventory_position") <= pl.col("reorder_point"))
        & (pl.col("order_up_to") > pl.col("inventory_position"))
    )
    return blocked.select(
        *SERIES_KEYS,
        reason=pl.format(
            "marketplace-fulfilled location below reorder point after transfers (position {} "
            "<= {}): no own location can send the other {} units, and it is not bought for "
            "directly (replenishment.marketplace_buy_direct); buy them into a warehouse that "
            "ships to it",
            "inventory_position",
            pl.col("reorder_point").cast(pl.Int64),
            (pl.col("order_up_to") - pl.col("inventory_position")).cast(pl.Int64),
        ),
    )
