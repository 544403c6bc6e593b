"""One landing path: how records from any source (a dropped file, an API page batch) reach `raw`.

Every source hands over *landing units*: the records that must commit together (one file, or a
batch of consecutive API pages of one stream, possibly several raw tables when records arrive
nested in another stream's pages), the records the reader could not even parse, and what to
record with them (the stream's cursor; for a file, its row in `ops.file_loads`). This module is
the only place that:

1. builds the gate's context (`gate_context`: configured currencies and locations, the SKUs the
   catalogue knows, the thresholds), the same for files and APIs;
2. judges units (`judge`: one GX validation per raw table for all units handed over together, so
   the fixed cost of a validation is paid once for many small files or pages);
3. commits a unit (`commit`) or refuses it (`refuse`), each in one transaction
   (`flows.warehouse.transaction`): new record versions, quarantined records with their reasons,
   the file's entry and the cursor. A crash before the commit lands nothing of the unit; re-reading
   it lands nothing twice (raw keeps one row per (source id, payload hash)).

`flows/sync.py` only finds, reads and moves files; `flows/api_sync.py` only pages. Both fill the
same `SyncReport`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.compute as pc

from connectors.http import REDACTED, SECRET_SHAPES, known_secrets, redact
from flows.config import Config
from flows.quality import UNIQUE, GateContext, GateResult, PageRejected, gate_groups
from flows.staged import StagedRecords
from flows.warehouse import advance_cursor, land_staged, quarantine, transaction

# (source_id, reason, payload text): a record that is held back rather than landed.
Held = tuple[str | None, str, str]


# DuckDB's memory while landing (file and API syncs): beyond it DuckDB spills to disk, so a
# large file or a long backfill keeps a flat footprint.
DUCKDB_MEMORY_LIMIT = "256MB"


@dataclass
class SyncReport:
    """What a sync did, for the CLI summary, `ops.runs`, the Prefect artifact and dbt's
    selection of what to rebuild (`by_table`). One type for files and APIs."""

    files_landed: int = 0
    files_skipped: int = 0
    files_rejected: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    rows_repeated: int = 0  # exact repeats within a file (they would land once; see `repeats`)
    pages_landed: int = 0
    by_table: dict[str, int] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    skipped_streams: list[str] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)
    repeats: list[str] = field(default_factory=list)  # per file: which rows repeat which

    def merge(self, other: SyncReport) -> None:
        """Add another report's counts into this one (a run syncs channels concurrently)."""
        self.files_landed += other.files_landed
        self.files_skipped += other.files_skipped
        self.files_rejected += other.files_rejected
        self.rows_landed += other.rows_landed
        self.rows_quarantined += other.rows_quarantined
        self.rows_repeated += other.rows_repeated
        self.repeats.extend(other.repeats)
        self.pages_landed += other.pages_landed
        for table, n in other.by_table.items():
            self.by_table[table] = self.by_table.get(table, 0) + n
        self.rejected.extend(other.rejected)
        self.skipped_streams.extend(other.skipped_streams)
        self.outcomes.extend(other.outcomes)


@dataclass
class Part:
    """The records of one raw table inside a unit: the ones read, and the ones that could not be."""

    stream: str
    table: str
    staged: StagedRecords
    unreadable: list[Held] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.staged) + len(self.unreadable)


@dataclass(frozen=True)
class FileEntry:
    """A file being landed: recorded in `ops.file_loads` by its content hash, with the data rows
    read and the exact repeats among them ((row, the row it repeats), not in the unit's parts)."""

    content_hash: str
    path: Path
    rows_read: int = 0
    repeats: tuple[tuple[int, int], ...] = ()

    def repeats_text(self, limit: int = 10) -> str:
        """`3 exact repeats (row 5 = row 4, ...)` for the sync summary."""
        shown = ", ".join(f"row {r} = row {f}" for r, f in self.repeats[:limit])
        more = f", … {len(self.repeats) - limit} more" if len(self.repeats) > limit else ""
        return f"{self.path.name}: {len(self.repeats)} exact repeat(s) ({shown}{more})"


