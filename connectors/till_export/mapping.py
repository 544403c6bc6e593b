"""From a till or order export's rows to till-line payloads (docs/raw-contract.md `tills__orders`).

Real exports are not shaped like our contract: they name columns their own way, leave out what
is the same in every row (the store, the currency), number no lines (and repeat a stock code
within one invoice), write times as `12/1/2010 8:26`, money as `1.234,56`, and put postage, fees,
manual corrections and bad-debt write-offs on the same lines as goods, with credit notes as
invoices whose number has a prefix. The rules of one export (`ExportRules`, built from the
channel's `oms.yaml` entry) say how to read it; `map_rows` applies them to a whole file, because
two rules need more than one row: a line number generated within its order (file order) and a
credit note recognised by its negative total.

The payload keeps the mapped fields as text, the derived ones (`line_type`, `document_type`,
`line_id_generated`) and, under `source_columns`, every column of the row as received, mapped or
not, so nothing the export said is lost and a later mapping can be re-derived from raw.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from fnmatch import fnmatchcase

# What a line is. Only product lines are goods (products, demand, forecasts); the others go to
# their order-total columns (shipping, fees, discounts) or to finance (adjustment: bad debt,
# manual corrections), and gift cards sold are a liability, not sales.
LINE_TYPES = ("product", "shipping", "fee", "discount", "gift_card", "adjustment")
TRUE_WORDS = frozenset({"1", "true", "yes", "y", "x", "t"})
NUMBER_FIELDS = ("quantity", "unit_price", "discount")
_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")


class RowError(ValueError):
    """One row cannot be read by the export's rules. `rule` is the reason the row is held for
    (the same for every row that breaks it, so counts group by it); `detail` the value."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule, self.detail = rule, detail


@dataclass(frozen=True)
class CreditNoteRule:
    """How a credit note is told from a sale: an order-id prefix, the mapped `credit_note`
    column being true, or (negative_total) the document's lines adding up below zero."""

    prefix: str | None = None
    negative_total: bool = False

    def is_credit_note(self, order_id: str, flagged: bool, total: Decimal) -> bool:
        return (
            bool(self.prefix and order_id.startswith(self.prefix))
            or flagged
            or (self.negative_total and total < 0)
        )


@dataclass(frozen=True)
class ExportRules:
    """One export's reading rules (see the module docstring and the README's till section).

    `mapping` is our field -> the export's column; `constants` our field -> a value for every
    row (a field may be in one or the other); `line_types` a line type -> codes or shell-style
    patterns (`POST*`) matched against the mapped `line_type` column when there is one, else the
    SKU, first match in LINE_TYPES order winning."""

    mapping: dict[str, str]
    constants: dict[str, str] = field(default_factory=dict)
    timezone: str = "UTC"
    timestamp_format: str | None = None
    decimal_comma: bool = False
    thousands_separator: str | None = None
    line_types: dict[str, tuple[str, ...]] = field(default_factory=dict)
    credit_notes: CreditNoteRule = CreditNoteRule()

    def columns(self) -> list[str]:
        """The export's columns these rules read (a file without one is refused)."""
        return list(self.mapping.values())

    # ------------------------------------------------------------------ values
    def number(self, name: str, text: str) -> str:
        """A number as plain `-1234.56` text (the contract's spelling), read with this export's
        separators; empty stays empty (the landing checks judge a missing value)."""
        if not self.decimal_comma and self.thousands_separator is None:
            return text  # as exported: the landing checks judge it
        value = text.strip().replace(" ", "")
        if not value:
            return value
        # with a decimal comma, a dot is a thousands separator unless told otherwise
        sep = self.thousands_separator or ("." if self.decimal_comma else None)
        if sep:
            value = value.replace(sep, "")
        if self.decimal_comma:
            value = value.replace(",", ".")
        if not _NUMBER.fullmatch(value):
            raise RowError(f"{name} is not a number in this export's format", repr(text))
        return value.removeprefix("+")

    def timestamp(self, text: str) -> str:
        """The export's time as ISO local time (`YYYY-MM-DD HH:MM:SS`, read in `timezone` by
        the contract); without a format the text must already be ISO."""
        value = text.strip()
        if self.timestamp_format is None or not value:
            return value
        try:
            moment = datetime.strptime(value, self.timestamp_format)
        except ValueError:
            raise RowError(
                f"ordered_at does not match the timestamp format {self.timestamp_format!r}",
                repr(text),
            ) from None
        return moment.isoformat(sep=" ")

    def line_type(self, value: str | None, sku: str) -> str:
        """The line's type: the mapped column's value when it is already a line type, else the
        first configured list or pattern that matches it (or the SKU), else a product."""
        probe = (value if value is not None else sku).strip()
        if value is not None and probe.lower() in LINE_TYPES:
            return probe.lower()
        for kind in LINE_TYPES:
            for pattern in self.line_types.get(kind, ()):
                if probe == pattern or fnmatchcase(probe, pattern):
                    return kind
        return "product"


