"""Run dbt in-process against the warehouse, and turn its results into something a person reads.

dbt opens the DuckDB file itself, so callers must not hold a connection while it runs. The
profile keeps it open for the whole invocation (`keep_open: true`: re-opening the file for every
model and test cost ~10 s per hourly build on the large sandbox), and `_release_warehouse` closes
it when dbt returns, so the flows and `oms` commands can open the file again.

A failed build leaves the warehouse as it was (`build`): dbt commits model by model, so a build
that fails half-way would otherwise leave some marts new and some old, and an incremental model
(staging tables, marts.inventory_snapshots, marts.daily_demand) with a half-applied increment
that every later run builds on. The rollback costs what the build changes, not the size of the
warehouse: before the build, one transaction writes the inventory of every relation of the model
schemas (each view's SQL, each table's columns) into the schema `_oms_build_backup`; while it
exists, the project's macros (dbt_project/macros/build_rollback.sql) keep what the build
replaces: a table rebuilt whole is swapped in by dbt-duckdb, which renames the old one
`<name>__dbt_backup` and no longer drops it; an increment (delete+insert) first stashes the keys
it inserts and the rows it replaces into `_oms_build_backup`, in its own transaction. On failure
one transaction renames the old tables back, undoes the increments from their stashes, drops what
the build created and recreates changed views; on success one transaction drops what was kept.
A snapshot left behind by a killed build is restored by the next build before it starts.
(`snapshot` can also copy tables whole, for changes made outside dbt.)
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.config import Config

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


def project_dir() -> Path:
    """The dbt project; `OMS_DBT_PROJECT_DIR` points elsewhere (a merchant's own fork, tests)."""
    return Path(os.environ.get("OMS_DBT_PROJECT_DIR") or DBT_PROJECT_DIR)


class DbtFailed(RuntimeError):
    """dbt reported an error or a failing test; the message lists the nodes and their errors.
    `held`: the channel staging folders every failure lies in (empty when one lies elsewhere),
    which `build` may retry without."""

    report: DbtReport | None = None
    held: dict[str, list[str]] = {}  # noqa: RUF012 (replaced per instance, never mutated)


@dataclass
class DbtReport:
    models_built: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    warnings: int = 0
    failures: list[str] = field(default_factory=list)
    snapshot_tables: int = 0  # tables kept aside for a rollback (moved aside or stashed from)
    snapshot_rows: int = 0  # rows the increments stashed (what a rollback would have put back)
    snapshot_seconds: float = 0.0  # opening and discarding the snapshot
    written: list[tuple[str, str]] = field(default_factory=list)  # (schema, table) of nodes run
    # Channels whose staging failed (a test caught one of its records, or its model broke): the
    # build was redone without them, so their marts rows are as of their last good build.
    # staging folder (= raw table prefix, e.g. "woo") -> the failures that held it back.
    held_back: dict[str, list[str]] = field(default_factory=dict)
    unit_tests_passed: int = 0  # run only when the project changed (`unit_tests_due`)


def dbt_vars(cfg: Config) -> dict[str, Any]:
    """Every var the dbt project reads from oms.yaml, the same for build, freshness and docs (a
    change of vars makes dbt re-parse the whole project): money and dates, the configured
    currencies of the `in_var_list` test on `orders.currency`, and the freshness allowances
    of `dbt source freshness`, and replenishment's max_days_of_cover (the excess of
    marts.inventory_health)."""
    q = cfg.quality
    return {
        "base_currency": cfg.base_currency,
        "business_timezone": cfg.business_timezone,
        "currencies": list(cfg.currencies),
        "freshness_hours": q.freshness_hours,
        "freshness_hours_by_channel": dict(q.freshness_hours_by_channel),
        "inventory_max_days_of_cover": cfg.replenishment.max_days_of_cover,
    }


def run_dbt(
    cfg: Config,
    command: str = "build",
    select: str | None = None,
    on_event: Callable[[str], None] | None = None,
    full_refresh: bool = False,
    exclude: str | None = None,
    resource_type: str | None = None,
) -> DbtReport:
    """`dbt <command>` in-process; raise DbtFailed naming every failed node (`.report` holds
    what it did, `.held` the staging folders the failures are confined to, if they are).
    `build` never runs the unit tests (see `unit_tests_due`); `resource_type` runs only nodes
    of that type."""
    os.environ["OMS_WAREHOUSE"] = str(Path(cfg.warehouse).resolve())
    args = [
        command,
        "--project-dir",
        str(project_dir()),
        "--profiles-dir",
        str(project_dir()),
        "--vars",
        json.dumps(dbt_vars(cfg)),
        "--quiet",
    ]
    if select:
        args += ["--select", *select.split()]
    if exclude:
        args += ["--exclude", *exclude.split()]
    if full_refresh:
        args.append("--full-refresh")
    if resource_type:
        args += ["--resource-type", resource_type]
    if command == "build":
        # the data tests check the records; the unit tests, the models' logic: `build` runs
        # them apart, only when the project changed (`unit_tests_due`)
        args += ["--exclude-resource-type", "unit_test"]

    def callback(event) -> None:
        if on_event and event.info.name in ("LogModelResult", "LogTestResult", "LogSeedResult"):
            on_event(event.info.msg)

    result = invoke(args, [callback])
    report = DbtReport()
    if result.exception is not None:
        raise DbtFailed(f"dbt {command} could not run: {result.exception}")
    paths = {r.node.unique_id: r.node.original_file_path for r in result.result or []}
    relations = {
        r.node.unique_id: r.node.relation_name
        for r in result.result or []
        if r.node.resource_type == "model" and getattr(r.node, "relation_name", None)
    }
    failed_in: dict[str | None, list[str]] = {}  # staging folder (None: elsewhere) -> failures
    for r in result.result or []:
        node = r.node
        status = str(r.status)
        if node.resource_type in ("model", "seed", "snapshot"):  # whatever it did, it may write
            report.written.append((node.schema, node.alias))
        if node.resource_type == "model" and status == "success":
            report.models_built += 1
        elif node.resource_type in ("test", "unit_test"):
            if status == "pass":
                report.tests_passed += 1
            elif status == "warn":
                report.warnings += 1
            elif status in ("fail", "error"):
                report.tests_failed += 1
        if status in ("error", "fail"):
            line = f"{node.resource_type} {node.name}: {status}: {r.message}" + (
                _failing_rows(cfg, node, relations) if status == "fail" else ""
            )
            report.failures.append(line)
            failed_in.setdefault(_staging_folder(node, paths), []).append(line)
    if not result.success:
        failed = DbtFailed(
            f"dbt {command} failed ({len(report.failures)} node(s)):\n  - "
            + "\n  - ".join(report.failures or [f"see {dbt_work_dir(cfg.warehouse)}/logs/dbt.log"])
        )
        failed.report = report
        failed.held = {} if None in failed_in else {f: v for f, v in failed_in.items() if f}
        raise failed
    return report


# Staging folders that hold one channel's (or the reference files') records: a failure confined
# to them is caused by those records, and the marts can be built without them. `ops` (the
# configuration's tables) is not one: every mart needs it.
CHANNEL_STAGING = ("shop", "amazon", "woo", "tills", "tpl", "files")


def _staging_folder(node: Any, paths: dict[str, str]) -> str | None:
    """The channel staging folder a failed model or data test belongs to (a test: the models it
    reads, all in that one folder), or None when it is anything else (a mart, a unit test: the
    logic, not a record, so nothing is held back and the build fails as a whole)."""
    if node.resource_type == "model":
        files = [node.original_file_path]
    elif node.resource_type == "test":
        files = [paths.get(u, "") for u in node.depends_on.nodes if u.startswith("model.")]
    else:
        return None
    folders = {
        Path(f).parts[2] if len(Path(f).parts) > 3 and Path(f).parts[:2] == ("models", "staging")
        else None
        for f in files
    }  # fmt: skip
    if len(folders) != 1:
        return None
    folder = folders.pop()
    return folder if folder in CHANNEL_STAGING else None


def _failing_rows(cfg: Config, node: Any, relations: dict[str, str], limit: int = 3) -> str:
    """The first rows a failed data test returned, as `column=value` text: a failure caused by
    one record names it (its order id, SKU, ...), so nobody has to rerun the test's SQL to find
    it. A column test returns only the column's values (`not_null`: a null), so its rows are
    looked up in the model the test is on, by the failing value, and shown with the model's ids.
    Read with the test's own compiled SQL, before the build's snapshot is restored; empty when it
    cannot be read (the failure message stands alone then)."""
    import duckdb

    from flows.warehouse import connection

    sql = getattr(node, "compiled_code", None)
    if node.resource_type != "test" or not sql:
        return ""
    column = getattr(node, "column_name", None)
    model = relations.get(getattr(node, "attached_node", None) or "")
    try:
        with connection(cfg.warehouse) as con:
            cur = con.execute(f"select * from ({sql}) as failing limit 0")
            found = [d[0] for d in cur.description]
            key = column if column in found else "unique_field" if "unique_field" in found else None
            if column and model and key:
                ids = [
                    r[0]
                    for r in con.execute(f"select * from {model} limit 0").description
                    if r[0] == "_source_id" or r[0].endswith("_id")
                ][:4]
                shown_cols = ", ".join(f'm."{c}"' for c in [*ids, column] if c)
                cur = con.execute(
                    f"""select {shown_cols} from {model} as m
                        where exists (select 1 from ({sql}) as f
                                      where f."{key}" is not distinct from m."{column}")
                        limit {int(limit)}"""
                )
            else:
                cur = con.execute(f"select * from ({sql}) as failing limit {int(limit)}")
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
    except duckdb.Error:
        return ""
    shown = [", ".join(f"{k}={v}" for k, v in zip(names, row, strict=True))[:240] for row in rows]
    return "".join(f"\n      e.g. {line}" for line in shown)


# ------------------------------------------------------------------------ build or roll back

MODEL_SCHEMAS = ("staging", "intermediate", "marts")
BACKUP_SCHEMA = "_oms_build_backup"
_INVENTORY = f"{BACKUP_SCHEMA}.__relations"  # written last: its presence means "complete"
_MOVED_ASIDE = "__dbt_backup"  # dbt-duckdb's name for the table a swap replaced
_DBT_DEBRIS = ("__dbt_backup", "__dbt_tmp")  # transient relations of dbt-duckdb's swaps


def build(
    cfg: Config,
    select: str | None = None,
    full_refresh: bool = False,
    on_event: Callable[[str], None] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> DbtReport:
    """`dbt build` that leaves the warehouse as it was when it fails (see module docstring).

    What it wrote is recorded for the publication (flows.warehouse.begin_tables_write): every
    model it ran, or every table when an earlier build's snapshot had to be put back first."""
    from flows.warehouse import begin_tables_write, end_tables_write

    say = on_log or (lambda line: None)
    begin_tables_write(cfg.warehouse)
    try:
        leftover = restore_snapshot(cfg)
    except Exception as exc:
        if not full_refresh:
            raise
        discard_snapshot(cfg)  # a full refresh rebuilds everything from raw anyway
        leftover = f"not restored ({exc}); discarded"
    if leftover is not None:
        say(f"an earlier build did not finish; its snapshot: {leftover}")
    started = time.perf_counter()
    snapshot(cfg, set())  # copies nothing: the build keeps what it replaces (module docstring)
    took = time.perf_counter() - started
    try:
        try:
            report = run_dbt(cfg, "build", select=select, full_refresh=full_refresh,
                             on_event=on_event)  # fmt: skip
        except DbtFailed as failed:
            if not failed.held:
                raise
            report = _build_without(cfg, failed, select, full_refresh, on_event, say)
        project = project_fingerprint(cfg)  # the project the unit tests would run on
        if _passed_on(cfg) != project:  # after the models they test exist; a failure rolls back
            unit = run_dbt(cfg, "test", on_event=on_event, resource_type="unit_test")
            record_unit_tests_passed(cfg, project)
            report.unit_tests_passed = unit.tests_passed
            say(
                f"dbt unit tests (the project changed since they last passed): {unit.tests_passed} passed"
            )
    except BaseException as exc:
        t0 = time.perf_counter()
        restored = restore_snapshot(cfg)
        end_tables_write(cfg.warehouse, [] if leftover is None else None)  # as it was
        note = (
            f"the warehouse was left as before the build ({restored}, "
            f"{time.perf_counter() - t0:.2f} s)"
        )
        exc.add_note(note)
        say(note)
        raise
    t0 = time.perf_counter()
    kept, rows = discard_snapshot(cfg)
    took += time.perf_counter() - t0
    end_tables_write(cfg.warehouse, report.written if leftover is None else None)
    say(
        f"rollback snapshot: {kept} tables kept aside, {rows} rows stashed by increments "
        f"(inventory and discard {took:.2f} s)"
    )
    report.snapshot_tables, report.snapshot_rows, report.snapshot_seconds = kept, rows, took
    return report


# ------------------------------------------------------------------------ unit tests when due
# What a unit test's verdict depends on: the project's files (models, macros, tests, seeds,
# snapshots, dbt_project.yml), the vars from oms.yaml and dbt's version. Not the data: a unit
# test feeds the model fixed rows.
_PROJECT_FILES = ("*.sql", "*.yml", "*.yaml", "*.csv", "*.md")


def project_fingerprint(cfg: Config) -> str:
    """sha256 of what the unit tests' verdict depends on (see `_PROJECT_FILES`)."""
    import hashlib

    from dbt.version import __version__ as dbt_version

    root = project_dir()
    h = hashlib.sha256(f"{dbt_version}\x1f{json.dumps(dbt_vars(cfg), sort_keys=True)}".encode())
    files = sorted(
        p
        for pattern in _PROJECT_FILES
        for p in root.rglob(pattern)
        if p.is_file() and not {"target", "logs", "dbt_packages"} & set(p.relative_to(root).parts)
    )
    for p in files:
        h.update(f"\x1e{p.relative_to(root).as_posix()}\x1f".encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _unit_tests_marker(cfg: Config) -> Path:
    return dbt_work_dir(cfg.warehouse) / "unit_tests_passed.json"


def unit_tests_due(cfg: Config) -> bool:
    """Whether `build` runs the project's unit tests: when no build of this warehouse has seen
    them pass on the project as it is now (its first build, a changed model, macro, unit test,
    var or dbt version). dbt's own advice is to run unit tests in development and CI, not on
    every production run: their inputs are fixed rows, so an hourly build that changed nothing
    in the project would only repeat the verdict (~15% of a build's time, measured on the
    tiny sandbox: 21 unit tests among 74 models and 629 data tests)."""
    return _passed_on(cfg) != project_fingerprint(cfg)


def _passed_on(cfg: Config) -> str | None:
    """The fingerprint of the project this warehouse's unit tests last passed on (None: never)."""
    try:
        seen = json.loads(_unit_tests_marker(cfg).read_text()).get("project")
    except (OSError, ValueError, AttributeError):
        return None
    return seen if isinstance(seen, str) else None


def record_unit_tests_passed(cfg: Config, project: str) -> None:
    """`project`: the fingerprint taken before the unit tests ran (a file edited while they ran
    leaves them due)."""
    marker = _unit_tests_marker(cfg)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"project": project}) + "\n")


