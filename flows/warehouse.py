"""The DuckDB warehouse: schemas, append-only landing, run records and the writer lock.

DuckDB allows one writing process per file, and dbt opens the same file between our steps, so a
run never keeps a connection open across steps: each step opens, writes, commits and closes
(`connection()`). Two *runs* are kept apart by a file lock next to the warehouse (`writer_lock`),
held for the whole run, so an hourly sync and a daily build never interleave.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
from filelock import FileLock, Timeout

from connectors import registry
from connectors.records import RawRecord
from flows.config import Config
from flows.staged import StagedRecords, stage

RAW_COLUMNS = """
    _source_id varchar not null,
    _source_updated_at timestamptz,
    _payload json not null,
    _payload_hash varchar not null,
    _load_id varchar not null,
    _loaded_at timestamptz not null
"""

OPS_DDL = """
create table if not exists ops.sync_state (
    channel varchar not null, stream varchar not null, cursor varchar,
    last_success_at timestamptz, primary key (channel, stream));
create table if not exists ops.runs (
    run_id varchar primary key, flow varchar not null, started_at timestamptz not null,
    finished_at timestamptz, status varchar not null, rows_landed bigint default 0,
    rows_quarantined bigint default 0, message varchar);
create table if not exists ops.quarantine (
    quarantine_id varchar primary key, load_id varchar not null, channel varchar not null,
    stream varchar not null, source_id varchar, reason varchar not null, payload varchar,
    quarantined_at timestamptz not null, released_at timestamptz);
create table if not exists ops.validation_results (
    run_id varchar not null, suite varchar not null, expectation varchar not null,
    success boolean not null, unexpected_count bigint, details varchar,
    validated_at timestamptz not null);
create table if not exists ops.file_loads (
    content_hash varchar primary key, path varchar not null, channel varchar not null,
    stream varchar not null, status varchar not null, reason varchar, rows_landed bigint,
    rows_quarantined bigint, loaded_at timestamptz not null);
-- every data row of a file is landed, quarantined or an exact repeat of an earlier row
-- (`repeats`: JSON [[row, the row it repeats], ...]); rows_read is their sum
alter table ops.file_loads add column if not exists rows_read bigint;
alter table ops.file_loads add column if not exists rows_repeated bigint;
alter table ops.file_loads add column if not exists repeats varchar;
-- the record's own row or value, kept apart from its reason (the rule) so reasons group
alter table ops.quarantine add column if not exists details varchar;
create table if not exists ops.locations (
    location_id varchar primary key, name varchar, country varchar, kind varchar);
create table if not exists ops.location_aliases (
    channel varchar not null, external_id varchar not null, location_id varchar not null);
create table if not exists ops.channels (
    channel varchar primary key, kind varchar, currency varchar, default_location_id varchar);
create table if not exists ops.dbt_built (
    raw_table varchar primary key, built_at timestamptz not null);
"""


class WarehouseBusy(RuntimeError):
    """Another run holds the writer lock for longer than we were willing to wait."""


class WarehouseHeld(WarehouseBusy):
    """Another process (a notebook, a BI tool, a DuckDB CLI) has the DuckDB file open, so DuckDB
    refuses us its lock; we waited for it as long as a run waits for the writer lock. `published`
    (set by whoever knows the configuration) is the file such readers should open instead."""

    def __init__(
        self, path: str | Path, pid: int, program: str, waited: float, published: str | None = None
    ) -> None:
        self.path, self.pid, self.program, self.waited = str(path), pid, program, waited
        self.published = published
        super().__init__(str(path))

    def __str__(self) -> str:
        readers = (
            f"readers should open the published copy {self.published} instead (`oms sql`)"
            if self.published
            else "readers should open the published copy instead (`oms sql`)"
        )
        return (
            f"{self.path} is held open by another process (PID {self.pid}, {self.program})"
            + (f"; waited {self.waited:g} s" if self.waited else "")
            + f". Close it there, or leave it: the next run will catch up; {readers}."
        )


# DuckDB's message when another process has the file: '... Conflicting lock is held in
# /usr/bin/python3 (PID 1234) ...'. The exception type is what decides; the PID is what we report.
_HOLDER = re.compile(r"held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")


def lock_holder(exc: BaseException) -> tuple[int, str] | None:
    """(pid, program) of the process holding a DuckDB file, when `exc` is DuckDB refusing us the
    file's lock (a `duckdb.IOException` naming a PID); else None."""
    if not isinstance(exc, duckdb.IOException):
        return None
    m = _HOLDER.search(str(exc)) or re.search(r"\(PID (?P<pid>\d+)\)", str(exc))
    if m is None:
        return None
    program = m.groupdict().get("program") or "unknown program"
    return int(m.group("pid")), program


