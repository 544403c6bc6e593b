"""Edge cases of landing (issue #19): records that must never be lost or poison what follows.

Each case asserts where every record ends (raw, quarantine, or refused with its reason) and
where the stream's cursor ends. Landing-level cases drive `flows.landing` directly on a real
DuckDB warehouse; channel cases go through the emulated APIs on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.records import RawRecord
from flows.api_sync import sync_api
from flows.landing import (
    Part,
    SyncReport,
    Unit,
    commit,
    cursor_limit,
    gate_context,
    judge,
)
from flows.staged import stage
from flows.warehouse import connection, init_warehouse
from tests.conftest import make_config
from tests.test_connector_helpers import api_config, cursors, emulated, latest, tiny_store

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def _customer(i: int, updated: datetime) -> RawRecord:
    """A Shopify customer (checked for id and updated time only)."""
    return RawRecord(str(i), updated, {"id": i, "updated_at": updated.isoformat()})


def _land(cfg, records: list[RawRecord], source_cursor: str | None, now: datetime = NOW):
    """One API page batch of shop customers through the one landing path, judged at `now`."""
    unit = Unit("shop", "customers", f"test:{source_cursor}",
                [Part("customers", "shop__customers", stage(records))], cursor=source_cursor)  # fmt: skip
    report = SyncReport()
    with connection(cfg.warehouse) as con:
        init_warehouse(con, cfg)
        ctx = replace(gate_context(con, cfg), now=now)
        commit(con, unit, judge([unit], ctx)[0], report, cursor_limit(cfg, now))
    return report


def _cursor(cfg) -> str | None:
    return cursors(cfg).get(("shop", "customers"))


def test_a_future_dated_record_is_held_and_does_not_move_the_cursor(tmp_path):
    cfg = make_config(tmp_path)
    times = [NOW - timedelta(hours=h) for h in range(12, 3, -1)]  # nine ordinary records
    future = datetime(2099, 1, 1, tzinfo=UTC)
    records = [_customer(i, t) for i, t in enumerate(times)] + [_customer(99, future)]
    report = _land(cfg, records, source_cursor=future.isoformat())
    assert (report.rows_landed, report.rows_quarantined) == (9, 1)
    assert _cursor(cfg) == times[-1].isoformat()
    # A later record is not skipped by the next read.
    later = NOW + timedelta(hours=1)
    _land(cfg, [_customer(5, later)], later.isoformat(), now=later)
    assert "5" in latest(cfg, "shop__customers") and _cursor(cfg) == later.isoformat()


def test_records_held_as_future_because_our_clock_is_behind_are_read_again(tmp_path):
    """The API's clock is 3 days ahead of ours: its newest records look 'future' and are held;
    the cursor stays at the newest record that landed, so once the clock is right they land."""
    cfg = make_config(tmp_path)
    api_now = NOW + timedelta(days=3)
    ok = [_customer(i, NOW - timedelta(hours=10 - i)) for i in range(9)]
    ahead = [_customer(20, api_now - timedelta(hours=1)), _customer(21, api_now)]
    report = _land(cfg, ok + ahead, source_cursor=api_now.isoformat())
    assert (report.rows_landed, report.rows_quarantined) == (9, 2)
    assert _cursor(cfg) == ok[-1].source_updated_at.isoformat()
    # The clock is fixed: a re-read from the cursor finds the held records and lands them.
    again = _land(cfg, ahead, source_cursor=api_now.isoformat(), now=api_now)
    assert again.rows_landed == 2 and _cursor(cfg) == api_now.isoformat()


def test_a_source_cursor_beyond_what_landed_is_capped_at_the_newest_landed(tmp_path):
    cfg = make_config(tmp_path)
    t = NOW - timedelta(hours=2)
    _land(cfg, [_customer(1, t)], source_cursor=(NOW - timedelta(minutes=1)).isoformat())
    assert _cursor(cfg) == t.isoformat()


def test_a_page_whose_source_says_not_yet_never_moves_the_cursor(tmp_path):
    """Unordered listings (Amazon) move the cursor only with their last page."""
    cfg = make_config(tmp_path)
    _land(cfg, [_customer(1, NOW - timedelta(hours=2))], source_cursor=None)
    assert _cursor(cfg) is None
    assert "1" in latest(cfg, "shop__customers")


def test_a_page_of_only_held_records_never_moves_the_cursor(tmp_path):
    cfg = make_config(tmp_path)
    future = datetime(2099, 1, 1, tzinfo=UTC)
    report = _land(cfg, [_customer(1, future)], source_cursor=future.isoformat())
    assert report.rows_quarantined == 1 and _cursor(cfg) is None


def test_an_empty_closing_page_moves_the_cursor_to_the_source_but_never_past_now(tmp_path):
    cfg = make_config(tmp_path)
    _land(cfg, [], source_cursor=datetime(2099, 1, 1, tzinfo=UTC).isoformat())
    limit = NOW + timedelta(hours=cfg.quality.future_tolerance_hours)
    assert _cursor(cfg) == limit.isoformat()


@pytest.mark.parametrize("lookback_days", [0, 2])
def test_ties_at_a_page_boundary_survive_a_crash_whatever_the_lookback(tmp_path, lookback_days):
    """Forty WooCommerce orders share one `modified` second across a page boundary; the sync
    dies after the first page, then completes; then ten more orders change within that same
    second. `modified_after` is exclusive, so every read starts one second before the cursor:
    every order lands, none twice, whatever the look-back."""
    store = tiny_store()
    with emulated(channels=("woo",)) as eps:
        emu = eps.woo.emulator
        emu.set_time(store.end_ts)
        cfg = api_config(tmp_path, eps, channels=("woo",), page_size=25, landing_batch=1,
                         lookback_days=lookback_days)  # fmt: skip
        sync_api(cfg)  # the backfill
        tie = store.end_ts + 600
        ids = [str(o["source_id"]) for o in emu.book.orders[:40]]
        for oid in ids:  # forty orders change within one second after the backfill
            emu.book.touch(oid, tie)
        emu.set_time(store.end_ts + 3600)
        pages = {"n": 0}

        def crash_after_first_page(page) -> None:
            pages["n"] += 1
            if pages["n"] == 2:
                raise RuntimeError("killed")

        with pytest.raises(RuntimeError, match="killed"):
            sync_api(cfg, on_page=crash_after_first_page)
        tie_text = datetime.fromtimestamp(tie, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        assert cursors(cfg)[("woo", "orders")][:19] <= tie_text  # never past what is unread
        sync_api(cfg)
        assert cursors(cfg)[("woo", "orders")].startswith(tie_text)
        # More orders change within the cursor's very second, after it was read: the next read
        # (exclusive `modified_after`, no look-back) must still see them.
        late = [str(o["source_id"]) for o in emu.book.orders[40:50]]
        for oid in late:
            emu.book.touch(oid, tie)
        sync_api(cfg)
        got = latest(cfg, "woo__orders")
    assert [oid for oid in ids + late if got[oid]["date_modified_gmt"] != tie_text] == []


def test_orders_edited_while_a_backfill_pages_through_them_all_land(tmp_path):
    """WooCommerce pages by page number. While the server serves a backfill's pages, orders it
    already served change (the emulated clock moving on). Ordered by `modified`, every later
    order would move up one place and one per edit would never be seen; ordered by id, with the
    changes since the listing started read once more, every order lands at its latest version,
    with no look-back at all."""
    store = tiny_store()
    with emulated(channels=("woo",)) as eps:
        emu = eps.woo.emulator
        now = store.end_ts
        emu.set_time(now)
        cfg = api_config(tmp_path, eps, channels=("woo",), page_size=10, lookback_days=0)
        edited: list[str] = []
        served = emu.handle
        by_id = sorted(int(o["source_id"]) for o in emu.book.orders)

        def edit_while_serving(req):
            """As the server serves page n > 1 of a listing, an order of its first page changes."""
            if req.path.endswith("/orders") and int(req.arg("page", "1")) > 1 and len(edited) < 6:
                at = now + 10 * (len(edited) + 1)
                emu.set_time(at)
                oid = str(by_id[len(edited)])
                emu.book.touch(oid, at)
                edited.append(oid)
            return served(req)

        emu.handle = edit_while_serving  # type: ignore[method-assign]
        sync_api(cfg)
        got = latest(cfg, "woo__orders")
        b, end = emu.book, emu.server_time()
        expected = {str(o["source_id"]): b.version_at(i, end) for i, o in enumerate(b.orders)}
    expected = {k: v for k, v in expected.items() if v is not None}
    assert len(edited) == 6
    assert set(got) == set(expected)
    stale = [
        oid
        for oid, v in expected.items()
        if got[oid]["date_modified_gmt"]
        != datetime.fromtimestamp(v, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    ]
    assert stale == []


def test_a_bad_record_reread_by_the_lookback_is_held_once(tmp_path):
    """The look-back window re-reads an unreadable Shopify order at every sync: it stays one
    quarantine row (held once by content), and the syncs still count it as held."""
    with emulated() as eps:
        emu = eps.shop.emulator
        bad_id = str(emu.book.orders[5]["source_id"])
        emu.malformed.add(bad_id)
        emu.book.touch(bad_id, tiny_store().end_ts - 3600)  # inside every sync's look-back
        cfg = api_config(tmp_path, eps)
        reports = [sync_api(cfg, streams=["orders"]) for _ in range(3)]
    with connection(cfg.warehouse, read_only=True) as con:
        held = con.execute(
            "select count(*) from ops.quarantine where source_id = ?", [bad_id]
        ).fetchall()[0][0]
    assert held == 1
    assert [r.rows_quarantined for r in reports] == [1, 1, 1]


# ------------------------------------------------------------------------ files in the drop


def _stock_csv(path, rows: int, start: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["sku,location_id,on_hand,counted_at"] + [
        f"SKU-{i:04d},WH-AMS,{i},2026-06-01T22:00:00Z" for i in range(start, start + rows)
    ]
    path.write_text("\n".join(lines) + "\n")


def _raw_count(cfg, table: str) -> int:
    with connection(cfg.warehouse, read_only=True) as con:
        return con.execute(f"select count(*) from raw.{table}").fetchall()[0][0]


def test_a_symlink_out_of_the_drop_folder_is_moved_aside_and_the_rest_lands(tmp_path):
    from flows.sync import sync_files

    cfg = make_config(tmp_path)
    stock = tmp_path / "drop" / "stock"
    _stock_csv(stock / "counts_1.csv", 5)
    (tmp_path / "elsewhere.csv").write_text("secret\n")
    (stock / "counts_0.csv").symlink_to(tmp_path / "elsewhere.csv")
    report = sync_files(cfg, only_channel="tpl")
    assert report.files_landed == 1 and _raw_count(cfg, "tpl__stock") == 5
    moved = tmp_path / "drop" / "rejected" / "stock" / "counts_0.csv"
    assert moved.is_symlink() and not (stock / "counts_0.csv").exists()
    assert "outside the drop folder" in (moved.parent / "counts_0.csv.reason.txt").read_text()
    assert (tmp_path / "elsewhere.csv").read_text() == "secret\n"  # the target is untouched
    assert any("outside the drop folder" in r for r in report.rejected)


def test_a_processed_folder_leading_out_of_the_drop_is_never_written_through(tmp_path):
    from flows.sync import sync_files

    cfg = make_config(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "drop").mkdir()
    (tmp_path / "drop" / "processed").symlink_to(outside)
    _stock_csv(tmp_path / "drop" / "stock" / "counts.csv", 3)
    report = sync_files(cfg, only_channel="tpl")
    assert _raw_count(cfg, "tpl__stock") == 3  # landed
    assert list(outside.iterdir()) == []  # but nothing written outside the drop folder
    assert (tmp_path / "drop" / "stock" / "counts.csv").exists()
    assert any("not moved" in r and "outside the drop folder" in r for r in report.rejected)


def test_a_file_appended_to_while_it_is_landed_stays_and_lands_the_rest_next_run(
    tmp_path, monkeypatch
):
    import flows.sync as sync

    cfg = make_config(tmp_path)
    path = tmp_path / "drop" / "stock" / "counts.csv"
    _stock_csv(path, 4)
    real_commit = sync.commit

    def commit_while_the_writer_appends(*args, **kwargs):
        with path.open("a") as fh:  # the 3PL's upload is still running
            fh.write("SKU-0100,WH-AMS,7,2026-06-01T22:00:00Z\n")
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(sync, "commit", commit_while_the_writer_appends)
    first = sync.sync_files(cfg, only_channel="tpl")
    monkeypatch.setattr(sync, "commit", real_commit)
    assert path.exists() and _raw_count(cfg, "tpl__stock") == 4
    assert any("changed while it was being landed" in r for r in first.rejected)
    second = sync.sync_files(cfg, only_channel="tpl")
    assert not path.exists() and _raw_count(cfg, "tpl__stock") == 5
    assert second.rows_landed == 1  # the four landed before are not landed twice


def test_a_file_still_being_written_waits_for_the_settle_time(tmp_path):
    from flows.sync import sync_files

    drop = str(tmp_path / "drop")
    waiting = make_config(tmp_path, files={"drop_dir": drop, "settle_seconds": 3600})
    _stock_csv(tmp_path / "drop" / "stock" / "counts.csv", 2)
    report = sync_files(waiting, only_channel="tpl")
    assert report.files_landed == 0 and _raw_count(waiting, "tpl__stock") == 0
    assert (tmp_path / "drop" / "stock" / "counts.csv").exists()
    settled = make_config(tmp_path, files={"drop_dir": drop, "settle_seconds": 0.5})
    time.sleep(0.6)
    assert sync_files(settled, only_channel="tpl").files_landed == 1


# ------------------------------------------------------------------ records that are not JSON


def _drop_orders(cfg, lines: list[str], name: str = "orders.jsonl"):
    folder = Path(cfg.files.drop_dir) / "shop" / "orders"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _shop_order(i: int) -> dict:
    return {
        "id": 7100 + i, "updated_at": "2026-06-01T10:00:00+00:00", "currency": "EUR",
        "created_at": "2026-06-01T09:00:00+00:00",
        "total_price": "10.00", "total_line_items_price": "10.00",
        "line_items": [{"id": i, "sku": "SKU-0001", "quantity": 1, "price": "10.00"}],
    }  # fmt: skip


NOT_JSON = {
    "nan": ('{"id": 9001, "updated_at": "2026-06-01T10:00:00+00:00", "total_price": NaN}', "NaN"),
    "infinity": ('{"id": 9001, "updated_at": "2026-06-01T10:00:00+00:00", "x": Infinity}', "Infinity"),
    "repeated key": ('{"id": 9001, "updated_at": "2026-06-01T10:00:00+00:00", "id": 7101}', "twice"),
    "deep nesting": ('{"id": 9001, "x": ' + "[" * 3000 + "]" * 3000 + "}", "nested too deeply"),
    "lone surrogate": ('{"id": 9001, "updated_at": "2026-06-01T10:00:00+00:00", "note": "\\ud800"}', "surrogate"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(NOT_JSON))
def test_a_record_that_is_not_json_is_held_and_the_rest_of_its_file_lands(tmp_path, case):
    """Python's json reads NaN/Infinity (they would land as null), lets a repeated key win
    silently (a second `id` makes the record a version of another order), keeps lone
    surrogates (which cannot be stored) and gives up on deep nesting: each is this record's
    fault, held with its reason; the file's other records land."""
    from flows.sync import sync_files

    cfg = make_config(tmp_path)
    line, reason = NOT_JSON[case]
    good = [json.dumps(_shop_order(i)) for i in range(9)]
    _drop_orders(cfg, [*good[:4], line, *good[4:]])
    report = sync_files(cfg, only_channel="shop")
    assert report.files_rejected == 0, report.rejected
    assert _raw_count(cfg, "shop__orders") == 9
    with connection(cfg.warehouse, read_only=True) as con:
        held = con.execute("select reason, payload from ops.quarantine").fetchall()
    assert len(held) == 1 and reason in held[0][0] and held[0][1] == line
    assert _raw_ids(cfg).count(("7101",)) == 1  # a repeated `id` never became 7101's version


