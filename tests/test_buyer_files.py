"""Buyer files: layout, xlsx structure, CSV approval column, atomic and exact re-runs."""

from __future__ import annotations

import csv
import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import polars as pl
import pytest

import forecasting.buyer_files as buyer_files
from forecasting.buyer_files import BUYER_COLUMNS, write_buyer_files
from forecasting.replenishment import (
    NEEDS_ATTENTION_COLUMNS,
    PO_COLUMNS,
    REPLENISHMENT_COLUMNS,
    ReplenishmentPlan,
)

pytestmark = pytest.mark.fast  # make test-fast

RUN = date(2026, 11, 25)


def po_line(
    supplier: str, sku: str, qty: int, cost: str, currency: str = "EUR", loc: str = "W1"
) -> dict:
    return {
        "run_date": RUN,
        "supplier_id": supplier,
        "supplier_name": f"{supplier} & Sons | Ltd",
        "location_id": loc,
        "sku": sku,
        "suggested_qty": qty,
        "unit_cost": Decimal(cost),
        "currency": currency,
        "line_value": Decimal(qty) * Decimal(cost),
        "reason": f"below reorder point: position 0 <= 10 ({sku})",
        "projected_stockout_date": date(2026, 12, 1),
        "days_of_cover": 3.5,
        "days_of_cover_after": 9.0,
        "inventory_position": 0,
        "reorder_point": 10,
        "order_up_to": 20,
        "on_hand": 3,
        "committed": 3,
        "on_order": 0,
        "lead_time_days": 14,
        "lead_time_source": "terms",
        "expected_receipt_date": date(2026, 12, 9),
        "moq": 6,
        "case_pack": 6,
        "beyond_max_cover": False,
        "excess_value": Decimal(0),
        "approved_qty": None,
    }


def make_plan(lines: list[dict] | None = None) -> ReplenishmentPlan:
    lines = (
        lines
        if lines is not None
        else [
            po_line("SUP-B", "B2", 24, "10.50"),
            po_line("SUP-A", "A2", 12, "1.25"),
            po_line("SUP-A", "A1", 100, "0.3333"),
            po_line("SUP/C", "C1", 6, "99.99", currency="USD"),
        ]
    )
    po = pl.DataFrame(
        lines,
        schema={
            "run_date": pl.Date,
            "supplier_id": pl.String,
            "supplier_name": pl.String,
            "location_id": pl.String,
            "sku": pl.String,
            "suggested_qty": pl.Int64,
            "unit_cost": pl.Decimal(38, 4),
            "currency": pl.String,
            "line_value": pl.Decimal(38, 4),
            "reason": pl.String,
            "projected_stockout_date": pl.Date,
            "days_of_cover": pl.Float64,
            "days_of_cover_after": pl.Float64,
            "inventory_position": pl.Int64,
            "reorder_point": pl.Int64,
            "order_up_to": pl.Int64,
            "on_hand": pl.Int64,
            "committed": pl.Int64,
            "on_order": pl.Int64,
            "lead_time_days": pl.Int64,
            "lead_time_source": pl.String,
            "expected_receipt_date": pl.Date,
            "moq": pl.Int64,
            "case_pack": pl.Int64,
            "beyond_max_cover": pl.Boolean,
            "excess_value": pl.Decimal(38, 4),
            "units_at_risk": pl.Float64,
            "revenue_at_risk": pl.Decimal(38, 4),
            "revenue_currency": pl.String,
            "approved_qty": pl.Int64,
        },
    )
    assert po.columns == PO_COLUMNS
    needs = pl.DataFrame(
        {
            "sku": ["Z9", "N1"],
            "location_id": ["W1", "W2"],
            "reason": ["negative stock: -2 on hand", "no supplier terms for this SKU"],
        }
    )
    assert needs.columns == NEEDS_ATTENTION_COLUMNS
    rep = pl.DataFrame(schema={c: pl.String for c in REPLENISHMENT_COLUMNS})
    return ReplenishmentPlan(replenishment=rep, po_suggestions=po, needs_attention=needs)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_files_exist_with_expected_names(tmp_path: Path) -> None:
    paths = write_buyer_files(make_plan(), tmp_path, RUN)
    folder = tmp_path / "reorder" / "2026-11-25"
    assert [p.name for p in paths] == [
        "purchase_orders_2026-11-25.xlsx",
        "SUP-A.csv",
        "SUP-B.csv",
        "SUP_C.csv",
        "summary.md",
        "report.html",
    ]
    assert all(p.parent == folder and p.is_file() for p in paths)
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in paths)
    # No temporary siblings left behind.
    assert [p.name for p in (tmp_path / "reorder").iterdir()] == ["2026-11-25"]


