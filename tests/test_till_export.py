"""Till and order exports read by their rules (connectors/till_export/mapping.py), and the file
sync's accounting: every data row read is landed, quarantined or a reported exact repeat."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.till_export.mapping import CreditNoteRule, ExportRules, RowError, map_rows
from flows.config import ConfigError
from flows.sync import sync_files
from flows.warehouse import connection
from tests.conftest import make_config

pytestmark = pytest.mark.fast

RETAIL = ExportRules(
    mapping={
        "order_id": "InvoiceNo",
        "sku": "StockCode",
        "title": "Description",
        "quantity": "Quantity",
        "ordered_at": "InvoiceDate",
        "unit_price": "UnitPrice",
        "customer_id": "CustomerID",
        "country": "Country",
    },
    constants={"location_id": "ST-BER", "currency": "EUR"},
    timezone="Europe/Berlin",
    timestamp_format="%m/%d/%Y %H:%M",
    decimal_comma=True,
    line_types={"shipping": ("POST",), "fee": ("AMAZONFEE",), "adjustment": ("B", "M*")},
    credit_notes=CreditNoteRule(prefix="C"),
)


def _row(inv: str, code: str, qty: str, price: str, when: str = "12/1/2010 8:26", **kw) -> dict:
    row = {"InvoiceNo": inv, "StockCode": code, "Description": f"{code} thing", "Quantity": qty,
           "InvoiceDate": when, "UnitPrice": price, "CustomerID": "17850",
           "Country": "United Kingdom", "Till": "T3"}  # fmt: skip
    row.update(kw)
    return row


def test_rules_map_constants_numbers_times_types_and_credit_notes():
    rows = [
        _row("536365", "85123A", "6", "2,55"),
        _row("536365", "85123A", "6", "2,55"),  # the same scan twice: two lines of the invoice
        _row("536365", "POST", "1", "1.018,00"),
        _row("C536366", "85123A", "-2", "2,55"),
        _row("536367", "M", "1", "-3,00"),
        _row("536368", "X", "1", "1,00", when="2010-12-01 08:26"),  # not the export's format
        _row("536369", "X", "1", "1;00"),
    ]
    out = map_rows(rows, RETAIL, {"timezone": "Europe/Berlin"})
    first, second, post, credit, adjust, bad_time, bad_number = out
    assert isinstance(first, dict) and isinstance(second, dict)
    assert (first["line_id"], second["line_id"]) == ("1", "2")
    assert first["ordered_at"] == "2010-12-01 08:26:00" and first["unit_price"] == "2.55"
    assert (first["location_id"], first["currency"], first["customer_id"]) == (
        "ST-BER",
        "EUR",
        "17850",
    )
    assert first["title"] == "85123A thing" and first["country"] == "United Kingdom"
    # every column of the export is kept, mapped or not (Till is mapped by nothing)
    assert first["source_columns"] == rows[0] and first["source_columns"]["Till"] == "T3"
    assert (
        isinstance(post, dict)
        and post["line_type"] == "shipping"
        and post["unit_price"] == "1018.00"
    )
    assert isinstance(credit, dict) and credit["document_type"] == "credit_note"
    assert first["document_type"] == "sale" and first["line_type"] == "product"
    assert isinstance(adjust, dict) and adjust["line_type"] == "adjustment"  # pattern M*
    assert isinstance(bad_time, RowError) and "timestamp format" in bad_time.rule
    assert isinstance(bad_number, RowError) and bad_number.rule.startswith("unit_price")
    # the rule is the same for every row that breaks it (grouped counts); the value is apart
    assert "2010-12-01" not in bad_time.rule and "2010-12-01" in bad_time.detail


def test_credit_note_by_negative_total_and_by_flag():
    rules = ExportRules(
        mapping={
            "order_id": "Doc",
            "sku": "Sku",
            "quantity": "Q",
            "unit_price": "P",
            "ordered_at": "T",
            "credit_note": "Kind",
        },  # fmt: skip
        credit_notes=CreditNoteRule(negative_total=True),
    )
    rows = [
        {"Doc": "1", "Sku": "A", "Q": "-1", "P": "5.00", "T": "2026-01-01 10:00", "Kind": ""},
        {"Doc": "1", "Sku": "B", "Q": "-1", "P": "2.00", "T": "2026-01-01 10:00", "Kind": ""},
        {"Doc": "2", "Sku": "A", "Q": "2", "P": "5.00", "T": "2026-01-01 10:00", "Kind": ""},
        {"Doc": "2", "Sku": "A", "Q": "-1", "P": "5.00", "T": "2026-01-01 10:00", "Kind": ""},
        {"Doc": "3", "Sku": "A", "Q": "1", "P": "5.00", "T": "2026-01-01 10:00", "Kind": "yes"},
    ]
    kinds = [p["document_type"] for p in map_rows(rows, rules, {}) if isinstance(p, dict)]
    assert kinds == ["credit_note", "credit_note", "sale", "sale", "credit_note"]


def test_config_takes_location_from_default_and_checks_the_rules(tmp_path):
    base = make_config(tmp_path)
    tills = next(c for c in base.channels if c.kind == "till_export")
    data = base.model_dump()
    ch = next(c for c in data["channels"] if c["kind"] == "till_export")
    ch["mapping"] = {k: v for k, v in tills.mapping.items() if k not in ("location_id", "line_id")}
    ch["timestamp_format"] = "%d/%m/%Y %H:%M"
    ch["line_types"] = {"shipping": ["POST"]}
    ch["credit_notes"] = {"prefix": "C"}
    cfg = make_config(tmp_path, channels=data["channels"])
    rules = next(c for c in cfg.channels if c.kind == "till_export").export_rules()
    assert rules.constants["location_id"] == "ST-BER" and "line_id" not in rules.mapping
    ch["timestamp_format"] = "%H:%M"
    with pytest.raises(ConfigError, match="day, a month and a year"):
        make_config(tmp_path, channels=data["channels"])
    ch["timestamp_format"] = None
    ch["line_types"] = {"postage": ["POST"]}
    with pytest.raises(ConfigError, match="line_types"):
        make_config(tmp_path, channels=data["channels"])
    ch["line_types"] = {}
    ch["constants"] = {"shoe_size": "42"}
    with pytest.raises(ConfigError, match="unknown field"):
        make_config(tmp_path, channels=data["channels"])


# the sandbox till's columns (flows/demo.py maps all but Cashier and Terminal)
TILL_HEAD = "Receipt,Line,Timestamp,Store,Article,Description,Qty,Price,Discount,Currency,Email,Void,Original"

SHOP_ORDER = {
    "id": 5100000001,
    "currency": "EUR",
    "created_at": "2026-01-05T10:00:00+01:00",
    "updated_at": "2026-01-05T10:00:00+01:00",
    "total_price": "40.00",
    "total_line_items_price": "40.00",
    "line_items": [{"id": 1, "sku": "SKU-0001", "quantity": 2, "price": "20.00"}],
}


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_every_row_read_is_landed_quarantined_or_a_reported_repeat(cfg):
    """One file of every kind (JSON Lines orders, a till CSV whose line ids repeat, a stock
    report, the reference CSVs), each with an exact repeat and a bad row: per file, rows read =
    raw rows of the file + its quarantined rows + its repeats, and the repeats are reported
    with their positions in the sync report and ops.file_loads."""
    drop = Path(cfg.files.drop_dir)
    # each file: row 1 (2 in a CSV) repeated once, five more good rows, one bad row
    orders = [json.dumps(dict(SHOP_ORDER, id=5100000001 + i)) for i in range(6)]
    _write(drop / "shop/orders/orders_2026-01.jsonl",
           "\n".join([orders[0], *orders, "{broken"]) + "\n")  # fmt: skip
    till = [f"R{i},1,05.01.2026 10:00:00,ST-BER,SKU-0001,,1,5.00,0,EUR,,0,\n" for i in range(6)]
    _write(drop / "tills/tills_2026-01.csv",
           f"{TILL_HEAD}\n" + till[0] + "".join(till)
           + "R9,2,05.01.2026 10:00:00,ST-BER,SKU-0002,,x,5.00,0,EUR,,0,\n")  # fmt: skip
    stock = [f"2026-01-05T22:00:00Z,ST-BER,SKU-000{i},5\n" for i in range(6)]
    _write(drop / "stock/stock_2026-01-05.csv",
           "counted_at,location_id,sku,on_hand\n" + stock[0] + "".join(stock)
           + "2026-01-05T22:00:00Z,ST-BER,SKU-0009,-3\n")  # fmt: skip
    fx = [f"2026-01-0{i + 1},GBP,1.17\n" for i in range(6)]
    _write(drop / "fx_rates/fx.csv", "date,currency,rate\n" + fx[0] + "".join(fx))
    report = sync_files(cfg)
    with connection(cfg.warehouse, read_only=True) as con:
        loads = con.execute(
            "select content_hash, channel || '__' || stream, status, rows_read, rows_landed, "
            "rows_quarantined, rows_repeated, repeats from ops.file_loads order by path"
        ).fetchall()
        assert len(loads) == 4, loads
        for digest, table, status, read, landed, held, repeated, repeats in loads:
            in_raw = con.execute(
                f"select count(*) from raw.{table} where _load_id = ?", [digest]
            ).fetchall()[0][0]
            in_quarantine = con.execute(
                "select count(*) from ops.quarantine where load_id = ?", [digest]
            ).fetchall()[0][0]
            assert status == "landed", (table, status)
            assert read == in_raw + in_quarantine + repeated, (table, read, in_raw, in_quarantine)
            assert (landed, held) == (in_raw, in_quarantine), table
            # JSON Lines count lines from 1; CSV rows from 2 (line 1 is the header)
            first = [[2, 1]] if table == "shop__orders" else [[3, 2]]
            assert repeated == 1 and json.loads(repeats) == first, (table, repeats)
            assert in_raw >= 1 and (in_quarantine >= 1 or table == "files__fx_rates"), table
    assert report.rows_repeated == 4 and len(report.repeats) == 4
    assert any("tills_2026-01.csv: 1 exact repeat(s) (row 3 = row 2)" in r for r in report.repeats)


def test_a_till_export_keeps_its_source_file_and_every_column(cfg):
    drop = Path(cfg.files.drop_dir)
    row = "R9,1,05.01.2026 10:00:00,ST-BER,SKU-0001,Tee,1,5.00,0,EUR,,0,,Ann\n"
    _write(drop / "tills/t.csv", f"{TILL_HEAD},Cashier\n" + row)
    sync_files(cfg)
    with connection(cfg.warehouse, read_only=True) as con:
        payload = json.loads(con.execute("select _payload from raw.tills__orders").fetchall()[0][0])
    assert payload["source_file"] == "t.csv"
    assert payload["source_columns"]["Cashier"] == "Ann" and payload["document_type"] == "sale"


def test_quarantine_reasons_group_by_rule_and_keep_the_value_apart(cfg):
    """Three rows with three different unreadable times make one reason (the rule) with each
    row's value in its details, so the counts table has one line, not three."""
    drop = Path(cfg.files.drop_dir)
    good = [f"R{i},1,05.01.2026 10:00:00,ST-BER,SKU-0001,,1,5.00,0,EUR,,0,\n" for i in range(12)]
    bad = [f"B{i},1,{when},ST-BER,SKU-0001,,1,5.00,0,EUR,,0,\n"
           for i, when in enumerate(["2026-01-05 10:00", "5/1/2026", "soon"])]  # fmt: skip
    _write(drop / "tills/t.csv", f"{TILL_HEAD}\n" + "".join(good + bad))
    sync_files(cfg)
    with connection(cfg.warehouse, read_only=True) as con:
        held = con.execute("select reason, details from ops.quarantine order by details").fetchall()
    assert {r for r, _ in held} == {
        "ordered_at does not match the timestamp format '%d.%m.%Y %H:%M:%S'"
    }
    assert [d for _, d in held] == ["row 14: '2026-01-05 10:00'", "row 15: '5/1/2026'",
                                    "row 16: 'soon'"]  # fmt: skip