def _raw_ids(cfg):
    with connection(cfg.warehouse, read_only=True) as con:
        return con.execute("select _source_id from raw.shop__orders").fetchall()


def _drop_stock(cfg, text: str, name: str = "counts.csv"):
    folder = Path(cfg.files.drop_dir) / "stock"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def test_a_csv_with_a_repeated_column_is_refused_naming_it(tmp_path):
    from flows.sync import sync_files

    cfg = make_config(tmp_path)
    _drop_stock(
        cfg,
        "sku,location_id,on_hand,on_hand,counted_at\nSKU-0001,WH-AMS,5,7,2026-06-01T22:00:00Z\n",
    )
    report = sync_files(cfg, only_channel="tpl")
    assert report.files_rejected == 1 and _raw_count(cfg, "tpl__stock") == 0
    assert any("['on_hand'] appear more than once" in r for r in report.rejected)


def test_a_field_longer_than_any_value_holds_its_row_and_the_rest_lands(tmp_path):
    from flows.sync import sync_files

    cfg = make_config(tmp_path)
    rows = [f"SKU-{i:04d},WH-AMS,{i},2026-06-01T22:00:00Z" for i in range(9)]
    rows.insert(3, "SKU-0100,WH-AMS," + "9" * 200_000 + ",2026-06-01T22:00:00Z")
    _drop_stock(cfg, "sku,location_id,on_hand,counted_at\n" + "\n".join(rows) + "\n")
    report = sync_files(cfg, only_channel="tpl")
    assert report.files_rejected == 0 and _raw_count(cfg, "tpl__stock") == 9
    with connection(cfg.warehouse, read_only=True) as con:
        ((reason, details, payload),) = con.execute(
            "select reason, details, payload from ops.quarantine"
        ).fetchall()
    # the rule is the reason (it groups); the row's own figure is its detail
    assert "more than 131,072 characters" in reason and "200,000 characters" in details
    assert "9" * 200_000 in payload


