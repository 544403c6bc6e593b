"""Land dropped files into `raw`: find, read and move them; `flows.landing` lands them.

Order of events per file, chosen so a crash anywhere loses and duplicates nothing:
1. read and parse (a file that cannot be read at all is refused with a reason);
2. the landing gate splits good records from bad ones (bad ones are quarantined, never dropped);
   the pending files of a stream are judged together (`flows.landing.judge`);
3. one transaction (`flows.landing.commit`) appends the new record versions, the quarantined
   rows, the file's entry in `ops.file_loads` (keyed by content hash) and the stream's cursor;
4. only then is the file moved to `processed/` (or `rejected/`). A crash between 3 and 4 leaves the
   file in the inbox; the next run sees its hash is already landed and just moves it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from connectors import registry
from connectors.files.inbox import UnsafePath, move_handled, pending_files
from connectors.files.reader import FileRejected, file_hash, read_file
from connectors.http import redact
from connectors.records import StreamSpec
from connectors.till_export.mapping import ExportRules
from flows.config import Config
from flows.landing import (
    DUCKDB_MEMORY_LIMIT,
    FileEntry,
    FileRefusedWhole,
    Part,
    SlicedFile,
    SyncReport,
    Unit,
    check_accounted,
    commit,
    cursor_limit,
    gate_context,
    judge,
    record_file,
    refuse,
)
from flows.staged import StagedRecords, concat, empty, stage
from flows.warehouse import connection, init_warehouse, quarantine, transaction


@dataclass
class Source:
    """One stream and the folder its files arrive in."""

    spec: StreamSpec
    folder: str
    mapping: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    rules: ExportRules | None = None  # a till export's reading rules


def sources(cfg: Config, only_channel: str | None = None) -> list[Source]:
    """The streams to sync, from the configured channels and the reference files."""
    out: list[Source] = []
    for ch in cfg.channels:
        if not ch.enabled or (only_channel and ch.name != only_channel):
            continue
        if getattr(ch, "source", "files") != "files":
            continue  # API channels land through flows/api_sync.py
        assert ch.path is not None  # the config requires a folder for `source: files`
        kind = registry.by_kind(ch.kind)
        streams = kind.streams
        for stream in streams:
            spec = registry.file_stream(ch.name, stream)
            if kind.mapping_fields:  # a table export read through the channel's column mapping
                extra = {"timezone": ch.timezone or "UTC"}
                out.append(Source(spec, ch.path, dict(ch.mapping), extra, ch.export_rules()))
            elif len(streams) == 1:
                out.append(Source(spec, ch.path))
            else:
                out.append(Source(spec, f"{ch.path}/{stream}"))
    if only_channel in (None, "files"):
        for stream in registry.REFERENCE.streams:
            out.append(Source(registry.file_stream("files", stream), getattr(cfg.files, stream)))
    return out


def _already_landed(con: duckdb.DuckDBPyConnection, digest: str) -> bool:
    rows = con.execute(
        "select 1 from ops.file_loads where content_hash = ? and status = 'landed'", [digest]
    ).fetchall()
    return bool(rows)


# Files of one stream judged in one GX validation, up to this many records (GX costs ~0.1 s per
# validation however small, and a drop folder often holds hundreds of small files).
GATE_CHUNK_RECORDS = 200_000

# A JSON Lines file larger than this lands slice by slice (`flows.landing.SlicedFile`) in its one
# transaction, so memory is bounded by a slice instead of growing with the file (a file held
# whole takes about 2.2x its size on top of the process's ~0.6 GB). Below it, files of a stream
# are judged together, which is faster for the many small files of a drop folder.
SLICED_FILE_BYTES = 32 * 2**20
SLICE_RECORDS = 10_000  # records per slice of such a file


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
        # As the API sync: DuckDB's buffer pool would otherwise grow with the file it gates and
        # the table it dedups against (it spills to disk beyond this).
        con.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        init_warehouse(con, cfg)
        ordered = sorted(
            sources(cfg, only_channel), key=lambda s: registry.landing_order(s.spec.table)
        )
        for src in ordered:
            try:
                files, refused = pending_files(root, src.folder, cfg.files.settle_seconds)
            except UnsafePath as exc:
                report.rejected.append(str(exc))
                report.files_rejected += 1
                continue
            for link, reason in refused:  # moved aside with its reason; the rest still lands
                digest = f"link:{link.name}"
                spec = src.spec
                refuse(con, _unit(spec, link, digest, Part(spec.stream, spec.table, empty())),
                       reason, report)  # fmt: skip
                _move(root, link, digest, reason, report)
            chunk: list[Unit] = []
            for path in files:
                if on_file:
                    on_file(path)
                if _sliced(src, path):
                    _land_sliced(con, cfg, root, src, path, report, gate)
                    continue
                unit = _read_one(con, root, src, path, report)
                if unit is None:
                    continue
                chunk.append(unit)
                if sum(u.total for u in chunk) >= GATE_CHUNK_RECORDS:
                    _land_chunk(con, cfg, root, chunk, report, gate)
                    chunk = []
            if chunk:
                _land_chunk(con, cfg, root, chunk, report, gate)
    return report


def _unit(
    spec: StreamSpec,
    path: Path,
    digest: str,
    part: Part,
    rows_read: int | None = None,
    repeats: tuple[tuple[int, int], ...] = (),
) -> Unit:
    entry = FileEntry(digest, path, part.total + len(repeats) if rows_read is None else rows_read,
                      repeats)  # fmt: skip
    return Unit(spec.channel, spec.stream, digest, [part], cursor_from_landed=True, file=entry)


def _read_one(
    con: duckdb.DuckDBPyConnection, root: Path, src: Source, path: Path, report: SyncReport
) -> Unit | None:
    """Read and serialise one file into a landing unit; a file that cannot be read, or was
    landed before, is handled (recorded, moved) here and yields None."""
    spec = src.spec
    staged: list[StagedRecords] = []  # serialised as read: memory bounded by a batch, not the file
    try:
        batch = read_file(spec, path, src.mapping, src.extra, src.rules,
                          sink=lambda records: staged.append(stage(records)))  # fmt: skip
    except FileRejected as exc:
        _refuse_file(con, root, src, path, _hash_or_name(path), str(exc), report)
        return None
    if _already_landed(con, batch.content_hash):
        _move(root, path, batch.content_hash, None, report)
        report.files_skipped += 1
        return None
    unreadable = [(b.source_id, b.reason, b.text) for b in batch.bad]
    staged.append(stage(batch.records))
    part = Part(spec.stream, spec.table, concat(staged), unreadable)
    return _unit(spec, path, batch.content_hash, part, batch.rows_read, tuple(batch.repeats))


def _sliced(src: Source, path: Path) -> bool:
    try:
        return src.spec.fmt == "jsonl" and path.stat().st_size > SLICED_FILE_BYTES
    except OSError:
        return False  # gone: the ordinary path reports it


def _land_sliced(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    root: Path,
    src: Source,
    path: Path,
    report: SyncReport,
    gate_on: bool,
) -> None:
    """Land one large JSON Lines file slice by slice in one transaction (see `SlicedFile`); a
    file with too many bad records is rolled back and refused, its records quarantined with the
    refusal, again slice by slice."""
    spec = src.spec
    digest = _hash_or_name(path)
    if _already_landed(con, digest):
        _move(root, path, digest, None, report)
        report.files_skipped += 1
        return
    sliced = SlicedFile(con, spec.channel, spec.stream, spec.table, digest,
                        gate_context(con, cfg) if gate_on else None)  # fmt: skip
    try:
        batch = read_file(spec, path, sink=lambda records: sliced.land(stage(records)),
                          flush_every=SLICE_RECORDS)  # fmt: skip
        if batch.content_hash != digest:
            raise _ChangedWhileRead
        sliced.land(stage(batch.records), [(b.source_id, b.reason, b.text) for b in batch.bad])
        entry = FileEntry(digest, path, batch.rows_read, tuple(batch.repeats))
        sliced.finish(entry, report, cursor_limit(cfg))
    except FileRejected as exc:
        sliced.undo()
        _refuse_file(con, root, src, path, digest, str(exc), report)
        return
    except _ChangedWhileRead:
        sliced.undo()
        report.rejected.append(
            f"{path.name}: changed while it was being landed; left in the inbox, the next run "
            "lands it"
        )
        return
    except FileRefusedWhole as exc:
        sliced.undo()
        _refuse_sliced(con, root, src, path, digest, str(exc), report)
        return
    _after_landing(root, path, digest, None, report)


class _ChangedWhileRead(Exception):
    """The file's content hash changed between the check and the read (rolled back)."""


