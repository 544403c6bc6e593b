"""The decision loop: a buyer's filled-in reorder file becomes open purchase orders.

Buyers get ``purchase_orders_<run_date>.xlsx`` (one sheet per supplier) and one CSV per
supplier, fill in ``approved_qty`` and drop the file back into the inbox. This module turns that
file into rows of the DESIGN "open purchase orders" shape::

    po_id, supplier_id, sku, location_id, quantity_ordered, quantity_received, ordered_at,
    expected_at, status, updated_at

- ``po_id`` is deterministic: ``BD-<run_date>-<supplier_id>-<location_id>`` (one purchase order
  per supplier and delivery location of a run), so dropping the same decisions twice, or the
  CSV and the xlsx of the same run, gives the same ids (the raw layer keeps one version).
- ``quantity_ordered = approved_qty``, ``quantity_received = 0``, ``status = open``,
  ``ordered_at`` = the decision date, ``expected_at = ordered_at + lead_time_days`` (the
  line's own lead time column; from ``expected_receipt_date - run_date`` for files without it),
  ``updated_at`` = the decision time.
- ``approved_qty`` empty or 0 = not ordered (no row). Anything else must be a whole number
  >= 0; every bad row is reported, by file, sheet and row number, in one
  :class:`DecisionError`, and nothing is returned for a file with errors.

Reading stops at the first row without a sku (the blank row above the TOTAL rows), and TOTAL
rows are skipped. The xlsx ``Summary`` and ``Needs attention`` sheets are ignored. Pure: bytes
in, a polars frame out; ``connectors/files/reader.py`` reads the dropped file and lands the rows
(stream ``buyer_decisions``). The files themselves are written by ``forecasting/buyer_files.py``
in the column order of ``forecasting.schemas.BUYER_COLUMNS``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import polars as pl

TOTAL_LABEL = "TOTAL"
IGNORED_SHEETS = {"summary", "needs attention"}
REQUIRED_COLUMNS = ("run_date", "supplier_id", "location_id", "sku", "approved_qty")

PURCHASE_ORDER_COLUMNS: list[str] = [
    "po_id",
    "supplier_id",
    "sku",
    "location_id",
    "quantity_ordered",
    "quantity_received",
    "ordered_at",
    "expected_at",
    "status",
    "updated_at",
]

PURCHASE_ORDER_SCHEMA: dict[str, pl.DataType] = {
    "po_id": pl.String(),
    "supplier_id": pl.String(),
    "sku": pl.String(),
    "location_id": pl.String(),
    "quantity_ordered": pl.Int64(),
    "quantity_received": pl.Int64(),
    "ordered_at": pl.Date(),
    "expected_at": pl.Date(),
    "status": pl.String(),
    "updated_at": pl.Datetime("us", "UTC"),
}


class DecisionError(ValueError):
    """A returned buyer file that cannot become purchase orders; ``errors`` has one per row."""

    def __init__(self, source: str, errors: Sequence[str]) -> None:
        self.source = source
        self.errors = list(errors)
        shown = "\n".join(f"  - {e}" for e in self.errors[:50])
        more = f"\n  ... and {len(self.errors) - 50} more" if len(self.errors) > 50 else ""
        super().__init__(f"{source}: {len(self.errors)} problem(s)\n{shown}{more}")


def purchase_order_id(run_date: date, supplier_id: str, location_id: str) -> str:
    """Deterministic PO id of one run's order to one supplier for one location."""
    return f"BD-{run_date.isoformat()}-{supplier_id}-{location_id}"


# --- reading ---------------------------------------------------------------------------------


def _rows_from_table(
    where: str, header: Sequence[object], body: Iterable[Sequence[object]]
) -> list[tuple[str, dict[str, object]]]:
    names = [("" if h is None else str(h)).strip().lstrip("\ufeff") for h in header]
    out: list[tuple[str, dict[str, object]]] = []
    for n, raw in enumerate(body, start=2):
        row = dict(zip(names, list(raw) + [None] * (len(names) - len(raw)), strict=False))
        first = row.get(names[0]) if names else None
        if isinstance(first, str) and first.strip().upper() == TOTAL_LABEL:
            continue
        sku = row.get("sku")
        if sku is None or (isinstance(sku, str) and not sku.strip()):
            break  # the blank row above the totals ends the lines
        out.append((f"{where} row {n}", row))
    return out


def _check_header(where: str, header: Sequence[object]) -> list[str]:
    names = {("" if h is None else str(h)).strip().lstrip("\ufeff") for h in header}
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        return [f"{where}: missing column(s) {', '.join(missing)}"]
    if "lead_time_days" not in names and "expected_receipt_date" not in names:
        return [f"{where}: needs lead_time_days or expected_receipt_date to date the delivery"]
    return []