def test_a_spreadsheet_in_a_csv_folder_is_refused_saying_to_export_csv(tmp_path):
    from flows.sync import sync_files

    cfg = make_config(tmp_path)
    folder = Path(cfg.files.drop_dir) / "stock"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "counts.xlsx").write_bytes(b"PK\x03\x04" + b"\x00" * 64)
    report = sync_files(cfg, only_channel="tpl")
    assert report.files_rejected == 1
    assert any("export it as CSV" in r for r in report.rejected), report.rejected


# ------------------------------------------------------------------ the buyer's files


def test_text_that_looks_like_a_formula_stays_text_in_the_buyer_files(tmp_path):
    """A supplier name, SKU or reason starting with =, +, - or @ is written as text: a string
    cell in the xlsx (never a formula) and a neutralised cell in the CSV."""
    import csv as csv_module

    import openpyxl

    from forecasting.buyer_files import write_buyer_files
    from tests.test_buyer_files import RUN, make_plan, po_line

    line = po_line("SUP-1", "+SKU-1", 6, "2.50")
    line["supplier_name"] = '=HYPERLINK("http://evil.example","click")'
    line["reason"] = "@SUM(1+1)"
    paths = write_buyer_files(make_plan([line]), tmp_path, RUN)
    xlsx = next(p for p in paths if p.suffix == ".xlsx")
    wb = openpyxl.load_workbook(xlsx)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    formulas = [c.coordinate for c in cells if c.data_type == "f"]
    assert formulas == [], formulas
    texts = {c.value for c in cells if isinstance(c.value, str)}
    assert '=HYPERLINK("http://evil.example","click")' in texts and "+SKU-1" in texts
    rows = list(csv_module.DictReader((p for p in paths if p.suffix == ".csv").__next__().open()))
    assert rows[0]["supplier_name"].startswith("'=") and rows[0]["sku"] == "'+SKU-1"
    assert rows[0]["reason"] == "'@SUM(1+1)" and rows[0]["suggested_qty"] == "6"


