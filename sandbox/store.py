"""`generate_store`: seed + scale -> a Store with its ground truth.

The Store keeps the internal order book (integer cents, epoch seconds) that the renderers use,
and `truth`, the same facts as typed polars tables (Decimal money, UTC datetimes) for tests and
mart checks. Both come from one place, so what is rendered always agrees with the truth.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl

from sandbox.bundles import add_bundles
from sandbox.catalog import (
    CHANNELS,
    COUNTRIES,
    LOCATIONS,
    PRESETS,
    Catalog,
    Customers,
    Scale,
    cents_to_decimal,
    make_catalog,
    make_customers,
    products_frame,
)
from sandbox.demand import expected_rate, make_fx, make_promotions, sample_demand
from sandbox.orders import DAY, OrderBook, build_orders, day_starts
from sandbox.promotions import promotion_calendar
from sandbox.shipping import add_shipping
from sandbox.simulate import Simulation, simulate
from sandbox.surplus import add_surplus

PO_STATUS = np.array(["open", "partial", "received", "cancelled"])


@dataclasses.dataclass
class Store:
    """A generated merchant. `truth` is the public ground truth; the rest feeds the renderers."""

    seed: int
    scale: Scale
    start_date: dt.date
    end_date: dt.date
    end_ts: int  # last second of end_date in the business time zone (UTC epoch)
    catalog: Catalog
    customers: Customers
    book: OrderBook
    truth: dict[str, pl.DataFrame]


def _ts_col(name: str) -> pl.Expr:
    return pl.from_epoch(pl.col(name), time_unit="s").dt.replace_time_zone("UTC")


def _day_col(name: str, start: dt.date) -> pl.Expr:
    return (pl.lit(start) + pl.duration(days=pl.col(name))).cast(pl.Date)


def _with_source_ids(book: OrderBook) -> OrderBook:
    """Give orders, lines and refunds the ids their source systems use (see raw-contract.md)."""
    seq = pl.col("seq")
    orders = book.orders.with_columns(
        source_id=pl.when(pl.col("channel") == "shop")
        .then((5100000001 + seq).cast(pl.String))
        .when(pl.col("channel") == "amazon")
        .then(
            pl.format(
                "{}-{}-{}",
                (302 + seq % 4).cast(pl.String),
                ((seq * 7919 + 1000003) % 10_000_000).cast(pl.String).str.zfill(7),
                seq.cast(pl.String).str.zfill(7),
            )
        )
        .when(pl.col("channel") == "woo")
        .then((4001 + seq).cast(pl.String))
        .otherwise((100001 + seq).cast(pl.String)),
        order_number=pl.when(pl.col("channel") == "shop").then(1001 + seq).otherwise(None),
    )
    n_woo = int((orders["channel"] == "woo").sum())
    chseq = pl.col("chseq")
    lines = book.lines.with_columns(
        line_id=pl.when(pl.col("channel") == "shop")
        .then((7100000001 + chseq).cast(pl.String))
        .when(pl.col("channel") == "amazon")
        .then((60000000000000 + chseq).cast(pl.String))
        .when(pl.col("channel") == "woo")
        .then((9001 + chseq).cast(pl.String))
        .otherwise(pl.col("line_no").cast(pl.String))
    )
    refunds = book.refunds.with_columns(
        ev_seq=(pl.col("event").rank("dense").over("channel") - 1).cast(pl.Int64),
        ev_in_order=(pl.col("event").rank("dense").over("okey")).cast(pl.Int64),
    ).with_columns(
        refund_id=pl.when(pl.col("channel") == "shop")
        .then((8900000001 + pl.col("ev_seq")).cast(pl.String))
        .when(pl.col("channel") == "amazon")
        .then(pl.col("ev_in_order").cast(pl.String))
        .when(pl.col("channel") == "woo")
        .then((4001 + n_woo + pl.col("ev_seq")).cast(pl.String))
        .otherwise((900001 + pl.col("ev_seq")).cast(pl.String))
    )
    ids = orders.select("okey", "source_id", "currency")
    lines = lines.join(ids, on="okey", how="left")
    refunds = refunds.join(ids, on="okey", how="left").join(
        lines.select("okey", "line_no", "line_id"), on=["okey", "line_no"], how="left"
    )
    return OrderBook(orders, lines.sort("okey", "line_no"), refunds.sort("event", "line_no"))


def generate_store(
    seed: int = 7, scale: str | Scale = "demo", end_date: dt.date | None = None
) -> Store:
    """Generate the deterministic store for (seed, scale, end_date).

    end_date defaults to yesterday (UTC); pass it explicitly wherever byte-identical output
    across days matters (tests, benchmarks).
    """
    sc = PRESETS[scale] if isinstance(scale, str) else scale
    if end_date is None:
        end_date = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    start = end_date - dt.timedelta(days=sc.days - 1)
    rng = np.random.default_rng([seed, sc.n_skus, sc.days])
    cat = make_catalog(rng, sc)
    cust = make_customers(rng, sc)
    promos = make_promotions(rng, cat, start, sc.days)
    fx = make_fx(rng, start, sc.days)
    rate = expected_rate(rng, cat, sc, start, promos)
    dem = sample_demand(rng, rate, len(cat.skus))
    sim = simulate(rng, cat, rate, dem.units)
    book = build_orders(rng, cat, cust, start, sim, dem.woo_units, dem.units, promos, fx)
    book = _with_source_ids(book)
    book = add_shipping(book, seed)  # its own random stream: the draws above do not shift
    add_surplus(seed, cat, sim, dem.units)  # WH-LON overstock: its own stream, no sale changes
    # bundles sold on Shopify, drawing on their components' stock: their own stream, appended
    # after every other SKU, order and series, so nothing above moves
    with_bundles, sim, units, rate, book, bundles = add_bundles(
        seed, cat, cust, start, sim, dem.units, rate, book, fx, sc.orders_per_day
    )
    end_ts = int(day_starts(end_date, 1)[0]) + DAY - 1
    truth = _truth(with_bundles, cust, sc, start, rate, units, sim, book, fx)
    truth["bundle_components"] = bundles.components  # the bill of materials
    # the campaigns as the merchant's promotion calendar (no draws: derived from the arrays;
    # bundles are never on promotion)
    truth["promotions"] = promotion_calendar(promos, cat, start)
    return Store(seed, sc, start, end_date, end_ts, with_bundles, cust, book, truth)


def _truth(
    cat: Catalog,
    cust: Customers,
    sc: Scale,
    start: dt.date,
    rate: np.ndarray,
    demand: np.ndarray,
    sim: Simulation,
    book: OrderBook,
    fx: dict[str, np.ndarray],
) -> dict[str, pl.DataFrame]:
    """Ground-truth tables (Decimal money, UTC datetimes) derived from the same arrays as the drops."""
    days, n_series = demand.shape
    n_skus = len(cat.skus)
    dates = pl.date_range(start, start + dt.timedelta(days=days - 1), eager=True)
    sku_of = np.repeat(np.arange(n_skus), 4)
    loc_of = np.tile(np.arange(4), n_skus)
    t = np.arange(days)[:, None]
    alive = (
        (t >= cat.launch_day[sku_of][None, :])
        & (t < cat.end_day[sku_of][None, :])
        & cat.carried.reshape(-1)[None, :]
    )
    ret = np.zeros((days, n_series), dtype=np.int32)
    rf = book.refunds
    if rf.height:
        sku_idx = {s: i for i, s in enumerate(cat.skus)}
        loc_idx = {loc: i for i, loc in enumerate(LOCATIONS)}
        series = np.array(
            [
                sku_idx[s] * 4 + loc_idx[loc]
                for s, loc in zip(rf["sku"], rf["location_id"], strict=True)
            ]
        )
        np.add.at(ret, (rf["day"].to_numpy(), series), rf["quantity"].to_numpy())
    demand_t = pl.DataFrame(
        {
            "date": np.repeat(dates.to_numpy(), n_series),
            "sku": np.tile(np.array(cat.skus)[sku_of], days),
            "location_id": np.tile(np.array(LOCATIONS)[loc_of], days),
            "expected_demand": rate.reshape(-1),
            "true_demand": demand.reshape(-1),
            "units_sold": sim.sold.reshape(-1),
            "units_returned": ret.reshape(-1),
            "available": sim.available.reshape(-1),
            "on_hand_eod": sim.on_hand.reshape(-1),
            "is_active": alive.reshape(-1),
        }
    ).with_columns(
        is_stockout=pl.col("is_active")
        & ((pl.col("on_hand_eod") == 0) | (pl.col("true_demand") > pl.col("units_sold")))
    )

    o = book.orders
    orders_t = o.select(
        "channel",
        order_id="source_id",
        order_number="order_number",
        placed_at=_ts_col("placed_ts"),
        order_date=_day_col("day", start),
        location_id="location_id",
        currency="currency",
        presentment_currency="presentment_currency",
        customer_email="email_norm",
        customer_email_raw="email",
        ship_country="country",
        cancelled="cancelled",
        cancelled_at=pl.when(pl.col("cancelled")).then(_ts_col("cancelled_ts")),
        fulfilled_at=pl.when(pl.col("fulfilled")).then(_ts_col("fulfilled_ts")),
        status=pl.when(pl.col("cancelled"))
        .then(pl.lit("cancelled"))
        .when(pl.col("fulfilled"))
        .then(pl.lit("fulfilled"))
        .otherwise(pl.lit("open")),
        units="units",
        discount_code="discount_code",
        tax_included="tax_included",
    ).with_columns(
        gross=cents_to_decimal(o["gross"].to_numpy()),
        discount=cents_to_decimal(o["discount"].to_numpy()),
        shipping=cents_to_decimal(o["shipping"].to_numpy()),
        tax=cents_to_decimal(o["tax"].to_numpy()),
        total=cents_to_decimal(o["total"].to_numpy()),
    )
    ln = book.lines
    lines_t = (
        ln.join(o.select("okey", "placed_ts"), on="okey")
        .select(
            "channel",
            order_id="source_id",
            line_id="line_id",
            order_date=_day_col("day", start),
            sku="sku",
            location_id="location_id",
            quantity="quantity",
            currency="currency",
            cancelled="cancelled",
        )
        .with_columns(
            unit_price=cents_to_decimal(ln["unit_price"].to_numpy()),
            discount=cents_to_decimal(ln["discount"].to_numpy()),
            tax=cents_to_decimal(ln["tax"].to_numpy()),
        )
    )
    refunds_t = rf.select(
        "channel",
        order_id="source_id",
        refund_id="refund_id",
        line_id="line_id",
        sku="sku",
        location_id="location_id",
        quantity="quantity",
        currency="currency",
        refunded_at=_ts_col("refunded_ts"),
        refund_date=_day_col("day", start),
        restocked="restock",
    ).with_columns(amount=cents_to_decimal(rf["amount"].to_numpy()))

    business = fx["business"]
    fx_rows = []
    for cur in ("GBP", "USD"):
        fx_rows.append(
            pl.DataFrame(
                {
                    "date": dates.filter(pl.Series(business)),
                    "currency": cur,
                    "rate": fx[cur][business],
                }
            )
        )
    fx_t = (
        pl.concat(fx_rows)
        .with_columns(
            rate=pl.col("rate")
            .round(4)
            .cast(pl.String)
            .str.to_decimal(scale=4)
            .cast(pl.Decimal(18, 4))
        )
        .sort("date", "currency")
    )

    po = sim.po
    po_sku = po["series"] // 4
    po_loc = po["series"] % 4
    sup_idx = cat.supplier[po_sku]
    po_t = pl.DataFrame(
        {
            "day": po["day"],
            "supplier_id": np.array(cat.supplier_ids)[sup_idx],
            "sku": np.array(cat.skus)[po_sku],
            "location_id": np.array(LOCATIONS)[po_loc],
            "quantity_ordered": po["qty_ordered"],
            "quantity_received": po["qty_received"],
            "lead_days": po["arrival"] - po["day"],
            "nominal_lead_days": cat.supplier_lead[sup_idx],
            "status": PO_STATUS[po["status"]],
        }
    ).sort("day", "supplier_id", "location_id", "sku")
    po_t = (
        po_t.with_columns(
            po_id=pl.format(
                "PO-{}",
                (pl.struct("day", "supplier_id", "location_id").rank("dense") + 1000).cast(
                    pl.String
                ),
            ),
            ordered_at=_day_col("day", start),
        )
        .with_columns(
            expected_at=pl.col("ordered_at") + pl.duration(days=pl.col("nominal_lead_days")),
            received_at=pl.when(pl.col("status").is_in(["received", "partial"])).then(
                pl.col("ordered_at") + pl.duration(days=pl.col("lead_days"))
            ),
        )
        .with_columns(
            updated_at=pl.when(pl.col("status") == "cancelled")
            .then(pl.col("ordered_at") + pl.duration(days=2))
            .otherwise(pl.coalesce("received_at", "ordered_at"))
        )
        .select(
            "po_id",
            "supplier_id",
            "sku",
            "location_id",
            "quantity_ordered",
            "quantity_received",
            "ordered_at",
            "expected_at",
            "received_at",
            "status",
            "updated_at",
            "lead_days",
        )
    )

    bought = np.nonzero(cat.supplier >= 0)[0]  # bundles have no supplier: never purchased
    sup = cat.supplier[bought]
    terms_t = (
        pl.DataFrame(
            {
                "supplier_id": np.array(cat.supplier_ids)[sup],
                "supplier_name": np.array(cat.supplier_names)[sup],
                "supplier_email": [
                    f"orders@{cat.supplier_ids[s].lower()}.example.com" for s in sup
                ],
                "sku": np.array(cat.skus)[bought],
                "currency": np.array(cat.supplier_currency)[sup],
                "lead_time_days": cat.supplier_lead[sup],
                "lead_time_std_days": cat.supplier_lead_std[sup],
                "moq": cat.moq[bought],
                "case_pack": cat.case_pack[bought],
            }
        )
        .with_columns(unit_cost=cents_to_decimal(cat.unit_cost_cents[bought]))
        .sort("supplier_id", "sku")
    )

    channels = [
        ",".join(c for c, f in zip(("shop", "woo", "tills"), flags, strict=True) if f)
        for flags in zip(cust.on_shop, cust.on_woo, cust.on_tills, strict=True)
    ]
    customers_t = pl.DataFrame(
        {
            "customer_index": np.arange(len(cust.email)),
            "email": cust.email,
            "first_name": cust.first_name,
            "last_name": cust.last_name,
            "country": np.array(COUNTRIES)[cust.country],
            "channels": channels,
        }
    )
    return {
        "demand": demand_t,
        "orders": orders_t,
        "order_lines": lines_t,
        "refunds": refunds_t,
        "fx_rates": fx_t,
        "purchase_orders": po_t,
        "supplier_terms": terms_t,
        "products": products_frame(cat, start),
        "customers": customers_t,
        "channels": pl.DataFrame({"channel": list(CHANNELS)}),
    }