def _build_without(
    cfg: Config,
    failed: DbtFailed,
    select: str | None,
    full_refresh: bool,
    on_event: Callable[[str], None] | None,
    say: Callable[[str], None],
) -> DbtReport:
    """The build again without the staging of the channels whose records failed it (issue: one
    record must not stop the other channels' marts). What the first attempt wrote is put back
    first, so the held channels' staged tables are those of their last good build and their rows
    in the marts are as they were; the failures stay in the report (and in the run's status).
    Fails as the first attempt did if the build does not pass without them either (a channel
    never built before, or a failure that was not its records' after all)."""
    held = sorted(failed.held)
    restore_snapshot(cfg)
    snapshot(cfg, set())
    say(f"dbt build failed on records of {', '.join(held)}; building the others without them")
    exclude = " ".join(f"path:models/staging/{folder}" for folder in held)
    try:
        report = run_dbt(cfg, "build", select=select, full_refresh=full_refresh,
                         on_event=on_event, exclude=exclude)  # fmt: skip
    except DbtFailed as again:
        raise failed from again
    first = failed.report or DbtReport()
    report.failures = first.failures
    report.tests_failed += first.tests_failed
    report.held_back = dict(failed.held)
    return report


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schema_list(schemas: tuple[str, ...] = MODEL_SCHEMAS) -> str:
    return ", ".join(f"'{s}'" for s in schemas)


