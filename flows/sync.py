"""Land dropped files into `raw`: read, gate, land and record each file in one transaction.

Order of events per file, chosen so a crash anywhere loses and duplicates nothing:
1. read and parse (a file that cannot be read at all is refused with a reason);
2. the landing gate splits good records from bad ones (bad ones are quarantined, never dropped);
3. one transaction appends the new record versions, the quarantined rows, the file's entry in
   `ops.file_loads` (keyed by content hash) and the stream's cursor in `ops.sync_state`;
4. only then is the file moved to `processed/` (or `rejected/`). A crash between 3 and 4 leaves the
   file in the inbox; the next run sees its hash is already landed and just moves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connectors.files.inbox import UnsafePath, move_handled, pending_files
from connectors.files.reader import FileRejected, read_file
from connectors.files.streams import STREAMS, StreamSpec
from flows.config import CHANNEL_STREAMS, REFERENCE_STREAMS, Config
from flows.quality import GateContext, GateResult, PageRejected, gate_groups
from flows.staged import StagedRecords, stage
from flows.warehouse import advance_cursor, connection, init_warehouse, land_staged, quarantine


@dataclass
class Source:
    """One stream and the folder its files arrive in."""

    spec: StreamSpec
    folder: str
    mapping: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class SyncReport:
    files_landed: int = 0
    files_skipped: int = 0
    files_rejected: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    by_table: dict[str, int] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)


def sources(cfg: Config, only_channel: str | None = None) -> list[Source]:
    """The streams to sync, from the configured channels and the reference files."""
    out: list[Source] = []
    for ch in cfg.channels:
        if not ch.enabled or (only_channel and ch.name != only_channel):
            continue
        if getattr(ch, "source", "files") != "files":
            continue  # API channels land through flows/api_sync.py
        streams = CHANNEL_STREAMS[ch.kind]
        for stream in streams:
            spec = STREAMS[(ch.name, stream)]
            if ch.kind == "till_export":
                extra = {"timezone": ch.timezone or "UTC"}
                out.append(Source(spec, ch.path, dict(ch.mapping), extra))
            elif len(streams) == 1:
                out.append(Source(spec, ch.path))
            else:
                out.append(Source(spec, f"{ch.path}/{stream}"))
    if only_channel in (None, "files"):
        for stream in REFERENCE_STREAMS:
            out.append(Source(STREAMS[("files", stream)], getattr(cfg.files, stream)))
    return out


# Catalogue streams land first, so the orders of the same run can be checked against their SKUs.
CATALOGUE_FIRST = {"shop__products": 0, "files__supplier_terms": 1}


def known_skus(con) -> frozenset[str]:
    """Every SKU the catalogue (Shopify variants) or a supplier's terms name."""
    rows = con.execute(
        """select distinct unnest(json_extract_string(_payload, '$.variants[*].sku')) from raw.shop__products
           union select distinct _payload->>'sku' from raw.files__supplier_terms"""
    ).fetchall()
    return frozenset(r[0] for r in rows if r[0])


def _already_landed(con, digest: str) -> bool:
    rows = con.execute(
        "select 1 from ops.file_loads where content_hash = ? and status = 'landed'", [digest]
    ).fetchall()
    return bool(rows)


def _record_file(con, digest, path, spec, status, reason, landed, quarantined) -> None:
    con.execute(
        "insert or replace into ops.file_loads values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            digest,
            str(path),
            spec.channel,
            spec.stream,
            status,
            reason,
            landed,
            quarantined,
            datetime.now(UTC),
        ],
    )


# Files of one stream judged in one GX validation, up to this many records (GX costs ~0.1 s per
# validation however small, and a drop folder often holds hundreds of small files).
GATE_CHUNK_RECORDS = 200_000


@dataclass
class _ReadFile:
    """A file read and serialised, waiting for its stream's gate."""

    path: Path
    content_hash: str
    staged: StagedRecords
    unreadable: list[tuple[str | None, str, str]]  # rows the reader could not parse

    @property
    def total(self) -> int:
        return len(self.staged) + len(self.unreadable)


def sync_files(
    cfg: Config,
    only_channel: str | None = None,
    on_file: Callable[[Path], None] | None = None,
    gate: bool = True,
) -> SyncReport:
    """Land every pending file of every configured stream; return what happened.

    `gate=False` skips the landing checks; it exists only so `make bench` can measure what the
    checks cost."""
    root = Path(cfg.files.drop_dir)
    report = SyncReport()
    with connection(cfg.warehouse) as con:
        init_warehouse(con, cfg)
        ordered = sorted(
            sources(cfg, only_channel), key=lambda s: CATALOGUE_FIRST.get(s.spec.table, 9)
        )
        for src in ordered:
            try:
                files = pending_files(root, src.folder)
            except UnsafePath as exc:
                report.rejected.append(str(exc))
                report.files_rejected += 1
                continue
            chunk: list[_ReadFile] = []
            for path in files:
                if on_file:
                    on_file(path)
                read = _read_one(con, root, src, path, report)
                if read is None:
                    continue
                chunk.append(read)
                if sum(f.total for f in chunk) >= GATE_CHUNK_RECORDS:
                    _land_chunk(con, cfg, root, src, chunk, report, gate)
                    chunk = []
            if chunk:
                _land_chunk(con, cfg, root, src, chunk, report, gate)
    return report


