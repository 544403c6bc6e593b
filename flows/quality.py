"""The landing gate: Great Expectations suites applied to every page or file before it commits.

Each stream has a list of `Check`s over *features* pulled from its payloads (id, updated time,
currency, quantities, money, SKUs, locations), declared with its channel
(`connectors/<kind>/checks.py`, collected by `connectors.registry`). DuckDB computes the features from the payload text
(one SQL expression per check, vectorised), they become a pandas frame, and GX validates it with
`result_format="COMPLETE"`, which names the failing rows. Rows failing a
critical check go to `ops.quarantine` with the check's words as the reason; the rest land. Checks
that are not critical (an unknown SKU) only *flag*: the record lands and the flag is counted in
`ops.validation_results`, because a new product should not stop its first orders.

A page with more than `max_bad_share` bad rows is refused whole: that many failures usually means
the format changed, and landing the remainder would make the marts quietly wrong.

GX's SQL datasource cannot read DuckDB (GX 1.24) without patching GX, so we validate dataframes.
A GX validation costs ~0.1 s however few rows it has, so callers judge many pages or files at once
(`gate_groups`: one frame, a `_group` column, verdicts per group) and suites are built once.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from connectors import registry
from connectors.checks import (
    BASIC,
    ID,
    MAX_STOCK,
    MAX_UNITS,
    MONEY_TOLERANCE,
    ONE_SKU,
    TIME,
    UNREADABLE,
    Check,
    OrderLines,
    V,
    all_whole,
    item_ints,
    item_values,
    items_ok,
)
from flows.config import ISO_CURRENCIES
from flows.staged import StagedRecords

INT_RE = r"^-?\d+$"
DECIMAL_RE = r"^\d+(?:\.\d+)?$"  # non-negative


class PageRejected(ValueError):
    """Too many bad records in one page or file: nothing of it lands."""


# The checks of each raw table are declared with their channel (`connectors/<kind>/checks.py`, in
# the vocabulary of `connectors/checks.py`) and collected by `connectors.registry`; these are the
# same declarations keyed by raw table.
ORDER_LINES: dict[str, OrderLines] = registry.order_lines()
STRUCTURES: dict[str, dict] = registry.structures()
CHECKS: dict[str, list[Check]] = {t: list(c) for t, c in registry.table_checks().items()}


def _derived(table: str) -> list[str]:
    """Per-record values several checks share, computed once (`derived` CTE): the columns
    `items_ok`, `all_whole` and `item_ints` of `connectors.checks` name."""
    out = []
    for key in _lists(table):
        t, e = f"t_{key}", f"e_{key}"
        out.append(
            f"({t} is null or {t} = 'NULL' or ({t} = 'ARRAY' and "
            f"coalesce(list_bool_and(list_transform({e}, lambda x: x = 'OBJECT')), true))) "
            f"as {items_ok(key)}"
        )
    if table in ORDER_LINES:
        key, qty, _ = ORDER_LINES[table]
        values = item_values(key, qty)
        out.append(
            f"coalesce(list_bool_and(list_transform({values}, "
            f"lambda q: coalesce(regexp_full_match(q, '-?[0-9]+'), false))), true) "
            f"as {all_whole(key)}"
        )
        out.append(
            f"list_transform({values}, lambda q: try_cast(q as hugeint)) as {item_ints(key)}"
        )
    return out


def _lists(table: str) -> list[str]:
    """The keys of the stream's lists whose shape the checks need."""
    return [k for k, v in STRUCTURES.get(table, {}).items() if isinstance(v, list)]


def _num(x: float | None) -> str:
    return "" if x is None else (f"{int(x):,}" if float(x).is_integer() else f"{x:g}")


def describe(check: Check, ctx: GateContext) -> str:
    """The words that go into the quarantine reason and the verdict."""
    f, k = check.feature, check.kind
    if k == "present":
        return f"{f} present"
    if k == "future":
        return f"updated time not more than {ctx.future_tolerance_hours:g} h in the future"
    if k == "whole":
        return f"{f} is a whole number"
    if k == "between":
        lo, hi = _num(check.low), _num(check.high)
        if check.low is not None and check.high is not None:
            return f"{f} between {lo} and {hi}"
        return f"{f} at least {lo}" if check.low is not None else f"{f} at most {hi}"
    if k == "decimal":
        return f"{f} is a non-negative decimal"
    if k == "in_set":
        return f"{f} is one of {', '.join(check.values)}"
    if k == "currencies":
        return f"currency is one of the configured {', '.join(ctx.currencies)}"
    if k == "iso_currency":
        return "currency is an ISO 4217 code"
    if k == "locations":
        return "location_id is a configured location"
    if k == "channel_locations":
        return "fulfilment locations are configured locations (locations[].external_ids)"
    if k == "gap":
        return f"{f.replace('_gap', '')}s add up to the total (within {MONEY_TOLERANCE})"
    if k == "known_skus":
        return "SKU is in the catalogue (flag only)"
    if k == "suggested":
        return "a plan suggested this SKU for this location (flag only)"
    if k == "none":
        return check.says or f"no {f}"
    raise ValueError(k)