def _refuse_file(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    src: Source,
    path: Path,
    digest: str,
    reason: str,
    report: SyncReport,
) -> None:
    spec = src.spec
    refuse(con, _unit(spec, path, digest, Part(spec.stream, spec.table, empty())), reason, report)
    _move(root, path, digest, reason, report)


def _refuse_sliced(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    src: Source,
    path: Path,
    digest: str,
    reason: str,
    report: SyncReport,
) -> None:
    """A large file refused whole: every record held with the refusal (as `flows.landing.refuse`
    does for a file read whole), slice by slice, then its `ops.file_loads` row."""
    spec = src.spec
    label = f"{path.name}: {reason}"
    held = 0

    def hold(items: list[tuple[str | None, str, str]]) -> None:
        nonlocal held
        with transaction(con):  # a slice at a time, as it landed (memory, see SlicedFile)
            held += quarantine(con, digest, spec.channel, spec.stream, items, first=held)

    def hold_records(records: list) -> None:
        staged = stage(records)
        texts = [redact(t) for t in staged.payload_texts()]
        hold([(sid, f"page refused: {reason}", text)
              for sid, text in zip(staged.source_ids(), texts, strict=True)])  # fmt: skip

    batch = read_file(spec, path, sink=hold_records, flush_every=SLICE_RECORDS)
    hold_records(batch.records)
    hold([(b.source_id, b.reason, redact(b.text)) for b in batch.bad])
    entry = FileEntry(digest, path, batch.rows_read, tuple(batch.repeats))
    unit = Unit(spec.channel, spec.stream, digest, [], cursor_from_landed=True, file=entry)
    with transaction(con):
        check_accounted(unit, 0, held)
        record_file(con, unit, "rejected", label, 0, held)
    report.rows_quarantined += held
    if entry.repeats:
        report.rows_repeated += len(entry.repeats)
        report.repeats.append(entry.repeats_text())
    report.files_rejected += 1
    report.rejected.append(label)
    _move(root, path, digest, label, report)