def held_error(exc: BaseException | None) -> duckdb.IOException | None:
    """The lock refusal behind `exc`, following its causes: dbt-duckdb raises DuckDB's own
    exception when it opens the file at the start of an invocation, but a `DbtRuntimeError`
    raised `from` it when the open happens inside a node (as `dbt source freshness` does)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, duckdb.IOException) and lock_holder(exc) is not None:
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


# How long opening the warehouse waits for a file another process holds: `writer_lock` sets it
# to the run's `lock_timeout_seconds` while it is held (every writing step runs under it); outside
# a run (read-only commands) we do not wait.
_open_wait_seconds = 0.0

_T = TypeVar("_T")


def wait_for_file(path: str | Path, open_fn: Callable[[], _T], wait: float | None = None) -> _T:
    """`open_fn()`, retried while another process holds the DuckDB file `path`, for up to `wait`
    seconds (default: the run's lock timeout); then WarehouseHeld naming the holder."""
    wait = _open_wait_seconds if wait is None else wait
    deadline = time.monotonic() + wait
    delay = 0.1
    while True:
        try:
            return open_fn()
        except duckdb.IOException as exc:
            holder = lock_holder(exc)
            if holder is None:
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise WarehouseHeld(path, holder[0], holder[1], wait) from None
            time.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)


def all_raw_tables() -> list[str]:
    """Every raw table of the contract; they always exist so dbt's sources always resolve."""
    return registry.raw_tables()


