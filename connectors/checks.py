"""The vocabulary of the landing gate's checks: pure data and DuckDB SQL text, no GX, no pandas.

Each channel declares the checks of its raw tables with these words (`connectors/<kind>/checks.py`,
collected by `connectors.registry`); `flows/quality.py` evaluates them with Great Expectations.

A check's feature is a DuckDB expression returning text (or null when the value is absent: GX
skips nulls, so an absent optional value passes). The payload is parsed once per record: `j` is
the payload transformed to the stream's STRUCTURE (leaf values as text, lists as lists of
structs), and for every list the checks read the gate computes, once per record (its `derived`
CTE), `ok_<list>` (the list is absent, null or a list of objects) and, for the order lines of an
order stream, `whole_<list>` (every quantity is a whole number) and `ints_<list>` (the quantities
as integers). A list that is not a list of objects makes its features unreadable, which fails
every check that reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MAX_UNITS = 10_000  # default bound: a line beyond this is a typo, not a sale (quality.max_units)
MAX_STOCK = 1_000_000  # default bound of a stock count (quality.max_stock)
MONEY_TOLERANCE = Decimal("0.01")
UNREADABLE = "<unreadable>"
V = "VARCHAR"  # a leaf of a STRUCTURE, read as text


@dataclass(frozen=True)
class Check:
    """One expectation on one feature. kind: present | future | whole | between | decimal |
    in_set | currencies | iso_currency | locations | channel_locations | gap | known_skus |
    suggested.

    `channel_locations`: `sql` is a list of the location ids a record names in its channel's own
    ids (e.g. a Shopify fulfilment's location); each must be a configured location or one of
    the channel's `external_ids`, else the record is held back (its demand would otherwise land
    at the wrong location).

    `suggested`: `sql` is a record's "sku<US>location_id" key, looked up in the purchase-order
    suggestions the plans made (a flag, for buyer decisions).

    `none`: `sql` counts what the record must not have (values the models could not read, a
    negative price, more units refunded than sold); any makes the record held, with `says` as
    the reason. These are the faults that otherwise land without a word and then stop
    `dbt build` (a cast that fails) or make the marts wrong."""

    feature: str
    kind: str
    sql: str | None = None  # DuckDB expression over `j` (the parsed payload); None: built in
    low: float | None = None
    high: float | None = None
    values: tuple[str, ...] = ()
    critical: bool = True
    # a configurable bound (`quality.max_units` / `quality.max_stock` in oms.yaml) that replaces
    # `high` when the gate is built; `high` is its default
    bound: str | None = None
    says: str | None = None  # kind `none`: the rule in words, for the quarantine reason


# What a stream's order lines are, for the order checks: (list key, quantity field, SKU field).
OrderLines = tuple[str, str, str]


def txt(*path: str) -> str:
    """A leaf of `j` as trimmed text (numbers in their JSON spelling)."""
    return "trim(j" + "".join(f"['{k}']" for k in path) + ")"


def items_ok(key: str) -> str:
    """Column (of the gate's `derived` CTE): the list is absent, null, or a list of objects."""
    return f"ok_{key}"


def items(key: str) -> str:
    return f"coalesce(j['{key}'], [])"


def item_values(key: str, field_name: str) -> str:
    """One text value per item (null where the item lacks the field)."""
    return f"list_transform({items(key)}, lambda i: trim(i['{field_name}']))"


def all_whole(key: str) -> str:
    """Column: every item's quantity is a whole number (true when there are no items)."""
    return f"whole_{key}"


def item_ints(key: str) -> str:
    """Column: the items' quantities as integers."""
    return f"ints_{key}"


def qty_whole(key: str) -> str:
    """Text that is a whole number when every item's quantity is one (the smallest), else not."""
    return (
        f"case when not {items_ok(key)} then '{UNREADABLE}' "
        f"when len({items(key)}) = 0 then null "
        f"when {all_whole(key)} then cast(list_min({item_ints(key)}) as varchar) "
        "else 'not a whole number' end"
    )


def qty_stat(key: str, stat: str) -> str:
    """min or max |quantity| over the items; null when some quantity is not whole (the `whole`
    check reports that), unreadable when the items are not a list of objects."""
    ints = item_ints(key)
    value = (
        f"list_min({ints})"
        if stat == "min"
        else f"list_max(list_transform({ints}, lambda x: abs(x)))"
    )
    return (
        f"case when not {items_ok(key)} then '{UNREADABLE}' "
        f"when {all_whole(key)} then cast({value} as varchar) end"
    )


def line_count(key: str) -> str:
    return (
        f"case when {items_ok(key)} then cast(len({items(key)}) as varchar) else '{UNREADABLE}' end"
    )


def dec(expr: str) -> str:
    return f"try_cast({expr} as decimal(38, 8))"


def gap(total: str, parts: str) -> str:
    """|reported total − sum of its parts| as text; 1e9 when the total or any part is not a
    number. `parts` is a SQL list of decimals (null where a part is unreadable)."""
    return (
        f"case when {dec(total)} is null "
        f"or coalesce(list_bool_or(list_transform({parts}, lambda x: x is null)), false) "
        f"then '1e9' else cast(abs({dec(total)} - coalesce(list_sum({parts}), 0)) as varchar) end"
    )


def skus(key: str, field_name: str) -> str:
    """The SKUs a record names (a list; '' where an item has none)."""
    return (
        f"case when {items_ok(key)} then list_transform({items(key)}, "
        f"lambda i: coalesce(i['{field_name}'], '')) else [] end"
    )


ONE_SKU = "[coalesce(j['sku'], '')]"


def _unreadable_as(text: str, cast: str) -> str:
    """1 when `text` is there but DuckDB cannot cast it to `cast` as the models do, else 0."""
    v = f"nullif(trim({text}), '')"
    if cast == "date":  # the models read the date part of a date or timestamp
        v = f"left({v}, 10)"
    return f"(case when {v} is not null and try_cast({v} as {cast}) is null then 1 else 0 end)"


def unreadable_times(
    leaves: tuple[str, ...], lists: tuple[tuple[str, str], ...] = (), cast: str = "timestamptz"
) -> Check:
    """The timestamps (or dates) the staging models cast, each one DuckDB can read: one that is
    not (`20260625T101500Z`, `0000-00-00`, `next Tuesday`) would stop the build. `leaves` are
    top-level fields; `lists` (list key, field) the field of every item of a list. `cast`:
    timestamptz (with offset), timestamp (local, e.g. Woo's *_gmt) or date."""
    parts = [_unreadable_as(txt(leaf), cast) for leaf in leaves]
    parts += [
        f"coalesce(list_sum(list_transform({items(key)}, "
        f"lambda i: {_unreadable_as(f'i[{chr(39)}{name}{chr(39)}]', cast)})), 0)"
        for key, name in lists
    ]
    example = {"date": "2026-06-25", "timestamp": "2026-06-25T10:15:00"}.get(
        cast, "2026-06-25T10:15:00Z"
    )
    what = "dates" if cast == "date" else "timestamps"
    return Check(
        "unreadable_times",
        "none",
        " + ".join(parts),
        says=f"{what} are ISO 8601 (e.g. {example})",
    )


def negative_prices(key: str, *fields: str) -> Check:
    """No item of `key` has a negative price (a credit belongs in a refund, not an order)."""
    conds = " or ".join(f"try_cast(i['{f}'] as decimal(38, 8)) < 0" for f in fields)
    return Check(
        "negative_prices",
        "none",
        f"len(list_filter({items(key)}, lambda i: {conds}))",
        says=f"{key} prices are not negative",
    )


def whole_in_range(
    name: str, low: float | None = None, high: float | None = None, bound: str | None = None
) -> list[Check]:
    """A count field: a whole number, within sane bounds."""
    return [
        Check(name, "whole", txt(name)),
        Check(name, "between", txt(name), low=low, high=high, bound=bound),
    ]


ID = Check("source_id", "present")
TIME = Check("updated_at", "future")
# The checks of a stream that declares none of its own (API-only streams): id and updated time.
BASIC: tuple[Check, ...] = (ID, TIME)


def order_checks(lines: OrderLines) -> list[Check]:
    """Quantities whole and within bounds, at least one line, SKUs known (flag only)."""
    key, _, sku = lines
    return [
        Check("min_quantity", "whole", qty_whole(key)),
        Check("min_quantity", "between", qty_stat(key, "min"), low=1),
        Check("max_quantity", "between", qty_stat(key, "max"), high=MAX_UNITS, bound="max_units"),
        Check("line_count", "between", line_count(key), low=1),
        Check("skus", "known_skus", skus(key, sku), critical=False),
    ]
