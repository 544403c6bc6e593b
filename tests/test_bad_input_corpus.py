"""The bad-input corpus: every stream and file kind, each odd input ending in quarantine or a clear
refusal with its specific reason, the good records of the same page landed, and nothing lost.

How it is built: the tiny sandbox lands first (a realistic warehouse). Then each case drops one
new file made from real sandbox records: nine harmless new versions of existing records (they must
land) and one bad record (it must be quarantined with the expected reason), or a whole file that
must be refused. One sync and one `dbt build` run over all cases; each test reads what happened to
its own file, found by the file's content hash (the load id).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from connectors.files.reader import content_hash
from flows.demo import prepare_demo
from flows.warehouse import connection

END = date(2026, 6, 30)
GOOD = 9


@dataclass(frozen=True)
class Case:
    id: str
    folder: str  # under the drop folder
    mutate: Callable[[dict], object] | None  # bad record from a template; str = raw line
    expect: str  # "quarantine", "reject" or "flag"
    reason: str  # substring of the quarantine reason / refusal
    good: int = GOOD
    raw_file: Callable[[list[dict], list[str]], bytes] | None = None  # whole-file cases


def _set(path: str, value):
    """A mutation setting a (dotted) key; `[0]` steps into the first list item."""

    def mutate(rec: dict) -> dict:
        rec = json.loads(json.dumps(rec))
        cur = rec
        keys = path.split(".")
        for k in keys[:-1]:
            cur = cur[int(k[1:-1])] if k.startswith("[") else cur[k]
        last = keys[-1]
        if value is _DROP:
            cur.pop(last, None)
        else:
            cur[last] = value
        return rec

    return mutate


_DROP = object()


def _line(text: str):
    return lambda rec: text


JSONL_CASES = [
    # Shopify orders
    Case(
        "shop-malformed-json",
        "shop/orders",
        _line('{"id": 5100009999, "line_items": [}'),
        "quarantine",
        "malformed JSON",
    ),
    Case(
        "shop-truncated-line",
        "shop/orders",
        lambda r: json.dumps(r)[:57],
        "quarantine",
        "malformed JSON",
    ),
    Case(
        "shop-array-not-object",
        "shop/orders",
        _line("[1, 2, 3]"),
        "quarantine",
        "expected a JSON object",
    ),
    Case(
        "shop-missing-id", "shop/orders", _set("id", _DROP), "quarantine", "missing id field 'id'"
    ),
    Case(
        "shop-id-wrong-type",
        "shop/orders",
        _set("id", {"gid": 1}),
        "quarantine",
        "id field 'id' has the wrong type",
    ),
    Case(
        "shop-bad-timestamp",
        "shop/orders",
        _set("updated_at", "yesterday"),
        "quarantine",
        "not an ISO timestamp",
    ),
    Case(
        "shop-future-date",
        "shop/orders",
        _set("updated_at", "2099-01-01T00:00:00Z"),
        "quarantine",
        "in the future",
    ),
    Case(
        "shop-unknown-currency",
        "shop/orders",
        _set("currency", "XYZ"),
        "quarantine",
        "currency is one of the configured",
    ),
    Case(
        "shop-unconfigured-currency",
        "shop/orders",
        _set("currency", "SEK"),
        "quarantine",
        "currency is one of the configured",
    ),
    Case(
        "shop-zero-quantity",
        "shop/orders",
        _set("line_items.[0].quantity", 0),
        "quarantine",
        "min_quantity at least 1",
    ),
    Case(
        "shop-negative-quantity",
        "shop/orders",
        _set("line_items.[0].quantity", -3),
        "quarantine",
        "min_quantity at least 1",
    ),
    Case(
        "shop-fractional-quantity",
        "shop/orders",
        _set("line_items.[0].quantity", 1.5),
        "quarantine",
        "min_quantity is a whole number",
    ),
    Case(
        "shop-quantity-as-text",
        "shop/orders",
        _set("line_items.[0].quantity", "two"),
        "quarantine",
        "min_quantity is a whole number",
    ),
    Case(
        "shop-absurd-quantity",
        "shop/orders",
        _set("line_items.[0].quantity", 250000),
        "quarantine",
        "max_quantity at most 10,000",
    ),
    Case(
        "shop-negative-total",
        "shop/orders",
        _set("total_price", "-5.00"),
        "quarantine",
        "total_price is a non-negative decimal",
    ),
    Case(
        "shop-price-in-wrong-field",
        "shop/orders",
        _set("total_price", "EUR 42.00"),
        "quarantine",
        "total_price is a non-negative decimal",
    ),
    Case(
        "shop-lines-dont-add-up",
        "shop/orders",
        _set("total_line_items_price", "99999.00"),
        "quarantine",
        "line_totals add up to the total",
    ),
    Case(
        "shop-no-lines",
        "shop/orders",
        _set("line_items", []),
        "quarantine",
        "line_count at least 1",
    ),
    Case(
        "shop-lines-wrong-type",
        "shop/orders",
        _set("line_items", "SKU-0001 x2"),
        "quarantine",
        "line_count at least 1",
    ),
    Case(
        "shop-duplicate-id-conflict",
        "shop/orders",
        None,
        "quarantine",
        "id unique within the page",
        good=GOOD - 1,
    ),
    Case(
        "shop-unknown-sku-flagged",
        "shop/orders",
        _set("line_items.[0].sku", "SKU-NOT-IN-CATALOGUE"),
        "flag",
        "SKU is in the catalogue",
        good=GOOD + 1,
    ),
    Case(
        "shop-extra-fields-land",
        "shop/orders",
        _set("x_custom_field", {"anything": True}),
        "flag",
        "",
        good=GOOD + 1,
    ),
    # Shopify customers and products
    Case(
        "shop-customer-missing-id",
        "shop/customers",
        _set("id", _DROP),
        "quarantine",
        "missing id field 'id'",
    ),
    Case(
        "shop-customer-missing-updated",
        "shop/customers",
        _set("updated_at", None),
        "quarantine",
        "timestamp missing",
    ),
    Case(
        "shop-product-variant-without-sku",
        "shop/products",
        _set("variants.[0].sku", ""),
        "quarantine",
        "variants_without_sku at most 0",
    ),
    Case(
        "shop-product-malformed",
        "shop/products",
        _line('{"id": 1, "variants": '),
        "quarantine",
        "malformed JSON",
    ),
    # Amazon
    Case(
        "amazon-order-unknown-currency",
        "amazon/orders",
        _set("OrderTotal.CurrencyCode", "EURO"),
        "quarantine",
        "currency is one of the configured",
    ),
    Case(
        "amazon-order-negative-total",
        "amazon/orders",
        _set("OrderTotal.Amount", "-1.00"),
        "quarantine",
        "order_total is a non-negative decimal",
    ),
    Case(
        "amazon-order-missing-id",
        "amazon/orders",
        _set("AmazonOrderId", _DROP),
        "quarantine",
        "missing id field 'AmazonOrderId'",
    ),
    Case(
        "amazon-order-bad-date",
        "amazon/orders",
        _set("LastUpdateDate", "31/12/2025"),
        "quarantine",
        "not an ISO timestamp",
    ),
    Case(
        "amazon-order-future",
        "amazon/orders",
        _set("LastUpdateDate", "2090-05-01T00:00:00Z"),
        "quarantine",
        "in the future",
    ),
    Case(
        "amazon-items-fractional",
        "amazon/order_items",
        _set("OrderItems.[0].QuantityOrdered", 0.5),
        "quarantine",
        "min_quantity is a whole number",
    ),
    Case(
        "amazon-items-negative",
        "amazon/order_items",
        _set("OrderItems.[0].QuantityOrdered", -1),
        "quarantine",
        "min_quantity at least 1",
    ),
    Case(
        "amazon-items-missing-time",
        "amazon/order_items",
        _set("LastUpdateDate", _DROP),
        "quarantine",
        "timestamp missing",
    ),
    Case(
        "amazon-items-wrong-currency",
        "amazon/order_items",
        _set("OrderItems.[0].ItemPrice.CurrencyCode", "JPY"),
        "quarantine",
        "currency is one of the configured",
    ),
    Case(
        "amazon-event-unknown-type",
        "amazon/financial_events",
        # Chargeback and GuaranteeClaim are refund-like types we read (#13); Retrocharge is not
        _set("EventType", "Retrocharge"),
        "quarantine",
        "event_type is one of Shipment, Refund",
    ),
    Case(
        "amazon-event-missing-date",
        "amazon/financial_events",
        _set("PostedDate", _DROP),
        "quarantine",
        "missing id field 'PostedDate'",
    ),
    # WooCommerce
    Case(
        "woo-order-unknown-currency",
        "woo/orders",
        _set("currency", "BTC"),
        "quarantine",
        "currency is one of the configured",
    ),
    Case(
        "woo-order-total-mismatch",
        "woo/orders",
        _set("total", "1.00"),
        "quarantine",
        "line_totals add up to the total",
    ),
    Case(
        "woo-order-zero-quantity",
        "woo/orders",
        _set("line_items.[0].quantity", 0),
        "quarantine",
        "min_quantity at least 1",
    ),
    Case(
        "woo-order-bad-modified",
        "woo/orders",
        _set("date_modified_gmt", "not a date"),
        "quarantine",
        "not an ISO timestamp",
    ),
    Case(
        "woo-order-missing-id",
        "woo/orders",
        _set("id", None),
        "quarantine",
        "missing id field 'id'",
    ),
    Case(
        "woo-refund-negative-amount",
        "woo/refunds",
        _set("amount", "-10.00"),
        "quarantine",
        "amount is a non-negative decimal",
    ),
    Case(
        "woo-refund-no-order",
        "woo/refunds",
        _set("order_id", _DROP),
        "quarantine",
        "order_id present",
    ),
    Case(
        "woo-customer-missing-id",
        "woo/customers",
        _set("id", _DROP),
        "quarantine",
        "missing id field 'id'",
    ),
]


def _csv_set(column: str, value: str):
    return lambda row: {**row, column: value}


CSV_CASES = [
    # Till exports (vendor column names)
    Case(
        "tills-fractional-qty",
        "tills",
        _csv_set("Qty", "1.5"),
        "quarantine",
        "quantity is a whole number",
    ),
    Case(
        "tills-qty-as-text",
        "tills",
        _csv_set("Qty", "one"),
        "quarantine",
        "quantity is a whole number",
    ),
    Case(
        "tills-absurd-qty",
        "tills",
        _csv_set("Qty", "99999"),
        "quarantine",
        "quantity_abs at most 10,000",
    ),
    Case(
        "tills-negative-price",
        "tills",
        _csv_set("Price", "-3.00"),
        "quarantine",
        "unit_price is a non-negative decimal",
    ),
    Case(
        "tills-price-with-symbol",
        "tills",
        _csv_set("Price", "€3,00"),
        "quarantine",
        "unit_price is a non-negative decimal",
    ),
    Case(
        "tills-unknown-currency",
        "tills",
        _csv_set("Currency", "DEM"),
        "quarantine",
        "currency is one of the configured",
    ),
    Case(
        "tills-unknown-store",
        "tills",
        _csv_set("Store", "ST-NOWHERE"),
        "quarantine",
        "location_id is a configured location",
    ),
    Case(
        "tills-bad-timestamp",
        "tills",
        _csv_set("Timestamp", "2026-06-01T12:00:00"),  # ISO, but the till writes day first
        "quarantine",
        "ordered_at does not match the timestamp format",
    ),
    Case(
        "tills-future-timestamp",
        "tills",
        _csv_set("Timestamp", "01.06.2099 12:00:00"),
        "quarantine",
        "in the future",
    ),
    Case(
        "tills-missing-receipt",
        "tills",
        _csv_set("Receipt", ""),
        "quarantine",
        "missing id field 'order_id'",
    ),
    Case("tills-short-row", "tills", "short", "quarantine", "fewer cells than columns"),
    Case("tills-long-row", "tills", "long", "quarantine", "more cells than columns"),
    # Stock reports
    Case(
        "stock-negative",
        "stock",
        _csv_set("on_hand", "-4"),
        "quarantine",
        "on_hand between 0 and 1,000,000",
    ),
    Case(
        "stock-fractional",
        "stock",
        _csv_set("on_hand", "2.5"),
        "quarantine",
        "on_hand is a whole number",
    ),
    Case(
        "stock-unknown-location",
        "stock",
        _csv_set("location_id", "WH-MARS"),
        "quarantine",
        "location_id is a configured location",
    ),
    Case(
        "stock-bad-counted-at",
        "stock",
        _csv_set("counted_at", "last night"),
        "quarantine",
        "not an ISO timestamp",
    ),
    Case("stock-truncated-file", "stock", "short", "quarantine", "fewer cells than columns"),
    # Supplier terms
    Case(
        "terms-zero-moq",
        "supplier_terms",
        _csv_set("moq", "0"),
        "quarantine",
        "moq between 1 and 1,000,000",
    ),
    Case(
        "terms-fractional-case-pack",
        "supplier_terms",
        _csv_set("case_pack", "2.5"),
        "quarantine",
        "case_pack is a whole number",
    ),
    Case(
        "terms-negative-cost",
        "supplier_terms",
        _csv_set("unit_cost", "-1.20"),
        "quarantine",
        "unit_cost is a non-negative decimal",
    ),
    Case(
        "terms-unknown-currency",
        "supplier_terms",
        _csv_set("currency", "ABC"),
        "quarantine",
        "currency is one of the configured",
    ),
    Case(
        "terms-lead-time-text",
        "supplier_terms",
        _csv_set("lead_time_days", "two weeks"),
        "quarantine",
        "lead_time_days is a whole number",
    ),
    # Purchase orders
    Case(
        "po-unknown-status",
        "purchase_orders",
        _csv_set("status", "shipped?"),
        "quarantine",
        "status is one of open, partial, received, cancelled",
    ),
    Case(
        "po-negative-quantity",
        "purchase_orders",
        _csv_set("quantity_ordered", "-10"),
        "quarantine",
        "quantity_ordered between 0 and 1,000,000",
    ),
    Case(
        "po-unknown-location",
        "purchase_orders",
        _csv_set("location_id", "WH-XX"),
        "quarantine",
        "location_id is a configured location",
    ),
    Case(
        "po-bad-updated-at",
        "purchase_orders",
        _csv_set("updated_at", "soon"),
        "quarantine",
        "not an ISO timestamp",
    ),
    # FX rates
    Case("fx-zero-rate", "fx_rates", _csv_set("rate", "0"), "quarantine", "rate at least"),
    Case(
        "fx-negative-rate",
        "fx_rates",
        _csv_set("rate", "-1.1"),
        "quarantine",
        "rate is a non-negative decimal",
    ),
    Case(
        "fx-not-iso",
        "fx_rates",
        _csv_set("currency", "POUND"),
        "quarantine",
        "currency is an ISO 4217 code",
    ),
    Case(
        "fx-bad-date",
        "fx_rates",
        _csv_set("date", "2026/06/01"),
        "quarantine",
        "is not a YYYY-MM-DD date",
    ),
]


FILE_CASES = [
    Case(
        "file-empty-jsonl",
        "shop/orders",
        None,
        "reject",
        "empty file",
        raw_file=lambda rows, h: b"",
    ),
    Case("file-empty-csv", "tills", None, "reject", "empty file", raw_file=lambda rows, h: b"\n"),
    Case(
        "file-latin1-csv",
        "tills",
        None,
        "reject",
        "not UTF-8",
        raw_file=lambda rows, h: _csv_bytes(rows, h).replace(b"@", "\u00fc@".encode("latin-1"), 1),
    ),
    Case(
        "file-utf16-csv",
        "stock",
        None,
        "reject",
        "not UTF-8",
        raw_file=lambda rows, h: (
            codecs.BOM_UTF16_LE + _csv_bytes(rows, h).decode().encode("utf-16-le")
        ),
    ),
    Case(
        "file-missing-column",
        "stock",
        None,
        "reject",
        "missing column(s) ['on_hand']",
        raw_file=lambda rows, h: _csv_bytes(
            [{k: v for k, v in r.items() if k != "on_hand"} for r in rows],
            [c for c in h if c != "on_hand"],
        ),
    ),
    Case(
        "file-renamed-till-columns",
        "tills",
        None,
        "reject",
        "missing column(s) ['Qty']",
        raw_file=lambda rows, h: _csv_bytes(
            [{("Quantity" if k == "Qty" else k): v for k, v in r.items()} for r in rows],
            ["Quantity" if c == "Qty" else c for c in h],
        ),
    ),
    Case(
        "file-broken-parquet",
        "tills",
        None,
        "reject",
        "not a readable Parquet file",
        raw_file=lambda rows, h: b"PAR1\x00\x00garbage",
    ),
    Case(
        "file-mostly-bad",
        "shop/orders",
        None,
        "reject",
        "nothing landed from this page",
        raw_file=lambda rows, h: b"".join(
            (json.dumps({**r, "currency": "???"}) + "\n").encode() for r in rows
        ),
    ),
    Case(
        "file-extra-column-lands",
        "stock",
        None,
        "flag",
        "",
        raw_file=lambda rows, h: _csv_bytes([{**r, "bin": "A-01"} for r in rows], [*h, "bin"]),
    ),
]

ALL_CASES = JSONL_CASES + CSV_CASES + FILE_CASES
SUFFIX = {"file-broken-parquet": ".parquet"}


def _csv_bytes(rows: list[dict], header: list[str]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _templates(tpl: Path, folder: str) -> tuple[list, list[str]]:
    """Ten real records of a stream with distinct ids (JSON objects, or CSV rows + header),
    newest files first."""
    from connectors.files.streams import STREAMS

    records: list = []
    header: list[str] = []
    seen: set[str] = set()
    for path in sorted((p for p in (tpl / folder).glob("*") if p.is_file()), reverse=True):
        if path.suffix == ".jsonl":
            spec = STREAMS[tuple(folder.split("/"))]
            rows = [json.loads(x) for x in path.read_text().splitlines()]
            key = spec.source_id
        else:
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                rows = list(reader)
                header = list(reader.fieldnames)
            key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
        for r in rows:
            if folder == "tills" and not _a_sale_of_goods(r):
                continue  # postage, fees, credit notes, write-offs: a mutation means otherwise
            if key(r) not in seen:
                seen.add(key(r))
                records.append(r)
        if len(records) > GOOD:
            break
    assert len(records) >= 4, f"too few template records in {folder}"
    return records[: GOOD + 1], header


def _a_sale_of_goods(row: dict) -> bool:
    """A till row that sells an article (the sandbox's export also has POSTAGE and CARDFEE
    lines, credit notes CN… and write-offs WO…, whose rules differ)."""
    return row["Article"] not in ("POSTAGE", "CARDFEE") and row["Receipt"][:2] not in ("CN", "WO")


def _harmless(rec: dict, folder: str, n: int) -> dict:
    """A new version of an existing record that changes nothing a mart reads."""
    if folder == "tills":
        return {**rec, "Email": f"corpus{n}@example.com"}
    if folder == "stock":  # the same count a few seconds earlier: a new record, same figure
        return {**rec, "counted_at": rec["counted_at"][:-6] + f"{n // 60:02d}:{n % 60:02d}Z"}
    if folder == "supplier_terms":
        return {**rec, "supplier_email": f"corpus{n}@example.com"}
    if folder == "purchase_orders":  # same time, written with milliseconds
        return {**rec, "updated_at": rec["updated_at"].replace("Z", f".{n:03d}Z")}
    if folder == "fx_rates":  # same rate, more trailing zeros
        return {**rec, "rate": rec["rate"] + "0" * (1 + n % 7)}
    return {**rec, "_corpus_case": n}


def _build_file(case: Case, n: int, tpl: Path) -> tuple[bytes, int]:
    """The case's file and how many fewer good records it holds than GOOD (small streams)."""
    records, header = _templates(tpl, case.folder)
    goods = [_harmless(r, case.folder, n) for r in records[:-1]]
    short = GOOD - len(goods)
    if case.raw_file is not None:
        return case.raw_file(goods, header), short
    template = records[-1]
    if case.id == "shop-duplicate-id-conflict":
        bad = {**goods[0], "note": "same id and time, other content"}
        return "".join(json.dumps(r) + "\n" for r in [*goods, bad]).encode(), short
    if header:  # CSV
        text = _csv_bytes(goods, header).decode()
        if case.mutate == "short":
            line = ",".join(list(template.values())[:3])
        elif case.mutate == "long":
            line = ",".join([*template.values(), "surplus", "cells"])
        else:
            line = _csv_bytes([case.mutate(template)], header).decode().splitlines()[1]
        return (text + line + "\n").encode(), short
    bad = case.mutate(template)
    lines = [json.dumps(r) for r in goods] + [bad if isinstance(bad, str) else json.dumps(bad)]
    return ("\n".join(lines) + "\n").encode(), short


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    from flows.dbt_runner import run_dbt
    from flows.sync import sync_files

    project = tmp_path_factory.mktemp("corpus")
    cfg, _, _ = prepare_demo(project, seed=11, scale="tiny", end_date=END)
    tpl_project = tmp_path_factory.mktemp("templates")
    prepare_demo(tpl_project, seed=11, scale="tiny", end_date=END)  # an untouched copy to read from
    tpl = tpl_project / "data" / "drop"
    baseline = sync_files(cfg)
    assert baseline.files_rejected == 0 and baseline.rows_quarantined == 0
    drop = Path(cfg.files.drop_dir)
    files = {}
    for n, case in enumerate(ALL_CASES):
        data, short = _build_file(case, n, tpl)
        suffix = SUFFIX.get(case.id, ".jsonl" if "/" in case.folder else ".csv")
        path = drop / case.folder / f"corpus_{case.id}{suffix}"
        path.write_bytes(data)
        files[case.id] = (path, content_hash(data), short)
    report = sync_files(cfg)
    run_dbt(cfg)
    return {"cfg": cfg, "files": files, "report": report, "drop": drop}