@dataclass(frozen=True)
class GateContext:
    """What the gate compares against: configuration and what the warehouse already knows."""

    currencies: tuple[str, ...]
    locations: tuple[str, ...] | None = None  # None: do not check
    known_skus: frozenset[str] | None = None  # None: do not flag
    max_bad_share: float = 0.2
    future_tolerance_hours: float = 24
    now: datetime | None = None
    # (channel, the channel's own id of a location): what `channel_locations` checks accept
    location_aliases: tuple[tuple[str, str], ...] = ()
    # "sku<US>location_id" of every purchase-order suggestion made (None: do not flag)
    suggested: frozenset[str] | None = None
    # the configurable bounds a Check names in `bound` (quality.max_units, quality.max_stock)
    max_units: int = MAX_UNITS
    max_stock: int = MAX_STOCK

    def channel_locations(self, channel: str) -> tuple[str, ...]:
        """The ids a channel may name a location by: its external ids and our own ids."""
        own = tuple(self.locations or ())
        return own + tuple(ext for ch, ext in self.location_aliases if ch == channel)


@cache
def _validator():
    """One ephemeral GX context and a pandas dataframe asset, reused for every batch."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = ctx.data_sources.add_pandas("landing").add_dataframe_asset("page")
    return gx, ctx, asset.add_batch_definition_whole_dataframe("whole_page")


def _expectation(check: Check, col: str, ctx: GateContext):
    import great_expectations as gx

    E = gx.expectations
    k = check.kind
    if k == "present":
        return E.ExpectColumnValuesToNotBeNull(column=col)
    if k == "future":  # the feature is hours ahead of now
        return E.ExpectColumnValuesToBeBetween(column=col, max_value=ctx.future_tolerance_hours)
    if k in ("whole", "decimal"):
        return E.ExpectColumnValuesToMatchRegex(
            column=col, regex=INT_RE if k == "whole" else DECIMAL_RE
        )
    if k in ("between", "gap"):
        high = float(MONEY_TOLERANCE) if k == "gap" else check.high
        return E.ExpectColumnValuesToBeBetween(column=col, min_value=check.low, max_value=high)
    if k == "in_set":
        return E.ExpectColumnValuesToBeInSet(column=col, value_set=list(check.values))
    if k == "currencies":
        return E.ExpectColumnValuesToBeInSet(column=col, value_set=list(ctx.currencies))
    if k == "iso_currency":
        return E.ExpectColumnValuesToBeInSet(column=col, value_set=sorted(ISO_CURRENCIES))
    if k == "locations":
        return E.ExpectColumnValuesToBeInSet(column=col, value_set=list(ctx.locations or ()))
    if k in ("known_skus", "channel_locations", "suggested", "none"):  # counts of bad ones
        return E.ExpectColumnValuesToBeBetween(column=col, max_value=0)
    raise ValueError(k)


UNIQUE = "id unique within the page (per updated time)"


@dataclass(frozen=True)
class _Suite:
    suite: Any
    checks: tuple[Check, ...]
    columns: tuple[str, ...]
    names: tuple[str, ...]
    critical: tuple[bool, ...]


_SUITES: dict[tuple, _Suite] = {}
_GX_LOCK = threading.RLock()


def _suite(table: str, ctx: GateContext) -> _Suite:
    """The stream's expectation suite, built once per configuration (building one costs more
    than validating a thousand records with it)."""
    with _GX_LOCK:
        return _suite_locked(table, ctx)


def _suite_locked(table: str, ctx: GateContext) -> _Suite:
    key = (table, ctx.currencies, ctx.locations, ctx.known_skus is None, ctx.future_tolerance_hours,
           ctx.location_aliases, ctx.suggested is None, ctx.max_units, ctx.max_stock)  # fmt: skip
    if key not in _SUITES:
        gx, _ctx, _ = _validator()
        checks = tuple(_bounded(c, ctx) for c in _active(list(CHECKS.get(table, BASIC)), ctx))
        cols = tuple(f"c{n}_{c.feature}" for n, c in enumerate(checks))
        suite = gx.ExpectationSuite(name=f"landing__{table}")
        for c, col in zip(checks, cols, strict=True):
            suite.add_expectation(_expectation(c, col, ctx))
        suite.add_expectation(gx.expectations.ExpectColumnValuesToBeUnique(column="_version"))
        names = tuple(describe(c, ctx) for c in checks) + (UNIQUE,)
        critical = tuple(c.critical for c in checks) + (True,)
        _SUITES[key] = _Suite(suite, checks, cols, names, critical)
    return _SUITES[key]


def _feature_sql(check: Check, col: str, now: datetime, known_locations: tuple[str, ...]) -> str:
    """The check's feature as the column its expectation reads."""
    k = check.kind
    if k == "channel_locations":
        known = "[" + ", ".join("'" + x.replace("'", "''") + "'" for x in known_locations) + "]"
        return (
            f"cast(len(list_filter(({check.sql}), lambda x: coalesce(x, '') <> '' "
            f"and not list_contains({known}::varchar[], x))) as double) as {col}"
        )
    if k == "suggested":  # 1 when no plan suggested the record's key (`_suggested` in _features)
        return f"(case when ({check.sql}) in (select k from _suggested) then 0.0 else 1.0 end) as {col}"
    if k == "future":
        return f"(epoch(_source_updated_at) - {now.timestamp()}) / 3600.0 as {col}"
    if k == "present" and check.sql is None:
        return f"nullif(trim(_source_id), '') as {col}"
    if k == "none":  # a count; unreadable (null) counts as bad
        return f"coalesce(cast(({check.sql}) as double), 1.0) as {col}"
    if k in ("between", "gap"):
        # A value that is there but not a number must fail the range (GX skips nulls).
        outside = _outside(check)
        v = check.sql
        return (
            f"case when ({v}) is null then null "
            f"else coalesce(try_cast(({v}) as double), {outside}) end as {col}"
        )
    if k == "known_skus":
        return f"coalesce(_unknown.n, 0)::double as {col}"
    return f"cast(({check.sql}) as varchar) as {col}"


