"""Replay the last weeks of a store day by day under a reorder policy, to prove it.

Two policies are compared on the same demand, the same starting stock and pipeline, and the
same sampled lead times (common random numbers):

- ``policy``: :func:`forecasting.replenishment.plan_replenishment` itself, run at every weekly
  review on a forecast made that day (the forecast engine restricted to its naive models,
  :func:`forecasting.engine.naive_forecast`: daily seasonal naive or a 28-day moving average per
  series, whichever wins the engine's backtest that day), with the open purchase orders of the simulation and
  the demand errors measured per series on the year of recorded history before the review
  (``measure_errors``; :func:`forecasting.replenishment.demand_error_variance`).
- ``days_of_cover``: the rule many merchants use: at every review, if the inventory position is
  below ``d * (L + R + C)`` order up to it (MOQ and case pack applied the same way), with ``d``
  the same forecast's average daily demand and one cover ``C`` for every item, tuned by
  bisection until it reaches the policy's fill rate. Two variants are tuned the same way:
  ``days_of_cover_plus_lead_time`` (up to ``d * (L + R + C)``: it knows each lead time) and
  ``days_of_cover_30d_sales`` (``d`` is the last 30 days' average recorded sales, the rule as
  commercial tools ship it).

Mechanics: each day, receipts arrive first; on a review day the policy orders; an order arrives
after a lead time drawn from the supplier's ``N(L, sigma_L)`` (rounded, at least one day);
demand is the store's true demand, sales are ``min(on hand, demand)`` and the rest is lost.
Forecasts are made from the demand the store recorded (sales, stockout days censored) before
the review day, so both policies see the same forecasts.

Measured over the last ``weeks`` weeks (after ``warmup_weeks`` so orders placed by the
simulated policy are in the pipeline): fill rate (units sold / demanded), cycle service level
(share of series x review periods without a lost sale, against the mean target service level),
average inventory value (end-of-day on hand x unit cost in the base currency).

Pure: polars frames in, a result object out; numpy inside the daily loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import polars as pl

from forecasting.replenishment import (
    SERIES_KEYS,
    choose_supplier_terms,
    demand_error_level,
    demand_error_variance,
    plan_replenishment,
)
from forecasting.series import column_date
from forecasting.settings import ReplenishmentSettings

ForecastFn = Callable[[pl.DataFrame, date, int], pl.DataFrame]


@dataclass
class PolicyOutcome:
    """What one policy achieved over the measured weeks."""

    name: str
    fill_rate: float
    cycle_service_level: float
    target_service_level: float
    avg_inventory_value: float
    avg_inventory_units: float
    demand_units: int
    lost_units: int
    orders_placed: int
    weekly_service_level: float = float("nan")
    order_cycles: int = 0
    cycle_service_level_by_class: dict[str, float] = field(default_factory=dict)
    parameter: float | None = None
    # series x days of the measured weeks with a lost sale
    stockout_days: int = 0
    # end-of-day inventory value (base currency) on each measured day, for charts
    daily_inventory_value: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "fill_rate": round(self.fill_rate, 5),
            "cycle_service_level": round(self.cycle_service_level, 5),
            "target_service_level": round(self.target_service_level, 5),
            "order_cycles": self.order_cycles,
            "weekly_service_level": round(self.weekly_service_level, 5),
            "avg_inventory_value": round(self.avg_inventory_value, 2),
            "avg_inventory_units": round(self.avg_inventory_units, 1),
            "demand_units": self.demand_units,
            "lost_units": self.lost_units,
            "orders_placed": self.orders_placed,
            "stockout_days": self.stockout_days,
            "cycle_service_level_by_class": {
                k: round(v, 5) for k, v in sorted(self.cycle_service_level_by_class.items())
            },
            "parameter": None if self.parameter is None else round(self.parameter, 3),
        }


@dataclass
class SimulationResult:
    policy: PolicyOutcome
    days_of_cover: PolicyOutcome
    days_of_cover_plus_lead_time: PolicyOutcome
    series: int
    measure_start: date
    measure_end: date
    reviews: int
    inventory_reduction: float  # 1 - policy value / days-of-cover value
    # the rule in its plainest form: cover counted in the last 30 days' average recorded sales
    days_of_cover_30d_sales: PolicyOutcome | None = None
    # days of cover (now, after receipt) of every line the policy suggested, over all reviews
    line_cover: pl.DataFrame | None = None
    # transfers between own locations the policy proposed (settings.transfer_lanes)
    transfer_lines: int = 0
    transfer_units: int = 0

    def cover_distribution(self) -> dict[str, object]:
        """Percentiles of the suggested lines' days of cover now and after receipt."""
        if self.line_cover is None or self.line_cover.height == 0:
            return {"lines": 0}
        out: dict[str, object] = {"lines": self.line_cover.height}
        for col in ("days_of_cover", "days_of_cover_after"):
            v = self.line_cover[col].drop_nulls()
            out[col] = {
                f"p{q}": round(float(v.quantile(q / 100, "nearest") or 0.0), 1)
                for q in (10, 50, 90, 99)
            } | {"max": round(float(v.max() or 0.0), 1)}  # type: ignore[arg-type]
        over = self.line_cover.filter(pl.col("days_of_cover") > 120).height
        out["share_over_120_days_now"] = round(over / self.line_cover.height, 4)
        out["beyond_max_cover_lines"] = int(self.line_cover["beyond_max_cover"].sum())
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "series": self.series,
            "measure_start": self.measure_start.isoformat(),
            "measure_end": self.measure_end.isoformat(),
            "reviews": self.reviews,
            "policy": self.policy.as_dict(),
            "days_of_cover": self.days_of_cover.as_dict(),
            "days_of_cover_plus_lead_time": self.days_of_cover_plus_lead_time.as_dict(),
            **(
                {
                    "days_of_cover_30d_sales": self.days_of_cover_30d_sales.as_dict(),
                    "inventory_reduction_vs_30d_sales_rule": round(
                        1.0
                        - self.policy.avg_inventory_value
                        / self.days_of_cover_30d_sales.avg_inventory_value,
                        4,
                    ),
                }
                if self.days_of_cover_30d_sales is not None
                else {}
            ),
            "suggested_line_cover": self.cover_distribution(),
            "transfer_lines": self.transfer_lines,
            "transfer_units": self.transfer_units,
            "csl_gap_points": round(
                100 * (self.policy.cycle_service_level - self.policy.target_service_level), 2
            ),
            "inventory_reduction": round(self.inventory_reduction, 4),
            "inventory_reduction_vs_lead_time_rule": round(
                1.0
                - self.policy.avg_inventory_value
                / self.days_of_cover_plus_lead_time.avg_inventory_value,
                4,
            ),
        }