def test_a_neutralised_sku_comes_back_as_itself_from_an_approved_csv(tmp_path):
    """The buyer approves the line in the CSV and drops it back: '+SKU-1 is +SKU-1 again."""
    import csv as csv_module
    import io

    from connectors.files.decisions import parse_buyer_decisions
    from forecasting.buyer_files import write_buyer_files
    from tests.test_buyer_files import RUN, make_plan, po_line

    paths = write_buyer_files(make_plan([po_line("SUP-1", "+SKU-1", 6, "2.50")]), tmp_path, RUN)
    csv_path = next(p for p in paths if p.suffix == ".csv")
    header, cells = list(csv_module.reader(io.StringIO(csv_path.read_text())))
    cells[header.index("approved_qty")] = "6"
    buf = io.StringIO()
    csv_module.writer(buf, lineterminator="\n").writerows([header, cells])
    orders = parse_buyer_decisions(buf.getvalue().encode(), "SUP-1.csv", RUN)
    assert orders["sku"].to_list() == ["+SKU-1"]


# ------------------------------------------------------------------ credentials never stored


class _EchoingGateway:
    """An API gateway that answers every request 400 with a body quoting the request's token."""

    def __init__(self) -> None:
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                token = self.headers.get("x-shopify-access-token", "")
                body = json.dumps({"errors": f"invalid request for token {token}"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_token_echoed_back_by_an_api_is_never_written_anywhere(
    tmp_path, monkeypatch, prefect_harness, capsys, caplog
):
    from flows.pipeline import pipeline_flow

    secret = "shpat_" + "0123456789abcdef" * 2  # distinctive, shaped like a Shopify token
    monkeypatch.setenv("OMS_TEST_SHOP_TOKEN", secret)
    gateway = _EchoingGateway()
    try:
        cfg = make_config(tmp_path)
        data = cfg.model_dump(mode="json")
        shop = next(c for c in data["channels"] if c["name"] == "shop")
        shop.update({"source": "api", "path": None, "api": {
            "base_url": gateway.url, "api_version": "2025-01",
            "credentials": {"access_token": "OMS_TEST_SHOP_TOKEN"}, "max_attempts": 1}})  # fmt: skip
        from flows.config import parse_config

        cfg = parse_config(data, source="test", base_dir=tmp_path)
        with pytest.raises(Exception) as failed:
            pipeline_flow(stages=["sync"], channel="shop", cfg=cfg)
    finally:
        gateway.close()
    assert "HTTP 400" in str(failed.value) and secret not in str(failed.value)
    assert "[redacted]" in str(failed.value)
    with connection(cfg.warehouse, read_only=True) as con:
        runs = con.execute("select message from ops.runs").fetchall()
    assert runs and all(secret not in (m or "") for (m,) in runs)
    out = capsys.readouterr()
    assert secret not in out.out + out.err and secret not in caplog.text
    leaks = [p for p in tmp_path.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert leaks == []


def test_a_payload_quoting_a_token_lands_with_the_token_redacted(tmp_path):
    from flows.sync import sync_files

    cfg = make_config(tmp_path)
    secret = "shpat_" + "fedcba9876543210" * 2
    order = {**_shop_order(1), "note": f"pasted by mistake: {secret}"}
    _drop_orders(cfg, [json.dumps(order)] + [json.dumps(_shop_order(i)) for i in range(2, 6)])
    report = sync_files(cfg, only_channel="shop")
    assert report.rows_landed == 5
    with connection(cfg.warehouse, read_only=True) as con:
        (note,) = con.execute(
            "select _payload->>'note' from raw.shop__orders where _source_id = '7101'"
        ).fetchone()
    assert note == "pasted by mistake: [redacted]"
    assert secret.encode() not in Path(cfg.warehouse).read_bytes()


def test_a_file_renamed_while_it_is_read_is_reported_not_a_crash(tmp_path, monkeypatch):
    import connectors.files.reader as reader
    import flows.sync as sync

    cfg = make_config(tmp_path)
    path = tmp_path / "drop" / "stock" / "counts.csv"
    _stock_csv(path, 3)
    _stock_csv(tmp_path / "drop" / "stock" / "counts_2.csv", 2, start=10)
    real_read = reader.read_file

    def read_then_rename(spec, p, *args, **kwargs):
        batch = real_read(spec, p, *args, **kwargs)
        if p.name == "counts.csv":
            p.rename(p.with_name("renamed.tmp"))  # the uploader renames it mid-way
        return batch

    monkeypatch.setattr(sync, "read_file", read_then_rename)
    report = sync.sync_files(cfg, only_channel="tpl")
    assert _raw_count(cfg, "tpl__stock") == 5  # both files' rows landed
    assert any("gone from the inbox" in r for r in report.rejected), report.rejected


# ------------------------------------------------------------------ failure messages


@pytest.mark.parametrize("fault", ["unset", "refused"])
def test_a_credential_problem_exits_2_with_one_line_naming_the_variable(
    tmp_path, monkeypatch, prefect_harness, fault
):
    """`oms sync` with a Shopify token that is not set, or that Shopify refuses (401): exit 2
    (configuration), one line naming the channel and the environment variable, no traceback."""
    import yaml
    from typer.testing import CliRunner

    from flows.cli import app
    from flows.demo import demo_config_dict

    monkeypatch.chdir(tmp_path)
    with emulated() as eps:
        data = demo_config_dict()
        shop = next(c for c in data["channels"] if c["name"] == "shop")
        shop.pop("path", None)
        shop.update(eps.channel_config("shop", max_attempts=2, retry_base_seconds=0.01))
        (tmp_path / "oms.yaml").write_text(yaml.safe_dump(data))
        if fault == "unset":
            monkeypatch.delenv("OMS_SHOP_ACCESS_TOKEN", raising=False)
        else:
            monkeypatch.setenv("OMS_SHOP_ACCESS_TOKEN", "shpat_wrong_token_0000000000000000")
        result = CliRunner().invoke(app, ["sync", "--channel", "shop"])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert "Traceback" not in result.output
    error = [ln for ln in lines if "OMS_SHOP_ACCESS_TOKEN" in ln]
    assert len(error) == 1 and "shop" in error[0], result.output


def test_files_holding_customer_data_are_owner_only(tmp_path):
    """Under the usual 022 umask every file would be world-readable; ours are created 0600
    and folders 0700 (OMS_UMASK=027 would share them with the group)."""
    import stat

    import flows
    from flows.sync import sync_files

    assert flows.UMASK == 0o077
    cfg = make_config(tmp_path)
    _stock_csv(tmp_path / "drop" / "stock" / "counts.csv", 2)
    sync_files(cfg, only_channel="tpl")
    made = [Path(cfg.warehouse), tmp_path / "drop" / "processed" / "stock"]
    for path in made:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))


def test_an_approved_line_no_plan_suggested_lands_flagged(tmp_path):
    """A buyer's returned file approves SKU-0002, which no plan suggested (SKU-0001 was): both
    become open purchase orders (it may be deliberate), the unsuggested one is flagged."""
    import csv as csv_module
    import io

    from flows.cli import flagged
    from flows.planning import ensure_planning_tables
    from flows.sync import sync_files
    from forecasting.buyer_files import write_buyer_files
    from tests.test_buyer_files import RUN, make_plan, po_line

    cfg = make_config(tmp_path)
    with connection(cfg.warehouse) as con:
        init_warehouse(con, cfg)
        ensure_planning_tables(con)
        con.execute(
            "insert into planning.po_suggestions (run_date, supplier_id, location_id, sku, "
            "suggested_qty) values (?, 'SUP-1', 'WH-AMS', 'SKU-0001', 6)",
            [RUN],
        )
    lines = [po_line("SUP-1", sku, 6, "2.50", loc="WH-AMS") for sku in ("SKU-0001", "SKU-0002")]
    paths = write_buyer_files(make_plan(lines), tmp_path / "plan", RUN)
    csv_path = next(p for p in paths if p.suffix == ".csv")
    header, *rows = list(csv_module.reader(io.StringIO(csv_path.read_text())))
    for row in rows:
        row[header.index("approved_qty")] = "6"
    inbox = Path(cfg.files.drop_dir) / cfg.files.buyer_decisions
    inbox.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    csv_module.writer(buf, lineterminator="\n").writerows([header, *rows])
    (inbox / "SUP-1.csv").write_text(buf.getvalue())
    report = sync_files(cfg, only_channel="files")
    assert report.rows_landed == 2 and report.rows_quarantined == 0, report.rejected
    assert flagged(report.outcomes) == [
        ("a plan suggested this SKU for this location (flag only) (files__buyer_decisions)", 1)
    ]


@pytest.mark.fast
def test_the_emulated_woo_refund_has_the_published_example_shape():
    """Woo's own refund example (platform-docs) names the refunded order line only in
    meta_data `_refunded_item_id`; the emulator's refunds must say it the same way, with no
    field the published refund line items lack."""
    published = json.loads(
        Path(
            "/work/shared/fixtures/platform-docs/woo/order-refunds__list_all_refunds.json"
        ).read_text()
    )
    example = next(r["line_items"][0] for r in published if r["line_items"])
    from sandbox.emulators.book import ChannelBook
    from sandbox.render import refund_events, render_woo_refund

    book = ChannelBook(tiny_store(), "woo")
    i = next(i for i, rf in enumerate(book.refunds) if rf)
    ours = render_woo_refund(book.orders[i], refund_events(book.refunds[i], 2**62)[0])
    line = ours["line_items"][0]
    assert set(line) <= set(example), set(line) - set(example)
    keys = {m["key"] for m in example["meta_data"]}
    assert "_refunded_item_id" in keys and [m["key"] for m in line["meta_data"]] == [
        "_refunded_item_id"
    ]
    assert line["id"] != int(line["meta_data"][0]["value"])  # its own id, not the order line's


# --------------------------------------------------------- API pages that are not all JSON

# How one Woo order of a page is spoiled in the body the server sends: (rewrite of that order's
# JSON text, words the quarantine reason must hold). Each is the fault of that record alone.
SPOILED_PAGE = {
    "repeated id": (lambda t, other: t.replace('{"id": ', '{"id": ' + other + ', "id": ', 1),
                    "appears twice"),
    "NaN total": (lambda t, other: t.replace('"total": "', '"total": NaN, "was": "', 1),
                  "NaN is not a JSON number"),
    "Infinity": (lambda t, other: t.replace('"total": "', '"total": -Infinity, "was": "', 1),
                 "Infinity is not a JSON number"),
    "huge integer": (lambda t, other: t.replace('"total": "', '"total": 1' + "0" * 30 + ', "was": "', 1),
                     "exceeds 64 bits"),
    "3,000 deep": (lambda t, other: t.replace('"total": "', '"deep": ' + "[" * 3000 + "]" * 3000
                                              + ', "total": "', 1), "nested too deeply"),
    "lone surrogate": (lambda t, other: t.replace('"total": "', '"note": "\\ud800", "total": "', 1),
                       "surrogate"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(SPOILED_PAGE))
def test_a_record_of_an_api_page_that_is_not_json_is_held_and_the_page_lands(tmp_path, case):
    """The server answers a Woo orders page in which one order is not JSON (or not JSON we may
    store). Before, the whole page was 'not JSON' at every sync (so none of its orders ever
    landed) or, with a repeated `id`, the order landed as a version of *another* order. Now that
    order is held with its text and the rule it breaks, once however often it is re-read, and
    every other order lands."""
    from sandbox.emulators.base import Reply

    spoil, reason = SPOILED_PAGE[case]
    with emulated(channels=("woo",)) as eps:
        emu = eps.woo.emulator
        served = emu.handle
        orders = sorted(int(o["source_id"]) for o in emu.book.orders)
        bad, other = orders[3], orders[4]

        def spoiled(req):
            reply = served(req)
            if not (req.path.endswith("/orders") and isinstance(reply.body, list)):
                return reply
            parts = []
            for o in reply.body:
                text = json.dumps(o)
                parts.append(spoil(text, str(other)) if o.get("id") == bad else text)
            return Reply(reply.status, ("[" + ", ".join(parts) + "]").encode(), reply.headers)

        emu.handle = spoiled  # type: ignore[method-assign]
        cfg = api_config(tmp_path, eps, channels=("woo",), page_size=10)
        reports = [sync_api(cfg, streams=["orders"]) for _ in range(2)]
    got = latest(cfg, "woo__orders")
    assert set(got) == {str(i) for i in orders} - {str(bad)}
    assert got[str(other)]["id"] == other  # a repeated id never made `bad` a version of it
    with connection(cfg.warehouse, read_only=True) as con:
        held = con.execute("select reason, payload from ops.quarantine").fetchall()
    assert len(held) == 1 and reason in held[0][0], held
    assert f'"id": {bad}' in held[0][1] and "_unreadable" not in held[0][1]  # text as received
    assert reports[0].rows_quarantined == 1


# Where each channel's pages keep their records, with the second of two records spoiled (NaN):
# reading the page piece by piece must put the marker exactly where that record was.
PAGE_SHAPES = {
    "woo list": ('[{"id": 1}, {"id": 2, "t": NaN}]', lambda p: p[1], lambda p: p[0]),
    "amazon payload": ('{"payload": {"Orders": [{"AmazonOrderId": "1"}, {"AmazonOrderId": "2",'
                       ' "t": NaN}], "NextToken": "x"}}',
                       lambda p: p["payload"]["Orders"][1], lambda p: p["payload"]["Orders"][0]),
    "shopify edges": ('{"data": {"orders": {"edges": [{"cursor": "a", "node": {"id": "1"}},'
                      ' {"cursor": "b", "node": {"id": "2", "t": NaN}}],'
                      ' "pageInfo": {"hasNextPage": false}}}, "extensions": {"cost": {}}}',
                      lambda p: p["data"]["orders"]["edges"][1]["node"],
                      lambda p: p["data"]["orders"]["edges"][0]["node"]),
    "shopify nodes": ('{"data": {"orders": {"nodes": [{"id": "1"}, {"id": "2", "t": NaN}]}}}',
                      lambda p: p["data"]["orders"]["nodes"][1],
                      lambda p: p["data"]["orders"]["nodes"][0]),
}  # fmt: skip


@pytest.mark.fast
@pytest.mark.parametrize("shape", sorted(PAGE_SHAPES))
def test_a_spoiled_record_is_confined_to_its_place_in_each_channels_page(shape):
    from connectors.http import Batch
    from connectors.jsonstrict import Unreadable, loads_page

    text, spoiled, good = PAGE_SHAPES[shape]
    page = loads_page(text.encode())
    marker = spoiled(page)
    assert isinstance(marker, Unreadable) and "NaN" in marker.reason
    assert not isinstance(good(page), Unreadable)
    batch = Batch()
    assert batch.hold_unreadable(marker, "order") and not batch.hold_unreadable(good(page), "x")
    ((sid, reason, payload),) = batch.bad
    assert sid is None and "order is not JSON: NaN" in reason and '"t": NaN' in payload


@pytest.mark.fast
@pytest.mark.parametrize(
    "body, rule",
    [
        ('{"payload": {"NextToken": NaN, "Orders": []}}', "NaN"),  # the wrapper, not a record
        ('{"data": 1, "data": 2}', "twice"),
        ("<html>502 Bad Gateway</html>", "malformed JSON"),
        (b'[{"id": 1, "t": "\xff"}]', "not UTF-8"),
    ],
)
def test_a_page_not_json_outside_its_records_is_refused_naming_the_rule(body, rule):
    from connectors.jsonstrict import NotStrictJson, loads_page

    with pytest.raises(NotStrictJson, match=rule):
        loads_page(body.encode() if isinstance(body, str) else body)


# ------------------------------------------------------------- servers that answer slowly


class _Trickle:
    """An HTTP server on 127.0.0.1 that answers every request with a JSON body sent one byte
    every `gap` seconds: each read is quick (so httpx's per-read timeout never fires), the
    whole answer is not."""

    def __init__(self, body: bytes, gap: float) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.body, self.gap, self.requests = body, gap, 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                try:
                    for b in outer.body:
                        self.wfile.write(bytes([b]))
                        self.wfile.flush()
                        time.sleep(outer.gap)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_an_answer_that_trickles_is_cut_at_the_timeout_in_all_not_per_read():
    """The body comes a byte every 50 ms (5 s in all); every read is quick. The call gives up
    after its attempts, each cut at `timeout` (0.4 s), not after 3 x 5 s."""
    from connectors.http import ApiClient, ChannelError, RetryPolicy

    server = _Trickle(b"[" + b" " * 98 + b"]", gap=0.05)
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02, total_seconds=30)
    client = ApiClient("woo", server.url, credential_env="X", policy=policy, timeout=0.4)
    started = time.monotonic()
    try:
        with pytest.raises(ChannelError, match=r"failed 3 times \(last: timed out\)"):
            client.request("GET", "/orders", what="orders list")
    finally:
        client.close()
        server.close()
    assert server.requests == 3
    assert time.monotonic() - started < 4  # bounded by 3 x 0.4 s (+ set-up), not 15 s


def test_a_sync_against_a_trickling_server_stops_at_its_deadline_keeping_what_landed(tmp_path):
    """WooCommerce answers the first page of orders at once, then starts to trickle. The sync
    stops at `sync_deadline_seconds`, landing the page it had (no traceback: one error naming
    the setting), and the next sync, the server well again, lands the rest."""
    from connectors.http import SyncDeadlineExceeded

    with emulated(channels=("woo",)) as eps:
        emu = eps.woo.emulator
        pages = {"n": 0}

        def after_the_first_orders_page(req) -> bool:
            pages["n"] += req.path.endswith("/orders")
            return pages["n"] > 1

        emu.trickle_gap, emu.trickle_when = 0.05, after_the_first_orders_page
        cfg = api_config(tmp_path, eps, channels=("woo",), page_size=10, landing_batch=1,
                         timeout_seconds=60, sync_deadline_seconds=2)  # fmt: skip
        started = time.monotonic()
        with pytest.raises(SyncDeadlineExceeded, match="sync_deadline_seconds"):
            sync_api(cfg, streams=["orders"])
        took = time.monotonic() - started
        first = set(latest(cfg, "woo__orders"))
        emu.trickle_gap = 0.0  # the server well again
        cfg = api_config(tmp_path, eps, channels=("woo",), page_size=10)
        sync_api(cfg, streams=["orders"])
        every = {str(o["source_id"]) for o in emu.book.orders}
    assert took < 10  # the deadline (2 s) plus one landing, not the trickle's minutes
    assert len(first) == 10 and set(latest(cfg, "woo__orders")) == every


# ------------------------------------------- records that used to land and then stop dbt build

# One record per case, dropped among ordinary ones: (the record, words of its quarantine reason).
# Before, each landed without a flag; the last two then stopped `dbt build` (a cast that fails),
# so one record stopped every mart of every channel.
GATE_CASES = {
    "negative line price": (
        {"id": 7150, "line_items": [{"id": 150, "sku": "SKU-0001", "quantity": 1, "price": "-5.00"},
                                    {"id": 149, "sku": "SKU-0002", "quantity": 1, "price": "15.00"}]},
        "line_items prices are not negative"),
    "more units refunded than sold": (
        {"id": 7151, "refunds": [{"id": 9, "created_at": "2026-06-02T00:00:00+00:00",
                                  "refund_line_items": [{"line_item_id": 151, "quantity": 3}]}],
         "line_items": [{"id": 151, "sku": "SKU-0001", "quantity": 1, "price": "10.00"}]},
        "more units refunded than sold"),
    "huge quantity": (
        {"id": 7152, "total_price": "0.00", "total_line_items_price": "0.00",
         "line_items": [{"id": 152, "sku": "SKU-0001", "quantity": 10**20, "price": "0.00"}]},
        "max_quantity at most 10,000"),
    "ISO basic timestamp": (
        {"id": 7153, "created_at": "20260625T101500Z"}, "timestamps are ISO 8601"),
    "no created time": ({"id": 7154, "created_at": None}, "created_at present"),
}  # fmt: skip
BAD_PO = "PO-BAD,SUP-01,SKU-0001,WH-AMS,10,0,0000-00-00,open,2026-06-01T00:00:00Z"


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    """Ordinary orders and purchase orders with one bad record of each case, synced, then one
    real `dbt build` (it must succeed: the bad records never reached raw)."""
    from flows import dbt_runner
    from flows.sync import sync_files

    tmp = tmp_path_factory.mktemp("gated")
    cfg = make_config(tmp)
    orders = [_shop_order(i) for i in range(20)]  # the bad ones stay under max_bad_share
    for record, _ in GATE_CASES.values():
        orders.append({**_shop_order(0), **record})
    _drop_orders(cfg, [json.dumps(o) for o in orders])
    folder = Path(cfg.files.drop_dir) / "purchase_orders"
    folder.mkdir(parents=True)
    good = [f"PO-{i},SUP-01,SKU-0001,WH-AMS,10,0,2026-07-0{i + 1},open,2026-06-01T00:00:00Z"
            for i in range(5)]  # fmt: skip
    header = "po_id,supplier_id,sku,location_id,quantity_ordered,quantity_received,expected_at,status,updated_at"
    (folder / "po.csv").write_text("\n".join([header, *good, BAD_PO]) + "\n")
    report = sync_files(cfg)
    dbt = dbt_runner.build(cfg)
    with connection(cfg.warehouse, read_only=True) as con:
        held = con.execute("select source_id, reason from ops.quarantine").fetchall()
        marts = con.execute("select order_id from marts.orders where channel = 'shop'").fetchall()
        pos = con.execute("select count(*) from raw.files__purchase_orders").fetchall()[0][0]
    return report, dbt, dict(held), {m for (m,) in marts}, pos


@pytest.mark.parametrize("case", sorted(GATE_CASES))
def test_a_record_that_would_stop_the_build_or_skew_the_marts_is_held_at_the_gate(gated, case):
    report, dbt, held, marts, _ = gated
    record, reason = GATE_CASES[case]
    sid = str(record["id"])
    assert sid in held and reason in held[sid], held
    assert sid not in marts
    assert {str(7100 + i) for i in range(20)} <= marts  # every ordinary order built
    assert report.files_rejected == 0


def test_a_purchase_order_dated_0000_00_00_is_held_and_the_others_land(gated):
    report, dbt, held, _, pos = gated
    (bad,) = [sid for sid in held if sid.startswith("PO-BAD")]
    assert "dates are ISO 8601" in held[bad]
    assert pos == 5 and dbt.tests_failed == 0


# ------------------------------------------------------------------------ killed runs


def test_a_run_killed_with_sigkill_leaves_no_process_of_its_own(tmp_path):
    """`kill -9` of the `oms` process alone (not its group: the OOM killer and most schedulers
    kill one pid) used to leave its Prefect API server (uvicorn) running, every time. Its
    watchdog now ends every process the run started."""
    import os
    import signal
    import subprocess
    import sys

    import psutil

    from flows.demo import prepare_demo, write_demo_config

    prepare_demo(tmp_path, seed=11, scale="tiny", end_date=datetime(2026, 6, 30).date())
    write_demo_config(tmp_path / "oms.yaml")
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / ".prefect"), "PYTHONUNBUFFERED": "1"}
    for var in ("PREFECT_API_URL", "OMS_RUN_TOKEN", "OMS_RUN_TOKEN_OWNER"):
        env.pop(var, None)
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "sync"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        run = psutil.Process(proc.pid)
        server: list[psutil.Process] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not server:
            server = [c for c in run.children(recursive=True) if "uvicorn" in " ".join(c.cmdline())]
            time.sleep(0.1)
        assert server, "the run ended before its Prefect server could be seen"
        os.kill(proc.pid, signal.SIGKILL)  # the run alone, as the OOM killer does
        proc.wait(timeout=10)
        gone, alive = psutil.wait_procs(server, timeout=20)
        assert alive == [], [" ".join(p.cmdline())[:120] for p in alive]
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # never leave anything behind for the suite