def test_xlsx_sheets_header_totals(tmp_path: Path) -> None:
    write_buyer_files(make_plan(), tmp_path, RUN)
    wb = openpyxl.load_workbook(tmp_path / "reorder/2026-11-25/purchase_orders_2026-11-25.xlsx")
    assert wb.sheetnames == ["Summary", "Needs attention", "SUP-A", "SUP-B", "SUP_C"]
    for ws in wb:
        assert ws.freeze_panes == "A2"
    assert wb.properties.created.date() == RUN

    summary = [r for r in wb["Summary"].iter_rows(values_only=True)]
    assert summary[0] == ("supplier_id", "supplier_name", "currency", "lines", "units", "value")
    assert summary[1][:5] == ("SUP-A", "SUP-A & Sons | Ltd", "EUR", 2, 112)
    assert summary[1][5] == pytest.approx(48.33)  # 33.33 + 15.00
    totals = [r for r in summary if r[0] == "TOTAL"]
    assert [(t[2], t[3], t[4]) for t in totals] == [("EUR", 3, 136), ("USD", 1, 6)]
    assert totals[0][5] == pytest.approx(48.33 + 252.0)

    attention = list(wb["Needs attention"].iter_rows(values_only=True))
    assert attention == [
        ("sku", "location_id", "reason"),
        ("N1", "W2", "no supplier terms for this SKU"),
        ("Z9", "W1", "negative stock: -2 on hand"),
    ]

    ws = wb["SUP-A"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == BUYER_COLUMNS
    assert ws["A1"].font.bold
    col = {name: i for i, name in enumerate(BUYER_COLUMNS)}
    data = rows[1:3]
    assert [r[col["sku"]] for r in data] == ["A1", "A2"]  # sorted
    assert all(r[col["approved_qty"]] is None for r in data)
    total = rows[-1]
    assert total[0] == "TOTAL"
    assert total[col["suggested_qty"]] == 112
    assert total[col["line_value"]] == pytest.approx(48.33)
    letter = openpyxl.utils.get_column_letter(col["line_value"] + 1)
    assert ws[f"{letter}2"].number_format == "#,##0.00"
    assert ws.column_dimensions["E"].width >= 8
    assert ws.data_validations.dataValidation  # approved_qty accepts whole numbers only


def test_csvs_have_empty_approved_qty(tmp_path: Path) -> None:
    write_buyer_files(make_plan(), tmp_path, RUN)
    with open(tmp_path / "reorder/2026-11-25/SUP-A.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0].keys()) == BUYER_COLUMNS
    assert [r["sku"] for r in rows] == ["A1", "A2"]
    assert all(r["approved_qty"] == "" for r in rows)
    assert rows[0]["line_value"] == "33.3300"
    assert rows[0]["unit_cost"] == "0.3333"
    assert rows[0]["projected_stockout_date"] == "2026-12-01"
    assert Decimal(rows[0]["line_value"]) == Decimal("100") * Decimal("0.3333")
    usd = (tmp_path / "reorder/2026-11-25/SUP_C.csv").read_text(encoding="utf-8")
    assert "SUP/C" in usd and "USD" in usd


def test_summary_md(tmp_path: Path) -> None:
    write_buyer_files(make_plan(), tmp_path, RUN)
    text = (tmp_path / "reorder/2026-11-25/summary.md").read_text(encoding="utf-8")
    assert "2026-11-25" in text
    assert "## Totals per supplier" in text
    assert "| SUP-A | SUP-A & Sons \\| Ltd | EUR | 2 | 112 | 48.33 |" in text
    top = text.split("## Top")[1].split("## Needs attention")[0]
    # Highest line value first: SUP/C 6 x 99.99 = 599.94.
    assert top.index("| SUP/C | C1") < top.index("| SUP-B | B2") < top.index("| SUP-A | A1")
    assert "## Needs attention (2)" in text
    assert "`Z9` at `W1`: negative stock: -2 on hand" in text


def test_rerun_replaces_exactly(tmp_path: Path) -> None:
    plan = make_plan()
    write_buyer_files(plan, tmp_path, RUN)
    folder = tmp_path / "reorder" / "2026-11-25"
    first = digest(folder)
    (folder / "stray.txt").write_text("left by a buyer")
    write_buyer_files(plan, tmp_path, RUN)
    assert digest(folder) == first  # byte-identical, stray file gone

    # A smaller plan: suppliers that no longer have lines disappear.
    smaller = make_plan([po_line("SUP-A", "A1", 100, "0.3333")])
    write_buyer_files(smaller, tmp_path, RUN)
    assert sorted(p.name for p in folder.iterdir()) == [
        "SUP-A.csv",
        "purchase_orders_2026-11-25.xlsx",
        "report.html",
        "summary.md",
    ]
    assert [p.name for p in (tmp_path / "reorder").iterdir()] == ["2026-11-25"]


def test_crash_leaves_previous_folder_intact(tmp_path: Path, monkeypatch) -> None:
    plan = make_plan()
    write_buyer_files(plan, tmp_path, RUN)
    folder = tmp_path / "reorder" / "2026-11-25"
    before = digest(folder)

    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(buyer_files, "_summary_md", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_buyer_files(make_plan([po_line("SUP-X", "X1", 1, "1.00")]), tmp_path, RUN)
    assert digest(folder) == before
    assert [p.name for p in (tmp_path / "reorder").iterdir()] == ["2026-11-25"]


def test_empty_plan_still_writes_workbook_and_summary(tmp_path: Path) -> None:
    paths = write_buyer_files(make_plan([]), tmp_path, RUN)
    assert [p.name for p in paths] == [
        "purchase_orders_2026-11-25.xlsx",
        "summary.md",
        "report.html",
    ]
    wb = openpyxl.load_workbook(paths[0])
    assert wb.sheetnames == ["Summary", "Needs attention"]
    assert "No purchase orders suggested." in paths[1].read_text(encoding="utf-8")


def test_failed_swap_restores_previous_folder(tmp_path: Path, monkeypatch) -> None:
    plan = make_plan()
    write_buyer_files(plan, tmp_path, RUN)
    folder = tmp_path / "reorder" / "2026-11-25"
    before = digest(folder)
    real_replace = buyer_files.os.replace
    calls: list[tuple[str, str]] = []

    def flaky_replace(src, dst):
        calls.append((Path(src).name, Path(dst).name))
        if Path(dst).name == "2026-11-25" and Path(src).name.startswith(".2026-11-25.tmp-"):
            raise OSError("power cut")
        return real_replace(src, dst)

    monkeypatch.setattr(buyer_files.os, "replace", flaky_replace)
    with pytest.raises(OSError, match="power cut"):
        write_buyer_files(make_plan([po_line("SUP-X", "X1", 1, "1.00")]), tmp_path, RUN)
    monkeypatch.undo()
    assert digest(folder) == before
    assert [p.name for p in (tmp_path / "reorder").iterdir()] == ["2026-11-25"]


def test_report_html_self_contained_one_chart_per_line(tmp_path: Path) -> None:
    from datetime import timedelta

    from forecasting.replenishment import plan_replenishment
    from tests.test_replenishment import BASE, forecast, inventory, terms

    fc = pl.concat([forecast("S1"), forecast("S2"), forecast("S3")])
    inv = inventory([("S1", "W1", 20, 0, 0), ("S2", "W1", 10, 0, 5), ("S3", "W1", 900, 0, 0)])
    st = pl.concat([terms("S1"), terms("S2", supplier="SUP<2>"), terms("S3")])
    plan = plan_replenishment(fc, inv, st, BASE, RUN)
    assert plan.po_suggestions.height == 2  # S3 is above its order-up-to level
    days = [RUN - timedelta(days=i) for i in range(1, 200)]
    history = pl.DataFrame(
        {
            "date": days * 2,
            "sku": ["S1"] * len(days) + ["S2"] * len(days),
            "location_id": "W1",
            "units_ordered": [i % 13 for i in range(2 * len(days))],
            "is_stockout": [i % 50 == 0 for i in range(2 * len(days))],
        }
    )
    paths = write_buyer_files(plan, tmp_path, RUN, history=history, forecast=fc)
    page = paths[-1]
    assert page.name == "report.html"
    text = page.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text and "src=" not in text and "@import" not in text
    assert text.count('<svg class="chart"') == 2
    assert text.count("<polygon") == 2  # one p10-p90 forecast band per chart
    assert "url(#hatch-1)" in text  # a week with stockout days is marked
    assert "S1 at W1: order" in text and "SUP&lt;2&gt;" in text
    assert "reorder point 226" in text
    # Re-running the same inputs gives the same bytes.
    first = page.read_bytes()
    write_buyer_files(plan, tmp_path, RUN, history=history, forecast=fc)
    assert page.read_bytes() == first


def test_report_html_without_history_or_forecast(tmp_path: Path) -> None:
    paths = write_buyer_files(make_plan(), tmp_path, RUN)
    text = paths[-1].read_text(encoding="utf-8")
    assert text.count('<svg class="chart"') == 4
    assert "Needs attention (2)" in text
    assert "https://" not in text and "http://" not in text