class RowsUnaccounted(RuntimeError):
    """A file's rows read are not its landed + quarantined + repeated rows: a bug that would
    lose records silently, so the file's transaction is rolled back and the sync stops."""


def check_accounted(unit: Unit, landed: int, held: int) -> None:
    """Nothing lost: every data row read is in raw (landed now or already), in quarantine, or
    a reported repeat."""
    if unit.file is None:
        return
    entry = unit.file
    if landed + held + len(entry.repeats) != entry.rows_read:
        raise RowsUnaccounted(
            f"{entry.path.name}: {entry.rows_read} rows read but {landed} landed + {held} "
            f"quarantined + {len(entry.repeats)} repeats"
        )


@dataclass
class Unit:
    """What commits together. `cursor` is the source's own cursor after this unit (API pages;
    None while the source says the cursor must not move yet, e.g. an unordered listing before
    its last page); `cursor_from_landed` makes the newest landed record's time the cursor (files,
    whose rows carry their times but no paging cursor). Either way the cursor never passes the
    newest record that landed (see `next_cursor`)."""

    channel: str
    cursor_stream: str
    load_id: str
    parts: list[Part]
    cursor: str | None = None
    cursor_from_landed: bool = False
    file: FileEntry | None = None

    @property
    def total(self) -> int:
        return sum(p.total for p in self.parts)

    def quarantine_load_id(self, part: Part) -> str:
        """A file's quarantine rows carry its content hash (as its raw rows do); a page batch's
        carry the batch id and the stream, since one batch may hold several streams."""
        return self.load_id if self.file is not None else f"{self.load_id}:{part.stream}"


def redacted(staged: StagedRecords) -> StagedRecords:
    """The records with every known credential and everything shaped like one replaced in
    their payload text (`connectors.http.redact`), vectorised: a payload that quotes a token
    (an API echoing it, a note pasted by a user) must not put it into the warehouse."""
    if not len(staged):
        return staged
    col = staged.table.column("_payload")
    secrets = sorted(known_secrets(), key=len, reverse=True)
    # One scan says whether anything needs replacing: every known credential (as a literal) and
    # the shapes in one RE2 alternation. Measured on 10,000 Shopify orders (25 MB of text): one
    # scan 0.05 s, the same as a single substring search, where a search per credential and per
    # shape prefix took 0.34 s ("ck_" occurs in every order: "restock_type"). Replacing copies
    # the whole column, so it is done only when a payload holds one.
    probe = "|".join([*(re.escape(s) for s in secrets), SECRET_SHAPES.pattern])
    if not pc.any(pc.match_substring_regex(col, probe)).as_py():
        return staged
    for secret in secrets:
        if pc.any(pc.match_substring(col, secret)).as_py():
            col = pc.replace_substring(col, secret, REDACTED)
    if pc.any(pc.match_substring_regex(col, SECRET_SHAPES.pattern)).as_py():
        col = pc.replace_substring_regex(col, SECRET_SHAPES.pattern, REDACTED)
    return StagedRecords(staged.table.set_column(2, "_payload", col))


