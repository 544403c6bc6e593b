"""The files buyers open: ``<out>/reorder/<run_date>/`` with an xlsx, one CSV per supplier, a
markdown summary and ``report.html`` (charts per line, readable offline).

Why this shape: buyers work in spreadsheets, send one file per supplier, and fill in
``approved_qty``; the filled-in file comes back through the inbox and becomes open purchase
orders. So every line carries its reason, the approval column is empty and obvious, and the
output is deterministic: the same plan and run date give byte-identical files, and re-running a
run date replaces the folder as a whole (written to a temporary sibling, then renamed), so a
crash never leaves half a folder behind.

This is the only module in ``forecasting/`` that touches the file system.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from forecasting.replenishment import ReplenishmentPlan
from forecasting.report_html import render_report
from forecasting.schemas import BUYER_COLUMNS, PO_SCHEMA, TRANSFER_COLUMNS

# Column order of the buyer files (the plan's po_suggestions columns in the order a buyer
# decides in) and their types, so a plan from an older caller (fewer columns) still writes.
_BUYER_TYPES: dict[str, pl.DataType] = PO_SCHEMA

REPORT_HTML = "report.html"
ACCURACY_MD = "forecast_accuracy.md"

SUMMARY_SHEET = "Summary"
NEEDS_ATTENTION_SHEET = "Needs attention"
TRANSFERS_SHEET = "Transfers"  # moves between own locations, before the purchases
TOTAL_LABEL = "TOTAL"
TOP_LINES = 10

_NUMBER_FORMATS: dict[str, str] = {
    "run_date": "yyyy-mm-dd",
    "projected_stockout_date": "yyyy-mm-dd",
    "expected_receipt_date": "yyyy-mm-dd",
    "days_of_cover_after": "0.0",
    "on_hand": "#,##0",
    "committed": "#,##0",
    "on_order": "#,##0",
    "lead_time_days": "0",
    "moq": "#,##0",
    "case_pack": "#,##0",
    "suggested_qty": "#,##0",
    "approved_qty": "#,##0",
    "unit_cost": "#,##0.00##",
    "line_value": "#,##0.00",
    "value": "#,##0.00",
    "days_of_cover": "0.0",
    "inventory_position": "#,##0",
    "reorder_point": "#,##0",
    "order_up_to": "#,##0",
    "lines": "#,##0",
    "units": "#,##0",
    # revenue at risk if the line is not ordered (forecasting/revenue_at_risk.py)
    "units_at_risk": "#,##0.0",
    "revenue_at_risk": "#,##0.00",
    # the Transfers sheet (planning.transfer_suggestions)
    "quantity": "#,##0",
    "expected_arrival_date": "yyyy-mm-dd",
    "cost_per_unit": "#,##0.00##",
    "transfer_cost": "#,##0.00",
    "supplier_unit_cost": "#,##0.00##",
    "supplier_lead_time_days": "0",
    "from_inventory_position": "#,##0",
    "from_order_up_to": "#,##0",
    "from_days_of_cover": "0.0",
    "to_inventory_position": "#,##0",
    "to_reorder_point": "#,##0",
    "to_order_up_to": "#,##0",
}
_BOLD = Font(bold=True)
_APPROVAL_FILL = PatternFill(fill_type="solid", start_color="FFFFF2CC", end_color="FFFFF2CC")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_FILE_FORBIDDEN = re.compile(r"[^A-Za-z0-9._-]")


def write_buyer_files(
    plan: ReplenishmentPlan,
    out_dir: Path,
    run_date: date,
    history: pl.DataFrame | None = None,
    forecast: pl.DataFrame | None = None,
    accuracy: pl.DataFrame | None = None,
    adjustments: pl.DataFrame | None = None,
) -> list[Path]:
    """Write the buyer files for ``run_date`` and return their final paths.

    ``accuracy`` (``planning.forecast_accuracy`` of the run) adds ``forecast_accuracy.md``:
    ours against naive, a 4-period moving average and seasonal naive (:mod:`accuracy_table`);
    ``adjustments`` (:func:`forecasting.adjustments.adjustment_accuracy`) adds the value the
    promotions and overrides added to past forecasts.

    Layout: ``<out_dir>/reorder/<run_date>/purchase_orders_<run_date>.xlsx``,
    ``<supplier_id>.csv`` per supplier with lines, ``summary.md`` and ``report.html``.
    ``history`` (``marts.daily_demand`` shape: ``date, sku, location_id, units_ordered,
    is_stockout``) and ``forecast`` (``planning.demand_forecast`` rows the plan used) feed the
    charts of ``report.html``; without them the charts show the stock projection only. Everything is written into
    a temporary sibling folder first and then renamed into place, replacing any previous output
    for that run date (old files that no longer apply, e.g. a supplier without lines now, vanish).
    """
    reorder_dir = Path(out_dir) / "reorder"
    reorder_dir.mkdir(parents=True, exist_ok=True)
    stamp = run_date.isoformat()
    target = reorder_dir / stamp
    _remove_stale_siblings(reorder_dir, stamp)

    lines = _buyer_lines(plan.po_suggestions)
    needs = plan.needs_attention.select("sku", "location_id", "reason").sort(
        ["sku", "location_id", "reason"]
    )
    suppliers = _supplier_names(lines)
    transfers = plan.transfers.select(TRANSFER_COLUMNS).sort(
        ["from_location_id", "to_location_id", "sku"]
    )

    token = uuid.uuid4().hex
    tmp = reorder_dir / f".{stamp}.tmp-{token}"
    old = reorder_dir / f".{stamp}.old-{token}"
    tmp.mkdir()
    try:
        names: list[str] = []
        xlsx_name = f"purchase_orders_{stamp}.xlsx"
        _write_bytes(tmp / xlsx_name, _workbook_bytes(lines, needs, suppliers, run_date, transfers))
        names.append(xlsx_name)
        if transfers.height:
            transfers_name = f"transfers_{stamp}.csv"
            _write_bytes(tmp / transfers_name, _csv_bytes(transfers, TRANSFER_COLUMNS))
            names.append(transfers_name)
        for supplier_id, file_stem, _sheet in suppliers:
            csv_name = f"{file_stem}.csv"
            rows = lines.filter(pl.col("supplier_id") == supplier_id)
            _write_bytes(tmp / csv_name, _csv_bytes(rows))
            names.append(csv_name)
        summary = _summary_md(lines, needs, run_date, transfers)
        _write_bytes(tmp / "summary.md", summary.encode("utf-8"))
        names.append("summary.md")
        page = render_report(
            lines,
            needs,
            run_date,
            projection=plan.projection,
            history=history,
            forecast=forecast,
        )
        _write_bytes(tmp / REPORT_HTML, page.encode("utf-8"))
        names.append(REPORT_HTML)
        if accuracy is not None:
            from forecasting.accuracy_table import accuracy_markdown

            md = accuracy_markdown(accuracy, f"Forecast accuracy, {stamp}", adjustments)
            _write_bytes(tmp / ACCURACY_MD, md.encode("utf-8"))
            names.append(ACCURACY_MD)
        _fsync_dir(tmp)

        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        _fsync_dir(reorder_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        # Put the previous complete folder back if we failed between the two renames.
        if old.exists() and not target.exists():
            os.replace(old, target)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [target / name for name in names]


# --- folder handling -------------------------------------------------------------------------


def _remove_stale_siblings(reorder_dir: Path, stamp: str) -> None:
    # Leftovers of a crashed earlier run for this run date; never visible as the run folder.
    for pattern in (f".{stamp}.tmp-*", f".{stamp}.old-*"):
        for stale in reorder_dir.glob(pattern):
            shutil.rmtree(stale, ignore_errors=True)


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


# --- data shaping ----------------------------------------------------------------------------


def _buyer_lines(po: pl.DataFrame) -> pl.DataFrame:
    lines = po
    missing = [c for c in BUYER_COLUMNS if c not in lines.columns]
    lines = lines.with_columns(
        [pl.lit(None, dtype=_BUYER_TYPES.get(c, pl.String())).alias(c) for c in missing]
    )
    return lines.select(BUYER_COLUMNS).sort(["supplier_id", "location_id", "sku"])


def _supplier_names(lines: pl.DataFrame) -> list[tuple[str, str, str]]:
    """``(supplier_id, file stem, sheet title)`` per supplier, unique and safe.

    Why: supplier ids come from a spreadsheet and may hold characters a file name or an Excel
    sheet name (max 31 chars, no []:*?/\\) cannot.
    """
    out: list[tuple[str, str, str]] = []
    used_files: set[str] = set()
    used_sheets: set[str] = {
        SUMMARY_SHEET.lower(),
        NEEDS_ATTENTION_SHEET.lower(),
        TRANSFERS_SHEET.lower(),
    }
    for supplier_id in sorted(lines["supplier_id"].unique().to_list()):
        base_file = _FILE_FORBIDDEN.sub("_", str(supplier_id)).lstrip(".") or "supplier"
        stem = _unique(base_file, used_files, limit=100)
        base_sheet = _SHEET_FORBIDDEN.sub("_", str(supplier_id)).strip("'") or "supplier"
        sheet = _unique(base_sheet[:31], used_sheets, limit=31)
        out.append((supplier_id, stem, sheet))
    return out


def _unique(name: str, used: set[str], limit: int) -> str:
    candidate, n = name[:limit], 2
    while candidate.lower() in used:
        suffix = f"~{n}"
        candidate = name[: limit - len(suffix)] + suffix
        n += 1
    used.add(candidate.lower())
    return candidate


def _supplier_totals(lines: pl.DataFrame) -> pl.DataFrame:
    return (
        lines.group_by(["supplier_id", "supplier_name", "currency"])
        .agg(
            lines=pl.len().cast(pl.Int64),
            units=pl.col("suggested_qty").sum().cast(pl.Int64),
            value=pl.col("line_value").sum(),
        )
        .sort(["supplier_id", "currency"])
    )


def _currency_totals(lines: pl.DataFrame) -> pl.DataFrame:
    return (
        lines.group_by("currency")
        .agg(
            lines=pl.len().cast(pl.Int64),
            units=pl.col("suggested_qty").sum().cast(pl.Int64),
            value=pl.col("line_value").sum(),
        )
        .sort("currency")
    )


# --- csv ---------------------------------------------------------------------------------------


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


# Spreadsheet programs evaluate a text cell that starts with one of these as a formula (a
# supplier name "=HYPERLINK(...)" would be a live link in the buyer's workbook).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: object) -> object:
    """Text that a spreadsheet would run as a formula, neutralised with a leading apostrophe
    (shown as text by Excel, LibreOffice and Sheets); numbers and dates are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_bytes(rows: pl.DataFrame, columns: Sequence[str] = BUYER_COLUMNS) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for row in rows.iter_rows():
        writer.writerow([_csv_cell(_inert(v)) for v in row])
    return buf.getvalue().encode("utf-8")