def _land_chunk(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    root: Path,
    chunk: list[Unit],
    report: SyncReport,
    gate_on: bool,
) -> None:
    """Judge the chunk's files together, then land each file in its own transaction."""
    verdicts = judge(chunk, gate_context(con, cfg) if gate_on else None)
    for unit, verdict in zip(chunk, verdicts, strict=True):
        assert unit.file is not None
        digest, path = unit.file.content_hash, unit.file.path
        if _already_landed(con, digest):  # the same file twice in one chunk
            _move(root, path, digest, None, report)
            report.files_skipped += 1
            continue
        refused = commit(con, unit, verdict, report, cursor_limit(cfg))
        _after_landing(root, path, digest, refused, report)


def _after_landing(
    root: Path, path: Path, digest: str, refused: str | None, report: SyncReport
) -> None:
    """Move a landed (or refused) file, unless it changed or went while it was landed."""
    now_hash = _current_hash(path)
    if now_hash is None:
        report.rejected.append(
            f"{path.name}: gone from the inbox before it could be moved (renamed or removed "
            "while it was read); what was read is landed and recorded by its content hash"
        )
        return
    if now_hash != digest:
        # Written to while we landed it: what we read is landed; the file stays in the inbox
        # and the next run lands it again as a new file (its landed rows dedupe by hash).
        report.rejected.append(
            f"{path.name}: changed while it was being landed; left in the inbox, the next "
            "run lands the rest"
        )
        return
    _move(root, path, digest, refused, report)


def _move(root: Path, path: Path, digest: str, reason: str | None, report: SyncReport) -> None:
    """Move a handled file out of the inbox; a processed/ or rejected/ folder that leads out of
    the drop folder is reported (the file stays where it is) instead of written through."""
    try:
        move_handled(root, path, digest, reason)
    except UnsafePath as exc:
        report.rejected.append(f"{path.name}: not moved: {exc}")
    except FileNotFoundError:  # renamed or removed by someone else while we read it
        report.rejected.append(
            f"{path.name}: gone from the inbox before it could be moved (renamed or removed "
            "while it was read); what was read is recorded by its content hash"
        )


def _current_hash(path: Path) -> str | None:
    """The file's content hash now; None when it is no longer there."""
    try:
        return file_hash(path)
    except OSError:
        return None


def _hash_or_name(path: Path) -> str:
    return _current_hash(path) or "missing:" + path.name