def _field(row: dict[str, str], rules: ExportRules, name: str) -> str | None:
    if name in rules.mapping:
        return row.get(rules.mapping[name], "")
    return rules.constants.get(name)


def map_rows(
    rows: Sequence[dict[str, str]], rules: ExportRules, extra: dict[str, str]
) -> list[dict | RowError]:
    """The payload of every row (or why it cannot be read), in file order.

    Line numbers, when the export has none, count the rows of each order in file order from 1,
    so two identical scans of one article on one invoice are two lines. A document is a credit
    note by the rules' prefix, flag or negative total (over its rows in this file)."""
    out: list[dict | RowError] = []
    totals: dict[str, Decimal] = {}
    seen_in_order: dict[str, int] = {}
    for row in rows:
        try:
            payload = _map_row(row, rules)
        except RowError as exc:
            out.append(exc)
            continue
        order_id = str(payload.get("order_id") or "")
        if "line_id" not in rules.mapping and "line_id" not in rules.constants:
            seen_in_order[order_id] = seen_in_order.get(order_id, 0) + 1
            payload["line_id"] = str(seen_in_order[order_id])
            payload["line_id_generated"] = True
        try:
            qty = Decimal(payload.get("quantity") or "0")
            price = Decimal(payload.get("unit_price") or "0")
            totals[order_id] = totals.get(order_id, Decimal(0)) + qty * price
        except InvalidOperation:
            pass  # the landing checks hold the row
        payload.update(extra)
        payload["source_columns"] = dict(row)
        out.append(payload)
    for item in out:
        if isinstance(item, dict):
            order_id = str(item.get("order_id") or "")
            flagged = str(item.get("credit_note") or "").strip().lower() in TRUE_WORDS
            credit = rules.credit_notes.is_credit_note(
                order_id, flagged, totals.get(order_id, Decimal(0))
            )
            item["document_type"] = "credit_note" if credit else "sale"
    return out


def _map_row(row: dict[str, str], rules: ExportRules) -> dict:
    payload: dict = {}
    for name in set(rules.mapping) | set(rules.constants):
        value = _field(row, rules, name)
        if value is None:
            continue
        if name in NUMBER_FIELDS:
            value = rules.number(name, value)
        elif name == "ordered_at":
            value = rules.timestamp(value)
        payload[name] = value
    kind_column = payload.get("line_type") if "line_type" in rules.mapping else None
    payload["line_type"] = rules.line_type(kind_column, str(payload.get("sku") or ""))
    return payload


_STRFTIME = re.compile(r"%[a-zA-Z%]")


def check_timestamp_format(fmt: str) -> str:
    """A strptime format must name at least a day, a month and a year (else every time would
    read as 1900-01-01)."""
    codes = set(_STRFTIME.findall(fmt))
    if not ({"%d", "%j"} & codes) or not ({"%m", "%b", "%B", "%j"} & codes) or not (
        {"%Y", "%y"} & codes
    ):  # fmt: skip
        raise ValueError(f"'{fmt}' must contain a day, a month and a year (e.g. %d/%m/%Y %H:%M)")
    return fmt