def _append(ws: Worksheet, values: Sequence[object]) -> None:
    """A row whose text cells are stored as text, never as formulas (openpyxl would make any
    string starting with '=' a formula)."""
    ws.append(list(values))
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


# --- xlsx --------------------------------------------------------------------------------------


def _write_table(
    ws: Worksheet,
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    max_width: int = 60,
) -> int:
    """Header + rows with number formats, frozen header and fitted widths; returns last row."""
    _append(ws, columns)
    for cell in ws[1]:
        cell.font = _BOLD
    widths = [len(c) for c in columns]
    last = 1
    for row in rows:
        _append(ws, row)
        last += 1
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(_csv_cell(value)))
    for i, col in enumerate(columns, start=1):
        fmt = _NUMBER_FORMATS.get(col)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, max_row=last, min_col=i, max_col=i):
                cell.number_format = fmt
        ws.column_dimensions[get_column_letter(i)].width = min(max(widths[i - 1], 8) + 2, max_width)
    ws.freeze_panes = "A2"
    return last


def _write_totals(ws: Worksheet, columns: Sequence[str], values: dict[str, object]) -> None:
    # Leave one blank row above the first totals row so Excel's sort/filter on the lines does
    # not drag the totals in, and importers can stop at the first row without a sku.
    if ws.cell(row=ws.max_row, column=1).value != TOTAL_LABEL:
        ws.append([])
    _append(ws, [values.get(c) for c in columns])
    row = ws.max_row
    for i, col in enumerate(columns, start=1):
        cell = ws.cell(row=row, column=i)
        cell.font = _BOLD
        fmt = _NUMBER_FORMATS.get(col)
        if fmt and isinstance(values.get(col), int | float | Decimal):
            cell.number_format = fmt