def baseline_forecaster(models: tuple[str, ...] | None = None) -> ForecastFn:
    """The engine restricted to its naive models (or ``models``), as a simulation forecaster.

    At each review the engine backtests the candidates on the history recorded so far and
    forecasts every series with the one that won (:func:`forecasting.engine.naive_forecast`).
    """
    from forecasting.engine import NAIVE_MODELS, naive_forecast

    chosen = NAIVE_MODELS if models is None else models

    def forecast(history: pl.DataFrame, run_date: date, horizon: int) -> pl.DataFrame:
        return naive_forecast(history, run_date, horizon, models=chosen)[0]

    return forecast


def _series_frame(keys: pl.DataFrame) -> pl.DataFrame:
    return keys.select(SERIES_KEYS).with_row_index("idx").with_columns(pl.col("idx").cast(pl.Int64))


@dataclass
class _Inputs:
    series: pl.DataFrame  # idx, sku, location_id
    demand: np.ndarray  # (days, n) true demand over the simulated days
    start_on_hand: np.ndarray  # (n,)
    lead: np.ndarray  # (n,) nominal lead time
    lead_std: np.ndarray
    moq: np.ndarray
    case: np.ndarray
    unit_cost: np.ndarray  # base currency
    service_level: np.ndarray
    abc: np.ndarray
    lead_draws: np.ndarray  # (n_reviews, n) sampled lead times
    init_pos: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # idx, qty, arrive, expected
    sim_start: date
    days: int
    review_days: list[int]
    measure_from: int