def _relations(con) -> list[tuple[str, str, str, str | None]]:
    """(schema, name, 'table' | 'view', view sql) of every relation in the model schemas."""
    schemas = _schema_list()
    return con.execute(
        f"""select schema_name, table_name, 'table', null from duckdb_tables()
            where database_name = current_database() and schema_name in ({schemas})
            union all
            select schema_name, view_name, 'view', sql from duckdb_views()
            where database_name = current_database() and schema_name in ({schemas})
              and not internal"""
    ).fetchall()


def _columns(con, schema: str, name: str) -> list[tuple[str, str]]:
    return con.execute(
        """select column_name, data_type from duckdb_columns()
           where database_name = current_database() and schema_name = ? and table_name = ?
           order by column_index""",
        [schema, name],
    ).fetchall()


def _backup_tables(con) -> set[str]:
    """The name of every table in the backup schema."""
    return {
        name
        for (name,) in con.execute(
            """select table_name from duckdb_tables()
               where database_name = current_database() and schema_name = ?""",
            [BACKUP_SCHEMA],
        ).fetchall()
    }


def _backup_name(schema: str, name: str) -> str:
    return f"{BACKUP_SCHEMA}.{_q(schema + '__' + name)}"


def _stash_name(schema: str, name: str, part: str) -> str:
    """The stash of an increment (macros/build_rollback.sql `oms_stash_relation`), unquoted."""
    return f"{schema}__{name}__stash_{part}"