def _supplier_sheet(ws: Worksheet, rows: pl.DataFrame) -> None:
    last = _write_table(ws, BUYER_COLUMNS, rows.iter_rows())
    approved = BUYER_COLUMNS.index("approved_qty") + 1
    letter = get_column_letter(approved)
    if last >= 2:
        for (cell,) in ws.iter_rows(min_row=2, max_row=last, min_col=approved, max_col=approved):
            cell.fill = _APPROVAL_FILL
        check = DataValidation(
            type="whole",
            operator="greaterThanOrEqual",
            formula1="0",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="approved_qty",
            error="Enter a whole number of units (0 to skip the line), or leave it empty.",
        )
        check.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(check)
    # One totals row per currency (a supplier normally has one), below the lines.
    for cur in _currency_totals(rows).iter_rows(named=True):
        _write_totals(
            ws,
            BUYER_COLUMNS,
            {
                "run_date": TOTAL_LABEL,
                "suggested_qty": cur["units"],
                "approved_qty": f"=SUM({letter}2:{letter}{last})" if last >= 2 else None,
                "currency": cur["currency"],
                "line_value": cur["value"],
            },
        )
    ws.column_dimensions[get_column_letter(BUYER_COLUMNS.index("reason") + 1)].width = 100


def _workbook_bytes(
    lines: pl.DataFrame,
    needs: pl.DataFrame,
    suppliers: list[tuple[str, str, str]],
    run_date: date,
    transfers: pl.DataFrame | None = None,
) -> bytes:
    wb = Workbook()
    summary = wb.active
    summary.title = SUMMARY_SHEET
    totals = _supplier_totals(lines)
    summary_cols = ["supplier_id", "supplier_name", "currency", "lines", "units", "value"]
    _write_table(summary, summary_cols, totals.select(summary_cols).iter_rows())
    for cur in _currency_totals(lines).iter_rows(named=True):
        _write_totals(
            summary,
            summary_cols,
            {
                "supplier_id": TOTAL_LABEL,
                "currency": cur["currency"],
                "lines": cur["lines"],
                "units": cur["units"],
                "value": cur["value"],
            },
        )

    attention = wb.create_sheet(NEEDS_ATTENTION_SHEET)
    _write_table(attention, ["sku", "location_id", "reason"], needs.iter_rows(), max_width=100)

    if transfers is not None and transfers.height:
        moves = wb.create_sheet(TRANSFERS_SHEET)
        _write_table(moves, TRANSFER_COLUMNS, transfers.iter_rows())
        moves.column_dimensions[get_column_letter(TRANSFER_COLUMNS.index("reason") + 1)].width = 100

    for supplier_id, _stem, sheet in suppliers:
        _supplier_sheet(wb.create_sheet(sheet), lines.filter(pl.col("supplier_id") == supplier_id))

    fixed = datetime(run_date.year, run_date.month, run_date.day)
    wb.properties.creator = "oms-pipeline"
    wb.properties.title = f"Purchase order suggestions {run_date.isoformat()}"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.lastModifiedBy = "oms-pipeline"

    raw = io.BytesIO()
    # ExcelWriter directly: openpyxl's save_workbook stamps "modified" with the wall clock.
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(wb, archive).write_data()
    return _normalize_zip(raw.getvalue(), fixed)


