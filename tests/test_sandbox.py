"""Tests of the sandbox store generator (sandbox).

Drops are rendered from the `tiny` preset; realism statistics use `demo` truth (generation only,
under a second) because two years of history are needed for yearly seasonality.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import json
import re
from collections import defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from sandbox import PRESETS, Scale, generate_store, write_drops

END = dt.date(2026, 11, 24)
AMS = ZoneInfo("Europe/Amsterdam")
MONEY = re.compile(r"^-?\d+\.\d{2}$")
SHOPIFY_LOC = {71000001: "WH-AMS", 71000002: "WH-LON"}


@pytest.fixture(scope="module")
def tiny():
    return generate_store(seed=7, scale="tiny", end_date=END)


@pytest.fixture(scope="module")
def demo():
    return generate_store(seed=7, scale="demo", end_date=END)


@pytest.fixture(scope="module")
def drop(tiny, tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("drop")
    write_drops(tiny, d)
    return d


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _jsonl(root: Path, pattern: str) -> list[dict]:
    out = []
    for p in sorted(root.glob(pattern)):
        for line in p.read_text().splitlines():
            rec = json.loads(line)
            assert isinstance(rec, dict)
            out.append(rec)
    return out


def _latest(records: list[dict], id_key: str, upd_key: str) -> list[dict]:
    best: dict = {}
    for r in records:
        k = r[id_key]
        if k not in best or r[upd_key] >= best[k][upd_key]:
            best[k] = r
    return list(best.values())


# --- API and determinism -------------------------------------------------------------------


def test_presets_and_api():
    assert set(PRESETS) >= {"tiny", "demo", "large"}
    assert isinstance(PRESETS["demo"], Scale)
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["demo"].n_skus = 1  # type: ignore[misc]
    assert PRESETS["demo"].days == 730
    assert PRESETS["large"].n_skus * 4 >= 20_000


def test_same_seed_identical_truth_and_bytes(tiny, drop, tmp_path):
    again = generate_store(seed=7, scale="tiny", end_date=END)
    for name, df in tiny.truth.items():
        assert_frame_equal(df, again.truth[name])
    counts = write_drops(again, tmp_path)
    assert _digest(tmp_path) == _digest(drop)
    assert sum(counts.values()) == len(_digest(drop))


def test_different_seed_differs(tiny):
    other = generate_store(seed=8, scale="tiny", end_date=END)
    assert not tiny.truth["demand"]["true_demand"].equals(other.truth["demand"]["true_demand"])
    assert not tiny.truth["orders"].equals(other.truth["orders"])


def test_end_date_and_span(tiny):
    d = tiny.truth["demand"]["date"]
    assert d.max() == END
    assert (d.max() - d.min()).days == PRESETS["tiny"].days - 1


# --- realism ---------------------------------------------------------------------------------


def test_weekly_seasonality(demo):
    d = demo.truth["demand"].filter(location_id="ST-BER")
    daily = (
        d.group_by("date")
        .agg(pl.col("true_demand").sum())
        .with_columns(wd=pl.col("date").dt.weekday())
    )
    by = daily.group_by("wd").agg(
        m=pl.col("true_demand").mean(), s=pl.col("true_demand").std(), n=pl.len()
    )
    sat = by.filter(wd=6).row(0, named=True)
    tue = by.filter(wd=2).row(0, named=True)
    se = ((sat["s"] ** 2 / sat["n"]) + (tue["s"] ** 2 / tue["n"])) ** 0.5
    assert (sat["m"] - tue["m"]) / se > 4  # Saturday peak, clearly significant
    assert by.filter(wd=7)["m"][0] == 0  # the store is closed on Sundays


def test_yearly_q4_uplift(demo):
    d = demo.truth["demand"].join(demo.truth["products"].select("sku", "category"), on="sku")
    d = d.filter(pl.col("category") != "outdoor").with_columns(m=pl.col("date").dt.month())
    q4 = d.filter(pl.col("m").is_in([11, 12]))["true_demand"].mean()
    spring = d.filter(pl.col("m").is_in([2, 3, 4]))["true_demand"].mean()
    assert q4 > 1.15 * spring
    out = demo.truth["demand"].join(demo.truth["products"].select("sku", "category"), on="sku")
    out = out.filter(category="outdoor").with_columns(m=pl.col("date").dt.month())
    assert (
        out.filter(pl.col("m").is_in([6, 7, 8]))["true_demand"].mean()
        > 1.5 * out.filter(pl.col("m").is_in([1, 2]))["true_demand"].mean()
    )


def _intermittent_share(demand: pl.DataFrame, every: str) -> float:
    g = (
        demand.filter("is_active")
        .with_columns(p=pl.col("date").dt.truncate(every))
        .group_by("sku", "location_id", "p")
        .agg(pl.col("true_demand").sum())
        .group_by("sku", "location_id")
        .agg(adi=pl.len() / (pl.col("true_demand") > 0).sum())
    )
    return float((g["adi"] > 1.32).mean())


def test_intermittent_tail(demo):
    # At 40-60 orders/day over ~500 carried series nearly every series is intermittent per day;
    # on weekly buckets a substantial but not total share is.
    assert _intermittent_share(demo.truth["demand"], "1d") > 0.3
    assert 0.3 <= _intermittent_share(demo.truth["demand"], "1w") <= 0.9


def test_returns_share(demo):
    cats = demo.truth["products"].select("sku", "category")
    sold = demo.truth["order_lines"].filter(~pl.col("cancelled")).join(cats, on="sku")
    ret = demo.truth["refunds"].join(cats, on="sku")
    s = sold.group_by("category").agg(q=pl.col("quantity").sum())
    r = ret.group_by("category").agg(r=pl.col("quantity").sum())
    share = dict(s.join(r, on="category").select("category", pl.col("r") / pl.col("q")).iter_rows())
    assert 0.04 <= share["apparel"] <= 0.12
    assert all(v < share["apparel"] for k, v in share.items() if k != "apparel")
    rf = demo.truth["refunds"].join(
        demo.truth["orders"].select("channel", "order_id", "placed_at"), on=["channel", "order_id"]
    )
    days = (rf["refunded_at"] - rf["placed_at"]).dt.total_days()
    assert days.min() >= 2 and days.max() <= 31
    assert rf["restocked"].any() and not rf["restocked"].all()


def test_cancellations(demo):
    o = demo.truth["orders"]
    assert 0.02 <= o["cancelled"].mean() <= 0.04
    c = o.filter("cancelled")
    late = (c["cancelled_at"] - c["placed_at"]).dt.total_hours() >= 24
    assert late.sum() > 10  # some cancelled days after placing: a later version
    assert (o["status"] == "open").sum() > 0  # open orders in the last days


def test_stockouts_and_sales_never_exceed_stock(demo):
    d = demo.truth["demand"]
    assert (d["units_sold"] <= d["available"]).all()
    assert (d["units_sold"] <= d["true_demand"]).all()
    assert d.select(
        (pl.col("units_sold") == pl.min_horizontal("true_demand", "available")).all()
    ).item()
    assert (d["on_hand_eod"] >= 0).all()
    active = d.filter("is_active")
    assert 0.02 <= active["is_stockout"].mean() <= 0.10
    assert (active["true_demand"] > active["units_sold"]).sum() > 0  # lost sales


def test_purchase_orders(demo):
    po = demo.truth["purchase_orders"]
    terms = demo.truth["supplier_terms"].select("sku", "lead_time_days", "lead_time_std_days")
    assert set(po["status"]) == {"open", "partial", "received", "cancelled"}
    rec = po.filter(pl.col("status").is_in(["received", "partial"])).join(terms, on="sku")
    assert (rec["received_at"] > rec["ordered_at"]).all()
    assert (rec["lead_days"] >= 1).all()
    ratio = (rec["lead_days"] / rec["lead_time_days"]).mean()
    assert 0.85 <= ratio <= 1.15
    assert (rec["received_at"] <= END).all()
    after = po.filter((pl.col("expected_at") > END) & (pl.col("status") != "cancelled"))
    assert after.height > 0 and (after["status"] == "open").all()
    part = po.filter(status="partial")
    assert (part["quantity_received"] < part["quantity_ordered"]).all()
    # Receipts show up in stock: total arrivals <= total stock increase budget.
    d = demo.truth["demand"]
    assert rec["quantity_received"].sum() > d["units_sold"].sum() * 0.5


def test_cross_channel_customers_and_currencies(demo):
    o = demo.truth["orders"].filter(pl.col("channel") != "amazon").drop_nulls("customer_email")
    per = o.group_by("customer_email").agg(pl.col("channel").n_unique().alias("n"))
    assert (per["n"] > 1).sum() >= 20
    raw = o.filter(pl.col("customer_email_raw") != pl.col("customer_email"))
    assert raw.height > 0
    assert (
        raw["customer_email_raw"].str.strip_chars().str.to_lowercase() == raw["customer_email"]
    ).all()
    amz = demo.truth["orders"].filter(channel="amazon")["customer_email"]
    assert amz.str.contains("@marketplace.amazon").all()
    pairs = set(
        demo.truth["orders"]
        .select("channel", "currency", "presentment_currency")
        .unique()
        .iter_rows()
    )
    assert {("shop", "EUR", "GBP"), ("shop", "EUR", "USD"), ("shop", "EUR", "EUR")} <= pairs
    assert {("amazon", "EUR", "EUR"), ("amazon", "GBP", "GBP")} <= pairs
    assert {("woo", "GBP", "GBP"), ("tills", "EUR", "EUR")} <= pairs


def test_money_is_decimal(tiny):
    for name in ("orders", "order_lines", "refunds", "products", "supplier_terms", "fx_rates"):
        for col, dtype in tiny.truth[name].schema.items():
            assert not dtype.is_float(), f"{name}.{col} is float"
    o = tiny.truth["orders"]
    assert o.schema["total"] == pl.Decimal(18, 2)
    tax = pl.when(pl.col("tax_included")).then(pl.col("tax") * 0).otherwise(pl.col("tax"))
    calc = pl.col("gross") - pl.col("discount") + pl.col("shipping") + tax
    assert o.select((calc == pl.col("total")).all()).item()


# --- rendered drops --------------------------------------------------------------------------


SHOP_KEYS = {"id", "name", "order_number", "email", "created_at", "updated_at", "processed_at",
             "cancelled_at", "cancel_reason", "currency", "presentment_currency", "financial_status",
             "fulfillment_status", "total_line_items_price", "total_discounts", "total_tax",
             "total_price", "subtotal_price", "total_shipping_price_set", "customer",
             "shipping_address", "discount_codes", "shipping_lines", "line_items", "fulfillments",
             "refunds"}  # fmt: skip
AMZ_KEYS = {"AmazonOrderId", "PurchaseDate", "LastUpdateDate", "OrderStatus", "FulfillmentChannel",
            "SalesChannel", "MarketplaceId", "OrderTotal", "NumberOfItemsShipped",
            "NumberOfItemsUnshipped", "BuyerInfo", "ShippingAddress"}  # fmt: skip
WOO_KEYS = {"id", "number", "status", "currency", "date_created_gmt", "date_modified_gmt",
            "date_paid_gmt", "discount_total", "shipping_total", "total_tax", "total",
            "customer_id", "billing", "shipping", "line_items", "refunds"}  # fmt: skip


def test_layout(drop):
    names = {str(p.relative_to(drop)) for p in drop.rglob("*") if p.is_file()}
    assert not any(n.split("/")[-1].startswith(".") for n in names)  # no temp files left
    for pattern in (
        r"shop/orders/orders_\d{4}-\d{2}\.jsonl", r"shop/customers/customers_\d{4}-\d{2}\.jsonl",
        r"shop/products/products\.jsonl", r"amazon/orders/orders_\d{4}-\d{2}\.jsonl",
        r"amazon/order_items/order_items_\d{4}-\d{2}\.jsonl",
        r"amazon/financial_events/financial_events_\d{4}-\d{2}\.jsonl",
        r"woo/orders/orders_\d{4}-\d{2}\.jsonl", r"woo/refunds/refunds_\d{4}-\d{2}\.jsonl",
        r"woo/customers/customers\.jsonl", r"tills/tills_\d{4}-\d{2}\.csv",
        r"stock/stock_(WH-AMS|WH-LON|ST-BER|FBA-EU)_\d{4}-\d{2}\.csv",
        r"supplier_terms/supplier_terms\.csv", r"purchase_orders/purchase_orders\.csv",
        r"fx_rates/fx_rates\.csv",
    ):  # fmt: skip
        assert any(re.fullmatch(pattern, n) for n in names), pattern
    assert all(
        re.fullmatch(r"[a-z_]+/([a-z_]+/)?[a-zA-Z_-]+(_\d{4}-\d{2})?\.(jsonl|csv)", n)
        for n in names
    )


def test_shopify_orders_shape_and_versions(drop, tiny):
    recs = _jsonl(drop, "shop/orders/*.jsonl")
    assert recs
    for r in recs:
        assert r.keys() >= SHOP_KEYS
        for k in ("total_price", "total_tax", "subtotal_price", "total_discounts"):
            assert MONEY.match(r[k])
        assert dt.datetime.fromisoformat(r["updated_at"]).utcoffset() is not None
        for li in r["line_items"]:
            assert MONEY.match(li["price"]) and MONEY.match(
                li["price_set"]["presentment_money"]["amount"]
            )
        for rf in r["refunds"]:
            for rli in rf["refund_line_items"]:
                assert rli["restock_type"] in ("return", "no_restock")
                assert MONEY.match(rli["subtotal"])
    # Each version sits in the file of its updated month; orders have several versions.
    for p in (drop / "shop/orders").glob("*.jsonl"):
        mon = p.stem.split("_")[1]
        for line in p.read_text().splitlines():
            upd = dt.datetime.fromisoformat(json.loads(line)["updated_at"]).astimezone(dt.UTC)
            assert upd.strftime("%Y-%m") == mon
    per_id = defaultdict(int)
    for r in recs:
        per_id[r["id"]] += 1
    assert max(per_id.values()) >= 3
    latest = _latest(recs, "id", "updated_at")
    statuses = {r["financial_status"] for r in latest}
    assert {"paid", "voided"} <= statuses and statuses & {"refunded", "partially_refunded"}
    assert any(r["fulfillment_status"] is None and r["cancelled_at"] is None for r in latest)


def test_other_streams_shape(drop):
    for r in _jsonl(drop, "amazon/orders/*.jsonl"):
        assert r.keys() >= AMZ_KEYS and MONEY.match(r["OrderTotal"]["Amount"])
        assert r["MarketplaceId"] in ("A1PA6795UKMFR9", "A1F83G8C2ARO7P")
    for r in _jsonl(drop, "amazon/order_items/*.jsonl"):
        for it in r["OrderItems"]:
            assert {"OrderItemId", "SellerSKU", "ASIN", "Title", "QuantityOrdered", "QuantityShipped",
                    "ItemPrice", "ItemTax", "PromotionDiscount", "ShippingPrice"} <= it.keys()  # fmt: skip
    fin = _jsonl(drop, "amazon/financial_events/*.jsonl")
    assert {e["EventType"] for e in fin} == {"Shipment", "Refund"}
    for e in fin:
        items = e.get("ShipmentItemList") or e.get("ShipmentItemAdjustmentList")
        for it in items:
            charges = it.get("ItemChargeList") or it["ItemChargeAdjustmentList"]  # refunds
            amt = charges[0]["ChargeAmount"]["CurrencyAmount"]
            assert isinstance(amt, (int, float))
    for r in _jsonl(drop, "woo/orders/*.jsonl"):
        assert r.keys() >= WOO_KEYS and MONEY.match(r["total"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", r["date_modified_gmt"])
    for r in _jsonl(drop, "woo/refunds/*.jsonl"):
        assert {"id", "order_id", "date_created_gmt", "amount", "reason", "line_items"} <= r.keys()
        assert all(li["quantity"] < 0 for li in r["line_items"])
    for r in _jsonl(drop, "woo/customers/*.jsonl") + _jsonl(drop, "shop/customers/*.jsonl"):
        assert "email" in r and "id" in r
    prods = _jsonl(drop, "shop/products/products.jsonl")
    assert {p["status"] for p in prods} <= {"active", "archived", "draft"}
    assert {"active", "archived"} <= {p["status"] for p in prods}
    with open(drop / "supplier_terms/supplier_terms.csv") as fh:
        assert next(csv.reader(fh)) == ["supplier_id", "supplier_name", "supplier_email", "sku",
                                        "unit_cost", "currency", "lead_time_days",
                                        "lead_time_std_days", "moq", "case_pack"]  # fmt: skip
    with open(drop / "purchase_orders/purchase_orders.csv") as fh:
        assert next(csv.reader(fh)) == ["po_id", "supplier_id", "sku", "location_id",
                                        "quantity_ordered", "quantity_received", "ordered_at",
                                        "expected_at", "status", "updated_at"]  # fmt: skip
    fx = pl.read_csv(drop / "fx_rates/fx_rates.csv", infer_schema=False)
    assert fx.columns == ["date", "currency", "rate"] and set(fx["currency"]) == {"GBP", "USD"}
    wd = fx["date"].str.to_date().dt.weekday()
    assert (wd <= 5).all()


def _till_rows(drop: Path) -> list[dict]:
    rows = []
    for p in sorted(drop.glob("tills/*.csv")):
        with open(p) as fh:
            rd = csv.DictReader(fh)
            assert rd.fieldnames == ["Receipt", "Line", "Timestamp", "Store", "Article",
                                     "Description", "Qty", "Price", "Discount", "Currency",
                                     "Email", "Void", "Original", "Cashier", "Terminal"]  # fmt: skip
            rows.extend(rd)
    return rows


def _till_goods(drop: Path) -> list[dict]:
    """The till rows that sell or take back goods: without the exact repeats (the same receipt
    line exported twice), postage and card-fee lines and stock write-offs (WO…)."""
    seen: set[tuple[str, str]] = set()
    out = []
    for row in _till_rows(drop):
        key = (row["Receipt"], row["Line"])
        if key in seen or row["Article"] in ("POSTAGE", "CARDFEE") or row["Receipt"][:2] == "WO":
            continue
        seen.add(key)
        out.append(row)
    return out


def test_till_export_has_the_shapes_of_a_real_one(drop):
    """Credit notes naming their receipt, postage and fee lines, write-offs (negative, price
    0, no customer), exact repeats, day-first times."""
    rows = _till_rows(drop)
    credit = [r for r in rows if r["Receipt"].startswith("CN")]
    assert credit and all(r["Original"] and int(r["Qty"]) < 0 for r in credit)
    assert {"POSTAGE", "CARDFEE"} <= {r["Article"] for r in rows}
    offs = [r for r in rows if r["Receipt"].startswith("WO")]
    assert offs and all(int(r["Qty"]) < 0 and r["Price"] == "0.00" and not r["Email"] for r in offs)
    keys = [(r["Receipt"], r["Line"]) for r in rows]
    assert len(set(keys)) < len(keys)  # exact repeats
    dt.datetime.strptime(rows[0]["Timestamp"], "%d.%m.%Y %H:%M:%S")


def _local_date(iso: str) -> dt.date:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(AMS).date()


def test_truth_agrees_with_rendered_units(drop, tiny):
    """Units sold/returned per (date, sku, location) recomputed from the files == truth."""
    sold: dict[tuple, int] = defaultdict(int)
    returned: dict[tuple, int] = defaultdict(int)
    for o in _latest(_jsonl(drop, "shop/orders/*.jsonl"), "id", "updated_at"):
        loc = "WH-LON" if o["shipping_address"]["country_code"] == "GB" else "WH-AMS"
        if o["fulfillments"]:
            loc = SHOPIFY_LOC[o["fulfillments"][0]["location_id"]]
        day = _local_date(o["created_at"])
        if o["cancelled_at"] is None:
            for li in o["line_items"]:
                sold[(day, li["sku"], loc)] += li["quantity"]
        for rf in o["refunds"]:
            for rli in rf["refund_line_items"]:
                key = (
                    _local_date(rf["created_at"]),
                    rli["line_item"]["sku"],
                    SHOPIFY_LOC[rli["location_id"]],
                )
                returned[key] += rli["quantity"]
    amz = {
        o["AmazonOrderId"]: o
        for o in _latest(_jsonl(drop, "amazon/orders/*.jsonl"), "AmazonOrderId", "LastUpdateDate")
    }
    for it in _latest(_jsonl(drop, "amazon/order_items/*.jsonl"), "AmazonOrderId", "AmazonOrderId"):
        o = amz[it["AmazonOrderId"]]
        if o["OrderStatus"] != "Canceled":
            for x in it["OrderItems"]:
                sold[(_local_date(o["PurchaseDate"]), x["SellerSKU"], "FBA-EU")] += x[
                    "QuantityOrdered"
                ]
    for e in _jsonl(drop, "amazon/financial_events/*.jsonl"):
        for x in e.get("ShipmentItemAdjustmentList", []):
            returned[(_local_date(e["PostedDate"]), x["SellerSKU"], "FBA-EU")] += x[
                "QuantityShipped"
            ]
    for o in _latest(_jsonl(drop, "woo/orders/*.jsonl"), "id", "date_modified_gmt"):
        if o["status"] != "cancelled":
            for li in o["line_items"]:
                sold[(_local_date(o["date_created_gmt"] + "Z"), li["sku"], "WH-LON")] += li[
                    "quantity"
                ]
    for r in _jsonl(drop, "woo/refunds/*.jsonl"):
        for li in r["line_items"]:
            returned[(_local_date(r["date_created_gmt"] + "Z"), li["sku"], "WH-LON")] -= li[
                "quantity"
            ]
    for row in _till_goods(drop):
        day = dt.datetime.strptime(row["Timestamp"], "%d.%m.%Y %H:%M:%S").date()
        q = int(row["Qty"])
        if row["Void"] == "1":
            continue
        if q > 0:
            sold[(day, row["Article"], row["Store"])] += q
        else:
            returned[(day, row["Article"], row["Store"])] -= q

    d = tiny.truth["demand"]
    t_sold = {
        (a, b, c): n
        for a, b, c, n in d.filter(pl.col("units_sold") > 0)
        .select("date", "sku", "location_id", "units_sold")
        .iter_rows()
    }
    t_ret = {
        (a, b, c): n
        for a, b, c, n in d.filter(pl.col("units_returned") > 0)
        .select("date", "sku", "location_id", "units_returned")
        .iter_rows()
    }
    assert {k: v for k, v in sold.items() if v} == t_sold
    assert {k: v for k, v in returned.items() if v} == t_ret


def test_truth_agrees_with_orders_and_lines(tiny):
    d = tiny.truth["demand"].filter(pl.col("units_sold") > 0)
    lines = (
        tiny.truth["order_lines"]
        .filter(~pl.col("cancelled"))
        .group_by(date="order_date", sku="sku", location_id="location_id")
        .agg(units_sold=pl.col("quantity").sum())
    )
    assert_frame_equal(
        d.select("date", "sku", "location_id", "units_sold").sort(pl.all()),
        lines.select("date", "sku", "location_id", pl.col("units_sold").cast(pl.Int32)).sort(
            pl.all()
        ),
    )
    o = tiny.truth["orders"]
    assert (
        o["order_date"] == o["placed_at"].dt.convert_time_zone("Europe/Amsterdam").dt.date()
    ).all()


def test_stock_files_match_truth(drop, tiny):
    frames = [pl.read_csv(p, infer_schema=False) for p in sorted(drop.glob("stock/*.csv"))]
    st = pl.concat(frames)
    assert st.columns == ["sku", "location_id", "on_hand", "counted_at"]
    # a bundle is never counted (sandbox/bundles.py): the files have every other series
    bundles = tiny.truth["bundle_components"]["bundle_sku"].unique().implode()
    assert tiny.truth["bundle_components"].height > 0
    assert st.filter(pl.col("sku").is_in(bundles)).height == 0
    d = tiny.truth["demand"].filter(~pl.col("sku").is_in(bundles))
    assert st.height == d.height == PRESETS["tiny"].n_skus * 4 * PRESETS["tiny"].days
    # Files count the shelf: stock after the day's shipments plus units ordered but not shipped.
    from sandbox.drops import _unshipped_units

    held = _unshipped_units(tiny)["held"].sum()
    assert held > 0
    assert st["on_hand"].cast(pl.Int64).sum() == d["on_hand_eod"].sum() + held
    assert st["counted_at"].str.ends_with("Z").all()


def test_promotions_and_edits(drop, demo):
    o = demo.truth["orders"]
    codes = set(o["discount_code"].drop_nulls())
    assert "BLACKFRIDAY20" in codes and len(codes) >= 3
    assert (o.filter(pl.col("discount_code").is_not_null())["discount"] > 0).all()
    # Demand is lifted on promo days: Black Friday weekend vs the two weeks before.
    d = demo.truth["demand"].group_by("date").agg(pl.col("true_demand").sum())
    bf = o.filter(discount_code="BLACKFRIDAY20")["order_date"].min()
    before = d.filter(
        pl.col("date").is_between(bf - dt.timedelta(days=14), bf - dt.timedelta(days=1))
    )
    during = d.filter(pl.col("date").is_between(bf, bf + dt.timedelta(days=3)))
    assert during["true_demand"].mean() > 1.3 * before["true_demand"].mean()
    # Late edits: the same Shopify order with a changed address in a later version.
    addresses = defaultdict(set)
    for r in _jsonl(drop, "shop/orders/*.jsonl"):
        addresses[r["id"]].add(r["shipping_address"]["address1"])
    assert any(len(a) > 1 for a in addresses.values())


def test_custom_small_scale_and_default_end_date():
    sc = Scale("unit", n_skus=8, n_customers=60, days=40, orders_per_day=6)
    store = generate_store(seed=1, scale=sc)
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    assert store.truth["demand"]["date"].max() == yesterday
    n_bundles = store.truth["bundle_components"]["bundle_sku"].n_unique()
    assert len(store.catalog.skus) == 8 + n_bundles
    assert store.truth["demand"].height == (8 + n_bundles) * 4 * 40
    assert store.truth["orders"].height > 0