def _outside(check: Check) -> float:
    """A number that fails `check`'s range, for values that could not be read as numbers."""
    if check.kind == "gap":
        return 1e18
    return check.low - 1 if check.low is not None else (check.high or 0) + 1


def _bounded(check: Check, ctx: GateContext) -> Check:
    """The check with its configured bound (quality.max_units / max_stock) as `high`."""
    if check.bound is None:
        return check
    return dataclasses.replace(check, high=getattr(ctx, check.bound))


def _active(checks: list[Check], ctx: GateContext) -> list[Check]:
    return [
        c
        for c in checks
        if not (c.kind in ("locations", "channel_locations") and ctx.locations is None)
        and not (c.kind == "known_skus" and ctx.known_skus is None)
        and not (c.kind == "suggested" and ctx.suggested is None)
    ]


# The checks' features are computed this many records at a time: parsing a large file's JSON
# at once would take memory in proportion to the file (a cap on DuckDB's memory instead makes
# the query fail once a file is large enough). Exact repeats across slices cannot occur for
# files (the reader removes them) and API units are smaller than one slice.
FEATURE_SLICE = 50_000


def _features(
    table: str, staged: pa.Table, spec: _Suite, ctx: GateContext, now: datetime
) -> pd.DataFrame:
    """One row per distinct record version, one column per check, computed by DuckDB from the
    payload text (vectorised: ~100x faster than reading dicts in Python)."""
    import duckdb

    con = duckdb.connect()
    try:
        # One thread: parsing 10,000 orders' JSON with two peaked at +540 MB of RSS (each thread
        # holds its own buffers), with one at +390 MB, in the same time (measured on a landing
        # batch of 10,000 Shopify orders; the 1 GB target of a sync's memory is tight).
        con.execute("set threads = 1")
        con.register("staged", staged)
        # The lists' shapes: each list taken out of the payload by one `json_extract` of all
        # their paths (one parse of the payload), then typed from that small text, instead of
        # two `json_type(_payload, ...)` per list (each one a parse of the whole payload: on
        # Shopify orders 8 parses, a third of this query's time). `e_` is [] when the key is
        # absent, as `json_type(_payload, '$.k[*]')` gives.
        lists = _lists(table)
        paths = ", ".join(f"'$.{k}'" for k in lists)
        parsed = "".join(
            [f", json_transform(_payload, '{json.dumps(STRUCTURES[table])}') as j"]
            if table in STRUCTURES
            else []
        ) + "".join(
            f", json_type(_lists[{n}]) as t_{k}, "
            f"coalesce(json_type(_lists[{n}], '$[*]'), []::varchar[]) as e_{k}"
            for n, k in enumerate(lists, 1)
        )
        lists_sql = f", json_extract(_payload, [{paths}]) as _lists" if lists else ""
        derived = "".join(f", {d}" for d in _derived(table))
        selects = [
            _feature_sql(c, col, now, ctx.channel_locations(table.split("__")[0]))
            for c, col in zip(spec.checks, spec.columns, strict=True)
        ]
        if any(c.kind == "suggested" for c in spec.checks):
            keys = sorted(ctx.suggested or ())
            con.register("_suggested", pa.table({"k": pa.array(keys, pa.string())}))
        sku_check = next((c for c in spec.checks if c.kind == "known_skus"), None)
        unknown = "select null::bigint as _row, 0 as n where false"
        if sku_check is not None:
            con.register(
                "known", pa.table({"sku": pa.array(sorted(ctx.known_skus or ()), pa.string())})
            )
            unknown = f"""
                select _row, count(*) as n
                from (select _row, unnest({sku_check.sql}) as sku from payloads)
                where sku not in (select sku from known)
                group by _row"""
        return con.sql(
            f"""
            with numbered as (
                select *, row_number() over () - 1 as _row from staged
            ),
            firsts as (  -- exact repeats (same id, same content) land once and are not judged
                select * from numbered
                -- (by the payload's hash: partitioning by the text itself would hash a copy of
                -- every payload, several times a large file's size)
                qualify row_number() over (
                    partition by _group, _source_id, md5(_payload) order by _row) = 1
            ),
            extracted as (
                select *{lists_sql} from firsts
            ),
            parsed as (
                select _row, _group, _source_id, _source_updated_at{parsed}
                from extracted
            ),
            payloads as (
                select *{derived} from parsed
            ),
            _unknown as ({unknown})
            select payloads._row, payloads._group,
                   -- one version = one id at one updated time (per page or file); two payloads
                   -- for it conflict
                   _group::varchar || chr(31) || coalesce(_source_id, '') || chr(31) || coalesce(strftime(_source_updated_at, '%Y-%m-%dT%H:%M:%S.%f%z'), '') as _version,
                   {", ".join(selects)}
            from payloads left join _unknown using (_row)
            order by payloads._row
            """
        ).df()
    finally:
        con.close()


