"""Carriers, tracking numbers and delivery times of the sandbox's shipped orders (#18).

Drawn from their own random stream (the store's seed plus SHIPPING_STREAM), after the order book
is built, so no draw of the store shifts: every order, line, refund and truth figure stays as it
was; only the shipments gain a carrier and a delivery. Shopify is the channel whose API names them
(Fulfillment.trackingInfo, deliveredAt; REST tracking_company, shipment_status): Amazon's FBA
orders and WooCommerce orders carry no carrier or delivery in their APIs.

Late shipments need no draw of their own: orders ship 10 to 40 hours after they are placed
(sandbox/orders.py), so against the shop's 36-hour ship-by SLA (dbt var
fulfillment_ship_sla_hours) about one in eight ships late. Deliveries take the carrier's usual
transit, and one in twelve is held up two to five days more.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from sandbox.orders import DAY, HOUR, OrderBook

SHIPPING_STREAM = 18_018  # added to the seed: a stream apart from the store's
# carriers per ship-from location, with their shares and usual transit (hours, low-high)
CARRIERS: dict[str, tuple[tuple[str, float, int, int], ...]] = {
    "WH-AMS": (("PostNL", 0.5, 18, 40), ("DHL Express", 0.3, 16, 30), ("DPD", 0.2, 20, 48)),
    "WH-LON": (("Royal Mail", 0.6, 20, 60), ("DPD", 0.4, 18, 44)),
}
DELAYED_SHARE = 1 / 12


def add_shipping(book: OrderBook, seed: int, stream: int = SHIPPING_STREAM) -> OrderBook:
    """The book with `carrier`, `tracking_number` and `delivered_ts` (0 = none) on every order:
    set for shipped Shopify orders, empty for the others. `stream`: another random stream for
    orders added later (sandbox/bundles.py), so the first ones' draws stay as they were."""
    orders = book.orders
    rng = np.random.default_rng([seed, stream])
    n = orders.height
    pick, transit_u, delayed_u, delay_u = (rng.random(n) for _ in range(4))
    loc = orders["location_id"].to_numpy()
    shop = (orders["channel"] == "shop").to_numpy() & orders["fulfilled"].to_numpy()
    carrier = np.full(n, None, dtype=object)
    transit = np.zeros(n, dtype=np.int64)
    for where, options in CARRIERS.items():
        sel = shop & (loc == where)
        edges = np.cumsum([share for _, share, _, _ in options])
        k = np.minimum(
            np.searchsorted(edges, pick[sel] * edges[-1], side="right"), len(options) - 1
        )
        carrier[sel] = np.array([name for name, *_ in options], dtype=object)[k]
        low = np.array([lo for *_, lo, _ in options])[k]
        high = np.array([hi for *_, hi in options])[k]
        transit[sel] = (low + transit_u[sel] * (high - low)) * HOUR
    delayed = shop & (delayed_u < DELAYED_SHARE)
    transit = np.where(delayed, transit + (2 * DAY + delay_u * 3 * DAY).astype(np.int64), transit)
    fulfilled_ts = orders["fulfilled_ts"].to_numpy()
    delivered = np.where(shop, fulfilled_ts + transit, 0)
    seq = orders["seq"].to_numpy()
    tracking = [
        f"3S{s * 7919 % 10**9:010d}" if ok else None for s, ok in zip(seq, shop, strict=True)
    ]
    return OrderBook(
        orders.with_columns(
            carrier=pl.Series(carrier.tolist(), dtype=pl.String),
            tracking_number=pl.Series(tracking, dtype=pl.String),
            delivered_ts=pl.Series(delivered, dtype=pl.Int64),
        ),
        book.lines,
        book.refunds,
    )