def snapshot(cfg: Config, tables: set[tuple[str, str]] | None = None) -> int:
    """Open a rollback snapshot, in one transaction: the inventory of every model relation (each
    view's SQL, each table's columns), and a copy of the model tables in `tables` (None: all of
    them) for changes made outside dbt. `build` copies none: while the snapshot is open, dbt's
    materializations keep the tables they replace and stash the rows increments change
    (macros/build_rollback.sql), so the cost follows what the build changes. Leftovers of
    dbt-duckdb's swaps (`*__dbt_backup`, `*__dbt_tmp`) are dropped first. Returns how many tables
    were copied."""
    from flows.warehouse import connection

    with connection(cfg.warehouse) as con:
        con.execute("begin")
        try:
            con.execute(f"drop schema if exists {BACKUP_SCHEMA} cascade")
            con.execute(f"create schema {BACKUP_SCHEMA}")
            relations = []
            for schema, name, kind, sql in _relations(con):
                if name.endswith(_DBT_DEBRIS):
                    con.execute(f"drop {kind} {_q(schema)}.{_q(name)}")
                else:
                    relations.append((schema, name, kind, sql))
            copied = 0
            inventory = []
            for schema, name, kind, sql in relations:
                backed_up = kind == "table" and (tables is None or (schema, name) in tables)
                if backed_up:
                    con.execute(
                        f"create table {_backup_name(schema, name)} as from {_q(schema)}.{_q(name)}"
                    )
                    copied += 1
                columns = json.dumps(_columns(con, schema, name)) if kind == "table" else None
                inventory.append((schema, name, kind, sql, backed_up, columns))
            con.execute(
                f"create table {_INVENTORY} (schema_name varchar, name varchar, kind varchar, "
                "sql varchar, backed_up boolean, columns varchar)"
            )
            if inventory:
                con.executemany(f"insert into {_INVENTORY} values (?, ?, ?, ?, ?, ?)", inventory)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return copied