def test_a_dbt_test_failure_names_the_record_that_caused_it(tmp_path):
    """A record the gate could not have held (here landed past it, in a currency oms.yaml does
    not configure) fails a dbt test: the build's error shows what the test found (the rows its
    SQL returned: the record, or the value it holds), so nobody has to rerun the test's SQL to
    find it, and the marts stay as they were."""
    from flows import dbt_runner
    from flows.sync import sync_files
    from flows.warehouse import land_records, transaction

    cfg = make_config(tmp_path)
    _drop_orders(cfg, [json.dumps(_shop_order(i)) for i in range(5)])
    sync_files(cfg)
    dbt_runner.build(cfg)
    odd = {**_shop_order(40), "currency": "XTS"}  # ISO 4217's code for testing
    with connection(cfg.warehouse) as con, transaction(con):
        land_records(con, "shop__orders",
                     [RawRecord("7140", datetime(2026, 6, 1, 10, tzinfo=UTC), odd)], "test:odd")  # fmt: skip
    with pytest.raises(dbt_runner.DbtFailed) as failed:
        dbt_runner.build(cfg)
    message = str(failed.value)
    # the failed test, then what it found: the row(s) its SQL returned, column by column
    assert "order_currency_has_fx_rates" in message, message
    assert "e.g. currency_without_fx_rates=XTS, rows_in_that_currency=1" in message, message
    with connection(cfg.warehouse, read_only=True) as con:
        orders = con.execute("select count(*) from marts.orders").fetchall()[0][0]
    assert orders == 5  # the last good build's marts