@dataclass
class GateResult:
    """One group's verdict: the records to land, the ones to quarantine, the per-check counts;
    `refused` is set (and `good` empty) when too many of its records failed."""

    good: StagedRecords
    bad: list[tuple[str | None, str, str]]  # (source_id, reason, payload text)
    outcomes: list[dict] = field(default_factory=list)  # one per check, for ops.validation_results
    refused: PageRejected | None = None


def gate_groups(
    table: str, groups: list[StagedRecords], ctx: GateContext, extra_bad: list[int] | None = None
) -> list[GateResult]:
    """Judge several pages or files of one stream in a single GX validation.

    GX has a fixed cost per validation (~0.1 s), so the file sync hands over all pending files of
    a stream at once and the API sync a few thousand records at a time; the verdict, including
    the bad-share refusal, is still per group. `extra_bad[g]` counts records of group g that
    could not even be read (they count towards its bad share)."""
    extra_bad = extra_bad or [0] * len(groups)
    results: list[GateResult] = []
    sizes = [len(g) for g in groups]
    if not any(sizes):
        return [GateResult(g, []) for g in groups]
    gx, _ctx, batch_def = _validator()
    now = ctx.now or datetime.now(UTC)
    spec = _suite(table, ctx)
    tables = [
        g.table.append_column("_group", pa.array([n] * len(g), pa.int32()))
        for n, g in enumerate(groups)
    ]
    combined = pa.concat_tables(tables)  # zero-copy: chunks kept (a large file is not copied)
    df, unexpected = _judge_in_slices(table, combined, spec, ctx, now, batch_def)
    rows = df["_row"].to_numpy()
    n_groups = len(groups)
    judged = np.bincount(df["_group"].to_numpy(), minlength=n_groups)
    reasons: dict[int, list[str]] = {}  # combined row -> failed critical checks
    failed_per_group: list[np.ndarray] = []
    for name, crit, idx in zip(spec.names, spec.critical, unexpected, strict=True):
        failed_per_group.append(np.bincount(df["_group"].to_numpy()[idx], minlength=n_groups))
        if crit:
            for r in rows[idx]:
                reasons.setdefault(int(r), []).append(name)
    good_mask = np.zeros(len(combined), bool)
    good_mask[rows] = True  # judged (exact repeats were not)
    good_mask[list(reasons)] = False
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    payloads = combined.column("_payload")
    ids = combined.column("_source_id")
    for g, staged in enumerate(groups):
        lo, hi = int(offsets[g]), int(offsets[g + 1])
        bad = [
            (ids[r].as_py(), "; ".join(reasons[r]), payloads[r].as_py())
            for r in sorted(reasons)
            if lo <= r < hi
        ]
        outcomes = [
            {
                "suite": spec.suite.name,
                "expectation": name,
                "success": int(failed[g]) == 0,
                "unexpected_count": int(failed[g]),
                "critical": crit,
            }
            for name, crit, failed in zip(spec.names, spec.critical, failed_per_group, strict=True)
        ]
        n_bad = len(bad) + extra_bad[g]
        total = int(judged[g]) + extra_bad[g]
        if judged[g] and n_bad > ctx.max_bad_share * total:
            first = bad[0][1] if bad else "unreadable records"
            refusal = PageRejected(
                f"{n_bad} of {total} records failed the landing checks or could not be read "
                f"(more than {ctx.max_bad_share:.0%}; first: {first}); nothing landed from this page"
            )
            results.append(GateResult(staged.take([]), [], outcomes, refusal))
            continue
        keep = good_mask[lo:hi]
        good = staged if keep.all() else staged.take(np.nonzero(keep)[0].tolist())  # no copy
        results.append(GateResult(good, bad, outcomes))
    return results