def restore_snapshot(cfg: Config) -> str | None:
    """Put the snapshot back, in one transaction: rename back the tables dbt moved aside, undo
    the increments from their stashes, drop what was created since, copy the copied tables back,
    recreate changed or dropped views; then drop the backup. None when there is no complete
    snapshot; else a short account of what was done."""
    from flows.warehouse import connection

    if not Path(cfg.warehouse).exists():
        return None
    with connection(cfg.warehouse) as con:
        exists = con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
            [BACKUP_SCHEMA, "__relations"],
        ).fetchall()[0][0]
        if not exists:
            con.execute(f"drop schema if exists {BACKUP_SCHEMA} cascade")  # an unfinished copy
            return None
        inventory = con.execute(f"from {_INVENTORY}").fetchall()  # columns: since 2026-12
        before = {(r[0], r[1]): (r[2], r[3], r[4], r[5] if len(r) > 5 else None) for r in inventory}
        con.execute("begin")
        try:
            restored = _undo_moves_and_increments(con, before)
            now = {(s, n): (k, sql) for s, n, k, sql in _relations(con)}
            dropped = 0
            for (schema, name), (kind, sql) in now.items():
                was = before.get((schema, name))
                if was is None or was[0] != kind or (kind == "view" and was[1] != sql):
                    con.execute(f"drop {kind} {_q(schema)}.{_q(name)}")
                    dropped += 1
            order = sorted(before.items(), key=lambda item: (item[1][0] == "view",
                           MODEL_SCHEMAS.index(item[0][0]), item[0][1]))  # fmt: skip
            for (schema, name), (kind, sql, backed_up, _) in order:
                if kind == "table" and backed_up:
                    con.execute(
                        f"create or replace table {_q(schema)}.{_q(name)} as "
                        f"from {_backup_name(schema, name)}"
                    )
                    restored += 1
                elif kind == "view" and (
                    (schema, name) not in now or now[(schema, name)] != (kind, sql)
                ):
                    con.execute(sql)
            con.execute(f"drop schema {BACKUP_SCHEMA} cascade")
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return f"{restored} tables restored, {dropped} relations the build had made dropped"