def _normalize_zip(data: bytes, when: datetime) -> bytes:
    """Rewrite a zip with fixed member timestamps so identical content gives identical bytes."""
    stamp = (max(when.year, 1980), when.month, when.day, 0, 0, 0)
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=stamp)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            dst.writestr(member, src.read(info.filename))
    return out.getvalue()


# --- summary.md --------------------------------------------------------------------------------


def _md(value: object) -> str:
    if isinstance(value, Decimal):
        # Readable money: trailing zeros past the cents go, extra precision stays.
        value = value.normalize()
        if value.as_tuple().exponent > -2:  # type: ignore[operator]
            value = value.quantize(Decimal("0.01"))
    return _csv_cell(value).replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows]
    return out


def _beyond_cover_md(lines: pl.DataFrame) -> list[str]:
    """The lines only the minimum order (MOQ, case pack) pushes beyond max_days_of_cover.

    A section of their own so the buyer can skip them at a glance: the position is below the
    reorder point, but the smallest order the supplier takes is months of stock.
    """
    if "beyond_max_cover" not in lines.columns:
        return []
    beyond = lines.filter(pl.col("beyond_max_cover").fill_null(False))
    if beyond.height == 0:
        return []
    excess = beyond["excess_value"].cast(pl.Float64).sum()
    out = [
        "",
        f"## Beyond the maximum days of cover ({beyond.height} lines, skippable)",
        "",
        "The supplier's minimum order (MOQ or case pack) takes these lines beyond the maximum "
        f"days of cover; the stock beyond it is worth {excess:.2f} in the lines' currencies. "
        "Set `approved_qty` to 0 to skip one, or ask the supplier for less.",
        "",
    ]
    out += _md_table(
        ["Supplier", "SKU", "Location", "Qty", "Cover now (days)", "Cover after", "Excess value"],
        beyond.sort("excess_value", "sku", "location_id", descending=[True, False, False])
        .select(
            "supplier_id",
            "sku",
            "location_id",
            "suggested_qty",
            "days_of_cover",
            "days_of_cover_after",
            pl.format("{} {}", pl.col("excess_value").cast(pl.Decimal(38, 2)), "currency"),
        )
        .iter_rows(),
    )
    return out