def _prepare(
    demand: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    settings: ReplenishmentSettings,
    weeks: int,
    warmup_weeks: int,
    abc_class: pl.DataFrame | None,
    open_purchase_orders: pl.DataFrame | None,
    fx_to_base: Mapping[str, float] | None,
    seed: int,
    start_empty: bool = False,
) -> _Inputs:
    review = settings.review_period_days
    end = column_date(demand, "date", "max")
    days = (weeks + warmup_weeks) * review
    sim_start = end - timedelta(days=days - 1)
    history_start = sim_start - timedelta(days=28)
    terms = choose_supplier_terms(supplier_terms)
    window = demand.filter(pl.col("date") >= history_start)
    active = (
        window.group_by(SERIES_KEYS)
        .agg(all_active=pl.col("is_active").all(), n=pl.len())
        .filter(pl.col("all_active") & (pl.col("n") == (end - history_start).days + 1))
        .join(terms.select("sku"), on="sku", how="semi")
        .sort(SERIES_KEYS)
    )
    series = _series_frame(active)
    n = series.height
    grid = (
        window.filter(pl.col("date") >= sim_start)
        .join(series, on=SERIES_KEYS, how="inner")
        .with_columns(t=(pl.col("date") - pl.lit(sim_start)).dt.total_days())
    )
    dem = np.zeros((days, n), dtype=np.int64)
    dem[grid["t"].to_numpy(), grid["idx"].to_numpy()] = grid["true_demand"].to_numpy()
    start = (
        demand.filter(pl.col("date") == sim_start - timedelta(days=1))
        .join(series, on=SERIES_KEYS, how="inner")
        .sort("idx")
    )
    on_hand = np.zeros(n, dtype=np.int64)
    on_hand[start["idx"].to_numpy()] = np.maximum(start["on_hand_eod"].to_numpy(), 0)

    fx = dict(fx_to_base or {})
    t = series.join(terms, on="sku", how="left").sort("idx")
    rate = t["currency"].replace_strict(fx, default=1.0, return_dtype=pl.Float64).to_numpy()
    unit_cost = t["unit_cost"].cast(pl.Float64).to_numpy() * rate
    mapping = {k: float(v) for k, v in settings.service_levels.items()}
    if abc_class is not None:
        classes = series.join(
            abc_class.select("sku", pl.col("abc_class").cast(pl.String)).unique("sku"),
            on="sku",
            how="left",
        ).sort("idx")["abc_class"]
    else:
        classes = pl.Series([None] * n, dtype=pl.String)
    sl = classes.replace_strict(
        mapping, default=float(settings.default_service_level), return_dtype=pl.Float64
    ).to_numpy()

    review_days = list(range(0, days, review))
    rng = np.random.default_rng(seed)
    lead = t["lead_time_days"].to_numpy().astype(np.int64)
    lead_std = t["lead_time_std_days"].to_numpy().astype(float)
    draws = np.maximum(
        1, np.rint(lead[None, :] + lead_std[None, :] * rng.standard_normal((len(review_days), n)))
    ).astype(np.int64)

    init = (np.zeros(0, np.int64),) * 4
    if start_empty:
        on_hand[:] = 0
    elif open_purchase_orders is not None and open_purchase_orders.height:
        po = open_purchase_orders
        arrive_col = pl.col("received_at") if "received_at" in po.columns else pl.col("expected_at")
        po = (
            po.filter(
                (pl.col("ordered_at") < sim_start)
                & (pl.col("status") != "cancelled")
                & (arrive_col.is_null() | (arrive_col >= sim_start))
            )
            .with_columns(
                arrive=pl.coalesce(
                    pl.col("ordered_at") + pl.duration(days=pl.col("lead_days"))
                    if "lead_days" in po.columns
                    else arrive_col,
                    pl.col("expected_at"),
                )
            )
            .join(series, on=SERIES_KEYS, how="inner")
            .with_columns(
                arrive=(pl.col("arrive") - pl.lit(sim_start)).dt.total_days().clip(lower_bound=0),
                expected=(pl.col("expected_at") - pl.lit(sim_start)).dt.total_days(),
                qty=(pl.col("quantity_ordered") - pl.col("quantity_received").fill_null(0)).clip(
                    lower_bound=0
                ),
            )
            .filter(pl.col("qty") > 0)
        )
        init = (
            po["idx"].to_numpy().astype(np.int64),
            po["qty"].to_numpy().astype(np.int64),
            po["arrive"].to_numpy().astype(np.int64),
            po["expected"].to_numpy().astype(np.int64),
        )
    return _Inputs(
        series=series,
        demand=dem,
        start_on_hand=on_hand,
        lead=lead,
        lead_std=lead_std,
        moq=t["moq"].to_numpy().astype(np.int64),
        case=t["case_pack"].to_numpy().astype(np.int64),
        unit_cost=unit_cost,
        service_level=sl,
        abc=classes.fill_null("-").to_numpy(),
        lead_draws=draws,
        init_pos=init,
        sim_start=sim_start,
        days=days,
        review_days=review_days,
        measure_from=warmup_weeks * review,
    )


# An order function returns the units to buy per series, or those and the transfers it
# proposes: (from series, to series, units, lane days) arrays (forecasting/transfers.py).
Moves = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
OrderFn = Callable[
    [int, int, np.ndarray, tuple[np.ndarray, ...]], np.ndarray | tuple[np.ndarray, Moves]
]