def _undo_moves_and_increments(con, before: dict[tuple[str, str], tuple]) -> int:
    """Inside restore's transaction: each inventoried table that a swap moved aside
    (`<name>__dbt_backup`) is renamed back over whatever replaced it; each increment is undone
    from its stash (its keys' rows deleted, the stashed rows inserted, columns it added dropped).
    Returns how many tables were put back."""
    now = {(s, n): k for s, n, k, _ in _relations(con)}
    stashes = _backup_tables(con)
    done = 0
    for (schema, name), (kind, _, backed_up, columns) in before.items():
        if kind != "table" or backed_up:
            continue  # views are recreated from their SQL, copied tables copied back
        target = f"{_q(schema)}.{_q(name)}"
        aside = name + _MOVED_ASIDE
        if now.get((schema, aside)) == "table" and (schema, aside) not in before:
            if (schema, name) in now:
                con.execute(f"drop {now[(schema, name)]} {target}")
            con.execute(f"alter table {_q(schema)}.{_q(aside)} rename to {_q(name)}")
            done += 1
            continue
        keys_table = _stash_name(schema, name, "keys")
        if keys_table not in stashes or now.get((schema, name)) != "table":
            continue
        keys = f"{BACKUP_SCHEMA}.{_q(keys_table)}"
        rows = f"{BACKUP_SCHEMA}.{_q(_stash_name(schema, name, 'rows'))}"
        match = " and ".join(
            f"t.{_q(c)} is not distinct from k.{_q(c)}"
            for c, _ in _columns(con, BACKUP_SCHEMA, keys_table)
        )
        con.execute(
            f"delete from {target} as t where exists (select 1 from {keys} as k where {match})"
        )
        con.execute(f"insert into {target} by name from {rows}")
        _restore_columns(con, schema, name, columns)
        done += 1
    return done


def _restore_columns(con, schema: str, name: str, columns: str | None) -> None:
    """Drop the columns an increment appended (`on_schema_change: append_new_columns`)."""
    if columns is None:
        return
    was = [tuple(c) for c in json.loads(columns)]
    now = _columns(con, schema, name)
    if now == was:
        return
    if now[: len(was)] != was:
        raise RuntimeError(
            f"{schema}.{name}: the build changed its columns beyond appending; cannot restore "
            f"from its stash (was {was}, now {now})"
        )
    for column, _ in now[len(was) :]:
        con.execute(f"alter table {_q(schema)}.{_q(name)} drop column {_q(column)}")


