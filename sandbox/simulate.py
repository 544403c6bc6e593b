"""Day-by-day stock simulation over all SKU x location series at once.

Sales = min(demand, on hand); unmet demand is lost (a stockout). A (s, S) policy reviewed
daily raises purchase orders to the SKU's supplier that arrive after a random lead time.
Returns are decided the day units are sold (they need the sold quantity) and, when restocked,
come back into stock on their refund day. The loop is per day; everything inside is numpy.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from sandbox.catalog import CATEGORY_RETURN_RATE, Catalog

REVIEW_DAYS = 7
SERVICE_Z = 0.3


@dataclasses.dataclass
class Simulation:
    """Per (day, series) outcomes plus the purchase-order lines raised."""

    sold: np.ndarray  # (days, S) int32 units sold (placed, not cancelled)
    on_hand: np.ndarray  # (days, S) int32 end of day
    available: np.ndarray  # (days, S) int32 on hand before the day's sales (after receipts)
    returned: np.ndarray  # (days, S) int32 units sold that day that will be returned
    return_delay: np.ndarray  # (days, S) int16 days from sale to refund
    restock: np.ndarray  # (days, S) bool returned units go back into stock
    po: dict[str, np.ndarray]  # PO lines: day, series, qty_ordered, qty_received, arrival, status


def simulate(
    rng: np.random.Generator, cat: Catalog, rate: np.ndarray, demand: np.ndarray
) -> Simulation:
    """Run the inventory simulation; see module docstring for the policy."""
    days, n_series = demand.shape
    n_skus = len(cat.skus)
    sku_of = np.repeat(np.arange(n_skus), 4)
    sup = cat.supplier[sku_of]
    lead_mean = cat.supplier_lead[sup].astype(np.int64)
    lead_std = cat.supplier_lead_std[sup].astype(np.float64)
    case = cat.case_pack[sku_of]
    moq = cat.moq[sku_of]
    p_ret = CATEGORY_RETURN_RATE[cat.category[sku_of]]
    carried = cat.carried.reshape(-1)
    launch = cat.launch_day[sku_of]
    end = cat.end_day[sku_of]

    # Forward-looking expected demand over lead time + review (the planner's "forecast").
    horizon = lead_mean + REVIEW_DAYS
    cs = np.zeros((days + 1, n_series), dtype=np.float64)
    np.cumsum(rate, axis=0, out=cs[1:])
    cols = np.arange(n_series)
    # The planner's forecast is biased per series (some under-forecast -> those stock out).
    bias = rng.lognormal(-0.2, 0.35, n_series)

    on_hand = np.zeros(n_series, dtype=np.int64)
    on_order = np.zeros(n_series, dtype=np.int64)
    arrivals = np.zeros((days + 1, n_series), dtype=np.int64)
    due = np.zeros((days + 1, n_series), dtype=np.int64)  # ordered qty leaving on_order
    restock_in = np.zeros((days + 1, n_series), dtype=np.int64)

    sold = np.zeros((days, n_series), dtype=np.int32)
    eod = np.zeros((days, n_series), dtype=np.int32)
    avail = np.zeros((days, n_series), dtype=np.int32)
    returned = np.zeros((days, n_series), dtype=np.int32)
    delay = rng.integers(3, 31, (days, n_series)).astype(np.int16)
    restock = rng.random((days, n_series)) < 0.7
    po_parts: list[tuple[np.ndarray, ...]] = []

    for t in range(days):
        on_hand += arrivals[t] + restock_in[t]
        on_order -= due[t]
        hi = np.minimum(t + horizon, days)
        lt_demand = (cs[hi, cols] - cs[t, cols]) * (horizon / np.maximum(hi - t, 1)) * bias
        s_level = np.ceil(lt_demand + SERVICE_Z * np.sqrt(lt_demand))
        big_s = s_level + np.maximum(case, np.ceil(lt_demand * 1.2))
        if t == 0 or (launch == t).any():
            first = (launch == t) & carried & (end > t)
            on_hand[first] = big_s[first].astype(np.int64)

        avail[t] = on_hand
        s = np.minimum(demand[t], on_hand)
        on_hand -= s
        sold[t] = s
        back = t + delay[t]
        r = np.where(back < days, rng.binomial(s, p_ret), 0)  # refunds after end_date: not yet
        returned[t] = r
        ok = (back < days) & restock[t] & (r > 0)
        np.add.at(restock_in, (back[ok], cols[ok]), r[ok])
        eod[t] = on_hand

        position = on_hand + on_order
        need = (
            carried
            & (launch <= t)
            & ((end >= days) | (t < end - lead_mean - 14))
            & (position <= s_level)
        )
        idx = np.nonzero(need)[0]
        if idx.size:
            qty = big_s[idx] - position[idx]
            qty = np.maximum(np.ceil(qty / case[idx]) * case[idx], moq[idx]).astype(np.int64)
            lead = np.maximum(1, np.round(rng.normal(lead_mean[idx], lead_std[idx]))).astype(
                np.int64
            )
            u = rng.random(idx.size)
            cancelled = u < 0.01
            partial = (u >= 0.01) & (u < 0.05)
            received = np.where(partial, (qty * 0.8).astype(np.int64), qty)
            received = np.where(cancelled, 0, received)
            arrive = t + lead
            nominal = t + lead_mean[idx]
            is_open = ~cancelled & ((arrive >= days) | (nominal >= days))
            arrived = ~cancelled & ~is_open
            np.add.at(arrivals, (arrive[arrived], idx[arrived]), received[arrived])
            np.add.at(due, (arrive[arrived], idx[arrived]), qty[arrived])
            on_order[idx[~cancelled]] += qty[~cancelled]
            status = np.where(
                cancelled, 3, np.where(is_open, 0, np.where(partial, 1, 2))
            )  # 0 open 1 partial 2 received 3 cancelled
            po_parts.append(
                (np.full(idx.size, t), idx, qty, np.where(arrived, received, 0), arrive, status)
            )

    names = ("day", "series", "qty_ordered", "qty_received", "arrival", "status")
    if po_parts:
        po = {k: np.concatenate([p[i] for p in po_parts]) for i, k in enumerate(names)}
    else:
        po = {k: np.zeros(0, dtype=np.int64) for k in names}
    return Simulation(sold, eod, avail, returned, delay, restock, po)
