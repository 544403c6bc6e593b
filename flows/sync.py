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

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connectors.files.inbox import UnsafePath, move_handled, pending_files
from connectors.files.reader import FileRejected, read_file
from connectors.files.streams import STREAMS, StreamSpec
from flows.config import CHANNEL_STREAMS, REFERENCE_STREAMS, Config
from flows.quality import GateResult, PageRejected, gate_records
from flows.warehouse import connection, init_warehouse, land_records, quarantine


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
            for path in files:
                if on_file:
                    on_file(path)
                _sync_one(con, cfg, root, src, path, report, gate)
    return report


def _sync_one(
    con, cfg: Config, root: Path, src: Source, path: Path, report: SyncReport, gate_on: bool = True
) -> None:
    spec = src.spec
    try:
        batch = read_file(spec, path, src.mapping, src.extra)
    except FileRejected as exc:
        digest = _hash_or_name(path)
        _record_file(con, digest, path, spec, "rejected", str(exc), 0, 0)
        move_handled(root, path, digest, str(exc))
        report.files_rejected += 1
        report.rejected.append(f"{path.name}: {exc}")
        return
    if _already_landed(con, batch.content_hash):
        move_handled(root, path, batch.content_hash)
        report.files_skipped += 1
        return
    try:
        gate = (
            gate_records(
                spec.table,
                batch.records,
                cfg.currencies,
                cfg.quality.max_bad_share,
                cfg.quality.future_tolerance_hours,
                locations=[loc.id for loc in cfg.locations],
                known_skus=known_skus(con),
            )
            if gate_on
            else GateResult(batch.records, [])
        )
        bad_share = (len(gate.bad) + len(batch.bad)) / max(batch.total, 1)
        if batch.bad and bad_share > cfg.quality.max_bad_share:
            raise PageRejected(
                f"{len(gate.bad) + len(batch.bad)} of {batch.total} rows unreadable or invalid "
                f"(more than {cfg.quality.max_bad_share:.0%}; first: {batch.bad[0].reason}); "
                "nothing landed from this file"
            )
    except PageRejected as exc:
        reason = f"{path.name}: {exc}"
        con.execute("begin")
        _record_file(con, batch.content_hash, path, spec, "rejected", reason, 0, 0)
        quarantine(
            con,
            batch.content_hash,
            spec.channel,
            spec.stream,
            [
                (r.source_id, f"page refused: {exc}", json.dumps(r.payload, sort_keys=True))
                for r in batch.records
            ]
            + [(b.source_id, b.reason, b.text) for b in batch.bad],
        )
        con.execute("commit")
        move_handled(root, path, batch.content_hash, reason)
        report.files_rejected += 1
        report.rejected.append(reason)
        return
    bad = gate.bad + [(b.source_id, b.reason, b.text) for b in batch.bad]
    con.execute("begin")
    try:
        landed = land_records(con, spec.table, gate.good, batch.content_hash)
        n_bad = quarantine(con, batch.content_hash, spec.channel, spec.stream, bad)
        _record_file(con, batch.content_hash, path, spec, "landed", None, landed, n_bad)
        cursor = max((r.source_updated_at for r in gate.good if r.source_updated_at), default=None)
        con.execute(
            """insert into ops.sync_state values (?, ?, ?, ?)
               on conflict (channel, stream) do update set
                 cursor = nullif(greatest(coalesce(sync_state.cursor, ''), coalesce(excluded.cursor, '')), ''),
                 last_success_at = excluded.last_success_at""",
            [spec.channel, spec.stream, cursor.isoformat() if cursor else None, datetime.now(UTC)],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    move_handled(root, path, batch.content_hash)
    report.files_landed += 1
    report.rows_landed += landed
    report.rows_quarantined += n_bad
    report.by_table[spec.table] = report.by_table.get(spec.table, 0) + landed
    report.outcomes.extend(gate.outcomes)


def _hash_or_name(path: Path) -> str:
    from connectors.files.reader import content_hash

    try:
        return content_hash(path.read_bytes())
    except OSError:
        return "missing:" + path.name