def test_a_dbt_test_failing_on_one_channels_records_holds_back_only_that_channel(tmp_path):
    """An Amazon order without its PurchaseDate (landed past the gate, as an API change would)
    fails a staging test of Amazon: the build is redone without Amazon's
    staging, so the shop's new order reaches the marts; the failure names the record, and the
    report says Amazon was held back (the run is then 'partial', `oms run` exits 1)."""
    from flows import dbt_runner
    from flows.sync import sync_files
    from flows.warehouse import land_records, transaction

    cfg = make_config(tmp_path)
    _drop_orders(cfg, [json.dumps(_shop_order(i)) for i in range(5)])
    sync_files(cfg)
    dbt_runner.build(cfg)
    _drop_orders(cfg, [json.dumps(_shop_order(5))], name="later.jsonl")
    sync_files(cfg)
    odd = {"AmazonOrderId": "302-0000001-0000001", "OrderStatus": "Shipped",
           "LastUpdateDate": "2026-06-01T10:00:00Z",
           "MarketplaceId": "A1PA6795UKMFR9", "OrderTotal": {"CurrencyCode": "EUR", "Amount": "9.00"}}  # fmt: skip
    with connection(cfg.warehouse) as con, transaction(con):
        land_records(con, "amazon__orders",
                     [RawRecord(odd["AmazonOrderId"], datetime(2026, 6, 1, 10, tzinfo=UTC), odd)],
                     "test:odd")  # fmt: skip
    report = dbt_runner.build(cfg)
    assert list(report.held_back) == ["amazon"], report.failures
    (failure,) = report.held_back["amazon"]
    assert "not_null_stg_amazon__orders_ordered_at" in failure, failure
    assert "order_id=302-0000001-0000001" in failure, failure  # the record, named
    with connection(cfg.warehouse, read_only=True) as con:
        channels = con.execute("select channel, count(*) from marts.orders group by 1").fetchall()
    assert channels == [("shop", 6)]