def discard_snapshot(cfg: Config) -> tuple[int, int]:
    """Close the snapshot after a build that succeeded, in one transaction: drop the tables dbt
    moved aside and the backup schema. Returns (tables kept aside, rows stashed)."""
    from flows.warehouse import connection

    with connection(cfg.warehouse) as con:
        con.execute("begin")
        try:
            kept = 0
            for schema, name, kind, _ in _relations(con):
                if kind == "table" and name.endswith(_MOVED_ASIDE):
                    con.execute(f"drop table {_q(schema)}.{_q(name)}")
                    kept += 1
            backup = _backup_tables(con)
            stashed = [t for t in backup if t.endswith("__stash_rows")]
            rows = sum(
                con.execute(f"select count(*) from {BACKUP_SCHEMA}.{_q(t)}").fetchall()[0][0]
                for t in stashed
            )
            con.execute(f"drop schema if exists {BACKUP_SCHEMA} cascade")
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return kept + len(stashed), rows


def generate_docs(cfg: Config) -> Path:
    """dbt's documentation site, as one self-contained page analysts open offline."""
    target = (Path(cfg.replenishment.output_dir) / "dbt_docs").resolve()
    os.environ["OMS_WAREHOUSE"] = str(Path(cfg.warehouse).resolve())
    result = invoke([
        "docs", "generate", "--project-dir", str(project_dir()), "--profiles-dir", str(project_dir()),
        "--target-path", str(target), "--vars", json.dumps(dbt_vars(cfg)), "--static", "--quiet",
    ])  # fmt: skip
    if not result.success:
        raise DbtFailed(f"dbt docs generate failed: {result.exception}")
    return target / "static_index.html"


def invoke(args: list[str], callbacks: list | None = None):
    """`dbtRunner(callbacks).invoke(args)`, then free the warehouse file (see module docstring).
    Everything that runs dbt in this project goes through here (flows, tests, benchmarks).

    When another process holds the file (a reader of the working file: `oms status` before
    anything is published, a notebook), dbt could not open it and so did nothing (it opens the
    file once per invocation, `keep_open`): the invocation is retried while the run's lock
    timeout lasts, as our own steps wait (`wait_for_file`), then WarehouseHeld names the holder.

    Every command but `docs` runs with `--no-write-json`: nothing here reads dbt's
    manifest.json or run_results.json (results come back in-process), and writing the manifest
    twice per invocation cost ~2.5 s of each hourly build. The partial-parse file is still
    written, so the next invocation parses in under a second. `oms docs` writes its own."""
    from dbt.cli.main import dbtRunner

    from flows.warehouse import held_error, wait_for_file

    if args[0] != "docs" and "--write-json" not in args:
        args = [*args, "--no-write-json"]
    warehouse = os.environ.get("OMS_WAREHOUSE")
    if warehouse:  # unless the caller chose its own (dbt docs writes where `oms docs` says)
        for flag, value in dbt_work_paths(warehouse).items():
            if flag not in args:
                args = [*args, flag, str(value)]

    def once():
        try:
            result = dbtRunner(callbacks=callbacks or []).invoke(args)
        finally:
            _release_warehouse()
        refused = held_error(result.exception)
        if refused is not None:
            raise refused
        return result

    return wait_for_file(os.environ.get("OMS_WAREHOUSE", "the warehouse"), once)


def dbt_work_dir(warehouse: str | Path) -> Path:
    """Where dbt writes its target/ (the saved parse, compiled SQL) and its log
    for this warehouse: `.<name>.dbt/` beside the file, not inside the project.

    dbt re-parses the whole project (~10 s) unless its saved parse was made for the same
    connection, and the connection includes the warehouse's path: one shared target/ was
    re-parsed every time two warehouses (a test and another, `oms demo` and a real one) took
    turns, and two processes wrote the same files. It also keeps an installed project read-only."""
    p = Path(warehouse).resolve()
    return p.parent / f".{p.stem}.dbt"


def dbt_work_paths(warehouse: str | Path) -> dict[str, Path]:
    """dbt's `--target-path` and `--log-path` in `dbt_work_dir`."""
    work = dbt_work_dir(warehouse)
    return {"--target-path": work / "target", "--log-path": work / "logs"}


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb keeps open across an invocation (`keep_open`), so
    the file is free for the next writer. The next invocation opens it again."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        if env is not None:
            env.close()