def _read_one(con, root: Path, src: Source, path: Path, report: SyncReport) -> _ReadFile | None:
    """Read and serialise one file; a file that cannot be read, or was landed before, is handled
    (moved, recorded) here and yields None."""
    spec = src.spec
    try:
        batch = read_file(spec, path, src.mapping, src.extra)
    except FileRejected as exc:
        digest = _hash_or_name(path)
        _record_file(con, digest, path, spec, "rejected", str(exc), 0, 0)
        move_handled(root, path, digest, str(exc))
        report.files_rejected += 1
        report.rejected.append(f"{path.name}: {exc}")
        return None
    if _already_landed(con, batch.content_hash):
        move_handled(root, path, batch.content_hash)
        report.files_skipped += 1
        return None
    unreadable = [(b.source_id, b.reason, b.text) for b in batch.bad]
    return _ReadFile(path, batch.content_hash, stage(batch.records), unreadable)


def _land_chunk(
    con, cfg: Config, root: Path, src: Source, chunk: list[_ReadFile], report, gate_on: bool
) -> None:
    """Judge the chunk's files together, then land each file in its own transaction."""
    spec = src.spec
    if gate_on:
        ctx = GateContext(
            tuple(sorted(cfg.currencies)),
            tuple(sorted(loc.id for loc in cfg.locations)),
            known_skus(con),
            cfg.quality.max_bad_share,
            cfg.quality.future_tolerance_hours,
        )
        verdicts = gate_groups(
            spec.table, [f.staged for f in chunk], ctx, [len(f.unreadable) for f in chunk]
        )
    else:
        verdicts = [GateResult(f.staged, []) for f in chunk]
    for read, verdict in zip(chunk, verdicts, strict=True):
        if _already_landed(con, read.content_hash):  # the same file twice in one chunk
            move_handled(root, read.path, read.content_hash)
            report.files_skipped += 1
            continue
        if verdict.refused is None and read.unreadable:
            share = (len(verdict.bad) + len(read.unreadable)) / max(read.total, 1)
            if share > cfg.quality.max_bad_share:
                verdict.refused = PageRejected(
                    f"{len(verdict.bad) + len(read.unreadable)} of {read.total} rows unreadable or "
                    f"invalid (more than {cfg.quality.max_bad_share:.0%}; first: "
                    f"{read.unreadable[0][1]}); nothing landed from this file"
                )
        if verdict.refused is not None:
            _refuse_file(con, root, spec, read, verdict.refused, report)
            continue
        _land_file(con, root, spec, read, verdict, report)


def _refuse_file(con, root: Path, spec: StreamSpec, read: _ReadFile, exc, report) -> None:
    reason = f"{read.path.name}: {exc}"
    held = [
        (sid, f"page refused: {exc}", text)
        for sid, text in zip(read.staged.source_ids(), read.staged.payload_texts(), strict=True)
    ]
    con.execute("begin")
    try:
        _record_file(con, read.content_hash, read.path, spec, "rejected", reason, 0, 0)
        quarantine(con, read.content_hash, spec.channel, spec.stream, held + read.unreadable)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    move_handled(root, read.path, read.content_hash, reason)
    report.files_rejected += 1
    report.rejected.append(reason)


def _land_file(con, root: Path, spec: StreamSpec, read: _ReadFile, verdict, report) -> None:
    bad = verdict.bad + read.unreadable
    con.execute("begin")
    try:
        landed = land_staged(con, spec.table, verdict.good, read.content_hash)
        n_bad = quarantine(con, read.content_hash, spec.channel, spec.stream, bad)
        _record_file(con, read.content_hash, read.path, spec, "landed", None, landed, n_bad)
        cursor = verdict.good.max_updated_at()
        advance_cursor(con, spec.channel, spec.stream, cursor.isoformat() if cursor else None)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    move_handled(root, read.path, read.content_hash)
    report.files_landed += 1
    report.rows_landed += landed
    report.rows_quarantined += n_bad
    report.by_table[spec.table] = report.by_table.get(spec.table, 0) + landed
    report.outcomes.extend(verdict.outcomes)


def _hash_or_name(path: Path) -> str:
    from connectors.files.reader import content_hash

    try:
        return content_hash(path.read_bytes())
    except OSError:
        return "missing:" + path.name