def test_the_corpus_is_large_and_covers_every_stream_and_file_kind():
    assert len(ALL_CASES) >= 60
    folders = {c.folder for c in ALL_CASES}
    assert folders >= {
        "shop/orders",
        "shop/customers",
        "shop/products",
        "amazon/orders",
        "amazon/order_items",
        "amazon/financial_events",
        "woo/orders",
        "woo/refunds",
        "woo/customers",
        "tills",
        "stock",
        "supplier_terms",
        "purchase_orders",
        "fx_rates",
    }
    assert len({c.id for c in ALL_CASES}) == len(ALL_CASES)


def _rows(cfg, sql, params):
    with connection(cfg.warehouse, read_only=True) as con:
        return con.execute(sql, params).fetchall()


def _table(folder: str) -> str:
    return {
        "tills": "tills__orders",
        "stock": "tpl__stock",
        "supplier_terms": "files__supplier_terms",
        "purchase_orders": "files__purchase_orders",
        "fx_rates": "files__fx_rates",
    }.get(folder, folder.replace("/", "__"))


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_case_ends_as_expected_and_nothing_is_lost(corpus, case):
    cfg = corpus["cfg"]
    path, digest, short = corpus["files"][case.id]
    table = _table(case.folder)
    landed = _rows(cfg, f"select count(*) from raw.{table} where _load_id = ?", [digest])[0][0]
    held = _rows(cfg, "select reason from ops.quarantine where load_id = ?", [digest])
    loads = _rows(cfg, "select status, reason from ops.file_loads where content_hash = ?", [digest])
    assert not path.exists(), "a handled file leaves the inbox"
    if case.expect == "reject":
        assert loads and loads[0][0] == "rejected" and case.reason in loads[0][1], loads
        assert landed == 0
        rejected = corpus["drop"] / "rejected" / case.folder / path.name
        assert rejected.exists() and case.reason in Path(str(rejected) + ".reason.txt").read_text()
        return
    assert loads and loads[0][0] == "landed", loads
    if case.expect == "flag":
        assert landed == case.good - short and not held
        return
    assert landed == case.good - short, (landed, held)
    assert held and any(case.reason in r for (r,) in held), held
    # Conservation: every record of the file is either a new raw version or held with a reason.
    assert landed + len(held) == GOOD + 1 - short


