"""Run dbt in-process against the warehouse, and turn its results into something a person reads.

dbt opens the DuckDB file itself, so callers must not hold a connection while it runs. The
profile keeps it open for the whole invocation (`keep_open: true`: re-opening the file for every
model and test cost ~10 s per hourly build on the large sandbox), and `_release_warehouse` closes
it when dbt returns, so the flows and `oms` commands can open the file again.

A failed build leaves the warehouse as it was (`build`): dbt commits model by model, so a build
that fails half-way would otherwise leave some marts new and some old, and an incremental model
(staging tables, marts.inventory_snapshots, marts.daily_demand) with a half-applied increment
that every later run builds on. Before the build, every table the build can write is copied into
the schema `_oms_build_backup` (DuckDB copies in-file: fast), with the list of every relation of
the model schemas and each view's SQL, in one transaction; on failure, one transaction puts them
back and drops what the build created. A backup left behind by a killed build is restored by the
next build before it starts.
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
    """dbt reported an error or a failing test; the message lists the nodes and their errors."""


@dataclass
class DbtReport:
    models_built: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    warnings: int = 0
    failures: list[str] = field(default_factory=list)
    snapshot_tables: int = 0  # tables copied aside before the build (restored had it failed)
    snapshot_seconds: float = 0.0


def dbt_vars(cfg: Config) -> dict[str, Any]:
    """Every var the dbt project reads from oms.yaml, the same for build, freshness and docs (a
    change of vars makes dbt re-parse the whole project): money and dates, the configured
    currencies of the `in_var_list` test on `orders.currency`, and the freshness allowances
    of `dbt source freshness`."""
    q = cfg.quality
    return {
        "base_currency": cfg.base_currency,
        "business_timezone": cfg.business_timezone,
        "currencies": list(cfg.currencies),
        "freshness_hours": q.freshness_hours,
        "freshness_hours_by_channel": dict(q.freshness_hours_by_channel),
    }


def run_dbt(
    cfg: Config,
    command: str = "build",
    select: str | None = None,
    on_event: Callable[[str], None] | None = None,
    full_refresh: bool = False,
) -> DbtReport:
    """`dbt <command>` in-process; raise DbtFailed naming every failed node."""
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
    if full_refresh:
        args.append("--full-refresh")

    def callback(event) -> None:
        if on_event and event.info.name in ("LogModelResult", "LogTestResult", "LogSeedResult"):
            on_event(event.info.msg)

    result = invoke(args, [callback])
    report = DbtReport()
    if result.exception is not None:
        raise DbtFailed(f"dbt {command} could not run: {result.exception}")
    for r in result.result or []:
        node = r.node
        status = str(r.status)
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
            report.failures.append(f"{node.resource_type} {node.name}: {status}: {r.message}")
    if not result.success:
        raise DbtFailed(
            f"dbt {command} failed ({len(report.failures)} node(s)):\n  - "
            + "\n  - ".join(report.failures or ["see dbt_project/logs/dbt.log"])
        )
    return report


# ------------------------------------------------------------------------ build or roll back

MODEL_SCHEMAS = ("staging", "intermediate", "marts")
BACKUP_SCHEMA = "_oms_build_backup"
_INVENTORY = f"{BACKUP_SCHEMA}.__relations"  # written last: its presence means "complete"


def build(
    cfg: Config,
    select: str | None = None,
    full_refresh: bool = False,
    on_event: Callable[[str], None] | None = None,
    on_log: Callable[[str], None] | None = None,
) -> DbtReport:
    """`dbt build` that leaves the warehouse as it was when it fails (see module docstring)."""
    say = on_log or (lambda line: None)
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
    n = snapshot(cfg, None if full_refresh else tables_written_by(select))
    took = time.perf_counter() - started
    say(f"snapshot of {n} tables before the build: {took:.2f} s")
    try:
        report = run_dbt(cfg, "build", select=select, full_refresh=full_refresh, on_event=on_event)
    except BaseException as exc:
        t0 = time.perf_counter()
        restored = restore_snapshot(cfg)
        note = (
            f"the warehouse was left as before the build ({restored}, "
            f"{time.perf_counter() - t0:.2f} s)"
        )
        exc.add_note(note)
        say(note)
        raise
    discard_snapshot(cfg)
    report.snapshot_tables, report.snapshot_seconds = n, took
    return report


def tables_written_by(select: str | None) -> set[tuple[str, str]] | None:
    """(schema, table) of every table a `source:raw.X+ …` selection builds, from the manifest of
    the previous invocation; None (meaning every table) when unsure: no selection, another kind
    of selector, no manifest, or a project changed since the manifest was written."""
    if not select:
        return None
    manifest_path = project_dir() / "target" / "manifest.json"
    try:
        written = manifest_path.stat().st_mtime
    except FileNotFoundError:
        return None
    if _project_changed_since(written):
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    sources = {f"{s['source_name']}.{s['name']}": uid for uid, s in manifest["sources"].items()}
    todo = []
    for token in select.split():
        name = token.removeprefix("source:").removesuffix("+")
        if not token.startswith("source:") or not token.endswith("+") or name not in sources:
            return None
        todo.append(sources[name])
    seen: set[str] = set()
    while todo:
        uid = todo.pop()
        for child in manifest["child_map"].get(uid, []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    out = set()
    for uid in seen:
        node = manifest["nodes"].get(uid)
        if node and node["resource_type"] == "model":
            out.add((node["schema"], node.get("alias") or node["name"]))
    return out


def _project_changed_since(stamp: float) -> bool:
    root = project_dir()
    for path in root.rglob("*"):
        rel = path.relative_to(root).parts
        if rel and rel[0] in ("target", "logs", "dbt_packages"):
            continue
        if path.is_file() and path.stat().st_mtime > stamp:
            return True
    return False


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _relations(con) -> list[tuple[str, str, str, str | None]]:
    """(schema, name, 'table' | 'view', view sql) of every relation in the model schemas."""
    schemas = ", ".join(f"'{s}'" for s in MODEL_SCHEMAS)
    return con.execute(
        f"""select schema_name, table_name, 'table', null from duckdb_tables()
            where database_name = current_database() and schema_name in ({schemas})
            union all
            select schema_name, view_name, 'view', sql from duckdb_views()
            where database_name = current_database() and schema_name in ({schemas})
              and not internal"""
    ).fetchall()


def _backup_name(schema: str, name: str) -> str:
    return f"{BACKUP_SCHEMA}.{_q(schema + '__' + name)}"


def snapshot(cfg: Config, tables: set[tuple[str, str]] | None = None) -> int:
    """Copy the model tables a build may write (`tables`; None: all of them) into the backup
    schema, with the inventory of every model relation, in one transaction. Returns how many."""
    from flows.warehouse import connection

    with connection(cfg.warehouse) as con:
        con.execute("begin")
        try:
            con.execute(f"drop schema if exists {BACKUP_SCHEMA} cascade")
            con.execute(f"create schema {BACKUP_SCHEMA}")
            relations = _relations(con)
            copied = 0
            inventory = []
            for schema, name, kind, sql in relations:
                backed_up = kind == "table" and (tables is None or (schema, name) in tables)
                if backed_up:
                    con.execute(
                        f"create table {_backup_name(schema, name)} as from {_q(schema)}.{_q(name)}"
                    )
                    copied += 1
                inventory.append((schema, name, kind, sql, backed_up))
            con.execute(
                f"create table {_INVENTORY} (schema_name varchar, name varchar, kind varchar, "
                "sql varchar, backed_up boolean)"
            )
            if inventory:
                con.executemany(f"insert into {_INVENTORY} values (?, ?, ?, ?, ?)", inventory)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    return copied


def restore_snapshot(cfg: Config) -> str | None:
    """Put the snapshot back, in one transaction: drop what was created since, copy the backed-up
    tables back, recreate changed or dropped views; then drop the backup. None when there is no
    complete snapshot; else a short account of what was done."""
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
        inventory = con.execute(f"from {_INVENTORY}").fetchall()
        before = {(s, n): (k, sql, b) for s, n, k, sql, b in inventory}
        con.execute("begin")
        try:
            now = {(s, n): (k, sql) for s, n, k, sql in _relations(con)}
            dropped = 0
            for (schema, name), (kind, sql) in now.items():
                was = before.get((schema, name))
                if was is None or was[0] != kind or (kind == "view" and was[1] != sql):
                    con.execute(f"drop {kind} {_q(schema)}.{_q(name)}")
                    dropped += 1
            restored = 0
            order = sorted(before.items(), key=lambda item: (item[1][0] == "view",
                           MODEL_SCHEMAS.index(item[0][0]), item[0][1]))  # fmt: skip
            for (schema, name), (kind, sql, backed_up) in order:
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


def discard_snapshot(cfg: Config) -> None:
    from flows.warehouse import connection

    with connection(cfg.warehouse) as con:
        con.execute(f"drop schema if exists {BACKUP_SCHEMA} cascade")


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
    Everything that runs dbt in this project goes through here (flows, tests, benchmarks)."""
    from dbt.cli.main import dbtRunner

    try:
        return dbtRunner(callbacks=callbacks or []).invoke(args)
    finally:
        _release_warehouse()


def _release_warehouse() -> None:
    """Close the DuckDB database dbt-duckdb keeps open across an invocation (`keep_open`), so
    the file is free for the next writer. The next invocation opens it again."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        if env is not None:
            env.close()