def _run(inp: _Inputs, order_fn: OrderFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Daily loop; returns (sold, on_hand_eod) as (days, n) and the orders as (day, idx) rows."""
    days, n = inp.demand.shape
    on_hand = inp.start_on_hand.copy()
    arrivals = np.zeros((days + 400, n), dtype=np.int64)
    p_idx, p_qty, p_arr, p_exp = (a.copy() for a in inp.init_pos)
    np.add.at(arrivals, (p_arr, p_idx), p_qty)
    sold = np.zeros((days, n), dtype=np.int64)
    eod = np.zeros((days, n), dtype=np.int64)
    orders: list[np.ndarray] = []
    reviews = {d: k for k, d in enumerate(inp.review_days)}
    for t in range(days):
        on_hand += arrivals[t]
        if t in reviews:
            k = reviews[t]
            out = p_arr > t
            p_idx, p_qty, p_arr, p_exp = p_idx[out], p_qty[out], p_arr[out], p_exp[out]
            res = order_fn(k, t, on_hand, (p_idx, p_qty, p_exp))
            qty, moves = res if isinstance(res, tuple) else (res, None)
            if moves is not None and moves[0].size:
                # a transfer leaves the sender's shelf today and arrives after the lane's days
                # (at least the next day); until then it is on order at the receiver
                src, dst, units, days_ = moves
                units = np.minimum(units, np.maximum(on_hand[src], 0))
                np.subtract.at(on_hand, src, units)
                arrive = t + np.maximum(days_, 1)
                np.add.at(arrivals, (arrive, dst), units)
                p_idx = np.concatenate([p_idx, dst])
                p_qty = np.concatenate([p_qty, units])
                p_arr = np.concatenate([p_arr, arrive])
                p_exp = np.concatenate([p_exp, arrive])
            placed = np.nonzero(qty > 0)[0]
            if placed.size:
                orders.append(np.stack([np.full(placed.size, t), placed], axis=1))
                arrive = t + inp.lead_draws[k, placed]
                np.add.at(arrivals, (arrive, placed), qty[placed])
                p_idx = np.concatenate([p_idx, placed])
                p_qty = np.concatenate([p_qty, qty[placed]])
                p_arr = np.concatenate([p_arr, arrive])
                p_exp = np.concatenate([p_exp, t + inp.lead[placed]])
        s = np.minimum(on_hand, inp.demand[t])
        on_hand -= s
        sold[t] = s
        eod[t] = on_hand
    placed_all = np.concatenate(orders) if orders else np.zeros((0, 2), dtype=np.int64)
    return sold, eod, placed_all


def _outcome(
    name: str,
    inp: _Inputs,
    sold: np.ndarray,
    eod: np.ndarray,
    orders: np.ndarray,
    review: int,
    parameter: float | None = None,
) -> PolicyOutcome:
    m = inp.measure_from
    days = inp.demand.shape[0]
    dem = inp.demand[m:]
    lost_all = inp.demand - sold
    lost = lost_all[m:]
    weeks = lost.shape[0] // review
    weekly_served = ~(lost[: weeks * review].reshape(weeks, review, -1).sum(axis=1) > 0)
    # Order cycles: an order placed on day t is the last one that can arrive before t + L + R,
    # so it is answerable for the review period [t + L, t + L + R) (L nominal): the cycle is
    # served when no sale is lost there. This is the event the reorder point protects,
    # P(demand over L + R <= S), so its share is what the target service level promises.
    cum = np.zeros((days + 1, lost_all.shape[1]), dtype=np.int64)
    np.cumsum(lost_all, axis=0, out=cum[1:])
    t0, idx = orders[:, 0], orders[:, 1]
    start = t0 + inp.lead[idx]
    end = start + review
    keep = (start >= m) & (end <= days)
    t0, idx, start, end = t0[keep], idx[keep], start[keep], end[keep]
    cycle_served = (cum[end, idx] - cum[start, idx]) == 0
    by_class = {}
    for cls in np.unique(inp.abc[idx]) if idx.size else []:
        mask = inp.abc[idx] == cls
        by_class[str(cls)] = float(cycle_served[mask].mean())
    return PolicyOutcome(
        name=name,
        fill_rate=float(sold[m:].sum() / max(dem.sum(), 1)),
        cycle_service_level=float(cycle_served.mean()) if idx.size else float("nan"),
        target_service_level=float(inp.service_level[idx].mean()) if idx.size else float("nan"),
        weekly_service_level=float(weekly_served.mean()),
        order_cycles=int(idx.size),
        avg_inventory_value=float((eod[m:] * inp.unit_cost[None, :]).sum(axis=1).mean()),
        avg_inventory_units=float(eod[m:].sum(axis=1).mean()),
        demand_units=int(dem.sum()),
        lost_units=int(lost.sum()),
        orders_placed=int((orders[:, 0] >= m).sum()),
        cycle_service_level_by_class=by_class,
        parameter=parameter,
        stockout_days=int((lost > 0).sum()),
        daily_inventory_value=[float(v) for v in (eod[m:] * inp.unit_cost[None, :]).sum(axis=1)],
    )


@dataclass
class _Policy:
    order_fn: OrderFn
    d_bar: np.ndarray  # (reviews, n) the forecast's average daily demand at each review
    sales_30d: np.ndarray  # (reviews, n) the last 30 days' average recorded sales
    covers: list[pl.DataFrame]  # the suggested lines' days of cover, per review
    # transfer lines and units the policy proposed over all reviews (settings.transfer_lanes)
    transfers: list[int] = field(default_factory=lambda: [0, 0])


def _policy(
    inp: _Inputs,
    demand: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    settings: ReplenishmentSettings,
    abc_class: pl.DataFrame | None,
    forecaster: ForecastFn | None,
    measure_errors: bool,
    say: Callable[[str], None],
    history_days: int = 120,
    location_kinds: Mapping[str, str] | None = None,
    fx_to_base: Mapping[str, float] | None = None,
) -> _Policy:
    """The planner as an order function: at each review, forecast from the history recorded
    before that day (the last ``history_days``), measure errors, plan, order the lines."""
    n = inp.series.height
    history = (
        demand.filter(pl.col("is_active"))
        .join(inp.series.select(SERIES_KEYS), on=SERIES_KEYS, how="semi")
        .select(
            "date",
            "sku",
            "location_id",
            units_ordered="units_sold",
            is_stockout="is_stockout",
        )
    )
    if forecaster is None:
        forecaster = baseline_forecaster()
    horizon = settings.horizon_days
    d_bar = np.zeros((len(inp.review_days), n))
    terms = choose_supplier_terms(supplier_terms).join(
        inp.series.select("sku").unique(), on="sku", how="semi"
    )
    idx_of = inp.series
    # The recorded history as a (day, series) matrix, NaN on censored or unrecorded days, for
    # the demand errors measured per series at each review (the same numbers
    # measure_demand_errors computes from the frame, without re-pivoting it every week).
    h0 = column_date(history, "date", "min")
    hgrid = history.join(idx_of, on=SERIES_KEYS, how="inner").with_columns(
        t=(pl.col("date") - pl.lit(h0)).dt.total_days()
    )
    hist_units = np.full(((inp.sim_start - h0).days + inp.days, n), np.nan)
    hist_units[hgrid["t"].to_numpy(), hgrid["idx"].to_numpy()] = np.where(
        hgrid["is_stockout"].fill_null(False).to_numpy(),
        np.nan,
        hgrid["units_ordered"].cast(pl.Float64).to_numpy(),
    )
    p_days = inp.lead + settings.review_period_days
    # The plainest days-of-cover rule counts cover in the last 30 days' average recorded sales
    # (stockout days included as recorded: that is what a merchant's report shows).
    hist_sales = np.zeros_like(hist_units)
    hist_sales[hgrid["t"].to_numpy(), hgrid["idx"].to_numpy()] = (
        hgrid["units_ordered"].fill_null(0).cast(pl.Float64).to_numpy()
    )
    offset = (inp.sim_start - h0).days
    sales_30d = np.stack(
        [hist_sales[max(0, offset + t - 30) : offset + t].sum(axis=0) / 30 for t in inp.review_days]
    )

    covers: list[pl.DataFrame] = []
    transfers = [0, 0]
    fx = {c: Decimal(str(r)) for c, r in (fx_to_base or {}).items()}

    def policy_orders(k: int, t: int, on_hand: np.ndarray, pipe: tuple[np.ndarray, ...]):
        run_date = inp.sim_start + timedelta(days=t)
        hist = history.filter(
            (pl.col("date") < run_date)
            & (pl.col("date") >= run_date - timedelta(days=history_days))
        )
        fc = forecaster(hist, run_date, horizon)
        f = fc.join(idx_of, on=SERIES_KEYS, how="inner").group_by("idx").agg(pl.col("mean").mean())
        d_bar[k, f["idx"].to_numpy()] = f["mean"].to_numpy()
        inv = idx_of.with_columns(
            on_hand=pl.Series(on_hand, dtype=pl.Int64),
            committed=pl.lit(0, dtype=pl.Int64),
            on_order=pl.lit(0, dtype=pl.Int64),
        )
        p_idx, p_qty, p_exp = pipe
        pos = (
            pl.DataFrame({"idx": p_idx, "quantity_open": p_qty, "e": p_exp})
            .join(idx_of, on="idx", how="left")
            .with_columns(
                po_id=pl.lit("SIM"),
                supplier_id=pl.lit("SIM"),
                expected_at=pl.lit(inp.sim_start) + pl.duration(days=pl.col("e")),
            )
        )
        errors = None
        if measure_errors:
            t_end = (run_date - h0).days
            past = hist_units[max(0, t_end - settings.error_history_days) : t_end]
            mse, n_eff = demand_error_variance(past, p_days)
            errors = idx_of.select(SERIES_KEYS).with_columns(
                error_var=pl.Series(mse),
                error_n=pl.Series(n_eff),
                error_level=pl.Series(demand_error_level(past, p_days)),
            )
        plan = plan_replenishment(
            fc,
            inv,
            terms,
            settings,
            run_date,
            abc_class=abc_class,
            open_purchase_orders=pos,
            demand_errors=errors,
            location_kinds=location_kinds,
            fx_to_base=fx,
        )
        qty = np.zeros(n, dtype=np.int64)
        lines = plan.po_suggestions.join(idx_of, on=SERIES_KEYS, how="inner")
        covers.append(lines.select("days_of_cover", "days_of_cover_after", "beyond_max_cover"))
        qty[lines["idx"].to_numpy()] = lines["suggested_qty"].to_numpy()
        say(f"review {k + 1}/{len(inp.review_days)} {run_date}: {lines.height} lines")
        if not settings.transfer_lanes:
            return qty
        src = idx_of.select("sku", from_location_id="location_id", src="idx")
        dst = idx_of.select("sku", to_location_id="location_id", dst="idx")
        moves = plan.transfers.join(src, on=["sku", "from_location_id"], how="inner").join(
            dst, on=["sku", "to_location_id"], how="inner"
        )
        transfers[0] += moves.height
        transfers[1] += int(moves["quantity"].sum())
        return qty, (
            moves["src"].to_numpy().astype(np.int64),
            moves["dst"].to_numpy().astype(np.int64),
            moves["quantity"].to_numpy().astype(np.int64),
            moves["lead_time_days"].to_numpy().astype(np.int64),
        )

    return _Policy(policy_orders, d_bar, sales_30d, covers, transfers)


def simulate_replenishment(
    demand: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    settings: ReplenishmentSettings | None = None,
    *,
    weeks: int = 26,
    warmup_weeks: int = 8,
    abc_class: pl.DataFrame | None = None,
    open_purchase_orders: pl.DataFrame | None = None,
    fx_to_base: Mapping[str, float] | None = None,
    forecaster: ForecastFn | None = None,
    seed: int = 0,
    bisection_steps: int = 18,
    start_empty: bool = False,
    measure_errors: bool = True,
    progress: Callable[[str], None] | None = None,
    location_kinds: Mapping[str, str] | None = None,
) -> SimulationResult:
    """Simulate the policy and the tuned days-of-cover rule over the last ``weeks`` weeks.

    ``demand`` is the sandbox truth shape (``date, sku, location_id, true_demand, units_sold,
    on_hand_eod, is_stockout, is_active``); only series active over the whole window (plus four
    weeks of forecast history) and with supplier terms are simulated. ``open_purchase_orders``
    (sandbox ``purchase_orders`` truth, with ``ordered_at, expected_at, status`` and optionally
    ``received_at, lead_days``) seeds the pipeline at the start; ``fx_to_base`` converts unit
    costs (supplier currency -> base) for inventory value. ``start_empty`` starts every policy
    from no stock and no pipeline instead (the warm-up must then exceed the longest lead time),
    so the measured stock is the policy's own rather than the store's legacy stock.
    With ``settings.transfer_lanes`` the policy moves stock between the simulated locations
    first (``location_kinds`` names the marketplace-fulfilled ones): a transfer leaves the
    sender's shelf on the review day and arrives after the lane's days.
    """
    settings = settings or ReplenishmentSettings()
    say = progress or (lambda _msg: None)
    inp, pol = _prepared_policy(
        demand, supplier_terms, settings, weeks, warmup_weeks, abc_class, open_purchase_orders,
        fx_to_base, forecaster, seed, start_empty, measure_errors, say, location_kinds,
    )  # fmt: skip
    n = inp.series.height
    policy_orders, d_bar, sales_30d, covers = pol.order_fn, pol.d_bar, pol.sales_30d, pol.covers
    sold, eod, orders = _run(inp, policy_orders)
    review = settings.review_period_days
    ours = _outcome("policy", inp, sold, eod, orders, review)
    say(f"policy: fill rate {ours.fill_rate:.4f}, CSL {ours.cycle_service_level:.4f}")

    def doc_orders_for(cover: float, with_lead_time: bool, rate: np.ndarray) -> OrderFn:
        def fn(k: int, t: int, on_hand: np.ndarray, pipe: tuple[np.ndarray, ...]):
            p_idx, p_qty, _ = pipe
            on_order = np.bincount(p_idx, weights=p_qty, minlength=n).astype(np.int64)
            ip = on_hand + on_order
            days = inp.lead + review + cover if with_lead_time else np.full(n, cover)
            target = np.ceil(rate[k] * days - 1e-9).astype(np.int64)
            need = target - ip
            base = np.maximum(need, inp.moq)
            qty = -(-base // inp.case) * inp.case
            return np.where((need > 0) & (rate[k] > 0), qty, 0)

        return fn

    def tuned(
        name: str, with_lead_time: bool, lo: float, hi: float, rate: np.ndarray | None = None
    ) -> PolicyOutcome:
        rate = d_bar if rate is None else rate

        def doc(cover: float) -> PolicyOutcome:
            s_, e_, o_ = _run(inp, doc_orders_for(cover, with_lead_time, rate))
            return _outcome(name, inp, s_, e_, o_, review, parameter=cover)

        best = doc(hi)
        if best.fill_rate < ours.fill_rate:
            say(f"{name}: even {hi} days of cover stay below the policy's fill rate")
            return best
        for _ in range(bisection_steps):
            mid = (lo + hi) / 2
            out = doc(mid)
            if out.fill_rate >= ours.fill_rate:
                hi, best = mid, out
            else:
                lo = mid
            say(f"{name} {mid:.2f} days: fill rate {out.fill_rate:.4f}")
        return best

    # The rule as merchants use it: order up to C days of forecast demand, one C for all.
    best = tuned("days_of_cover", False, 0.0, 365.0)
    # A stronger variant that knows each lead time: order up to L + R + C days.
    best_lt = tuned("days_of_cover_plus_lead_time", True, -float(review), 180.0)
    # The rule exactly as issue #7 words it: cover in the last 30 days' average sales.
    best_30d = tuned("days_of_cover_30d_sales", False, 0.0, 365.0, rate=sales_30d)
    reduction = 1.0 - ours.avg_inventory_value / best.avg_inventory_value
    return SimulationResult(
        policy=ours,
        days_of_cover=best,
        days_of_cover_plus_lead_time=best_lt,
        series=n,
        measure_start=inp.sim_start + timedelta(days=inp.measure_from),
        measure_end=inp.sim_start + timedelta(days=inp.days - 1),
        reviews=len(inp.review_days),
        inventory_reduction=reduction,
        days_of_cover_30d_sales=best_30d,
        line_cover=pl.concat(covers) if covers else None,
        transfer_lines=pol.transfers[0],
        transfer_units=pol.transfers[1],
    )


def _prepared_policy(
    demand: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    settings: ReplenishmentSettings,
    weeks: int,
    warmup_weeks: int,
    abc_class: pl.DataFrame | None,
    open_purchase_orders: pl.DataFrame | None,
    fx_to_base: Mapping[str, float] | None,
    forecaster: ForecastFn | None,
    seed: int,
    start_empty: bool,
    measure_errors: bool,
    say: Callable[[str], None],
    location_kinds: Mapping[str, str] | None,
    planning_terms: pl.DataFrame | None = None,
) -> tuple[_Inputs, _Policy]:
    """The simulation's inputs and the policy's order function, as both entry points build them
    (so a variant run with :func:`simulate_policy` replays the same series and draws).

    The true ``supplier_terms`` drive the simulated deliveries; the planner plans with
    ``planning_terms`` when given."""
    inp = _prepare(
        demand,
        supplier_terms,
        settings,
        weeks,
        warmup_weeks,
        abc_class,
        open_purchase_orders,
        fx_to_base,
        seed,
        start_empty,
    )
    terms = supplier_terms if planning_terms is None else planning_terms
    pol = _policy(
        inp, demand, terms, settings, abc_class, forecaster, measure_errors, say,
        location_kinds=location_kinds, fx_to_base=fx_to_base,
    )  # fmt: skip
    return inp, pol


def simulate_policy(
    demand: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    settings: ReplenishmentSettings | None = None,
    *,
    weeks: int = 26,
    warmup_weeks: int = 8,
    abc_class: pl.DataFrame | None = None,
    open_purchase_orders: pl.DataFrame | None = None,
    fx_to_base: Mapping[str, float] | None = None,
    forecaster: ForecastFn | None = None,
    seed: int = 0,
    start_empty: bool = False,
    measure_errors: bool = True,
    progress: Callable[[str], None] | None = None,
    location_kinds: Mapping[str, str] | None = None,
    planning_terms: pl.DataFrame | None = None,
) -> tuple[PolicyOutcome, int, int]:
    """The policy alone, as :func:`simulate_replenishment` runs it (same series, demand, start
    and lead-time draws for the same arguments), without tuning the days-of-cover rules: its
    outcome and the transfer lines and units it proposed.

    ``planning_terms`` are the terms the planner plans with (e.g. lead times measured from
    receipts, :func:`forecasting.lead_times.apply_measured_lead_times`); the lead times the
    orders really take are still drawn from ``supplier_terms``, the true ones. Why a separate
    entry point: comparing policy variants (transfers, measured lead times) on the same draws
    needs only the policy's run, and the rules' bisection is most of the time on a large store.
    """
    settings = settings or ReplenishmentSettings()
    say = progress or (lambda _msg: None)
    inp, pol = _prepared_policy(
        demand, supplier_terms, settings, weeks, warmup_weeks, abc_class, open_purchase_orders,
        fx_to_base, forecaster, seed, start_empty, measure_errors, say, location_kinds,
        planning_terms,
    )  # fmt: skip
    sold, eod, orders = _run(inp, pol.order_fn)
    out = _outcome("policy", inp, sold, eod, orders, settings.review_period_days)
    return out, pol.transfers[0], pol.transfers[1]


# --------------------------------------------------------------------------------------------
# `oms simulate`: the merchant's own history, our policy against the merchant's rule


@dataclass(frozen=True)
class MerchantRule:
    """The reorder rule the merchant uses today, replayed beside our policy.

    - ``days-of-cover``: at each review, when the position is below ``cover`` days of the last
      30 days' average recorded sales, order up to ``up_to`` days of it;
    - ``min-max``: when the position is at or below ``min_units``, order up to ``max_units``
      (the same for every SKU-location, or per SKU-location from ``levels``: ``sku,
      location_id, min_units, max_units``).

    MOQ and case pack apply as to our lines.
    """

    kind: str = "days-of-cover"
    cover: float = 30.0
    up_to: float = 60.0
    min_units: int = 0
    max_units: int = 0
    levels: pl.DataFrame | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("days-of-cover", "min-max"):
            raise ValueError(f"rule must be 'days-of-cover' or 'min-max', got {self.kind!r}")
        if self.kind == "days-of-cover" and not 0 <= self.cover <= self.up_to:
            raise ValueError("days-of-cover: need 0 <= cover <= up_to")
        if (
            self.kind == "min-max"
            and self.levels is None
            and not (0 <= self.min_units < self.max_units)
        ):
            raise ValueError("min-max: need 0 <= min < max")

    @property
    def label(self) -> str:
        if self.kind == "days-of-cover":
            return f"days of cover: below {self.cover:g} days, up to {self.up_to:g}"
        if self.levels is not None:
            return "min-max (per SKU-location)"
        return f"min-max: at or below {self.min_units}, up to {self.max_units}"


@dataclass
class ReplayResult:
    """``oms simulate``: our policy and the merchant's rule over the same replayed weeks."""

    policy: PolicyOutcome
    rule: PolicyOutcome
    rule_label: str
    series: int
    measure_start: date
    measure_end: date
    reviews: int
    line_cover: pl.DataFrame | None = None

    def rows(self) -> list[tuple[str, str, str]]:
        """(metric, ours, the rule's) rows of the side-by-side table, formatted."""

        def pct(v: float) -> str:
            return "n/a" if v != v else f"{100 * v:.1f}%"

        p, r = self.policy, self.rule
        return [
            ("fill rate (units sold / demanded)", pct(p.fill_rate), pct(r.fill_rate)),
            (
                "cycle service level (target)",
                f"{pct(p.cycle_service_level)} ({pct(p.target_service_level)})",
                pct(r.cycle_service_level),
            ),
            (
                "average inventory value",
                f"{p.avg_inventory_value:,.0f}",
                f"{r.avg_inventory_value:,.0f}",
            ),
            ("stockout days (SKU-location-days)", f"{p.stockout_days:,}", f"{r.stockout_days:,}"),
            ("order lines", f"{p.orders_placed:,}", f"{r.orders_placed:,}"),
            ("units lost", f"{p.lost_units:,}", f"{r.lost_units:,}"),
        ]


def demand_from_marts(daily_demand: pl.DataFrame, window: int = 28) -> pl.DataFrame:
    """The simulation's demand frame from ``marts.daily_demand`` (a merchant's own history).

    ``daily_demand``: ``date, sku, location_id, units_ordered, end_of_day_on_hand,
    is_stockout``. What a store recorded is all it knows: demand is the units ordered, and on a
    stockout day (when sales were capped by the shelf) the mean of the last ``window`` open
    days stands in for the demand nobody could record (rounded). On hand at the end of each day
    seeds the replay's starting stock. Days before a series' first row are not in it.
    """
    d = daily_demand.sort("sku", "location_id", "date").with_columns(
        is_stockout=pl.col("is_stockout").fill_null(False),
        units=pl.col("units_ordered").fill_null(0).clip(lower_bound=0).cast(pl.Int64),
    )
    open_units = pl.when(~pl.col("is_stockout")).then(pl.col("units").cast(pl.Float64))
    d = d.with_columns(
        recent=open_units.shift(1)
        .rolling_mean(window, min_samples=1)
        .over("sku", "location_id")
        .fill_null(0.0)
    )
    return d.select(
        "date",
        "sku",
        "location_id",
        true_demand=pl.when(pl.col("is_stockout"))
        .then(pl.max_horizontal(pl.col("units"), pl.col("recent").round(0).cast(pl.Int64)))
        .otherwise(pl.col("units")),
        units_sold="units",
        on_hand_eod=pl.col("end_of_day_on_hand").fill_null(0).cast(pl.Int64),
        is_stockout="is_stockout",
        is_active=pl.lit(True),
    )


def replay(
    demand: pl.DataFrame,
    supplier_terms: pl.DataFrame,
    rule: MerchantRule,
    settings: ReplenishmentSettings | None = None,
    *,
    weeks: int = 13,
    warmup_weeks: int = 4,
    abc_class: pl.DataFrame | None = None,
    fx_to_base: Mapping[str, float] | None = None,
    forecaster: ForecastFn | None = None,
    history_days: int = 120,
    seed: int = 0,
    measure_errors: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ReplayResult:
    """Replay the last ``weeks`` weeks under our policy and under the merchant's ``rule``.

    ``demand`` in the simulation's shape (:func:`demand_from_marts` for a warehouse). Both
    start from the stock on hand the day before the replay (no pipeline: the warehouse keeps
    no dated history of open orders), meet the same demand and the same sampled lead times;
    our policy re-forecasts at every review from the history recorded before it (the last
    ``history_days``), the rule reads the last 30 days' recorded sales. Measured after
    ``warmup_weeks`` (so each has its own orders in the pipeline).
    """
    settings = settings or ReplenishmentSettings()
    say = progress or (lambda _msg: None)
    inp = _prepare(
        demand,
        supplier_terms,
        settings,
        weeks,
        warmup_weeks,
        abc_class,
        None,
        fx_to_base,
        seed,
    )
    if inp.series.height == 0:
        raise ValueError(
            "no SKU-location has both supplier terms and a recorded history over the replayed "
            "weeks plus four"
        )
    pol = _policy(
        inp, demand, supplier_terms, settings, abc_class, forecaster, measure_errors, say,
        history_days=history_days,
    )  # fmt: skip
    review = settings.review_period_days
    sold, eod, orders = _run(inp, pol.order_fn)
    ours = _outcome("policy", inp, sold, eod, orders, review)
    say(f"policy: fill rate {ours.fill_rate:.4f}")
    n = inp.series.height
    if rule.kind == "min-max":
        lo = np.full(n, rule.min_units, dtype=np.int64)
        hi = np.full(n, rule.max_units, dtype=np.int64)
        if rule.levels is not None:
            lv = inp.series.join(rule.levels, on=SERIES_KEYS, how="left").sort("idx")
            lo = lv["min_units"].fill_null(rule.min_units).to_numpy().astype(np.int64)
            hi = lv["max_units"].fill_null(rule.max_units).to_numpy().astype(np.int64)

    def rule_orders(k: int, t: int, on_hand: np.ndarray, pipe: tuple[np.ndarray, ...]):
        p_idx, p_qty, _ = pipe
        ip = on_hand + np.bincount(p_idx, weights=p_qty, minlength=n).astype(np.int64)
        if rule.kind == "days-of-cover":
            rate = pol.sales_30d[k]
            trigger = (ip < rate * rule.cover) & (rate > 0)
            target = np.ceil(rate * rule.up_to - 1e-9).astype(np.int64)
        else:
            trigger = (ip <= lo) & (hi > 0)
            target = hi
        need = target - ip
        base = np.maximum(need, inp.moq)
        qty = -(-base // inp.case) * inp.case
        return np.where(trigger & (need > 0), qty, 0)

    s_, e_, o_ = _run(inp, rule_orders)
    theirs = _outcome("rule", inp, s_, e_, o_, review)
    return ReplayResult(
        policy=ours,
        rule=theirs,
        rule_label=rule.label,
        series=n,
        measure_start=inp.sim_start + timedelta(days=inp.measure_from),
        measure_end=inp.sim_start + timedelta(days=inp.days - 1),
        reviews=len(inp.review_days),
        line_cover=pl.concat(pol.covers) if pol.covers else None,
    )


def engine_forecaster(products: pl.DataFrame | None = None) -> ForecastFn:
    """Our forecast as the planning flow makes it (weekly engine, spread over days by weekday,
    demand class attached), as a simulation forecaster."""
    from forecasting.engine import ForecastSettings, forecast_all, to_daily, weekday_profile

    def forecast(history: pl.DataFrame, run_date: date, horizon: int) -> pl.DataFrame:
        fs = ForecastSettings.for_horizon_days(horizon)
        weekly, acc = forecast_all(history, run_date, fs, workers=1, products=products)
        daily = to_daily(weekly, run_date, horizon, weekday_profile(history, run_date))
        chosen = acc.filter(pl.col("chosen")).select(*SERIES_KEYS, "demand_class")
        return daily.join(chosen, on=SERIES_KEYS, how="left")

    return forecast