def known_skus(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """Every SKU the catalogue (Shopify variants) or a supplier's terms name."""
    rows = con.execute(
        """select distinct unnest(json_extract_string(_payload, '$.variants[*].sku'))
           from raw.shop__products
           union select distinct _payload->>'sku' from raw.files__supplier_terms"""
    ).fetchall()
    return frozenset(r[0] for r in rows if r[0])


def suggested_keys(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """ "sku<US>location_id" of every purchase-order suggestion any plan made."""
    have = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'planning' "
        "and table_name = 'po_suggestions'"
    ).fetchall()[0][0]
    if not have:
        return frozenset()
    rows = con.execute(
        "select distinct sku || chr(31) || location_id from planning.po_suggestions"
    ).fetchall()
    return frozenset(r[0] for r in rows if r[0])


def gate_context(con: duckdb.DuckDBPyConnection, cfg: Config) -> GateContext:
    """What every landing is judged against, whatever the source: built here and only here."""
    return GateContext(
        tuple(sorted(cfg.currencies)),
        tuple(sorted(loc.id for loc in cfg.locations)),
        known_skus(con),
        cfg.quality.max_bad_share,
        cfg.quality.future_tolerance_hours,
        location_aliases=tuple(
            sorted((ch, ext) for loc in cfg.locations for ch, ext in loc.external_ids.items())
        ),
        suggested=suggested_keys(con),
        max_units=cfg.quality.max_units,
        max_stock=cfg.quality.max_stock,
    )


def judge(units: list[Unit], ctx: GateContext | None) -> list[list[GateResult]]:
    """The gate's verdict on every part of every unit (None: no gate, everything read lands;
    only `make bench` measures that). One validation per raw table over all the units."""
    verdicts: list[list[GateResult | None]] = [[None] * len(u.parts) for u in units]
    by_table: dict[str, list[tuple[int, int]]] = {}
    for i, unit in enumerate(units):
        for j, part in enumerate(unit.parts):
            by_table.setdefault(part.table, []).append((i, j))
    for table, where in by_table.items():
        parts = [units[i].parts[j] for i, j in where]
        if ctx is None:
            results = [GateResult(p.staged, []) for p in parts]
        else:
            results = gate_groups(
                table, [p.staged for p in parts], ctx, [len(p.unreadable) for p in parts]
            )
            for part, result in zip(parts, results, strict=True):
                _refuse_if_mostly_unreadable(part, result, ctx.max_bad_share)
        for (i, j), result in zip(where, results, strict=True):
            verdicts[i][j] = result
    return [[v for v in row if v is not None] for row in verdicts]


def _refuse_if_mostly_unreadable(part: Part, verdict: GateResult, max_bad_share: float) -> None:
    """The gate counts unreadable records towards a part's bad share only when it judged some
    records; a part that is mostly or only unreadable is refused here by the same rule."""
    if verdict.refused is not None or not part.unreadable:
        return
    n_bad = len(verdict.bad) + len(part.unreadable)
    if n_bad / max(part.total, 1) > max_bad_share:
        verdict.refused = PageRejected(
            f"{n_bad} of {part.total} rows unreadable or invalid (more than {max_bad_share:.0%}; "
            f"first: {part.unreadable[0][1]}); nothing landed from it"
        )
        verdict.good = verdict.good.take([])


def _held_whole(part: Part, reason: str) -> list[Held]:
    """Every record of a refused part, held with the refusal (unreadable ones keep their own)."""
    texts = part.staged.payload_texts()
    return [
        (sid, f"page refused: {reason}", text)
        for sid, text in zip(part.staged.source_ids(), texts, strict=True)
    ] + part.unreadable


def record_file(
    con: duckdb.DuckDBPyConnection,
    unit: Unit,
    status: str,
    reason: str | None,
    landed: int,
    quarantined: int,
) -> None:
    assert unit.file is not None
    entry = unit.file
    con.execute(
        """insert or replace into ops.file_loads (content_hash, path, channel, stream, status,
               reason, rows_landed, rows_quarantined, loaded_at, rows_read, rows_repeated,
               repeats)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [entry.content_hash, str(entry.path), unit.channel, unit.cursor_stream, status, reason,
         landed, quarantined, datetime.now(UTC), entry.rows_read, len(entry.repeats),
         json.dumps([list(r) for r in entry.repeats]) if entry.repeats else None],
    )  # fmt: skip


def commit(
    con: duckdb.DuckDBPyConnection,
    unit: Unit,
    verdicts: list[GateResult],
    report: SyncReport,
    cursor_limit: datetime | None = None,
) -> str | None:
    """Land a judged unit in one transaction; when it is refused instead, return why.

    A file is refused whole when one of its parts is (it moves to `rejected/`). A page batch
    keeps going: a refused part's records are all quarantined with the refusal as their reason
    and the cursor still advances, because the records are kept and re-reading the same pages
    would only refuse them again."""
    refusals = [v.refused for v in verdicts if v.refused is not None]
    if unit.file is not None and refusals:
        return refuse(con, unit, str(refusals[0]), report)
    landed_by_table: dict[str, int] = {}
    n_landed = n_held = n_good = 0
    with transaction(con):
        for part, verdict in zip(unit.parts, verdicts, strict=True):
            if verdict.refused is not None:
                held = _held_whole(part, str(verdict.refused))
                good = verdict.good.take([])
            else:
                held, good = verdict.bad + part.unreadable, verdict.good
            held = [(sid, reason, redact(text)) for sid, reason, text in held]
            landed = land_staged(con, part.table, redacted(good), unit.load_id)
            n_held += quarantine(
                con, unit.quarantine_load_id(part), unit.channel, part.stream, held
            )
            landed_by_table[part.table] = landed_by_table.get(part.table, 0) + landed
            n_landed += landed
            n_good += len(good)
        check_accounted(unit, n_good, n_held)
        if unit.file is not None:
            record_file(con, unit, "landed", None, n_landed, n_held)
        cursor = next_cursor(unit, verdicts, cursor_limit)
        advance_cursor(con, unit.channel, unit.cursor_stream, cursor)
    for part, verdict in zip(unit.parts, verdicts, strict=True):
        if verdict.refused is not None:
            report.rejected.append(f"{part.table} page {unit.load_id}: {verdict.refused}")
        report.outcomes.extend(verdict.outcomes)
    for table, n in landed_by_table.items():
        report.by_table[table] = report.by_table.get(table, 0) + n
    report.rows_landed += n_landed
    report.rows_quarantined += n_held
    _report_repeats(unit, report)
    if unit.file is not None:
        report.files_landed += 1
    else:
        report.pages_landed += 1
    return None


def cursor_limit(cfg: Config, now: datetime | None = None) -> datetime:
    """No cursor moves beyond now plus the future tolerance, whatever a source reports."""
    return (now or datetime.now(UTC)) + timedelta(hours=cfg.quality.future_tolerance_hours)


def next_cursor(
    unit: Unit, verdicts: list[GateResult], limit: datetime | None = None
) -> str | None:
    """Where the unit's stream cursor may move (None: it stays), by the rule of
    docs/channels.md: to the greatest updated time among the records of the cursor's stream that
    *landed* (passed the gate), never beyond what the source reports for the unit, never beyond
    `limit` (now plus the tolerance). A record held back (future-dated, unreadable, invalid) never
    moves it, so a record the clock or a typo put in the future cannot make later ones be
    skipped, and one quarantined as "future" because our clock was behind is read again.
    A unit holding no record of its stream (an empty last page that closes a listing) moves it
    to the source's cursor, capped at `limit`."""
    if unit.cursor is None and not unit.cursor_from_landed:
        return None
    held = landed = False
    newest: datetime | None = None
    for part, verdict in zip(unit.parts, verdicts, strict=True):
        if part.stream != unit.cursor_stream:
            continue
        held = held or part.total > 0
        t = verdict.good.max_updated_at()
        if len(verdict.good):
            landed = True
        if t is not None and (newest is None or t > newest):
            newest = t
    bounds: list[datetime] = []
    if unit.cursor is not None and not unit.cursor_from_landed:
        bounds.append(datetime.fromisoformat(unit.cursor))
    if held or unit.cursor_from_landed:
        if not landed or newest is None:
            return None
        bounds.append(newest)
    if limit is not None:
        bounds.append(limit)
    return min(bounds).astimezone(UTC).isoformat() if bounds else None


def _report_repeats(unit: Unit, report: SyncReport) -> None:
    if unit.file is not None and unit.file.repeats:
        report.rows_repeated += len(unit.file.repeats)
        report.repeats.append(unit.file.repeats_text())


def refuse(con: duckdb.DuckDBPyConnection, unit: Unit, reason: str, report: SyncReport) -> str:
    """Quarantine every record of a unit with `reason` (nothing of it lands, the cursor stays),
    and for a file record it as rejected, in one transaction; return the reason as reported."""
    label = f"{unit.file.path.name}: {reason}" if unit.file is not None else reason
    n_held = 0
    with transaction(con):
        for part in unit.parts:
            held = [(sid, why, redact(text)) for sid, why, text in _held_whole(part, reason)]
            n_held += quarantine(
                con, unit.quarantine_load_id(part), unit.channel, part.stream, held
            )
        check_accounted(unit, 0, n_held)
        if unit.file is not None:
            record_file(con, unit, "rejected", label, 0, n_held)
    report.rows_quarantined += n_held
    _report_repeats(unit, report)
    if unit.file is not None:
        report.files_rejected += 1
    report.rejected.append(label)
    return label


class FileRefusedWhole(Exception):
    """A file landed slice by slice turned out to have too many bad records: the caller undoes
    what its slices landed and refuses the file (`SlicedFile.finish` raises it)."""


class SlicedFile:
    """A large file landed slice by slice (about 10,000 records each, one transaction each), so
    memory stays bounded by a slice whatever the file's size: DuckDB keeps what a transaction
    has written in memory until it commits (about twice the text), so one transaction for a
    200 MB file would hold some 400 MB.

    A crash between slices leaves the landed slices in raw without the file's `ops.file_loads`
    row or its cursor (written by `finish`, last): the next run reads the file again and lands
    nothing twice (raw keeps one row per id and payload hash; quarantine holds a record once).
    Raw is not published, so readers never see half a file.

    Each slice goes through the same gate as any unit; the bad-share refusal is the whole
    file's, taken at the end (`finish` raises `FileRefusedWhole`; `undo` then takes the landed
    slices out again and the caller refuses the file). What the whole-file gate sees at once
    and a slice cannot is handled here: two different payloads for one version (id and updated
    time) in different slices are both held as conflicting (the copy already landed by this
    file is taken out of raw)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        channel: str,
        stream: str,
        table: str,
        digest: str,
        ctx: GateContext | None,
    ) -> None:
        self.con, self.channel, self.stream, self.table = con, channel, stream, table
        self.digest = digest
        self.max_bad_share = ctx.max_bad_share if ctx is not None else 1.0
        # Slices are never refused on their own: the share is the whole file's.
        self.ctx = dataclasses.replace(ctx, max_bad_share=1.0) if ctx is not None else None
        self.judged = self.bad = self.good = self.held = self.landed = 0
        self.first_bad: str | None = None
        self.versions: dict[tuple[str | None, str], bool] = {}  # version -> landed by this file
        self.newest: datetime | None = None
        self.outcomes: dict[tuple[str, str], dict] = {}

    def land(self, staged: StagedRecords, unreadable: list[Held] | None = None) -> None:
        """Gate one slice and land it (its good records, its held ones) in one transaction."""
        part = Part(self.stream, self.table, staged, list(unreadable or []))
        unit = Unit(self.channel, self.stream, self.digest, [part], cursor_from_landed=True)
        verdict = judge([unit], self.ctx)[0][0]
        for out in verdict.outcomes:
            key = (out["suite"], out["expectation"])
            agg = self.outcomes.setdefault(key, {**out, "unexpected_count": 0, "success": True})
            agg["unexpected_count"] += out["unexpected_count"]
            agg["success"] = agg["success"] and out["success"]
        with transaction(self.con):
            good, held = self._conflicts(staged, verdict.good, list(verdict.bad) + part.unreadable)
            self.landed += land_staged(self.con, self.table, redacted(good), self.digest)
            self.held += quarantine(
                self.con, self.digest, self.channel, self.stream,
                [(sid, reason, redact(text)) for sid, reason, text in held], first=self.held,
            )  # fmt: skip
        self.judged += len(staged) + len(part.unreadable)
        self.bad += len(held)
        self.good += len(good)
        if held and self.first_bad is None:
            self.first_bad = str(held[0][1])
        t = good.max_updated_at()
        if t is not None and (self.newest is None or t > self.newest):
            self.newest = t

    def _conflicts(
        self, staged: StagedRecords, good: StagedRecords, held: list[Held]
    ) -> tuple[StagedRecords, list[Held]]:
        """Versions seen in an earlier slice with another payload (exact repeats never get
        here: the reader removes them) are held, with the earlier copy."""
        keys = list(zip(staged.source_ids(), _times(staged), strict=True))
        good_keys = list(zip(good.source_ids(), _times(good), strict=True))
        clash = {k for k in keys if k in self.versions}
        landed_keys = set(good_keys)
        for key in keys:
            self.versions.setdefault(key, key in landed_keys)
        if not clash:
            return good, held
        keep = [i for i, key in enumerate(good_keys) if key not in clash]
        kept = set(keep)
        texts, ids = good.payload_texts(), good.source_ids()
        held = held + [(ids[i], UNIQUE, texts[i]) for i in range(len(good)) if i not in kept]
        for sid, when in sorted(clash, key=str):
            if not self.versions.get((sid, when)):
                continue  # held already, or in raw from an earlier load (it stays there)
            self.versions[(sid, when)] = False
            rows = self.con.execute(
                f"""delete from raw.{self.table}
                    where _load_id = ? and _source_id = ?
                      and _source_updated_at is not distinct from ?::timestamptz
                    returning _payload::varchar""",
                [self.digest, sid, when or None],
            ).fetchall()
            for (text,) in rows:
                held.append((sid, UNIQUE, text))
                self.good -= 1
                self.landed -= 1
                self.bad += 1
        return good.take(keep), held

    def finish(self, entry: FileEntry, report: SyncReport, limit: datetime | None) -> None:
        """The whole file's share of bad records, the accounting, its `ops.file_loads` row and
        the cursor, in one transaction; raises `FileRefusedWhole` when too many were bad."""
        if self.judged and self.bad > self.max_bad_share * self.judged:
            raise FileRefusedWhole(
                f"{self.bad} of {self.judged} records failed the landing checks or could not be "
                f"read (more than {self.max_bad_share:.0%}; first: {self.first_bad}); nothing "
                "landed from this page"
            )
        unit = Unit(self.channel, self.stream, self.digest, [], cursor_from_landed=True,
                    file=entry)  # fmt: skip
        with transaction(self.con):
            check_accounted(unit, self.good, self.held)
            record_file(self.con, unit, "landed", None, self.landed, self.held)
            if self.good and self.newest is not None:
                bounds = [self.newest] + ([limit] if limit is not None else [])
                advance_cursor(self.con, self.channel, self.stream,
                               min(bounds).astimezone(UTC).isoformat())  # fmt: skip
        report.outcomes.extend(self.outcomes.values())
        report.by_table[self.table] = report.by_table.get(self.table, 0) + self.landed
        report.rows_landed += self.landed
        report.rows_quarantined += self.held
        _report_repeats(unit, report)
        report.files_landed += 1

    def undo(self) -> None:
        """Take out what this file's slices landed and held (a refusal, or a file that changed
        while it was read), in one transaction."""
        with transaction(self.con):
            self.con.execute(f"delete from raw.{self.table} where _load_id = ?", [self.digest])
            self.con.execute("delete from ops.quarantine where load_id = ?", [self.digest])


def _times(staged: StagedRecords) -> list[str]:
    return [
        t.isoformat() if t is not None else ""
        for t in staged.table.column("_source_updated_at").to_pylist()
    ]