def test_a_refused_file_counts_its_quarantined_rows(cfg):
    """A file refused for too many bad rows holds every row, and the summary says so."""
    drop = Path(cfg.files.drop_dir)
    rows = [f"R{i},1,05.01.2026 10:00:00,ST-BER,SKU-0001,,{q},5.00,0,EUR,,0,\n"
            for i, q in enumerate(["1", "x", "2", "y", "3", "z"])]  # fmt: skip
    _write(drop / "tills/t.csv", f"{TILL_HEAD}\n" + "".join(rows))
    report = sync_files(cfg)
    assert (report.files_rejected, report.rows_landed, report.rows_quarantined) == (1, 0, 6)
    with connection(cfg.warehouse, read_only=True) as con:
        loads = con.execute(
            "select status, rows_read, rows_landed, rows_quarantined from ops.file_loads"
        ).fetchall()
    assert loads == [("rejected", 6, 0, 6)]


def test_release_several_held_records_by_reason_or_file(cfg):
    """`oms quarantine release --reason/--file` re-lands every held record that matches, in one
    go; the others stay held."""
    from flows.quarantine import matching_ids, release_many

    drop = Path(cfg.files.drop_dir)
    good = [f"R{i},1,05.01.2026 10:00:00,ST-BER,SKU-0001,,1,5.00,0,EUR,,0,\n" for i in range(12)]
    odd = [f"U{i},1,05.01.2026 10:00:00,ST-BER,SKU-0001,,{20_000 + i},0.01,0,EUR,,0,\n"
           for i in range(2)]  # fmt: skip
    bad = ["X1,1,05.01.2026 10:00:00,ST-BER,SKU-0001,,1,5.00,0,DEM,,0,\n"]
    _write(drop / "tills/wholesale.csv", f"{TILL_HEAD}\n" + "".join(good + odd + bad))
    sync_files(cfg)
    assert len(matching_ids(cfg, file="wholesale.csv")) == 3
    report = release_many(cfg, reason="quantity_abs at most 10,000")  # accepted as real
    assert (len(report.released), report.landed, report.refused) == (2, 2, [])
    with connection(cfg.warehouse, read_only=True) as con:
        held = con.execute(
            "select source_id from ops.quarantine where released_at is null"
        ).fetchall()
        landed = con.execute(
            "select count(*) from raw.tills__orders where _source_id like 'U%'"
        ).fetchall()
    assert held == [("X1:1",)] and landed == [(2,)]