# ------------------------------------------------------- a large file lands slice by slice


def _sliced(monkeypatch, records_per_slice: int = 7) -> None:
    """Every JSON Lines file counts as large, in slices of a few records (the real thresholds
    are 32 MB and 10,000 records; the rules are the same)."""
    import flows.sync

    monkeypatch.setattr(flows.sync, "SLICED_FILE_BYTES", 0)
    monkeypatch.setattr(flows.sync, "SLICE_RECORDS", records_per_slice)


def _landing_outcome(cfg) -> tuple:
    with connection(cfg.warehouse, read_only=True) as con:
        raw = con.execute(
            "select _source_id, _payload_hash from raw.shop__orders order by all"
        ).fetchall()
        held = con.execute(
            "select source_id, reason, payload from ops.quarantine order by all"
        ).fetchall()
        files = con.execute(
            "select status, rows_read, rows_landed, rows_quarantined, rows_repeated "
            "from ops.file_loads"
        ).fetchall()
        state = con.execute("select cursor from ops.sync_state where stream = 'orders'").fetchall()
    return raw, held, files, state


def _mixed_orders() -> list[str]:
    """30 orders: one not JSON (slice 2), one invalid (a negative price, slice 3), an exact repeat
    (slice 4), and order 7102 twice with different payloads at one updated time (slices 1
    and 4): a conflict that the whole-file gate sees at once and slices see apart."""
    orders = [_shop_order(i) for i in range(30)]
    for i, o in enumerate(orders):
        o["updated_at"] = f"2026-06-01T10:{i:02d}:00+00:00"
    lines = [json.dumps(o) for o in orders]
    lines[9] = '{"id": 9001, "total_price": NaN}'
    orders[16]["line_items"][0]["price"] = "-10.00"
    lines[16] = json.dumps(orders[16])
    lines[23] = lines[22]
    lines[25] = json.dumps({**orders[2], "note": "edited"})
    return lines


