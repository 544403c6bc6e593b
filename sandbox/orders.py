"""Turn simulated unit sales into orders, lines, cancellations, refunds and edit times.

Vectorised: units of each (day, series, channel) cell are expanded, cut into lines, lines are
shuffled within a (day, channel, location) pool and cut into orders. Cancelled orders are
extra copies of real orders (the shopper cancelled and re-ordered), so cancelled units never
touch stock and non-cancelled line quantities sum exactly to the simulated sales. Returns
decided by the simulation are allocated to the lines of the cell they were sold from.
All money is integer cents in the order's local currency.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from sandbox.catalog import (
    BUSINESS_TZ,
    CH_AMAZON,
    CH_SHOP,
    CH_TILLS,
    CH_WOO,
    CHANNELS,
    COUNTRIES,
    LOC_AMS,
    LOC_BER,
    LOC_FBA,
    LOC_LON,
    LOCATIONS,
    VAT_BY_COUNTRY,
    Catalog,
    Customers,
    email_variant,
)
from sandbox.demand import PROMO_CODES, Promotions
from sandbox.simulate import Simulation

P_NEW_LINE = np.array([0.75, 0.85, 0.12, 0.7])  # per channel: a unit starts a new line
P_NEW_ORDER = np.array([0.6, 0.75, 0.4, 0.5])  # per channel: a line starts a new order
CANCEL_SHARE = 0.03
EDIT_SHARE = 0.04
AMAZON_UK_SHARE = 0.25
HOUR = 3600
DAY = 86400


@dataclasses.dataclass
class OrderBook:
    """Internal order tables (int cents) that both truth and renderers derive from."""

    orders: pl.DataFrame
    lines: pl.DataFrame
    refunds: pl.DataFrame  # one row per refunded line


def day_starts(start: dt.date, days: int) -> np.ndarray:
    """UTC epoch of local (business tz) midnight per day, using the day's noon offset.

    Orders are placed between 07:00 and 23:30 local so the DST switch (02:00-03:00) never matters.
    """
    tz = ZoneInfo(BUSINESS_TZ)
    out = np.empty(days, dtype=np.int64)
    for i in range(days):
        d = start + dt.timedelta(days=i)
        noon = dt.datetime(d.year, d.month, d.day, 12, tzinfo=tz)
        out[i] = int(noon.timestamp()) - 12 * HOUR
    return out


def _expand_cells(
    sim: Simulation, woo_demand: np.ndarray, retail_demand_lon: np.ndarray, n_skus: int
):
    """(day, series, channel, units) for every cell with sales, WH-LON split shop/woo."""
    days = sim.sold.shape[0]
    sold = sim.sold.reshape(days, n_skus, 4)
    lon = sold[:, :, LOC_LON]
    shop_gb = np.minimum(retail_demand_lon, lon)
    parts = [
        (sold[:, :, LOC_AMS], LOC_AMS, CH_SHOP),
        (shop_gb, LOC_LON, CH_SHOP),
        (lon - shop_gb, LOC_LON, CH_WOO),
        (sold[:, :, LOC_BER], LOC_BER, CH_TILLS),
        (sold[:, :, LOC_FBA], LOC_FBA, CH_AMAZON),
    ]
    ts, ss, cs, us = [], [], [], []
    for mat, loc, ch in parts:
        t, k = np.nonzero(mat > 0)
        ts.append(t)
        ss.append(k * 4 + loc)
        cs.append(np.full(t.size, ch))
        us.append(mat[t, k].astype(np.int64))
    return (np.concatenate(ts), np.concatenate(ss), np.concatenate(cs), np.concatenate(us))


def _group_starts(keys: list[np.ndarray]) -> np.ndarray:
    """Boolean: row starts a new group (keys already sorted)."""
    n = keys[0].size
    new = np.zeros(n, dtype=bool)
    if n:
        new[0] = True
        for k in keys:
            new[1:] |= k[1:] != k[:-1]
    return new


def build_orders(
    rng: np.random.Generator,
    cat: Catalog,
    cust: Customers,
    start: dt.date,
    sim: Simulation,
    woo_units: np.ndarray,
    demand_units: np.ndarray,
    promos: Promotions,
    fx: dict[str, np.ndarray],
) -> OrderBook:
    """Assemble the order book; see module docstring."""
    days, n_series = sim.sold.shape
    n_skus = len(cat.skus)
    d3 = demand_units.reshape(days, n_skus, 4)[:, :, LOC_LON]
    w3 = woo_units.reshape(days, n_skus, 4)[:, :, LOC_LON]
    c_t, c_s, c_ch, c_u = _expand_cells(sim, w3, d3 - w3, n_skus)

    # Units -> lines.
    unit_cell = np.repeat(np.arange(c_t.size), c_u)
    first = np.ones(unit_cell.size, dtype=bool)
    first[1:] = unit_cell[1:] != unit_cell[:-1]
    starts = first | (rng.random(unit_cell.size) < P_NEW_LINE[c_ch[unit_cell]])
    line_of_unit = np.cumsum(starts) - 1
    l_cell = unit_cell[starts]
    l_qty = np.bincount(line_of_unit).astype(np.int64)
    l_t, l_s, l_ch = c_t[l_cell], c_s[l_cell], c_ch[l_cell]
    l_loc = l_s % 4

    # Lines -> orders within (day, channel, location) pools.
    perm = np.lexsort((rng.random(l_t.size), l_loc, l_ch, l_t))
    l_t, l_s, l_ch, l_loc, l_qty = l_t[perm], l_s[perm], l_ch[perm], l_loc[perm], l_qty[perm]
    pool_new = _group_starts([l_t, l_ch, l_loc])
    o_new = pool_new | (rng.random(l_t.size) < P_NEW_ORDER[l_ch])
    l_order = np.cumsum(o_new) - 1
    n_real = int(l_order[-1]) + 1 if l_order.size else 0
    o_t, o_ch, o_loc = l_t[o_new], l_ch[o_new], l_loc[o_new]

    # Cancelled copies.
    canc_src = np.nonzero(rng.random(n_real) < CANCEL_SHARE)[0]
    copy_line = np.isin(l_order, canc_src)
    remap = np.full(n_real, -1)
    remap[canc_src] = n_real + np.arange(canc_src.size)
    l_order = np.concatenate([l_order, remap[l_order[copy_line]]])
    l_t = np.concatenate([l_t, l_t[copy_line]])
    l_s = np.concatenate([l_s, l_s[copy_line]])
    l_ch = np.concatenate([l_ch, l_ch[copy_line]])
    l_loc = np.concatenate([l_loc, l_loc[copy_line]])
    l_qty = np.concatenate([l_qty, l_qty[copy_line]])
    o_t = np.concatenate([o_t, o_t[canc_src]])
    o_ch = np.concatenate([o_ch, o_ch[canc_src]])
    o_loc = np.concatenate([o_loc, o_loc[canc_src]])
    n_orders = o_t.size
    o_cancelled = np.arange(n_orders) >= n_real

    # Placed times (local 07:00-23:30, tills 09:00-19:30).
    midnight = day_starts(start, days)
    secs = np.where(
        o_ch == CH_TILLS,
        9 * HOUR + rng.integers(0, 630 * 60, n_orders),
        7 * HOUR + rng.integers(0, 990 * 60, n_orders),
    )
    o_placed = midnight[o_t] + secs
    end_ts = int(midnight[-1]) + DAY - 1

    # Customers.
    o_cust = np.full(n_orders, -1, dtype=np.int64)
    gb = COUNTRIES.index("GB")
    w = cust.weight
    pools = [
        ((o_ch == CH_SHOP) & (o_loc == LOC_AMS), cust.on_shop & (cust.country != gb)),
        ((o_ch == CH_SHOP) & (o_loc == LOC_LON), cust.on_shop & (cust.country == gb)),
        (o_ch == CH_WOO, cust.on_woo),
        ((o_ch == CH_TILLS) & (rng.random(n_orders) < 0.45), cust.on_tills),
    ]
    for sel, members in pools:
        ids = np.nonzero(members)[0]
        if sel.any() and ids.size:
            p = w[ids] / w[ids].sum()
            o_cust[sel] = rng.choice(ids, int(sel.sum()), p=p)
    o_cust[n_real:] = o_cust[canc_src]
    o_country = np.where(o_cust >= 0, cust.country[np.maximum(o_cust, 0)], COUNTRIES.index("DE"))
    o_country = np.where((o_ch == CH_SHOP) & (o_loc == LOC_LON), gb, o_country)
    o_uk = (o_ch == CH_AMAZON) & (rng.random(n_orders) < AMAZON_UK_SHARE)
    amz_country = rng.choice(
        np.array([COUNTRIES.index(c) for c in ("DE", "FR", "NL", "AT", "ES", "BE")]),
        n_orders,
        p=[0.55, 0.15, 0.12, 0.08, 0.06, 0.04],
    )
    o_country = np.where(o_ch == CH_AMAZON, np.where(o_uk, gb, amz_country), o_country)
    o_uk[n_real:] = o_uk[canc_src]
    o_country[n_real:] = o_country[canc_src]
    n_buyers = max(50, len(cust.email) // 2)
    o_buyer = rng.integers(0, n_buyers, n_orders)

    # Currencies: 0 EUR, 1 GBP, 2 USD.
    cur_names = np.array(["EUR", "GBP", "USD"])
    o_cur = np.where((o_ch == CH_WOO) | o_uk, 1, 0)
    o_pres = np.where(
        o_ch == CH_SHOP,
        np.where(o_country == gb, 1, np.where(o_country == COUNTRIES.index("US"), 2, 0)),
        o_cur,
    )
    rates = np.stack([np.ones(days), fx["GBP"], fx["USD"]])  # EUR per unit

    # Line money (cents, order currency).
    sku = l_s // 4
    lp = cat.list_price_cents[sku]
    gbp_retail = np.round(cat.list_price_cents * 0.86 / 100.0) * 100 - 1
    gbp_whole = np.round(cat.list_price_cents * 0.86 * 0.55)
    l_cur = o_cur[l_order]
    unit = np.where(
        l_ch == CH_WOO,
        gbp_whole[sku],
        np.where(l_cur == 1, gbp_retail[sku], lp),
    ).astype(np.int64)
    gross = unit * l_qty
    pct = np.where(l_ch == CH_WOO, 0, promos.pct[l_t, sku]).astype(np.int64)
    disc = np.round(gross * pct / 100.0).astype(np.int64)
    vat = np.array([VAT_BY_COUNTRY[c] for c in COUNTRIES])[o_country[l_order]]
    vat = np.where((l_ch == CH_WOO) & (o_country[l_order] != gb), 0, vat)
    net = gross - disc
    inclusive = (l_ch == CH_AMAZON) | (l_ch == CH_TILLS)
    tax = np.where(
        inclusive, np.round(net * vat / (100.0 + vat)), np.round(net * vat / 100.0)
    ).astype(np.int64)
    l_rate = rates[o_pres[l_order], l_t]
    pres_unit = np.round(unit / l_rate).astype(np.int64)
    pres_disc = np.round(disc / l_rate).astype(np.int64)
    pres_tax = np.round(tax / l_rate).astype(np.int64)

    # Order money.
    o_gross = np.bincount(l_order, gross, n_orders).astype(np.int64)
    o_disc = np.bincount(l_order, disc, n_orders).astype(np.int64)
    o_tax = np.bincount(l_order, tax, n_orders).astype(np.int64)
    o_units = np.bincount(l_order, l_qty, n_orders).astype(np.int64)
    o_ship = np.where(
        o_ch == CH_SHOP,
        np.where(o_gross - o_disc < 5000, 495, 0),
        np.where(o_ch == CH_WOO, 1200, 0),
    ).astype(np.int64)
    o_incl = (o_ch == CH_AMAZON) | (o_ch == CH_TILLS)
    o_total = o_gross - o_disc + o_ship + np.where(o_incl, 0, o_tax)
    o_rate = rates[o_pres, o_t]
    o_pres_ship = np.round(o_ship / o_rate).astype(np.int64)
    code_idx = np.full(n_orders, -1, dtype=np.int64)
    has_code = pct > 0
    code_idx[l_order[has_code]] = promos.code[l_t[has_code], sku[has_code]]

    # Event times.
    late_cancel = rng.random(n_orders) < 0.4
    o_cancel_ts = np.where(
        late_cancel,
        o_placed + rng.integers(DAY, 3 * DAY, n_orders),
        o_placed + rng.integers(600, 6 * HOUR, n_orders),
    )
    o_cancel_ts = np.where(o_cancel_ts > end_ts, o_placed + 600, o_cancel_ts)
    o_fulfil_ts = o_placed + rng.integers(10 * HOUR, 40 * HOUR, n_orders)
    o_fulfil_ts = np.where(o_ch == CH_TILLS, o_placed, o_fulfil_ts)
    o_fulfilled = ~o_cancelled & (o_fulfil_ts <= end_ts)
    o_edit_ts = o_placed + rng.integers(20 * HOUR, 30 * HOUR, n_orders)
    o_edited = (
        ~o_cancelled
        & ((o_ch == CH_SHOP) | (o_ch == CH_WOO))
        & (rng.random(n_orders) < EDIT_SHARE)
        & (o_edit_ts <= end_ts)
    )

    # Final order: by channel then placed time -> channel sequence numbers.
    oorder = np.lexsort((np.arange(n_orders), o_placed, o_ch))
    new_pos = np.empty(n_orders, dtype=np.int64)
    new_pos[oorder] = np.arange(n_orders)
    seq = np.zeros(n_orders, dtype=np.int64)
    for ch in range(4):
        m = o_ch[oorder] == ch
        seq[oorder[m]] = np.arange(int(m.sum()))

    l_okey = new_pos[l_order]
    lorder = np.lexsort((sku, l_okey))
    l_no = np.zeros(l_okey.size, dtype=np.int64)
    ls = l_okey[lorder]
    grp = _group_starts([ls])
    gstart = np.maximum.accumulate(np.where(grp, np.arange(ls.size), 0))
    l_no[lorder] = np.arange(ls.size) - gstart + 1
    l_chseq = np.zeros(l_okey.size, dtype=np.int64)
    lch_sorted = l_ch[lorder]
    for ch in range(4):
        m = lch_sorted == ch
        l_chseq[lorder[m]] = np.arange(int(m.sum()))
    l_cancel = o_cancelled[l_order]

    # Refunds: allocate the simulated returns of cell (t, series) to its real lines.
    real = np.nonzero(~l_cancel)[0]
    ro = real[np.lexsort((l_okey[real], l_s[real], l_t[real]))]
    r_target = sim.returned[l_t[ro], l_s[ro]].astype(np.int64)
    cum = np.cumsum(l_qty[ro])
    gs = _group_starts([l_t[ro], l_s[ro]])
    base = np.maximum.accumulate(np.where(gs, cum - l_qty[ro], 0))
    before = cum - l_qty[ro] - base
    rq = np.clip(r_target - before, 0, l_qty[ro])
    hit = rq > 0
    rl = ro[hit]
    rq = rq[hit]
    r_day = l_t[rl] + sim.return_delay[l_t[rl], l_s[rl]].astype(np.int64)
    r_restock = sim.restock[l_t[rl], l_s[rl]]
    r_ts = midnight[r_day] + 10 * HOUR + (l_okey[rl] * 7919 % (8 * HOUR))
    r_disc = np.round(disc[rl] * rq / l_qty[rl]).astype(np.int64)
    r_sub = unit[rl] * rq - r_disc  # net of discount; for tills/amazon VAT is included
    r_tax = np.round(tax[rl] * rq / l_qty[rl]).astype(np.int64)
    r_amount = np.where(inclusive[rl], r_sub, r_sub + r_tax)
    # A refund event = one (order, day); number them in time order.
    rorder = np.lexsort((l_no[rl], l_okey[rl], r_ts))
    ev_new = _group_starts([r_ts[rorder], l_okey[rl][rorder]])
    r_event = np.empty(rl.size, dtype=np.int64)
    r_event[rorder] = np.cumsum(ev_new) - 1

    # E-mails as each channel spells them.
    multi = (cust.on_shop.astype(int) + cust.on_woo + cust.on_tills) > 1
    emails: list[str | None] = []
    norm: list[str | None] = []
    for k in range(n_orders):
        c = int(o_cust[k])
        ch = int(o_ch[k])
        if ch == CH_AMAZON:
            b = int(o_buyer[k])
            dom = "marketplace.amazon.co.uk" if o_uk[k] else "marketplace.amazon.de"
            e = f"{(b * 2654435761) % 36**8:08x}{b}@{dom}"
            emails.append(e)
            norm.append(e)
        elif c < 0:
            emails.append(None)
            norm.append(None)
        else:
            emails.append(email_variant(cust.email[c], ch, bool(multi[c])))
            norm.append(cust.email[c])

    ch_names = np.array(CHANNELS)
    loc_names = np.array(LOCATIONS)
    orders = pl.DataFrame(
        {
            "okey": new_pos,
            "channel": ch_names[o_ch],
            "ch": o_ch,
            "seq": seq,
            "day": o_t,
            "placed_ts": o_placed,
            "location_id": loc_names[o_loc],
            "customer": o_cust,
            "buyer": o_buyer,
            "email": pl.Series(emails, dtype=pl.String),
            "email_norm": pl.Series(norm, dtype=pl.String),
            "country": np.array(COUNTRIES)[o_country],
            "currency": cur_names[o_cur],
            "presentment_currency": cur_names[o_pres],
            "marketplace_uk": o_uk,
            "cancelled": o_cancelled,
            "cancelled_ts": pl.Series(np.where(o_cancelled, o_cancel_ts, 0)),
            "fulfilled": o_fulfilled,
            "fulfilled_ts": o_fulfil_ts,
            "edited": o_edited,
            "edit_ts": o_edit_ts,
            "gross": o_gross,
            "discount": o_disc,
            "tax": o_tax,
            "tax_included": o_incl,
            "shipping": o_ship,
            "pres_shipping": o_pres_ship,
            "total": o_total,
            "units": o_units,
            "discount_code": pl.Series(
                [PROMO_CODES[i] if i >= 0 else None for i in code_idx.tolist()], dtype=pl.String
            ),
        }
    ).sort("okey")
    lines = pl.DataFrame(
        {
            "okey": l_okey,
            "line_no": l_no,
            "chseq": l_chseq,
            "channel": ch_names[l_ch],
            "day": l_t,
            "sku_idx": sku,
            "sku": np.array(cat.skus)[sku],
            "location_id": loc_names[l_loc],
            "quantity": l_qty,
            "unit_price": unit,
            "gross": gross,
            "discount": disc,
            "tax": tax,
            "vat": vat,
            "pres_unit_price": pres_unit,
            "pres_discount": pres_disc,
            "pres_tax": pres_tax,
            "cancelled": l_cancel,
        }
    ).sort("okey", "line_no")
    refunds = pl.DataFrame(
        {
            "event": r_event,
            "okey": l_okey[rl],
            "line_no": l_no[rl],
            "line_chseq": l_chseq[rl],
            "channel": ch_names[l_ch[rl]],
            "sku": np.array(cat.skus)[sku[rl]],
            "sku_idx": sku[rl],
            "location_id": loc_names[l_loc[rl]],
            "quantity": rq,
            "unit_price": unit[rl],
            "subtotal": r_sub,
            "discount": r_disc,
            "tax": r_tax,
            "amount": r_amount,
            "day": r_day,
            "refunded_ts": r_ts,
            "restock": r_restock,
        }
    ).sort("event", "line_no")
    return OrderBook(orders, lines, refunds)
