"""`oms quarantine`: see what the landing gate held back, and release a record once it is fixed
at the source or accepted as it is.

Releasing re-lands the record's payload exactly as it was received, through the same append-only
path as a sync (a version lands once per payload hash), and stamps `released_at`, so the history
of what was held back and why is never lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.files.streams import STREAMS, RecordError
from connectors.records import RawRecord
from flows.config import Config
from flows.warehouse import connection, land_records, publish, reader_connection, writer_lock


class ReleaseError(ValueError):
    """The record cannot be released as it is; the message says why and what to do."""


@dataclass(frozen=True)
class QuarantinedRecord:
    quarantine_id: str
    channel: str
    stream: str
    source_id: str | None
    reason: str
    quarantined_at: datetime
    released_at: datetime | None
    payload: str
    details: str | None = None  # the record's own row or value (the reason is the rule)


def list_quarantine(
    cfg: Config, channel: str | None = None, include_released: bool = False, limit: int = 50
) -> list[QuarantinedRecord]:
    where = ["(? is null or channel = ?)"]
    if not include_released:
        where.append("released_at is null")
    with reader_connection(cfg) as (con, _):  # the published copy: works while a run writes
        rows = con.execute(
            f"""select quarantine_id, channel, stream, source_id, reason, quarantined_at,
                       released_at, payload, details
                from ops.quarantine where {" and ".join(where)}
                order by quarantined_at desc, quarantine_id limit ?""",
            [channel, channel, limit],
        ).fetchall()
    return [QuarantinedRecord(*r) for r in rows]


def release(cfg: Config, quarantine_id: str) -> int:
    """Re-land one quarantined record as received; return 1 if a new version landed, else 0.
    The published copy is refreshed after it, so `oms quarantine` no longer lists it."""
    with writer_lock(cfg.warehouse, cfg.lock_timeout_seconds):
        landed = _release(cfg, quarantine_id)
        publish(cfg.warehouse, cfg.published_path(), f"release:{quarantine_id}")
    return landed


@dataclass
class ReleaseReport:
    """What a bulk release did: ids released (with whether a new version landed) and the ids
    that could not be released, with why (they stay held)."""

    released: list[tuple[str, int]]
    refused: list[tuple[str, str]]

    @property
    def landed(self) -> int:
        return sum(n for _, n in self.released)


def matching_ids(
    cfg: Config, reason: str | None = None, file: str | None = None, channel: str | None = None
) -> list[str]:
    """Ids of the held (not released) records whose reason contains `reason` and that came from
    the file named `file` (its name or path, as in ops.file_loads), oldest first."""
    with connection(cfg.warehouse, read_only=True) as con:
        rows = con.execute(
            """select q.quarantine_id from ops.quarantine as q
               left join ops.file_loads as f on q.load_id = f.content_hash
               where q.released_at is null
                 and (? is null or q.channel = ?)
                 and (? is null or contains(q.reason, ?))
                 and (? is null or f.path = ? or f.path like '%/' || ?)
               order by q.quarantined_at, q.quarantine_id""",
            [channel, channel, reason, reason, file, file, file],
        ).fetchall()
    return [r[0] for r in rows]


def release_many(
    cfg: Config,
    ids: list[str] | None = None,
    reason: str | None = None,
    file: str | None = None,
) -> ReleaseReport:
    """Release several records: the ids given, or every held record matching the filters
    (`--reason`, `--file`), under one writer lock and one publish. A record that cannot be
    landed as is (its payload is not JSON, it has no id) is reported and stays held; the others
    are released."""
    with writer_lock(cfg.warehouse, cfg.lock_timeout_seconds):
        chosen = list(ids or [])
        if reason is not None or file is not None:
            found = matching_ids(cfg, reason, file)
            chosen = [i for i in chosen if i in set(found)] if chosen else found
        report = ReleaseReport([], [])
        for qid in chosen:
            try:
                report.released.append((qid, _release(cfg, qid)))
            except ReleaseError as exc:
                report.refused.append((qid, str(exc)))
        if report.released:
            publish(cfg.warehouse, cfg.published_path(), f"release:{len(report.released)}")
    return report


def _release(cfg: Config, quarantine_id: str) -> int:
    with connection(cfg.warehouse) as con:
        rows = con.execute(
            "select channel, stream, payload, released_at from ops.quarantine where quarantine_id = ?",
            [quarantine_id],
        ).fetchall()
        if not rows:
            raise ReleaseError(
                f"{quarantine_id}: no such quarantined record (see `oms quarantine`)"
            )
        channel, stream, text, released_at = rows[0]
        if released_at is not None:
            raise ReleaseError(f"{quarantine_id}: already released at {released_at}")
        spec = STREAMS.get((channel, stream))
        if spec is None:
            raise ReleaseError(f"{quarantine_id}: unknown stream {channel}.{stream}")
        try:
            payload = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            raise ReleaseError(
                f"{quarantine_id}: the payload is not valid JSON, so it cannot be landed as is; "
                "fix it at the source and send it again"
            ) from None
        try:
            record = RawRecord(spec.source_id(payload), spec.updated_at(payload), payload)
        except RecordError as exc:
            raise ReleaseError(f"{quarantine_id}: cannot be landed as is: {exc}") from None
        con.execute("begin")
        landed = land_records(con, spec.table, [record], f"release:{quarantine_id}")
        con.execute(
            "update ops.quarantine set released_at = ? where quarantine_id = ?",
            [datetime.now(UTC), quarantine_id],
        )
        con.execute("commit")
    return landed
