"""Bundles (gift sets, kits) among the sandbox's products, sold on Shopify from WH-AMS.

Why: a bundle sold is demand for its components that a per-SKU plan does not see (issue 17);
the pipeline lands a bill of materials (`bundle_components/*.csv`), explodes bundle sales into
component demand (`marts.daily_demand`, `demand_source = 'bundle'`) and gives each bundle the
availability its components allow (`marts.inventory_levels`, `source = 'bundle'`). The sandbox
has to sell some for that to be seen and tested end to end.

What it adds, after the store is simulated:

- ``n_bundles`` bundle SKUs (``BUN-0001`` …), launched half-way through the history, each of 2
  or 3 components (the first one 1 or 2 units per bundle, the others 1) at WH-AMS, priced at
  90% of its components' list prices. A bundle has no supplier and no stock of its own: it is
  never purchased, never counted, and appears in no stock file.
- their Shopify orders (one bundle line per order, shipped from WH-AMS like the shop's other
  orders, never cancelled or refunded), numbered after the shop's other orders so no id moves;
- the stock that assembling them takes: a kit consignment of each component lands on the
  bundles' launch day (what the bundles will use, rounded up to the component's case pack) and
  every bundle sold takes its components' units from the shelf on the day of the sale. Only
  components that lost no sale at WH-AMS from that day on are used, so the consignment and the
  bundle sales change no other sale: for every series sales = min(demand, available) still
  holds, and a component ends the history with what it had plus the unused rest of its
  consignment.
- the truth: a bundle's ``demand`` rows (its sales at WH-AMS; ``on_hand_eod`` / ``available``
  are the bundle's availability, min over its components of ⌊units / quantity⌋, as
  `inventory_levels` defines it) and ``bundle_components`` (``bundle_sku, component_sku,
  quantity``), written to the drop folder as the bill of materials.

Every draw comes from its own random stream (the store's seed plus ``BUNDLE_STREAM``), made
after every other draw of the store, so no other draw, order, id or figure of the sandbox moves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

from sandbox.catalog import (
    ADJECTIVES,
    CH_SHOP,
    COUNTRIES,
    LOC_AMS,
    VAT_BY_COUNTRY,
    Catalog,
    Customers,
    _price_points,
)
from sandbox.orders import DAY, HOUR, OrderBook, day_starts
from sandbox.shipping import add_shipping
from sandbox.simulate import Simulation

BUNDLE_STREAM = 17_0617  # added to the seed: a stream apart from the store's
BUNDLE_SKU_PREFIX = "BUN-"
MAX_BUNDLES = 25
BUNDLE_DISCOUNT = 0.9  # a bundle costs 90% of its components' list prices
P_NEW_ORDER = 0.8  # per bundle unit after the first of a day: it starts a new order
DEMO_ORDERS_PER_DAY, DEMO_SKUS = 50.0, 150  # the demo preset's (catalog.PRESETS)


@dataclasses.dataclass
class BundleSales:
    """What :func:`add_bundles` returns besides the extended arrays."""

    components: pl.DataFrame  # bundle_sku, component_sku, quantity (the bill of materials)


def n_bundles(n_skus: int) -> int:
    """How many bundles a store of ``n_skus`` products sells: 2 for a tiny one, up to 25."""
    return int(min(MAX_BUNDLES, max(2, n_skus // 50)))


def _pick_components(
    rng: np.random.Generator, eligible: np.ndarray, count: int
) -> list[list[tuple[int, int]]]:
    """``count`` bundles of 2-3 distinct eligible SKUs; the first component 1 or 2 per bundle."""
    out: list[list[tuple[int, int]]] = []
    pool = np.nonzero(eligible)[0]
    k_draw = rng.integers(2, 4, count)
    q_draw = rng.choice(np.array([1, 2]), count, p=[0.6, 0.4])
    for b in range(count):
        k = int(min(k_draw[b], pool.size))
        if k < 2:
            break
        picked = rng.choice(pool, k, replace=False)
        out.append([(int(c), int(q_draw[b]) if j == 0 else 1) for j, c in enumerate(picked)])
    return out


def add_bundles(
    seed: int,
    cat: Catalog,
    cust: Customers,
    start: dt.date,
    sim: Simulation,
    demand: np.ndarray,
    rate: np.ndarray,
    book: OrderBook,
    fx: dict[str, np.ndarray],
    orders_per_day: float,
) -> tuple[Catalog, Simulation, np.ndarray, np.ndarray, OrderBook, BundleSales]:
    """The store with bundles: catalog, simulation, demand and rate arrays extended by the
    bundles' series (4 per bundle, sold at WH-AMS only), the order book with their Shopify
    orders, and the bill of materials. Unchanged (and no bundles) when no SKU qualifies."""
    days, n_series = demand.shape
    n_skus = len(cat.skus)
    rng = np.random.default_rng([seed, n_skus, days, BUNDLE_STREAM])
    t0 = days // 2
    ams = np.arange(n_skus) * 4 + LOC_AMS
    eligible = (
        cat.carried[:, LOC_AMS]
        & (cat.launch_day < t0)
        & (cat.end_day >= days)
        & (sim.sold[t0:, ams] == demand[t0:, ams]).all(axis=0)
    )
    bundles = _pick_components(rng, eligible, n_bundles(n_skus))
    empty = BundleSales(
        pl.DataFrame(
            schema={"bundle_sku": pl.String, "component_sku": pl.String, "quantity": pl.Int64}
        )  # fmt: skip
    )
    if not bundles or t0 < 1:
        return cat, sim, demand, rate, book, empty
    nb = len(bundles)
    # daily bundle demand from the launch day: 0.3-0.8 a day on the demo store, scaled to the
    # store's orders per product (so a large store's bundles sell like its other products)
    per_sku = min(1.0, (orders_per_day / n_skus) / (DEMO_ORDERS_PER_DAY / DEMO_SKUS))
    lam = rng.uniform(0.3, 0.8, nb) * per_sku
    b_rate = np.zeros((days, nb))
    b_rate[t0:] = lam[None, :]
    b_units = rng.poisson(b_rate).astype(np.int64)

    # components' consumption, the kit consignment, and the stock it leaves on the shelf
    use = np.zeros((days, n_skus), dtype=np.int64)
    for b, comps in enumerate(bundles):
        for c, q in comps:
            use[:, c] += q * b_units[:, b]
    total = use.sum(axis=0)
    case = cat.case_pack
    consignment = np.where(total > 0, -(-total // case) * case, 0)
    cum = np.cumsum(use, axis=0)
    extra_eod = np.zeros((days, n_skus), dtype=np.int64)
    extra_eod[t0:] = consignment[None, :] - cum[t0:]
    extra_before = np.zeros((days, n_skus), dtype=np.int64)  # before the day's sales
    extra_before[t0:] = consignment[None, :] - (cum[t0:] - use[t0:])
    on_hand = sim.on_hand.astype(np.int64)
    available = sim.available.astype(np.int64)
    on_hand[:, ams] += extra_eod
    available[:, ams] += extra_before

    # the bundles' own series: sales at WH-AMS, availability from the components
    bsold = np.zeros((days, nb * 4), dtype=np.int64)
    b_eod = np.zeros((days, nb * 4), dtype=np.int64)
    b_avail = np.zeros((days, nb * 4), dtype=np.int64)
    for b, comps in enumerate(bundles):
        col = b * 4 + LOC_AMS
        bsold[:, col] = b_units[:, b]
        b_eod[:, col] = np.min([on_hand[:, c * 4 + LOC_AMS] // q for c, q in comps], axis=0)
        b_avail[:, col] = np.min([available[:, c * 4 + LOC_AMS] // q for c, q in comps], axis=0)
        b_avail[:t0, col] = 0
        b_eod[:t0, col] = 0
    assert (bsold <= b_avail).all(), "a bundle sold more than its components allowed"

    def widen(a: np.ndarray, extra: np.ndarray) -> np.ndarray:
        return np.concatenate([a, extra.astype(a.dtype)], axis=1)

    zeros = np.zeros((days, nb * 4), dtype=np.int64)
    new_sim = Simulation(
        sold=widen(sim.sold, bsold),
        on_hand=widen(on_hand.astype(sim.on_hand.dtype), b_eod),
        available=widen(available.astype(sim.available.dtype), b_avail),
        returned=widen(sim.returned, zeros),
        return_delay=widen(sim.return_delay, zeros + 3),
        restock=np.concatenate([sim.restock, np.zeros((days, nb * 4), dtype=bool)], axis=1),
        po=sim.po,
    )
    b_dem = zeros.copy()
    b_dem[:, LOC_AMS::4] = b_units
    b_exp = np.zeros((days, nb * 4))
    b_exp[:, LOC_AMS::4] = b_rate
    new_cat = _extend_catalog(rng, cat, bundles, t0, days)
    bom = pl.DataFrame(
        [
            (new_cat.skus[n_skus + b], cat.skus[c], q)
            for b, comps in enumerate(bundles)
            for c, q in comps
        ],
        schema={"bundle_sku": pl.String, "component_sku": pl.String, "quantity": pl.Int64},
        orient="row",
    ).sort("bundle_sku", "component_sku")
    new_book = _bundle_orders(rng, seed, new_cat, cust, start, b_units, n_skus, book, fx)
    return (
        new_cat,
        new_sim,
        np.concatenate([demand, b_dem.astype(demand.dtype)], axis=1),
        np.concatenate([rate, b_exp.astype(rate.dtype)], axis=1),
        new_book,
        BundleSales(bom),
    )


def _extend_catalog(
    rng: np.random.Generator,
    cat: Catalog,
    bundles: list[list[tuple[int, int]]],
    t0: int,
    days: int,
) -> Catalog:
    """The catalog with the bundles appended (no supplier: ``supplier`` -1, no cost)."""
    nb = len(bundles)
    n = len(cat.skus)
    skus = [f"{BUNDLE_SKU_PREFIX}{b + 1:04d}" for b in range(nb)]
    adj = rng.integers(0, len(ADJECTIVES), nb)
    titles = []
    prices = np.zeros(nb)
    category = np.zeros(nb, dtype=cat.category.dtype)
    for b, comps in enumerate(bundles):
        names = " + ".join(
            (f"{q} x " if q > 1 else "") + " ".join(cat.titles[c].split(" ")[1:-1])
            for c, q in comps
        )
        titles.append(f"{ADJECTIVES[adj[b]]} gift set: {names}")
        prices[b] = sum(q * cat.list_price_cents[c] for c, q in comps) / 100.0 * BUNDLE_DISCOUNT
        category[b] = cat.category[comps[0][0]]
    carried = np.zeros((nb, 4), dtype=bool)
    carried[:, LOC_AMS] = True

    def cat_arr(a: np.ndarray, extra: np.ndarray) -> np.ndarray:
        return np.concatenate([a, extra.astype(a.dtype)])

    return dataclasses.replace(
        cat,
        skus=[*cat.skus, *skus],
        titles=[*cat.titles, *titles],
        category=cat_arr(cat.category, category),
        list_price_cents=cat_arr(cat.list_price_cents, _price_points(prices)),
        supplier=cat_arr(cat.supplier, np.full(nb, -1)),
        unit_cost_cents=cat_arr(cat.unit_cost_cents, np.zeros(nb)),
        moq=cat_arr(cat.moq, np.ones(nb)),
        case_pack=cat_arr(cat.case_pack, np.ones(nb)),
        launch_day=cat_arr(cat.launch_day, np.full(nb, t0)),
        end_day=cat_arr(cat.end_day, np.full(nb, days)),
        carried=np.concatenate([cat.carried, carried]),
        bundles={n + b: comps for b, comps in enumerate(bundles)},
    )


def _bundle_orders(
    rng: np.random.Generator,
    seed: int,
    cat: Catalog,
    cust: Customers,
    start: dt.date,
    b_units: np.ndarray,
    n_skus: int,
    book: OrderBook,
    fx: dict[str, np.ndarray],
) -> OrderBook:
    """The book with the bundles' Shopify orders appended (ids after the shop's last ones)."""
    days, nb = b_units.shape
    t, b = np.nonzero(b_units)
    u = b_units[t, b]
    # units -> orders: the first unit of a (day, bundle) cell starts an order, the others
    # start one with P_NEW_ORDER (one bundle line per order)
    cell = np.repeat(np.arange(t.size), u)
    first = np.ones(cell.size, dtype=bool)
    first[1:] = cell[1:] != cell[:-1]
    new = first | (rng.random(cell.size) < P_NEW_ORDER)
    o_cell = cell[new]
    o_qty = np.bincount(np.cumsum(new) - 1).astype(np.int64)
    o_t, o_b = t[o_cell], b[o_cell]
    n = o_t.size
    midnight = day_starts(start, days)
    end_ts = int(midnight[-1]) + DAY - 1
    placed = midnight[o_t] + 7 * HOUR + rng.integers(0, 990 * 60, n)
    order = np.lexsort((o_b, placed))
    o_t, o_b, o_qty, placed = o_t[order], o_b[order], o_qty[order], placed[order]
    gb = COUNTRIES.index("GB")
    members = np.nonzero(cust.on_shop & (cust.country != gb))[0]
    p = cust.weight[members] / cust.weight[members].sum()
    o_cust = rng.choice(members, n, p=p)
    fulfil = placed + rng.integers(10 * HOUR, 40 * HOUR, n)
    country = cust.country[o_cust]
    us = country == COUNTRIES.index("US")
    rate = np.where(us, fx["USD"][o_t], 1.0)
    sku_idx = n_skus + o_b
    unit = cat.list_price_cents[sku_idx].astype(np.int64)
    gross = unit * o_qty
    vat = np.array([VAT_BY_COUNTRY[c] for c in COUNTRIES])[country]
    tax = np.round(gross * vat / 100.0).astype(np.int64)
    ship = np.where(gross < 5000, 495, 0).astype(np.int64)
    emails = [cust.email[c] for c in o_cust]  # the shop spells them as given (email_variant)

    shop = book.orders.filter(pl.col("channel") == "shop")
    seq0 = int(shop["seq"].to_numpy().max()) + 1 if shop.height else 0
    shop_lines = book.lines.filter(pl.col("channel") == "shop")["chseq"].to_numpy()
    chseq0 = int(shop_lines.max()) + 1 if shop_lines.size else 0
    okey = book.orders.height + np.arange(n)
    seq = seq0 + np.arange(n)
    orders = pl.DataFrame(
        {
            "okey": okey,
            "channel": "shop",
            "ch": CH_SHOP,
            "seq": seq,
            "day": o_t,
            "placed_ts": placed,
            "location_id": "WH-AMS",
            "customer": o_cust.astype(np.int64),
            "buyer": np.zeros(n, dtype=np.int64),
            "email": pl.Series(emails, dtype=pl.String),
            "email_norm": pl.Series(emails, dtype=pl.String),
            "country": np.array(COUNTRIES)[country],
            "currency": "EUR",
            "presentment_currency": np.where(us, "USD", "EUR"),
            "marketplace_uk": False,
            "cancelled": False,
            "cancelled_ts": 0,
            "fulfilled": fulfil <= end_ts,
            "fulfilled_ts": fulfil,
            "edited": False,
            "edit_ts": placed + 20 * HOUR,
            "gross": gross,
            "discount": 0,
            "tax": tax,
            "tax_included": False,
            "shipping": ship,
            "pres_shipping": np.round(ship / rate).astype(np.int64),
            "total": gross + ship + tax,
            "units": o_qty,
            "discount_code": pl.Series([None] * n, dtype=pl.String),
            "source_id": pl.Series((5100000001 + seq).astype(str), dtype=pl.String),
            "order_number": 1001 + seq,
        }
    )
    shipped = add_shipping(
        OrderBook(orders, book.lines.clear(), book.refunds.clear()), seed, BUNDLE_STREAM
    ).orders
    lines = pl.DataFrame(
        {
            "okey": okey,
            "line_no": 1,
            "chseq": chseq0 + np.arange(n),
            "channel": "shop",
            "day": o_t,
            "sku_idx": sku_idx.astype(np.int64),
            "sku": np.array(cat.skus)[sku_idx],
            "location_id": "WH-AMS",
            "quantity": o_qty,
            "unit_price": unit,
            "gross": gross,
            "discount": 0,
            "tax": tax,
            "vat": vat.astype(np.int64),
            "pres_unit_price": np.round(unit / rate).astype(np.int64),
            "pres_discount": 0,
            "pres_tax": np.round(tax / rate).astype(np.int64),
            "cancelled": False,
            "line_id": pl.Series((7100000001 + chseq0 + np.arange(n)).astype(str), dtype=pl.String),
            "source_id": orders["source_id"],
            "currency": "EUR",
        }
    )
    return _merged(book, shipped.select(book.orders.columns), lines.select(book.lines.columns))


def _merged(book: OrderBook, orders: pl.DataFrame, lines: pl.DataFrame) -> OrderBook:
    """The book with the new orders in it, renumbered so ``okey`` still runs by channel, then
    placed time (the drops are written in that order, one channel and month after the other);
    the existing orders keep their relative order, ids and everything else."""
    both = pl.concat([book.orders, orders], how="vertical_relaxed").with_columns(
        new=pl.int_range(pl.len()) >= book.orders.height
    )
    order = np.lexsort(
        (
            both["okey"].to_numpy(),
            both["new"].to_numpy(),
            both["placed_ts"].to_numpy(),
            both["ch"].to_numpy(),
        )
    )
    new_key = np.empty(both.height, dtype=np.int64)
    new_key[order] = np.arange(both.height)
    remap = pl.DataFrame(
        {
            "okey": both["okey"].to_numpy(),
            "new": both["new"].to_numpy(),
            "okey_new": new_key,
        }
    )
    old_map = remap.filter(~pl.col("new")).drop("new")
    new_map = remap.filter(pl.col("new")).drop("new")

    def rekey(frame: pl.DataFrame, mapping: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.join(mapping, on="okey", how="left", maintain_order="left")
            .with_columns(okey=pl.col("okey_new"))
            .drop("okey_new")
        )

    return OrderBook(
        pl.concat(
            [rekey(book.orders, old_map), rekey(orders, new_map)], how="vertical_relaxed"
        ).sort("okey"),
        pl.concat([rekey(book.lines, old_map), rekey(lines, new_map)], how="vertical_relaxed").sort(
            "okey", "line_no"
        ),
        rekey(book.refunds, old_map),
    )


__all__ = ["BUNDLE_STREAM", "BundleSales", "add_bundles", "n_bundles"]