def read_decision_rows(data: bytes, filename: str) -> list[tuple[str, dict[str, object]]]:
    """``(where, row)`` for every line of a returned CSV or xlsx (see module docstring)."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        return _read_xlsx(data, filename)
    if name.endswith(".csv"):
        return _read_csv(data, filename)
    raise DecisionError(filename, ["not a .csv or .xlsx file"])


def _read_csv(data: bytes, filename: str) -> list[tuple[str, dict[str, object]]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DecisionError(filename, ["not UTF-8 text: save the CSV as UTF-8"]) from None
    first = text.split("\n", 1)[0]
    # Excel in many European locales saves CSV with semicolons.
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise DecisionError(filename, ["the file is empty"])
    problems = _check_header(filename, rows[0])
    if problems:
        raise DecisionError(filename, problems)
    return _rows_from_table(filename, rows[0], rows[1:])


def _read_xlsx(data: bytes, filename: str) -> list[tuple[str, dict[str, object]]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the same problem
        raise DecisionError(filename, [f"not a readable xlsx workbook ({exc})"]) from None
    out: list[tuple[str, dict[str, object]]] = []
    problems: list[str] = []
    try:
        for ws in wb.worksheets:
            if ws.title.strip().lower() in IGNORED_SHEETS:
                continue
            rows = ws.iter_rows(values_only=True)
            header = next(rows, None)
            if not header or "sku" not in {str(h).strip() for h in header if h is not None}:
                continue  # not a supplier sheet
            where = f"{filename} sheet {ws.title!r}"
            found = _check_header(where, header)
            if found:
                problems += found
                continue
            out += _rows_from_table(where, header, rows)
    finally:
        wb.close()
    if problems:
        raise DecisionError(filename, problems)
    return out


# --- validating --------------------------------------------------------------------------------


def _whole(value: object) -> int | None | str:
    """``None`` for empty, an int, or an error message."""
    if value is None:
        return None
    if isinstance(value, bool):
        return f"approved_qty {value!r} is not a number"
    if isinstance(value, int):
        n = value
    elif isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return f"approved_qty {value!r} is not a whole number"
        n = int(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            d = Decimal(text)
        except InvalidOperation:
            return f"approved_qty {text!r} is not a number"
        if not d.is_finite() or d != d.to_integral_value():
            return f"approved_qty {text!r} is not a whole number"
        n = int(d)
    if n < 0:
        return f"approved_qty {n} is negative (use 0 or leave it empty to skip the line)"
    return n


def _as_date(value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _as_int(value: object) -> int | None:
    got = _whole(value)
    return got if isinstance(got, int) else None


def _text(value: object) -> str:
    """A text cell as the buyer files wrote it: their CSVs neutralise text that a spreadsheet
    would run as a formula with a leading apostrophe ('=…, '+…), which is taken off again."""
    text = "" if value is None else str(value).strip()
    if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        return text[1:]
    return text


def decisions_to_purchase_orders(
    rows: Sequence[tuple[str, dict[str, object]]],
    decided_at: datetime | date,
    source: str = "buyer decisions",
) -> pl.DataFrame:
    """Validate decision rows and return the approved lines as open purchase orders."""
    if isinstance(decided_at, datetime):
        updated = decided_at if decided_at.tzinfo else decided_at.replace(tzinfo=UTC)
        updated = updated.astimezone(UTC)
    else:
        updated = datetime.combine(decided_at, time(0), tzinfo=UTC)
    ordered_at = updated.date() if isinstance(decided_at, datetime) else decided_at

    errors: list[str] = []
    records: list[dict[str, object]] = []
    seen: dict[tuple[str, str], str] = {}
    for where, row in rows:
        qty = _whole(row.get("approved_qty"))
        if isinstance(qty, str):
            errors.append(f"{where}: {qty}")
            continue
        sku = _text(row.get("sku"))
        supplier = _text(row.get("supplier_id"))
        location = _text(row.get("location_id"))
        run_date = _as_date(row.get("run_date"))
        problems = []
        if not supplier:
            problems.append("supplier_id is empty")
        if not location:
            problems.append("location_id is empty")
        if run_date is None:
            problems.append(f"run_date {_text(row.get('run_date'))!r} is not a date (yyyy-mm-dd)")
        lead = _as_int(row.get("lead_time_days"))
        if lead is None and run_date is not None:
            receipt = _as_date(row.get("expected_receipt_date"))
            if receipt is not None:
                lead = max((receipt - run_date).days, 0)
        if lead is None and qty:
            problems.append("no lead_time_days (or expected_receipt_date) to date the delivery")
        if problems:
            errors.append(f"{where}: " + "; ".join(problems))
            continue
        assert run_date is not None
        po_id = purchase_order_id(run_date, supplier, location)
        key = (po_id, sku)
        if key in seen:
            errors.append(f"{where}: sku {sku} appears twice for {po_id} (first at {seen[key]})")
            continue
        seen[key] = where
        if not qty:
            continue  # empty or 0: not ordered
        assert lead is not None
        records.append(
            {
                "po_id": po_id,
                "supplier_id": supplier,
                "sku": sku,
                "location_id": location,
                "quantity_ordered": qty,
                "quantity_received": 0,
                "ordered_at": ordered_at,
                "expected_at": ordered_at + timedelta(days=lead),
                "status": "open",
                "updated_at": updated,
            }
        )
    if errors:
        raise DecisionError(source, errors)
    return (
        pl.DataFrame(records, schema=PURCHASE_ORDER_SCHEMA)
        .select(PURCHASE_ORDER_COLUMNS)
        .sort(["po_id", "sku"])
    )


def decision_date(rows: Sequence[tuple[str, dict[str, object]]], today: date) -> date:
    """The date the buyer ordered: the plan's run date in the file, never later than ``today``.

    The buyer orders on the morning of the plan they approve, so a file returned a day late is
    not dated a day late; a file without a readable run date is dated ``today``.
    """
    run_dates = [d for d in (_as_date(r.get("run_date")) for _, r in rows) if d is not None]
    return min(max(run_dates), today) if run_dates else today


def parse_buyer_decisions(data: bytes, filename: str, decided_at: datetime | date) -> pl.DataFrame:
    """A returned buyer file (CSV or xlsx bytes) -> open purchase order rows.

    Raises :class:`DecisionError` listing every problem (file, sheet, row) when the file cannot
    be used as a whole; the connector should reject the file with that message.
    """
    return decisions_to_purchase_orders(
        read_decision_rows(data, filename), decided_at, source=filename
    )
