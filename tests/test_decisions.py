"""Buyer decisions: returned CSV/xlsx -> open purchase orders, and the full round trip."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from connectors.files.decisions import (
    PURCHASE_ORDER_COLUMNS,
    DecisionError,
    parse_buyer_decisions,
    purchase_order_id,
)
from forecasting.buyer_files import BUYER_COLUMNS, write_buyer_files
from forecasting.replenishment import plan_replenishment
from forecasting.settings import ReplenishmentSettings
from tests.test_replenishment import RUN, forecast, inventory, terms

pytestmark = pytest.mark.fast  # make test-fast

DECIDED = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


def two_supplier_plan():
    fc = pl.concat([forecast("S1"), forecast("S2"), forecast("S3")])
    inv = inventory([("S1", "W1", 20, 0, 0), ("S2", "W1", 10, 0, 0), ("S3", "W1", 0, 0, 0)])
    st = pl.concat([terms("S1"), terms("S2"), terms("S3", supplier="SUP2", lead=30)])
    return fc, inv, st, plan_replenishment(fc, inv, st, ReplenishmentSettings(), RUN)


def fill_xlsx(path: Path, approvals: dict[str, object]) -> bytes:
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets[2:]:
        header = [c.value for c in ws[1]]
        sku_col, qty_col = header.index("sku") + 1, header.index("approved_qty") + 1
        for r in range(2, ws.max_row + 1):
            sku = ws.cell(row=r, column=sku_col).value
            if sku in approvals:
                ws.cell(row=r, column=qty_col).value = approvals[sku]
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_round_trip_xlsx_to_open_pos_stops_suggesting(tmp_path: Path) -> None:
    fc, inv, st, plan = two_supplier_plan()
    assert sorted(plan.po_suggestions["sku"].to_list()) == ["S1", "S2", "S3"]
    paths = write_buyer_files(plan, tmp_path, RUN)
    xlsx = paths[0]
    suggested = dict(plan.po_suggestions.select("sku", "suggested_qty").iter_rows())
    data = fill_xlsx(xlsx, {"S1": suggested["S1"], "S2": 0, "S3": suggested["S3"]})

    pos = parse_buyer_decisions(data, xlsx.name, DECIDED)
    assert pos.columns == PURCHASE_ORDER_COLUMNS
    rows = {r["sku"]: r for r in pos.iter_rows(named=True)}
    assert sorted(rows) == ["S1", "S3"]  # S2 approved 0 = not ordered
    s1 = rows["S1"]
    assert s1["po_id"] == "BD-2026-11-25-SUP1-W1" == purchase_order_id(RUN, "SUP1", "W1")
    assert s1["quantity_ordered"] == suggested["S1"]
    assert s1["quantity_received"] == 0
    assert s1["status"] == "open"
    assert s1["ordered_at"] == date(2026, 11, 26)
    assert s1["expected_at"] == date(2026, 11, 26) + timedelta(days=14)
    assert s1["updated_at"] == DECIDED
    assert rows["S3"]["po_id"] == "BD-2026-11-25-SUP2-W1"
    assert rows["S3"]["expected_at"] == date(2026, 11, 26) + timedelta(days=30)

    # Next day's plan sees them as on order: those lines are no longer suggested.
    replan = plan_replenishment(
        fc, inv, st, ReplenishmentSettings(), RUN + timedelta(days=1), open_purchase_orders=pos
    )
    assert replan.po_suggestions["sku"].to_list() == ["S2"]


def test_csv_round_trip_is_the_same_as_xlsx(tmp_path: Path) -> None:
    _fc, _inv, _st, plan = two_supplier_plan()
    paths = write_buyer_files(plan, tmp_path, RUN)
    csv_path = next(p for p in paths if p.name == "SUP1.csv")
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    col = header.index("approved_qty")
    filled = [lines[0]]
    for i, line in enumerate(lines[1:]):
        cells = line.split(",")
        cells[col] = ["24", ""][i]
        filled.append(",".join(cells))
    pos = parse_buyer_decisions(("\n".join(filled) + "\n").encode(), csv_path.name, DECIDED)
    assert pos.select("po_id", "sku", "quantity_ordered").rows() == [
        ("BD-2026-11-25-SUP1-W1", "S1", 24)
    ]
    assert BUYER_COLUMNS[col] == "approved_qty"


def csv_bytes(rows: list[dict[str, object]], sep: str = ",") -> bytes:
    cols = ["run_date", "supplier_id", "location_id", "sku", "approved_qty", "lead_time_days"]
    out = [sep.join(cols)]
    for r in rows:
        out.append(sep.join("" if r.get(c) is None else str(r.get(c)) for c in cols))
    return ("\n".join(out) + "\n").encode("utf-8-sig")


def row(sku: str, qty: object, **kw) -> dict[str, object]:
    base = {
        "run_date": "2026-11-25",
        "supplier_id": "SUP1",
        "location_id": "W1",
        "sku": sku,
        "approved_qty": qty,
        "lead_time_days": 14,
    }
    base.update(kw)
    return base


def test_bad_rows_are_all_reported_with_row_numbers() -> None:
    data = csv_bytes(
        [
            row("A", "12"),
            row("B", "2.5"),
            row("C", "-3"),
            row("D", "lots"),
            row("E", "10", run_date="yesterday"),
            row("A", "5"),
        ]
    )
    with pytest.raises(DecisionError) as err:
        parse_buyer_decisions(data, "SUP1.csv", DECIDED)
    errors = err.value.errors
    assert errors == [
        "SUP1.csv row 3: approved_qty '2.5' is not a whole number",
        "SUP1.csv row 4: approved_qty -3 is negative (use 0 or leave it empty to skip the line)",
        "SUP1.csv row 5: approved_qty 'lots' is not a number",
        "SUP1.csv row 6: run_date 'yesterday' is not a date (yyyy-mm-dd)",
        "SUP1.csv row 7: sku A appears twice for BD-2026-11-25-SUP1-W1 (first at SUP1.csv row 2)",
    ]
    assert "5 problem(s)" in str(err.value)


def test_whole_values_empty_zero_semicolons_and_totals() -> None:
    data = csv_bytes(
        [row("A", "12"), row("B", ""), row("C", "0"), row("D", "7.0"), row("", None)], sep=";"
    )
    data += b"TOTAL;;;;19;\n"
    pos = parse_buyer_decisions(data, "sup1.CSV", date(2026, 11, 27))
    assert pos.select("sku", "quantity_ordered").rows() == [("A", 12), ("D", 7)]
    assert pos["ordered_at"].to_list() == [date(2026, 11, 27)] * 2
    assert pos["updated_at"][0] == datetime(2026, 11, 27, tzinfo=UTC)


def test_missing_columns_and_wrong_file_type() -> None:
    with pytest.raises(DecisionError, match="missing column"):
        parse_buyer_decisions(b"sku,qty\nA,1\n", "x.csv", DECIDED)
    with pytest.raises(DecisionError, match="not a .csv or .xlsx"):
        parse_buyer_decisions(b"", "x.pdf", DECIDED)
    with pytest.raises(DecisionError, match="readable xlsx"):
        parse_buyer_decisions(b"garbage", "x.xlsx", DECIDED)


def test_xlsx_stops_at_first_row_without_sku(tmp_path: Path) -> None:
    _fc, _inv, _st, plan = two_supplier_plan()
    paths = write_buyer_files(plan, tmp_path, RUN)
    wb = openpyxl.load_workbook(paths[0])
    ws = wb["SUP1"]
    header = [c.value for c in ws[1]]
    qty_col = header.index("approved_qty") + 1
    ws.cell(row=2, column=qty_col).value = 36
    # Junk below the totals (a buyer's note) must not be read as lines.
    ws.cell(row=ws.max_row + 2, column=header.index("sku") + 1).value = "NOTE"
    ws.cell(row=ws.max_row, column=qty_col).value = "call supplier"
    buf = io.BytesIO()
    wb.save(buf)
    pos = parse_buyer_decisions(buf.getvalue(), paths[0].name, DECIDED)
    assert pos.select("sku", "quantity_ordered").rows() == [("S1", 36)]
