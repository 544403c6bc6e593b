"""`write_drops`: render a Store into the file-drop folder layout of docs/raw-contract.md.

Every order version goes to the monthly file of its updated time. Rows are sorted and JSON is
dumped with sorted keys, so the same store always produces byte-identical files; each file is
written to a hidden temporary name and renamed into place so a watcher never sees half a file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sandbox import render
from sandbox.catalog import CH_SHOP, CH_WOO, COUNTRIES, email_variant
from sandbox.promotions import write_promotion_calendar
from sandbox.purchasing import RECEIPT_COLUMNS, po_receipts
from sandbox.store import Store

REFUND_REASONS = ("damaged", "wrong size", "not as described", "changed mind", "arrived late")


@lru_cache(maxsize=8192)
def _month_of_day(epoch_day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=epoch_day)).strftime("%Y-%m")


def month(ts: int) -> str:
    """yyyy-mm of a UTC epoch second (the month file a version belongs to)."""
    return _month_of_day(int(ts) // 86400)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _Buckets:
    """Collects (sort key, line) per file and writes each file sorted, as soon as it is final.

    Orders are visited by channel and placed time, and every version of an order is at or after
    its placed time, so once orders of month M are being visited no file of an earlier month of
    that channel can grow: those are flushed, which keeps memory flat on the large preset.
    """

    def __init__(self, counts: dict[str, int]) -> None:
        self.files: dict[Path, list[tuple[Any, str]]] = defaultdict(list)
        self.meta: dict[Path, tuple[str, str]] = {}
        self.counts = counts

    def add(self, stream: str, path: Path, key: Any, line: str, mon: str = "") -> None:
        self.files[path].append((key, line))
        self.meta[path] = (stream, mon)

    def flush(self, before_month: str | None = None) -> None:
        """Write every pending file (or only those whose month is < before_month)."""
        for path in sorted(self.files):
            stream, mon = self.meta[path]
            if before_month is not None and not (mon and mon < before_month):
                continue
            rows = sorted(self.files.pop(path), key=lambda kv: kv[0])
            _atomic_write(path, "".join(line + "\n" for _, line in rows).encode())
            self.counts[stream] = self.counts.get(stream, 0) + 1


def _offsets(keys: np.ndarray, n: int) -> np.ndarray:
    """Rows of order k are [off[k], off[k+1]) in a frame sorted by okey."""
    return np.searchsorted(keys, np.arange(n + 1))


CHUNK = 50_000


def as_of_ts(store: Store, as_of: dt.date | None) -> int:
    """The last second of `as_of` in the business time zone (default: the store's end)."""
    if as_of is None or as_of >= store.end_date:
        return store.end_ts
    from zoneinfo import ZoneInfo

    last = dt.datetime.combine(as_of, dt.time(23, 59, 59), ZoneInfo("Europe/Amsterdam"))
    return int(last.timestamp())


def write_drops(store: Store, drop_dir: Path | str, as_of: dt.date | None = None) -> dict[str, int]:
    """Render the whole store under drop_dir; return the number of files written per raw stream.

    `as_of` renders the store as the channels knew it at the end of that day (orders placed
    later are left out, versions after it too), so a test can sync "yesterday" and then "today"
    and see only the difference arrive. Files of a previous, different store in the same folder
    are not deleted (the file connector owns the folder's lifecycle).
    """
    drop = Path(drop_dir)
    cat, cust, book = store.catalog, store.customers, store.book
    end_ts = as_of_ts(store, as_of)
    last_day = min(as_of or store.end_date, store.end_date)
    counts: dict[str, int] = {}
    b = _Buckets(counts)

    titles = pl.DataFrame({"sku_idx": np.arange(len(cat.skus)), "title": cat.titles})
    ords = book.orders
    n = ords.height
    lines_df = book.lines.join(titles, on="sku_idx", how="left").sort("okey", "line_no")
    rf_df = book.refunds.with_columns(
        reason=pl.col("event").map_elements(
            lambda e: REFUND_REASONS[e % len(REFUND_REASONS)], return_dtype=pl.String
        )
    ).sort("okey", "event", "line_no")
    loff_all = _offsets(lines_df["okey"].to_numpy(), n)
    roff_all = _offsets(rf_df["okey"].to_numpy(), n)

    multi = (cust.on_shop.astype(int) + cust.on_woo + cust.on_tills) > 1
    shop_first: dict[int, int] = {}
    woo_first: dict[int, int] = {}
    woo_last: dict[int, int] = {}
    till_rows: list[tuple[tuple, list[str]]] = []
    cur_channel, cur_month = "", ""

    for c0 in range(0, n, CHUNK):
        c1 = min(n, c0 + CHUNK)
        orders = ords.slice(c0, c1 - c0).to_dicts()
        lines = lines_df.slice(int(loff_all[c0]), int(loff_all[c1] - loff_all[c0])).to_dicts()
        refunds = rf_df.slice(int(roff_all[c0]), int(roff_all[c1] - roff_all[c0])).to_dicts()
        loff = loff_all[c0 : c1 + 1] - loff_all[c0]
        roff = roff_all[c0 : c1 + 1] - roff_all[c0]
        for i, o in enumerate(orders):
            k = o["okey"]
            ls = lines[loff[i] : loff[i + 1]]
            rs = refunds[roff[i] : roff[i + 1]]
            if o["placed_ts"] > end_ts:
                continue
            ch = o["channel"]
            c = o["customer"]
            placed_month = month(o["placed_ts"])
            if ch != cur_channel:
                b.flush()
                cur_channel, cur_month = ch, placed_month
            elif placed_month != cur_month:
                b.flush(before_month=placed_month)
                cur_month = placed_month
            if ch == "shop":
                customer = (
                    {
                        "id": 6100000001 + c,
                        "email": o["email"],
                        "first_name": cust.first_name[c],
                        "last_name": cust.last_name[c],
                    }  # fmt: skip
                    if c >= 0
                    else None
                )
                if c >= 0:
                    shop_first[c] = min(shop_first.get(c, o["placed_ts"]), o["placed_ts"])
                for v in render.order_versions(o, rs, end_ts):
                    rec = render.render_shopify_order(o, ls, rs, v, customer)
                    mon = month(v)
                    b.add("shop__orders", drop / "shop" / "orders" / f"orders_{mon}.jsonl", (v, k),
                          _dumps(rec), mon)  # fmt: skip
            elif ch == "amazon":
                for v in render.order_versions(o, rs, end_ts):
                    mon = month(v)
                    b.add("amazon__orders", drop / "amazon" / "orders" / f"orders_{mon}.jsonl", (v, k),
                          _dumps(render.render_amazon_order(o, ls, v)), mon)  # fmt: skip
                    b.add("amazon__order_items", drop / "amazon" / "order_items" / f"order_items_{mon}.jsonl",
                          (v, k), _dumps(render.render_amazon_order_items(o, ls, v)), mon)  # fmt: skip
                for ev in render.render_amazon_financial_events(o, ls, rs, end_ts):
                    posted = int(dt.datetime.strptime(ev["PostedDate"], "%Y-%m-%dT%H:%M:%SZ")
                                 .replace(tzinfo=dt.UTC).timestamp())  # fmt: skip
                    mon = month(posted)
                    path = drop / "amazon" / "financial_events" / f"financial_events_{mon}.jsonl"
                    b.add("amazon__financial_events", path, (posted, k, ev["EventType"], ev["EventSeq"]),
                          _dumps(ev), mon)  # fmt: skip
            elif ch == "woo":
                woo_customer = {"id": 0, "first_name": "", "last_name": ""}  # guest checkout
                if c >= 0:
                    woo_customer = {"id": 301 + c, "first_name": cust.first_name[c],
                                    "last_name": cust.last_name[c]}  # fmt: skip
                    woo_first[c] = min(woo_first.get(c, o["placed_ts"]), o["placed_ts"])
                    woo_last[c] = max(woo_last.get(c, o["placed_ts"]), o["placed_ts"])
                for v in render.order_versions(o, rs, end_ts):
                    rec = render.render_woo_order(o, ls, rs, v, woo_customer)
                    mon = month(v)
                    b.add("woo__orders", drop / "woo" / "orders" / f"orders_{mon}.jsonl", (v, k),
                          _dumps(rec), mon)  # fmt: skip
                for refund_ev in render.refund_events(rs, end_ts):
                    rec = render.render_woo_refund(o, refund_ev)
                    ts = refund_ev[0]["refunded_ts"]
                    mon = month(ts)
                    b.add("woo__refunds", drop / "woo" / "refunds" / f"refunds_{mon}.jsonl",
                          (ts, int(rec["id"])), _dumps(rec), mon)  # fmt: skip
            else:
                receipt = render.render_till_rows(o, ls)
                for row in receipt:
                    till_rows.append(((o["placed_ts"], row[0], int(row[1])), row))
                if int(o["source_id"]) % 25 == 0 and receipt:
                    # the till exported the receipt's first line twice: an exact repeat (same
                    # receipt and line), counted by the sync and landed once
                    till_rows.append(((o["placed_ts"], receipt[0][0], int(receipt[0][1])),
                                      list(receipt[0])))  # fmt: skip
                for refund_ev in render.refund_events(rs, end_ts):
                    for row in render.render_till_return_rows(o, refund_ev):
                        till_rows.append(((refund_ev[0]["refunded_ts"], row[0], int(row[1])), row))
                wo_ts = o["placed_ts"] + 2 * 3600
                if int(o["source_id"]) % 40 == 7 and ls and wo_ts <= end_ts:
                    # a unit of the article found damaged and written off after the sale
                    row = render.render_till_write_off(o, ls[0], wo_ts)
                    till_rows.append(((wo_ts, row[0], 1), row))
    b.flush()

    # Customers.
    for c, first in shop_first.items():
        rec = render.render_shopify_customer(
            {
                "id": 6100000001 + c,
                "email": email_variant(cust.email[c], CH_SHOP, bool(multi[c])),
                "first_name": cust.first_name[c],
                "last_name": cust.last_name[c],
                "created_ts": first - 300,
                "updated_ts": first - 300,
                "country": _country(store, c),
            }  # fmt: skip
        )
        b.add("shop__customers", drop / "shop" / "customers" / f"customers_{month(first - 300)}.jsonl",
              (first - 300, c), _dumps(rec))  # fmt: skip
    for c, first in woo_first.items():
        rec = render.render_woo_customer(
            {
                "id": 301 + c,
                "email": email_variant(cust.email[c], CH_WOO, bool(multi[c])),
                "first_name": cust.first_name[c],
                "last_name": cust.last_name[c],
                "created_ts": first - 3600,
                "updated_ts": woo_last[c] - 3600,
                "country": _country(store, c),
            }  # fmt: skip
        )
        b.add(
            "woo__customers",
            drop / "woo" / "customers" / "customers.jsonl",
            (301 + c,),
            _dumps(rec),
        )

    # Products (current state of the catalogue).
    prods = store.truth["products"]
    start_ts = int(dt.datetime.combine(store.start_date, dt.time(9), dt.UTC).timestamp())
    for i, p in enumerate(prods.iter_rows(named=True)):
        created = (
            start_ts - 400 * 86400
            if cat.launch_day[i] == 0
            else start_ts + int(cat.launch_day[i]) * 86400 - 7 * 86400
        )
        updated = (
            created if p["discontinued_date"] is None else start_ts + int(cat.end_day[i]) * 86400
        )
        rec = render.render_shopify_product(
            {
                "sku_idx": i,
                "sku": p["sku"],
                "title": p["title"],
                "category": p["category"],
                "vendor": cat.vendor(i),
                "status": p["status"],
                "list_price": int(cat.list_price_cents[i]),
                "created_ts": created,
                "updated_ts": updated,
            }  # fmt: skip
        )
        b.add("shop__products", drop / "shop" / "products" / "products.jsonl", (i,), _dumps(rec))

    b.flush()
    counts["tills__orders"] = _write_tills(drop, till_rows)
    counts["tpl__stock"] = _write_stock(store, drop, last_day)
    counts.update(_write_reference(store, drop, last_day))
    if "promotions" in store.truth:  # the promotion calendar (sandbox/promotions.py)
        counts.update(write_promotion_calendar(store.truth["promotions"], drop))
    return dict(sorted(counts.items()))


def _country(store: Store, c: int) -> str:
    return COUNTRIES[int(store.customers.country[c])]


def _write_tills(drop: Path, rows: list[tuple[tuple, list[str]]]) -> int:
    by_month: dict[str, list[tuple[tuple, list[str]]]] = defaultdict(list)
    for key, row in rows:
        by_month[month(key[0])].append((key, row))
    for mon, items in by_month.items():
        items.sort(key=lambda kv: kv[0])
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(render.TILL_COLUMNS)
        w.writerows(row for _, row in items)
        _atomic_write(drop / "tills" / f"tills_{mon}.csv", buf.getvalue().encode())
    return len(by_month)


def _write_csv(df: pl.DataFrame, path: Path) -> None:
    _atomic_write(path, df.write_csv(line_terminator="\n").encode())


def explode_bundles(lines: pl.DataFrame, components: pl.DataFrame | None) -> pl.DataFrame:
    """Order lines (``sku``, ``quantity``) with each bundle line replaced by its components'
    (quantity x units per bundle): what a bundle sold takes off the shelves."""
    if components is None or components.height == 0:
        return lines
    bom = components.select(sku="bundle_sku", component_sku="component_sku", per_bundle="quantity")
    exploded = (
        lines.join(bom, on="sku", how="inner")
        .with_columns(sku="component_sku", quantity=pl.col("quantity") * pl.col("per_bundle"))
        .select(lines.columns)
    )
    plain = lines.join(bom.select("sku").unique(), on="sku", how="anti")
    return pl.concat([plain, exploded])


def _unshipped_units(store: Store) -> pl.DataFrame:
    """Units ordered but not yet shipped at the end of each day, per SKU and location."""
    orders = (
        store.truth["orders"]
        .filter(~pl.col("cancelled"))
        .select(
            "channel",
            "order_id",
            "order_date",
            shipped=pl.col("fulfilled_at")
            .dt.convert_time_zone("Europe/Amsterdam")
            .dt.date()
            .fill_null(store.end_date + dt.timedelta(days=1)),
        )
    )
    lines = explode_bundles(
        store.truth["order_lines"].filter(~pl.col("cancelled")), store.truth["bundle_components"]
    )
    return (
        lines.join(orders, on=["channel", "order_id"])
        .filter(pl.col("shipped") > pl.col("order_date"))
        .with_columns(date=pl.date_ranges("order_date", pl.col("shipped") - pl.duration(days=1)))
        .explode("date")
        .group_by("date", "sku", "location_id")
        .agg(held=pl.col("quantity").sum())
    )


def _write_stock(store: Store, drop: Path, last_day: dt.date) -> int:
    """End-of-day on-hand for every SKU x location x day, one file per location and month."""
    from sandbox.orders import DAY, day_starts

    days = store.scale.days
    ends = day_starts(store.start_date, days) + DAY - 1
    start = store.start_date
    cal = pl.DataFrame(
        {
            "date": [start + dt.timedelta(days=i) for i in range(days)],
            "counted_at": [render.ts_z(int(t)) for t in ends],
            "month": [(start + dt.timedelta(days=i)).strftime("%Y-%m") for i in range(days)],
        }
    )
    # A warehouse counts what is physically on its shelves: ordered units that have not shipped
    # yet are still there. The simulation's on_hand_eod already deducts them, so add them back;
    # the marts then subtract them again as `committed`.
    held = _unshipped_units(store)
    bundles = store.truth["bundle_components"]["bundle_sku"].unique()
    stock = (
        store.truth["demand"]
        .filter(~pl.col("sku").is_in(bundles.implode()))  # a bundle is never counted
        .select("date", "sku", "location_id", "on_hand_eod")
        .join(held, on=["date", "sku", "location_id"], how="left")
        .select(
            "date",
            "sku",
            "location_id",
            on_hand=(pl.col("on_hand_eod") + pl.col("held").fill_null(0)).cast(pl.String),
        )
        .join(cal, on="date", how="left")
        .filter(pl.col("date") <= last_day)
    )
    n = 0
    for (loc, mon), part in sorted(
        stock.partition_by("location_id", "month", as_dict=True).items()
    ):
        out = part.sort("date", "sku").select("sku", "location_id", "on_hand", "counted_at")
        _write_csv(out, drop / "stock" / f"stock_{loc}_{mon}.csv")
        n += 1
    return n


def _write_reference(store: Store, drop: Path, last_day: dt.date) -> dict[str, int]:
    t = store.truth
    terms = t["supplier_terms"].select(
        "supplier_id", "supplier_name", "supplier_email", "sku",
        pl.col("unit_cost").cast(pl.String), "currency", "lead_time_days", "lead_time_std_days",
        "moq", "case_pack",
    )  # fmt: skip
    _write_csv(terms, drop / "supplier_terms" / "supplier_terms.csv")
    po = t["purchase_orders"].filter(pl.col("ordered_at") <= last_day).select(
        "po_id", "supplier_id", "sku", "location_id", "quantity_ordered", "quantity_received",
        pl.col("ordered_at").cast(pl.String), pl.col("expected_at").cast(pl.String), "status",
        updated_at=pl.col("updated_at").cast(pl.String) + "T12:00:00Z",
    ).sort("po_id", "sku", "location_id")  # fmt: skip
    _write_csv(po, drop / "purchase_orders" / "purchase_orders.csv")
    receipts = po_receipts(t["purchase_orders"], store.seed, last_day)
    _write_csv(
        receipts.select(RECEIPT_COLUMNS).with_columns(pl.col("quantity_received").cast(pl.String)),
        drop / "purchase_order_receipts" / "purchase_order_receipts.csv",
    )
    written: dict[str, int] = {}
    bom = t.get("bundle_components")
    if bom is not None and bom.height:
        _write_csv(
            bom.with_columns(pl.col("quantity").cast(pl.String)),
            drop / "bundle_components" / "bundle_components.csv",
        )
        written["files__bundle_components"] = 1
    fx = (
        t["fx_rates"]
        .filter(pl.col("date") <= last_day)
        .select(pl.col("date").cast(pl.String), "currency", pl.col("rate").cast(pl.String))
    )
    _write_csv(fx, drop / "fx_rates" / "fx_rates.csv")
    return {
        "files__supplier_terms": 1,
        "files__purchase_orders": 1,
        "files__purchase_order_receipts": 1,
        "files__fx_rates": 1,
        **written,
    }


__all__ = ["write_drops", "month"]