def gate(table: str, staged: StagedRecords, ctx: GateContext, extra_bad: int = 0) -> GateResult:
    """Judge one page or file (see `gate_groups`)."""
    return gate_groups(table, [staged], ctx, [extra_bad])[0]


def _judge_in_slices(
    table: str,
    combined: pa.Table,
    spec: _Suite,
    ctx: GateContext,
    now: datetime,
    batch_def: Any,
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Features and GX validation `FEATURE_SLICE` records at a time, keeping of each slice only
    what the verdict needs: every judged record's `_row`, `_group` and `_version`, and the
    positions (in that frame) failing each expectation of the suite, in its order. A large
    file's features are never all in memory at once, nor copied by GX. Uniqueness of `_version`
    (the suite's last expectation) spans slices, so it is taken over the whole frame (every row
    of a repeated version fails, as GX marks them)."""
    keys: list[pd.DataFrame] = []
    found: list[list[np.ndarray]] = [[] for _ in spec.names]
    offset = 0
    for start in range(0, len(combined), FEATURE_SLICE):
        part = _features(table, combined.slice(start, FEATURE_SLICE), spec, ctx, now)
        part["_row"] += start
        with _GX_LOCK:  # channel syncs run in threads; one GX context and suite objects shared
            result = batch_def.get_batch(batch_parameters={"dataframe": part}).validate(
                spec.suite, result_format="COMPLETE"
            )
        for k, res in enumerate(result.results):
            listed = _flat_index(res.result.get("unexpected_index_list") or [])
            found[k].append(np.asarray(listed, int) + offset)
        keys.append(part[["_row", "_group", "_version"]])
        offset += len(part)
    df = pd.concat(keys, ignore_index=True)
    assert spec.names[-1] == UNIQUE
    found[-1] = [np.nonzero(df["_version"].duplicated(keep=False).to_numpy())[0]]
    return df, [np.unique(np.concatenate(f)) if f else np.zeros(0, int) for f in found]


def _flat_index(idx: list) -> list[int]:
    """GX gives row positions as ints, or as dicts for compound-column expectations."""
    return [
        int(i.get("index", next(iter(i.values())))) if isinstance(i, dict) else int(i) for i in idx
    ]


__all__ = [
    "CHECKS",
    "DECIMAL_RE",
    "ID",
    "INT_RE",
    "MAX_STOCK",
    "MAX_UNITS",
    "MONEY_TOLERANCE",
    "ONE_SKU",
    "ORDER_LINES",
    "STRUCTURES",
    "TIME",
    "UNIQUE",
    "UNREADABLE",
    "V",
    "Check",
    "GateContext",
    "GateResult",
    "PageRejected",
    "describe",
    "gate",
    "gate_groups",
]