def test_a_large_file_sliced_lands_as_the_same_file_read_whole(tmp_path, monkeypatch):
    """Slice by slice (bounded memory) ends where reading the file whole ends: the same raw
    rows, the same held records with the same reasons, the same file entry and cursor."""
    from flows.sync import sync_files

    whole = make_config(tmp_path / "whole")
    _drop_orders(whole, _mixed_orders())
    assert sync_files(whole, only_channel="shop").files_landed == 1
    _sliced(monkeypatch)
    sliced = make_config(tmp_path / "sliced")
    _drop_orders(sliced, _mixed_orders())
    report = sync_files(sliced, only_channel="shop")
    assert report.files_landed == 1 and report.rejected == []
    assert _landing_outcome(sliced) == _landing_outcome(whole)
    raw, held, files, _ = _landing_outcome(sliced)
    assert len(raw) == 25 and len(held) == 4  # 30 = 25 + 4 held + 1 repeat
    assert [r[0] for r in held].count("7102") == 2  # both conflicting copies held
    assert files == [("landed", 30, 25, 4, 1)]
    assert (Path(sliced.files.drop_dir) / "shop" / "orders" / "orders.jsonl").exists() is False


def test_a_large_file_mostly_bad_is_refused_whole_after_its_slices_landed(tmp_path, monkeypatch):
    """The bad share is the whole file's: slices that landed before the bad ones came are
    taken out again, every record is held with the refusal, the file goes to rejected/."""
    from flows.sync import sync_files

    _sliced(monkeypatch)
    cfg = make_config(tmp_path)
    good = [json.dumps(_shop_order(i)) for i in range(10)]
    bad = [json.dumps({**_shop_order(100 + i), "line_items": [{"id": 1, "sku": "SKU-0001",
                       "quantity": 1, "price": "-1.00"}]}) for i in range(20)]  # fmt: skip
    _drop_orders(cfg, good + bad)
    report = sync_files(cfg, only_channel="shop")
    assert report.files_rejected == 1 and "20 of 30 records" in report.rejected[0]
    raw, held, files, state = _landing_outcome(cfg)
    assert raw == [] and state == []
    assert len(held) == 30 and all(h[1].startswith("page refused") for h in held)
    assert files[0][0] == "rejected" and files[0][3] == 30
    assert list((Path(cfg.files.drop_dir) / "rejected").rglob("orders.jsonl"))


def test_a_crash_between_slices_lands_the_file_once_on_the_next_run(tmp_path, monkeypatch):
    """Slices commit one by one (DuckDB holds a transaction's writes in memory); a crash after
    some leaves no file entry and no cursor, and the next run lands each record exactly once."""
    import flows.landing
    from flows.sync import sync_files

    _sliced(monkeypatch)
    cfg = make_config(tmp_path)
    _drop_orders(cfg, [json.dumps(_shop_order(i)) for i in range(30)])
    real_land, calls = flows.landing.SlicedFile.land, {"n": 0}

    def crash_on_the_third_slice(self, staged, unreadable=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real_land(self, staged, unreadable)

    monkeypatch.setattr(flows.landing.SlicedFile, "land", crash_on_the_third_slice)
    with pytest.raises(KeyboardInterrupt):
        sync_files(cfg, only_channel="shop")
    raw, _, files, state = _landing_outcome(cfg)
    assert len(raw) == 14 and files == [] and state == []
    monkeypatch.setattr(flows.landing.SlicedFile, "land", real_land)
    assert sync_files(cfg, only_channel="shop").files_landed == 1
    raw, held, files, state = _landing_outcome(cfg)
    assert len(raw) == 30 and len(set(raw)) == 30 and held == []
    assert files == [("landed", 30, 16, 0, 0)] and state


def test_every_credential_shape_is_redacted_from_staged_payloads():
    """`redacted` probes a batch with one regex (known credentials and the shapes) before
    replacing anything: each shape, alone in a batch of ordinary payloads, must still be found
    (and each starts with one of the prefixes `connectors.http` documents)."""
    from connectors.http import SECRET_PREFIXES, SECRET_SHAPES
    from connectors.records import RawRecord
    from flows.landing import redacted
    from flows.staged import stage

    shapes = ["shpat_" + "a1" * 10, "shpss_" + "Z9" * 10, "Atzr|" + "IwEB-x_y" * 3,
              "amzn1.oa2-cs.v1." + "f0" * 10, "ck_" + "0a" * 12, "cs_" + "b7" * 12]  # fmt: skip
    for shape in shapes:
        assert SECRET_SHAPES.fullmatch(shape), shape
        assert any(shape.startswith(p) for p in SECRET_PREFIXES), shape
        recs = [RawRecord(str(i), None, {"id": i, "note": "ordinary"}) for i in range(50)]
        recs.append(RawRecord("50", None, {"id": 50, "note": f"token {shape} pasted"}))
        texts = redacted(stage(recs)).payload_texts()
        assert shape not in texts[-1] and "[redacted]" in texts[-1]
        assert all("[redacted]" not in t for t in texts[:-1])
