"""Land API pages into `raw`: each page's records, its quarantined records and its stream's cursor
commit in one transaction, exactly as `flows/sync.py` does for a file.

Order of events per landing batch (consecutive API pages of one stream, about
`api.landing_batch` records; chosen so a crash anywhere loses and duplicates nothing):
1. the connector yields pages (records it could read + records it could not), read one or two
   ahead in a thread so HTTP waits overlap landing; each page is serialised there to canonical
   JSON text (`flows.staged`), so a batch of 10,000 orders is ~25 MB of text, not parsed dicts;
2. the landing gate (`flows.landing.judge`, one GX validation per batch, against the same context
   as files: currencies, locations, known SKUs) splits each stream's records into good and bad;
3. one transaction (`flows.landing.commit`, the same as for a file) appends the new versions
   (deduplicated by payload hash), quarantines the bad ones and advances `ops.sync_state` to the
   page's cursor.
A crash before 3 commits lands nothing of the batch; the next run starts from the last committed
cursor minus the look-back window and reads it again. Re-reading lands nothing twice.

Connectors are plain generators (no Prefect, no DuckDB); this module is the only part that
touches the warehouse. The warehouse connection is opened once per channel and closed after it.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors import registry
from connectors.http import ChannelError, Page
from connectors.protocol import Connector
from flows.config import Channel, Config, connector_settings
from flows.landing import (
    DUCKDB_MEMORY_LIMIT,
    Part,
    SyncReport,
    Unit,
    commit,
    cursor_limit,
    gate_context,
    judge,
)
from flows.staged import concat, stage
from flows.warehouse import all_raw_tables, connection, init_warehouse


def api_channels(cfg: Config, only_channel: str | None = None) -> list[Channel]:
    return [
        c
        for c in cfg.channels
        if c.enabled and c.source == "api" and (only_channel in (None, c.name))
    ]


def make_connector(ch: Channel, sleep: Callable[[float], None] = time.sleep) -> Connector:
    """The connector object of an API channel (credentials read from the environment now)."""
    return registry.make_connector(ch.kind, connector_settings(ch, sleep))


def _primary_streams(ch: Channel) -> list[str]:
    """Streams queried on their own (the rest arrive inside another stream's pages), the
    catalogue first, so the orders of the same sync are checked against its SKUs."""
    own = registry.primary_streams(ch.kind)
    return sorted(own, key=lambda s: registry.landing_order(f"{ch.name}__{s}"))


def _cursor(con, channel: str, stream: str) -> str | None:
    rows = con.execute(
        "select cursor from ops.sync_state where channel = ? and stream = ?", [channel, stream]
    ).fetchall()
    return rows[0][0] if rows else None


# APIs filter by whole seconds and some exclusively (WooCommerce's `modified_after`): reading
# from one second before the cursor makes every read inclusive of the records that share the
# cursor's second (a page boundary can split them); raw's payload hash drops the repeats.
INCLUSIVE_MARGIN = timedelta(seconds=1)


def _since(cursor: str | None, ch: Channel) -> datetime | None:
    """Where a stream's next read starts: the cursor, inclusively, minus the look-back window."""
    if cursor:
        ts = datetime.fromisoformat(cursor)
        lookback = ch.api.lookback_days if ch.api is not None else 0
        return ts - timedelta(days=lookback) - INCLUSIVE_MARGIN
    if ch.start_date:
        return datetime.combine(ch.start_date, datetime.min.time(), UTC)
    return None


def stage_page(ch: Channel, page: Page, known: set[str]) -> Unit:
    """A connector page as a landing unit, serialised once (a landing batch holds text, not
    parsed dicts). Records of a stream without a raw table are not kept (docs/channels.md)."""
    parts = [
        Part(stream, f"{ch.name}__{stream}", stage(b.records), list(b.bad))
        for stream, b in page.batches.items()
        if f"{ch.name}__{stream}" in known
    ]
    return Unit(ch.name, page.stream, "", parts, cursor=page.cursor)


def _load_id(unit: Unit) -> str:
    """A page batch's id: the same records give the same id, so a re-read batch is recognisable
    in raw's `_load_id` and quarantine ids stay unique per batch.

    The digest is sha256 over "<stream>\x1f<source id>\x1f<updated time>\x1e" per record (the
    time as Python's `str` of the datetime, "None" for a missing value), then each unreadable
    record's "<stream><source id><text>"; the record part is built with Arrow (measured: 10 us
    per order for the Python loop, most of it making and formatting datetimes)."""
    h = hashlib.sha256()
    for part in sorted(unit.parts, key=lambda p: p.stream):
        table = part.staged.table
        if table.num_rows:
            ids = pc.fill_null(table.column("_source_id"), "None")
            times = pc.cast(table.column("_source_updated_at"), pa.string())
            # Arrow writes "2025-07-01 21:09:02.000000Z", Python "2025-07-01 21:09:02+00:00"
            times = pc.replace_substring_regex(times, r"\.000000Z$", "+00:00")
            times = pc.fill_null(pc.replace_substring_regex(times, r"Z$", "+00:00"), "None")
            rows = pc.binary_join_element_wise(f"{part.stream}\x1f", ids, "\x1f", times, "\x1e", "")
            for chunk in rows.chunks:  # each chunk's text is its data buffer, end to end
                _, offsets, data = chunk.buffers()
                ends = np.frombuffer(offsets, np.int32, len(chunk) + 1, chunk.offset * 4)
                h.update(memoryview(data or b"")[int(ends[0]) : int(ends[-1])])
        for sid, _, text in part.unreadable:
            h.update(f"{part.stream}{sid}{text}".encode())
    return f"api:{unit.channel}:{unit.cursor_stream}:{h.hexdigest()[:24]}"


def sync_api(
    cfg: Config,
    only_channel: str | None = None,
    report: SyncReport | None = None,
    on_page: Callable[[Page], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    streams: list[str] | None = None,
    since: datetime | None = None,
    gate_on: bool = True,
) -> SyncReport:
    """Pull every `source: api` channel (or `only_channel`) and land it page by page.

    `since` reads from that time instead of each stream's cursor (a backfill); cursors only
    ever move forward, so a backfill never makes the next hourly sync re-read history.

    `report` (e.g. the file sync's) is extended in place and returned. `on_page` is called with
    each page before it lands (progress; the tests raise from it to simulate a crash).
    `gate_on=False` skips the landing checks; it exists only so `make bench` can measure them."""
    report = report if report is not None else SyncReport()
    known = set(all_raw_tables())
    failures: list[Exception] = []
    for ch in api_channels(cfg, only_channel):
        try:
            _sync_channel(cfg, ch, report, known, on_page, sleep, streams, since, gate_on)
        except Exception as exc:  # one broken channel must not stop the others
            failures.append(exc)
            report.rejected.append(f"channel '{ch.name}': {exc}")
    if failures:
        raise failures[0]
    return report


def _sync_channel(
    cfg, ch, report, known, on_page, sleep, streams, since_override=None, gate_on=True
) -> None:
    """Every stream of one API channel, each page batch landed with its cursor."""
    # Everything alive now (the interpreter with DuckDB, GX, pandas, graphql-core: millions of
    # objects) is moved out of the cyclic collector's reach: a page of parsed orders allocates
    # enough to trigger full collections, and each one re-scanned all of it (measured: ~0.1 ms
    # per order of the bulk JSONL rebuild). Collected first, so no garbage is frozen with it,
    # and unfrozen after the channel, so a long-lived process (`oms serve`, a notebook) frees
    # what becomes garbage later as usual.
    gc.collect()
    gc.freeze()
    connector = make_connector(ch, sleep=sleep)
    try:
        with connection(cfg.warehouse) as con:
            # DuckDB's buffer pool would otherwise grow with the table it dedups against;
            # this keeps a long backfill's memory flat (spills to disk beyond it).
            con.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
            init_warehouse(con, cfg)
            for stream in _primary_streams(ch):
                if streams is not None and stream not in streams:
                    continue
                if f"{ch.name}__{stream}" not in known:
                    # API-only stream without a raw table yet (docs/channels.md).
                    report.skipped_streams.append(f"{ch.name}__{stream}")
                    continue
                since = since_override or _since(_cursor(con, ch.name, stream), ch)
                pending: Unit | None = None
                pages = _staged_pages(ch, connector.pages(stream, since), known)
                try:
                    for page, staged in prefetch(pages):
                        if on_page:
                            on_page(page)
                        pending = merge_pages(pending, staged)
                        if pending.total >= ch.api.landing_batch:
                            land_page(con, cfg, pending, report, gate_on)
                            pending = None
                except ChannelError:
                    # The pages read before the channel failed (or ran out of time) are
                    # whole pages with their cursors: land them, so the next run starts there.
                    if pending is not None:
                        land_page(con, cfg, pending, report, gate_on)
                    raise
                if pending is not None:
                    land_page(con, cfg, pending, report, gate_on)
    finally:
        connector.close()
        gc.unfreeze()


def _staged_pages(ch: Channel, pages, known: set[str]):
    """(page, its staged form): serialising in the prefetch thread overlaps it with landing."""
    for page in pages:
        yield page, stage_page(ch, page, known)


def prefetch(pages, depth: int = 2):
    """Read the next pages in a background thread while this one is gated and landed (HTTP
    waits and DuckDB work release the GIL). At most `depth` pages wait in memory."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def pump() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        q.put(("page", page), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("end", done))
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(("error", exc))

    thread = threading.Thread(target=pump, name="api-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, item = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def merge_pages(a: Unit | None, b: Unit) -> Unit:
    """Consecutive API pages of one stream, landed together (the landing gate has a fixed cost
    per call, so landing thousands of records at a time is much faster than 250 at a time).
    The cursor is the later one: pages come in cursor order, and a source whose pages cannot
    advance the cursor (None) sets it only on its last page."""
    if a is None:
        return b
    parts = {p.stream: p for p in a.parts}
    for p in b.parts:
        if p.stream in parts:
            before = parts[p.stream]
            parts[p.stream] = Part(p.stream, p.table, concat([before.staged, p.staged]),
                                   before.unreadable + p.unreadable)  # fmt: skip
        else:
            parts[p.stream] = p
    cursors = [c for c in (a.cursor, b.cursor) if c]
    return Unit(b.channel, b.cursor_stream, "", list(parts.values()),
                cursor=max(cursors) if cursors else None)  # fmt: skip


def land_page(con, cfg: Config, unit: Unit, report: SyncReport, gate_on: bool = True) -> None:
    """Gate and land one batch of pages, its quarantine and its cursor, in one transaction."""
    unit.load_id = _load_id(unit)
    ctx = gate_context(con, cfg) if gate_on else None
    commit(con, unit, judge([unit], ctx)[0], report, cursor_limit(cfg))


__all__ = ["sync_api", "land_page", "make_connector", "ChannelError"]


def backfill_channel(cfg: Config, channel: str, start: date, end: date | None = None) -> SyncReport:
    """Re-read one API channel from `start` (its API has no upper bound, so to now; `end` is
    accepted for the record). Re-running a stopped backfill lands nothing twice: raw keeps one row
    per record version."""
    ch = next((c for c in api_channels(cfg) if c.name == channel), None)
    if ch is None:
        names = [c.name for c in api_channels(cfg)]
        raise ValueError(f"backfill: '{channel}' is not an API channel (have {names})")
    start_ts = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    return sync_api(cfg, only_channel=channel, since=start_ts)