def test_unknown_skus_are_flagged_not_quarantined(corpus):
    flagged = [
        o
        for o in corpus["report"].outcomes
        if o["expectation"].startswith("SKU is in the catalogue") and o["unexpected_count"]
    ]
    assert flagged and not any(o["critical"] for o in flagged)


def test_good_records_of_bad_pages_reach_the_marts(corpus):
    """The nine good versions of each order page are the versions the marts now show."""
    cfg = corpus["cfg"]
    with connection(cfg.warehouse, read_only=True) as con:
        rows = con.execute(
            """select o._source_id from raw.shop__orders o
               join marts.orders m on m.channel = 'shop' and m.order_id = o._source_id
               where o._payload->>'_corpus_case' is not null"""
        ).fetchall()
        emails = con.execute(
            "select count(*) from staging.stg_tills__order_lines where email like 'corpus%@example.com'"
        ).fetchall()[0][0]
    assert len({r[0] for r in rows}) >= GOOD
    assert emails >= GOOD


def test_a_quarantined_record_can_be_released(corpus):
    from flows.quarantine import ReleaseError, list_quarantine, release

    cfg = corpus["cfg"]
    held = list_quarantine(cfg, channel="shop", limit=500)
    extra = next(r for r in held if "min_quantity at least 1" in r.reason)
    assert release(cfg, extra.quarantine_id) == 1
    with pytest.raises(ReleaseError, match="already released"):
        release(cfg, extra.quarantine_id)
    malformed = next(r for r in held if "malformed JSON" in r.reason)
    with pytest.raises(ReleaseError, match="not valid JSON"):
        release(cfg, malformed.quarantine_id)
    assert extra.quarantine_id not in {r.quarantine_id for r in list_quarantine(cfg, limit=500)}