@contextmanager
def connection(
    path: str | Path, read_only: bool = False, wait: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse for one step and always close it (dbt needs the file between steps).

    When another process has the file open (DuckDB allows one writer, or many readers), wait for
    it up to `wait` seconds (default: the lock timeout of the run we are in, else none), then
    raise WarehouseHeld naming its PID."""
    p = Path(path)
    if not read_only:
        p.parent.mkdir(parents=True, exist_ok=True)
    elif not p.exists():
        raise FileNotFoundError(f"{p}: no warehouse yet (run `oms sync` or `oms demo` first)")
    con = wait_for_file(p, lambda: duckdb.connect(str(p), read_only=read_only), wait)
    try:
        con.execute("set timezone = 'UTC'")
        con.execute("set enable_progress_bar = false")
        yield con
    finally:
        con.close()


def init_warehouse(con: duckdb.DuckDBPyConnection, cfg: Config | None = None) -> None:
    """Create schemas and tables (idempotent) and refresh the reference tables from config."""
    for schema in ("raw", "ops", "planning"):
        con.execute(f"create schema if not exists {schema}")
    for table in all_raw_tables():
        con.execute(f"create table if not exists raw.{table} ({RAW_COLUMNS})")
    con.execute(OPS_DDL)
    if cfg is not None:
        write_reference_tables(con, cfg)


def write_reference_tables(con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
    """Locations, their channel aliases and channel defaults, as dbt reads them from `ops`."""
    con.execute(
        "delete from ops.locations; delete from ops.location_aliases; delete from ops.channels"
    )
    con.executemany(
        "insert into ops.locations values (?, ?, ?, ?)",
        [(loc.id, loc.name, loc.country, loc.kind) for loc in cfg.locations],
    )
    aliases = [(ch, ext, loc.id) for loc in cfg.locations for ch, ext in loc.external_ids.items()]
    if aliases:
        con.executemany("insert into ops.location_aliases values (?, ?, ?)", aliases)
    con.executemany(
        "insert into ops.channels values (?, ?, ?, ?)",
        [(c.name, c.kind, c.currency, c.default_location) for c in cfg.channels],
    )


def land_records(
    con: duckdb.DuckDBPyConnection, table: str, records: Iterable[RawRecord], load_id: str
) -> int:
    """Append the versions of `records` not yet in `raw.<table>`; return how many were new."""
    return land_staged(con, table, stage(records), load_id)


def land_staged(
    con: duckdb.DuckDBPyConnection, table: str, staged: StagedRecords, load_id: str
) -> int:
    """Append the staged record versions not yet in `raw.<table>`; return how many were new.

    A version is new when its (source id, sha256 of the canonical payload) pair is not in raw:
    re-reading a page, a duplicate delivery or a look-back window lands nothing twice. DuckDB
    hashes and compares in bulk, so a batch of 10,000 orders costs one insert, not 10,000.
    The caller owns the transaction so that landing a page and advancing its cursor (or marking
    its file as loaded) commit together.
    """
    if table not in all_raw_tables():
        raise ValueError(f"unknown raw table {table!r}")
    if not len(staged):
        return 0
    con.register("_staged_records", staged.table)
    try:
        rows = con.execute(
            f"""
            insert into raw.{table}
            with hashed as (
                select _source_id, _source_updated_at, _payload, sha256(_payload) as _payload_hash
                from _staged_records
                qualify row_number() over (partition by _source_id, _payload_hash) = 1
            )
            select s._source_id, s._source_updated_at, s._payload::json, s._payload_hash, ?, ?
            from hashed s
            where not exists (
                select 1 from raw.{table} r
                where r._source_id = s._source_id and r._payload_hash = s._payload_hash)
            """,
            [load_id, datetime.now(UTC)],
        ).fetchall()
    finally:
        con.unregister("_staged_records")
    return int(rows[0][0]) if rows else 0


def advance_cursor(
    con: duckdb.DuckDBPyConnection, channel: str, stream: str, cursor: str | None
) -> None:
    """Record a landed page or file in `ops.sync_state`: the cursor only ever moves forward (a
    backfill or a re-read file never makes the next sync start earlier than it would have)."""
    con.execute(
        """insert into ops.sync_state values (?, ?, ?, ?)
           on conflict (channel, stream) do update set
             cursor = nullif(greatest(coalesce(sync_state.cursor, ''), coalesce(excluded.cursor, '')), ''),
             last_success_at = excluded.last_success_at""",
        [channel, stream, cursor, datetime.now(UTC)],
    )


def quarantine(
    con: duckdb.DuckDBPyConnection,
    load_id: str,
    channel: str,
    stream: str,
    items: Iterable[tuple[str | None, str, str]],
    first: int = 0,
) -> int:
    """Keep rejected records (source_id, reason, payload text) so nothing is ever lost; return
    how many are held. A record already held (same channel, stream, id, reason and payload, not
    released) is not held twice: the look-back window re-reads a bad record at every sync.
    `first` numbers the rows of a load held in several calls (a large file's slices)."""
    items = list(items)
    if not items:
        return 0
    staged = pa.table(
        {
            "quarantine_id": [f"{load_id}:{first + i}" for i in range(len(items))],
            "source_id": pa.array([i[0] for i in items], pa.string()),
            "reason": [str(i[1]) for i in items],
            "payload": [i[2] for i in items],
            # the record's own row or value, beside its reason (connectors.records.Reason)
            "details": pa.array([getattr(i[1], "detail", None) for i in items], pa.string()),
        }
    )
    con.register("_staged_quarantine", staged)
    try:
        con.execute(
            """insert or replace into ops.quarantine (quarantine_id, load_id, channel, stream,
                   source_id, reason, payload, quarantined_at, released_at, details)
               select s.quarantine_id, ?, ?, ?, s.source_id, s.reason, s.payload, ?, null,
                   s.details
               from _staged_quarantine as s
               where not exists (
                   select 1 from ops.quarantine as q
                   where q.channel = ? and q.stream = ? and q.released_at is null
                     and q.source_id is not distinct from s.source_id
                     and q.reason = s.reason and q.payload = s.payload
                     and q.load_id <> ?)""",
            [load_id, channel, stream, datetime.now(UTC), channel, stream, load_id],
        )
    finally:
        con.unregister("_staged_quarantine")
    return len(items)


# ---------------------------------------------------------------------------------- runs


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def start_run(path: str | Path, run_id: str, flow: str, cfg: Config | None = None) -> None:
    """Record a run as 'running'; with `cfg`, (re)write the reference tables from it first, so
    every stage of the run (a build without a sync included) sees the configured channels and
    locations."""
    with connection(path) as con:
        init_warehouse(con, cfg)
        con.execute(
            "insert into ops.runs (run_id, flow, started_at, status) values (?, ?, ?, 'running')",
            [run_id, flow, datetime.now(UTC)],
        )


def finish_run(
    path: str | Path,
    run_id: str,
    status: str,
    rows_landed: int = 0,
    rows_quarantined: int = 0,
    message: str | None = None,
) -> None:
    with connection(path) as con:
        con.execute(
            """update ops.runs set finished_at = ?, status = ?, rows_landed = ?,
               rows_quarantined = ?, message = ? where run_id = ?""",
            [datetime.now(UTC), status, rows_landed, rows_quarantined, message, run_id],
        )


def mark_crashed_runs(path: str | Path, cfg: Config | None = None) -> int:
    """Runs still 'running' while we hold the writer lock died mid-way (killed, machine lost):
    say so in `ops.runs`. Their landed work is consistent (every step is idempotent), so the
    current run simply completes it."""
    with connection(path) as con:
        init_warehouse(con, cfg)
        n = con.execute("select count(*) from ops.runs where status = 'running'").fetchall()[0][0]
        if n:
            con.execute(
                """update ops.runs set status = 'crashed', finished_at = ?,
                   message = 'the process ended before the run finished; completed by a later run'
                   where status = 'running'""",
                [datetime.now(UTC)],
            )
    return n


def raw_tables_pending_build(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Raw tables holding rows loaded after the last successful dbt build that covered them: what
    an hourly build must include besides this run's new rows (rows landed by a run whose build
    failed, was rolled back or was killed)."""
    built = dict(con.execute("select raw_table, built_at from ops.dbt_built").fetchall())
    pending = []
    for table in all_raw_tables():
        last = con.execute(f"select max(_loaded_at) from raw.{table}").fetchall()[0][0]
        if last is not None and (table not in built or last > built[table]):
            pending.append(table)
    return pending


def mark_raw_built(
    con: duckdb.DuckDBPyConnection, tables: Iterable[str], started_at: datetime
) -> None:
    """A dbt build that started at `started_at` succeeded for everything downstream of `tables`."""
    con.executemany(
        """insert into ops.dbt_built values (?, ?)
           on conflict (raw_table) do update set built_at = greatest(built_at, excluded.built_at)""",
        [(t, started_at) for t in tables],
    )


@contextmanager
def writer_lock(warehouse: str | Path, timeout_seconds: float) -> Iterator[None]:
    """Hold the exclusive writer lock of a warehouse for the duration of a writing run."""
    lock_path = Path(str(warehouse) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=timeout_seconds)
    except Timeout:
        raise WarehouseBusy(
            f"another oms run is writing to {warehouse} (lock {lock_path}); waited "
            f"{timeout_seconds:g} s. Nothing was changed; the next run will catch up."
        ) from None
    global _open_wait_seconds
    saved, _open_wait_seconds = _open_wait_seconds, timeout_seconds
    try:
        yield
    finally:
        _open_wait_seconds = saved
        lock.release()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """`begin` … `commit`, or `rollback` when the block raises: what one landing unit (a page
    batch or a file) and its cursor commit inside, so a crash lands all of it or none."""
    con.execute("begin")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


# ------------------------------------------------------------------------------ publishing

# What readers get: the marts, the planning tables and the run records `oms status` reads.
# Views (staging, intermediate) and raw stay in the working file.
PUBLISHED_SCHEMAS = ("marts", "planning", "ops")
# Re-copied at every publication (small, and written by more than dbt). The other published
# schemas (marts) are written by dbt builds only, which record what they wrote (below).
ALWAYS_COPIED = ("planning", "ops")

# What the dbt builds wrote, so that `publish` re-copies only the marts that may have changed
# since the previous publication. `flows.dbt_runner.build` calls `begin_tables_write` before it
# touches anything and `end_tables_write` once the build is over (succeeded, or failed and rolled
# back): a build still running, or one that died, leaves its `ops.build_in_progress` row, and a
# publication made while one is there re-copies every table. Every stamp takes the next number of
# one sequence; a publication records the highest it has seen, and the identity of the working
# file, so a table stamped with a higher number (or its whole schema, table_name '*') has changed
# since.
LEDGER_DDL = """
create table if not exists ops.warehouse_identity (warehouse_id varchar not null);
create table if not exists ops.tables_written (
    schema_name varchar not null, table_name varchar not null, seq bigint not null,
    written_at timestamptz not null, primary key (schema_name, table_name));
create table if not exists ops.build_in_progress (seq bigint not null, started_at timestamptz not null);
"""
ALL_TABLES = "*"
BUILD_BACKUP_SCHEMA = "_oms_build_backup"  # flows.dbt_runner.BACKUP_SCHEMA


def _next_seq(con: duckdb.DuckDBPyConnection) -> int:
    return int(
        con.execute(
            """select coalesce(max(seq), 0) + 1 from (
                 select seq from ops.tables_written union all select seq from ops.build_in_progress)"""
        ).fetchall()[0][0]
    )


def _stamp(con: duckdb.DuckDBPyConnection, tables: Iterable[tuple[str, str]]) -> None:
    seq, now = _next_seq(con), datetime.now(UTC)
    rows = sorted({(s.lower(), n.lower()) for s, n in tables})
    if rows:
        con.executemany(
            """insert into ops.tables_written values (?, ?, ?, ?)
               on conflict (schema_name, table_name) do update set
                 seq = excluded.seq, written_at = excluded.written_at""",
            [(s, n, seq, now) for s, n in rows],
        )


def begin_tables_write(path: str | Path) -> None:
    """A dbt build is about to write (flows.dbt_runner.build): until `end_tables_write`, every
    publication re-copies every mart. A build left unfinished by an earlier process (its row is
    still there) may have changed anything: stamped as having written every table."""
    with connection(path) as con, transaction(con):
        con.execute("create schema if not exists ops")
        con.execute(LEDGER_DDL)
        if not con.execute("select count(*) from ops.warehouse_identity").fetchall()[0][0]:
            con.execute("insert into ops.warehouse_identity values (?)", [uuid.uuid4().hex])
        if con.execute("select count(*) from ops.build_in_progress").fetchall()[0][0]:
            _stamp(con, [(ALL_TABLES, ALL_TABLES)])
            con.execute("delete from ops.build_in_progress")
        con.execute(
            "insert into ops.build_in_progress values (?, ?)", [_next_seq(con), datetime.now(UTC)]
        )


def end_tables_write(path: str | Path, written: Iterable[tuple[str, str]] | None) -> None:
    """The build begun by `begin_tables_write` is over: stamp the (schema, table) it wrote (None:
    every table; empty: none, a failed build put back as it was) and clear its row."""
    with connection(path) as con, transaction(con):
        con.execute(LEDGER_DDL)
        _stamp(con, [(ALL_TABLES, ALL_TABLES)] if written is None else written)
        con.execute("delete from ops.build_in_progress")


@dataclass
class PublishReport:
    path: str
    tables: int
    rows: int
    seconds: float
    bytes: int
    copied: int = 0  # tables copied from the working file this time
    kept: int = 0  # tables kept from the previous publication (unchanged since)
    copied_rows: int = 0
    kept_rows: int = 0
    full_copy: str | None = None  # why every table was copied (None: an incremental publication)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _detach(con: duckdb.DuckDBPyConnection, name: str) -> None:
    attached = {
        d for (d,) in con.execute("select database_name from duckdb_databases()").fetchall()
    }
    if name in attached:
        con.execute(f"detach {_ident(name)}")


def _copy_previous(target: Path, tmp: Path) -> tuple[int | None, str | None]:
    """Copy the previous publication to `tmp` as the start of the new one: (its mtime in ns, None),
    or (None, why not). Only a file nobody wrote to since we published it will do: it has the
    mtime we gave it (`publish` sets it and records it inside), unchanged through the copy, and no
    WAL (a reader that opened it read-write and wrote)."""
    try:
        before = target.stat()
    except FileNotFoundError:
        return None, "no previous publication"
    if Path(f"{target}.wal").exists():
        return None, "the previous publication has a WAL (someone wrote to it)"
    shutil.copyfile(target, tmp)
    after = target.stat()
    if (after.st_ino, after.st_mtime_ns, after.st_size) != (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    ):
        _remove(tmp)
        return None, "the previous publication changed while it was copied"
    return before.st_mtime_ns, None


def _ledger(con: duckdb.DuckDBPyConnection) -> tuple[str, int, bool, dict] | None:
    """The working file's record of what builds wrote (attached as `w`): (its identity, the
    highest stamp, whether a build is in progress or died (its row, or its rollback snapshot), {(schema, table): stamp}); None when it
    has none (nothing was built since publications became incremental)."""
    try:
        ident = con.execute("select warehouse_id from w.ops.warehouse_identity").fetchall()
        stamps = con.execute(
            "select schema_name, table_name, seq from w.ops.tables_written"
        ).fetchall()
        pending = con.execute("select count(*) from w.ops.build_in_progress").fetchall()[0][0]
    except duckdb.CatalogException:
        return None
    # A rollback snapshot left open: a build is running or died (flows.dbt_runner.build), even
    # one that did not go through `begin_tables_write`.
    pending += con.execute(
        "select count(*) from duckdb_schemas() where database_name = 'w' and schema_name = ?",
        [BUILD_BACKUP_SCHEMA],
    ).fetchall()[0][0]
    if len(ident) != 1:
        return None
    written = {(s, n): int(q) for s, n, q in stamps}
    return ident[0][0], max(written.values(), default=0), bool(pending), written


def _base_publication(
    con: duckdb.DuckDBPyConnection, mtime_ns: int, ledger: tuple
) -> tuple[int | None, str | None]:
    """Whether the copy of the previous publication attached as `p` can be built on: (the highest
    stamp it had seen, None), or (None, why not)."""
    warehouse_id, seq, _, _ = ledger
    try:
        rows = con.execute(
            "select warehouse_id, ledger_seq, file_mtime_ns from p.ops.publication"
        ).fetchall()
    except duckdb.Error:
        return None, "the previous publication records no ledger"
    if len(rows) != 1:
        return None, "the previous publication has no single ops.publication row"
    base_id, base_seq, base_mtime = rows[0]
    if base_id is None or base_seq is None:
        return None, "the previous publication records no ledger"
    if base_id != warehouse_id:
        return None, "the previous publication was made from another working file"
    if base_mtime != mtime_ns:
        return None, "the previous publication was modified after it was published"
    if base_seq > seq:
        return None, "the previous publication is ahead of the working file's ledger"
    return int(base_seq), None


def _tables(con: duckdb.DuckDBPyConnection, db: str, schemas: Iterable[str] | None = None) -> dict:
    """{(schema, table): estimated rows} of the tables of `db` (in `schemas`, else all)."""
    where = ""
    if schemas is not None:
        where = f"and schema_name in ({', '.join(_sql_str(s) for s in schemas)})"
    rows = con.execute(
        f"""select schema_name, table_name, estimated_size from duckdb_tables()
            where database_name = ? {where} order by schema_name, table_name""",
        [db],
    ).fetchall()
    return {(s, n): int(size or 0) for s, n, size in rows}


def _columns_of(con: duckdb.DuckDBPyConnection, db: str, schema: str, table: str) -> list:
    return con.execute(
        """select column_name, data_type, is_nullable from duckdb_columns()
           where database_name = ? and schema_name = ? and table_name = ?
           order by column_index""",
        [db, schema, table],
    ).fetchall()


def _unchanged(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, base_seq: int, written: dict
) -> bool:
    """Whether `schema.table` of the previous publication (`p`) still equals the working file's
    (`w`): no build wrote it (nor its schema, nor everything) since, and as a check of the ledger,
    the same columns and row count."""
    key = (schema.lower(), table.lower())
    for k in (key, (key[0], ALL_TABLES), (ALL_TABLES, ALL_TABLES)):
        if written.get(k, 0) > base_seq:
            return False
    if _columns_of(con, "w", schema, table) != _columns_of(con, "p", schema, table):
        return False
    rel = f"{_ident(schema)}.{_ident(table)}"
    counts = con.execute(f"select (select count(*) from w.{rel}), (select count(*) from p.{rel})")
    n_w, n_p = counts.fetchall()[0]
    return bool(n_w == n_p)


def publish(working: str | Path, published: str | Path, run_id: str | None = None) -> PublishReport:
    """Publish the tables of PUBLISHED_SCHEMAS of the working file into a new DuckDB file beside
    `published`, then `os.replace` it over `published`.

    A reader therefore sees the previous complete snapshot or the new one, never half of one, and
    a connection opened before the swap keeps reading the snapshot it opened (the old file lives
    on, unlinked, until its last reader closes). The working file is attached read-only and the
    published file is never opened in place (nor locked): it is only read, by a file copy.

    Incremental: the new file starts as a copy of the previous publication when that is ours,
    untouched, from this working file (`_copy_previous`, `_base_publication`); then the planning
    and ops tables are copied again, and of the marts only those a dbt build wrote since the
    previous publication (the ledger `ops.tables_written`, see `begin_tables_write`) or whose
    columns or row count differ; the others are kept. Otherwise every table is copied. Either way
    the result equals a full copy of the working file's published schemas. `ops.publication` in
    the copy says which run made it and what it built on.
    """
    started = time.perf_counter()
    target = Path(published)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp_wal = Path(f"{tmp}.wal")
    _remove(tmp, tmp_wal)
    con = duckdb.connect(":memory:")
    try:
        con.execute("set enable_progress_bar = false")
        wait_for_file(
            working, lambda: con.execute(f"attach {_sql_str(str(working))} as w (read_only)")
        )
        ledger = _ledger(con)
        base_seq: int | None = None
        if ledger is None:
            full_copy: str | None = "the working file has no record of what its builds wrote"
        elif ledger[2]:
            full_copy = "a dbt build is in progress or did not finish"
        else:
            mtime_ns, full_copy = _copy_previous(target, tmp)
            if mtime_ns is not None:
                try:
                    con.execute(f"attach {_sql_str(str(tmp))} as p")
                    base_seq, full_copy = _base_publication(con, mtime_ns, ledger)
                except duckdb.Error as exc:  # not a DuckDB file, or not one of ours
                    full_copy = f"the previous publication cannot be read ({exc})"
                if base_seq is None:
                    _detach(con, "p")
                    _remove(tmp, tmp_wal)
        if base_seq is None:
            con.execute(f"attach {_sql_str(str(tmp))} as p")
        con.execute("begin")
        tables = _tables(con, "w", PUBLISHED_SCHEMAS)
        kept: set[tuple[str, str]] = set()
        if base_seq is not None and ledger is not None:
            base = _tables(con, "p")
            kept = {
                (s, n)
                for (s, n) in tables
                if s not in ALWAYS_COPIED
                and (s, n) in base
                and _unchanged(con, s, n, base_seq, ledger[3])
            }
            for s, n in base:
                if (s, n) not in kept:
                    con.execute(f"drop table p.{_ident(s)}.{_ident(n)}")
            # Committed and checkpointed first, so that the copies reuse the blocks the dropped
            # tables free and the file does not grow by what it re-copies at every publication.
            # (The temporary file is nobody's until it is renamed: its own atomicity is moot.)
            con.execute("commit")
            con.execute("checkpoint p")
            con.execute("begin")
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema if not exists p.{_ident(schema)}")
        for s, n in tables:
            if (s, n) not in kept:
                con.execute(
                    f"create table p.{_ident(s)}.{_ident(n)} as from w.{_ident(s)}.{_ident(n)}"
                )
        mtime_ns = time.time_ns()
        con.execute(
            "create or replace table p.ops.publication (run_id varchar, published_at "
            "timestamptz, source varchar, tables integer, copied integer, kept integer, "
            "warehouse_id varchar, ledger_seq bigint, file_mtime_ns bigint)"
        )
        con.execute(
            "insert into p.ops.publication values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, datetime.now(UTC), str(working), len(tables), len(tables) - len(kept),
             len(kept), ledger[0] if ledger else None, ledger[1] if ledger else None, mtime_ns],
        )  # fmt: skip
        con.execute("commit")
        con.execute("detach p")
        con.execute("detach w")
    except BaseException:
        con.close()
        _remove(tmp, tmp_wal)
        raise
    con.close()
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    # The mtime recorded inside: the next publication builds on this file only if it still has it.
    os.utime(tmp, ns=(mtime_ns, mtime_ns))
    # A WAL beside the published file belongs to someone who wrote to it (it is read-only by
    # contract); it must not be replayed onto the new snapshot.
    Path(f"{target}.wal").unlink(missing_ok=True)
    os.replace(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    kept_rows = sum(tables[t] for t in kept)
    rows = sum(tables.values())
    return PublishReport(
        path=str(target),
        tables=len(tables),
        rows=rows,
        seconds=time.perf_counter() - started,
        bytes=target.stat().st_size,
        copied=len(tables) - len(kept),
        kept=len(kept),
        copied_rows=rows - kept_rows,
        kept_rows=kept_rows,
        full_copy=full_copy,
    )


@contextmanager
def reader_connection(cfg: Config) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """A read-only connection for the read-only commands (`oms status`, `oms quarantine`,
    `oms sql`), and the file it reads: the published copy, which no run ever locks; the working
    file (read-only) while nothing has been published yet."""
    published = cfg.published_path()
    path = published if Path(published).exists() else cfg.warehouse
    try:
        with connection(path, read_only=True) as con:
            yield con, path
    except WarehouseHeld as exc:
        exc.published = published
        raise
