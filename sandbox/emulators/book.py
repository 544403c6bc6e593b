"""The sandbox Store as a channel's API sees it at a point in time (the emulator's clock).

Orders, lines and refunds come from the Store's order book (the same rows the file drops are
rendered from, see `sandbox/drops.py`), so the API and the files always agree. An order
is visible once placed; its current version is its latest change (edit, fulfilment, cancellation,
refund) at or before the clock. `add_refund` and `touch` change old orders between syncs.
"""

from __future__ import annotations

import bisect
import threading
from typing import cast

import numpy as np
import polars as pl

from sandbox import render
from sandbox.catalog import CH_SHOP, CH_WOO, COUNTRIES, email_variant
from sandbox.drops import REFUND_REASONS
from sandbox.store import Store

Row = dict


class ChannelBook:
    """The orders of one channel with their lines, refunds and customer, indexed by version time."""

    def __init__(self, store: Store, channel: str) -> None:
        self.store = store
        self.channel = channel
        self.lock = threading.RLock()
        cat, cust = store.catalog, store.customers
        titles = pl.DataFrame({"sku_idx": np.arange(len(cat.skus)), "title": cat.titles})
        orders = store.book.orders.filter(pl.col("channel") == channel).sort("okey")
        okeys = orders["okey"]
        lines = (
            store.book.lines.filter(pl.col("okey").is_in(okeys.implode()))
            .join(titles, on="sku_idx", how="left")
            .sort("okey", "line_no")
        )
        refunds = (
            store.book.refunds.filter(pl.col("okey").is_in(okeys.implode()))
            .with_columns(
                reason=pl.col("event").map_elements(
                    lambda e: REFUND_REASONS[e % len(REFUND_REASONS)], return_dtype=pl.String
                )
            )
            .sort("okey", "event", "line_no")
        )
        self.orders: list[Row] = orders.to_dicts()
        self.lines: list[list[Row]] = [[] for _ in self.orders]
        self.refunds: list[list[Row]] = [[] for _ in self.orders]
        pos = {k: i for i, k in enumerate(okeys.to_list())}
        for ln in lines.iter_rows(named=True):
            self.lines[pos[ln["okey"]]].append(ln)
        for rf in refunds.iter_rows(named=True):
            self.refunds[pos[rf["okey"]]].append(rf)
        self.by_id = {str(o["source_id"]): i for i, o in enumerate(self.orders)}
        self.extra: dict[int, list[int]] = {}  # injected change times per order
        multi = (cust.on_shop.astype(int) + cust.on_woo + cust.on_tills) > 1
        self._multi = multi
        self._versions = [self._all_versions(i) for i in range(len(self.orders))]
        self._index_key: tuple | None = None
        self._index: list[tuple[int, int]] = []
        self.generation = 0
        self._next_event = (
            int(cast("int | None", store.book.refunds["event"].max()) or 0) + 1
            if store.book.refunds.height
            else 1
        )
        self._next_refund = 0

    # ------------------------------------------------------------------ versions
    def _all_versions(self, i: int) -> list[int]:
        o = self.orders[i]
        times = set(render.order_versions(o, self.refunds[i], 2**62))
        times.update(self.extra.get(i, ()))
        return sorted(times)

    def version_at(self, i: int, now: int) -> int | None:
        v = self._versions[i]
        k = bisect.bisect_right(v, now)
        return v[k - 1] if k else None

    def index(self, now: int) -> list[tuple[int, int]]:
        """(version time, order index) of every order visible at `now`, sorted."""
        with self.lock:
            key = (now, self.generation)
            if self._index_key != key:
                idx = []
                for i in range(len(self.orders)):
                    v = self.version_at(i, now)
                    if v is not None:
                        idx.append((v, i))
                idx.sort()
                self._index, self._index_key = idx, key
            return self._index

    def since(
        self, now: int, after: tuple[int, int] | None, min_ts: int | None
    ) -> list[tuple[int, int]]:
        """Index entries with version >= min_ts and (version, i) > after (keyset pagination)."""
        idx = self.index(now)
        start = 0
        if min_ts is not None:
            start = bisect.bisect_left(idx, (min_ts, -1))
        if after is not None:
            start = max(start, bisect.bisect_right(idx, after))
        return idx[start:]

    # ------------------------------------------------------------------ customers
    def shop_customer(self, i: int) -> Row | None:
        o, c, cust = self.orders[i], self.orders[i]["customer"], self.store.customers
        if c < 0:
            return None
        return {"id": 6100000001 + c, "email": o["email"], "first_name": cust.first_name[c],
                "last_name": cust.last_name[c]}  # fmt: skip

    def woo_customer(self, i: int) -> Row:
        c, cust = self.orders[i]["customer"], self.store.customers
        if c < 0:
            return {"id": 0, "first_name": "", "last_name": ""}
        return {"id": 301 + c, "first_name": cust.first_name[c], "last_name": cust.last_name[c]}

    def customers(self, now: int) -> list[Row]:
        """Customer rows (as drops.py renders them) visible at `now`, sorted by updated time."""
        cust = self.store.customers
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for o in self.orders:
            c = o["customer"]
            if c >= 0 and o["placed_ts"] <= now:
                first[c] = min(first.get(c, o["placed_ts"]), o["placed_ts"])
                last[c] = max(last.get(c, o["placed_ts"]), o["placed_ts"])
        out = []
        for c in first:
            if self.channel == "shop":
                created = updated = first[c] - 300
                cid, ch = 6100000001 + c, CH_SHOP
            else:
                created, updated = first[c] - 3600, last[c] - 3600
                cid, ch = 301 + c, CH_WOO
            out.append({"id": cid, "email": email_variant(cust.email[c], ch, bool(self._multi[c])),
                        "first_name": cust.first_name[c], "last_name": cust.last_name[c],
                        "created_ts": created, "updated_ts": updated,
                        "country": COUNTRIES[int(cust.country[c])]})  # fmt: skip
        out.sort(key=lambda r: (r["updated_ts"], r["id"]))
        return out

    # ------------------------------------------------------------------ edits between syncs
    def add_refund(self, order_id: str, at: int, quantity: int = 1, restock: bool = True) -> Row:
        """Refund `quantity` units of the order's first line at time `at` (a late refund)."""
        with self.lock:
            i = self.by_id[str(order_id)]
            ln = self.lines[i][0]
            unit_net = ln["unit_price"] - (ln["discount"] // max(ln["quantity"], 1))
            tax = round(ln["tax"] * quantity / max(ln["quantity"], 1))
            event = self._next_event
            self._next_event += 1
            self._next_refund += 1
            base = {"shop": 8990000000, "woo": 990000, "amazon": 0}.get(self.channel, 0)
            rid = (
                str(base + self._next_refund)
                if self.channel != "amazon"
                else str(len({r["event"] for r in self.refunds[i]}) + 1)
            )
            row = dict(ln)
            row.update(
                event=event, refund_id=rid, refunded_ts=at, restock=restock,
                quantity=quantity, subtotal=unit_net * quantity, tax=tax,
                amount=unit_net * quantity + tax, reason="late refund",
                discount=ln["discount"] * quantity // max(ln["quantity"], 1),
            )  # fmt: skip
            self.refunds[i].append(row)
            self._touch(i, at)
            return row

    def touch(self, order_id: str, at: int) -> None:
        """Record a change of the order at `at` (e.g. an address edit): a new version."""
        with self.lock:
            self._touch(self.by_id[str(order_id)], at)

    def _touch(self, i: int, at: int) -> None:
        self.extra.setdefault(i, []).append(at)
        self._versions[i] = self._all_versions(i)
        self.generation += 1