def _transfers_md(transfers: pl.DataFrame | None, stamp: str) -> list[str]:
    """Moves between own locations, proposed before anything is bought: the purchase lines
    already count them (on order at the receiver, gone from the sender)."""
    if transfers is None or transfers.height == 0:
        return []
    out = [
        "",
        f"## Transfers ({transfers.height} lines, {int(transfers['quantity'].sum())} units)",
        "",
        "Move these between our own locations first (the purchase lines below count them: "
        f"on order where they arrive, gone where they leave). `transfers_{stamp}.csv` and the "
        "Transfers sheet hold every column.",
        "",
    ]
    out += _md_table(
        ["SKU", "From", "To", "Qty", "Arrives", "Cost", "Why"],
        transfers.select(
            "sku",
            "from_location_id",
            "to_location_id",
            "quantity",
            "expected_arrival_date",
            pl.format("{} {}", pl.col("transfer_cost").cast(pl.Decimal(38, 2)), "currency"),
            "reason",
        ).iter_rows(),
    )
    return out


def _summary_md(
    lines: pl.DataFrame,
    needs: pl.DataFrame,
    run_date: date,
    transfers: pl.DataFrame | None = None,
) -> str:
    stamp = run_date.isoformat()
    n_suppliers = lines["supplier_id"].n_unique()
    out = [
        f"# Purchase order suggestions for {stamp}",
        "",
        f"{lines.height} suggested lines for {n_suppliers} suppliers; "
        f"{needs.height} items need attention.",
        f"Open `purchase_orders_{stamp}.xlsx` (or the supplier CSVs), fill in `approved_qty` "
        "(0 to skip a line) and drop the file back into the inbox.",
    ]
    out += _transfers_md(transfers, stamp)
    out += [
        "",
        "## Totals per supplier",
        "",
    ]
    if lines.height:
        totals = _supplier_totals(lines)
        out += _md_table(
            ["Supplier", "Name", "Currency", "Lines", "Units", "Value"],
            totals.select(
                "supplier_id", "supplier_name", "currency", "lines", "units", "value"
            ).iter_rows(),
        )
        out.append("")
        out += _md_table(
            ["Currency", "Lines", "Units", "Value"],
            _currency_totals(lines).select("currency", "lines", "units", "value").iter_rows(),
        )
        out += ["", f"## Top {min(TOP_LINES, lines.height)} lines by value", ""]
        top = lines.sort(
            ["line_value", "supplier_id", "location_id", "sku"],
            descending=[True, False, False, False],
            nulls_last=True,
        ).head(TOP_LINES)
        out += _md_table(
            ["Supplier", "SKU", "Location", "Qty", "Value", "Currency", "Why"],
            top.select(
                "supplier_id",
                "sku",
                "location_id",
                "suggested_qty",
                "line_value",
                "currency",
                "reason",
            ).iter_rows(),
        )
        out += _beyond_cover_md(lines)
    else:
        out.append("No purchase orders suggested.")
    out += ["", f"## Needs attention ({needs.height})", ""]
    if needs.height:
        out += [f"- `{_md(s)}` at `{_md(loc)}`: {_md(r)}" for s, loc, r in needs.iter_rows()]
    else:
        out.append("Nothing.")
    return "\n".join(out) + "\n"
