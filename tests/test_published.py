"""The published warehouse: analysts and BI tools read a copy the pipeline replaces atomically
after every run, so neither side ever waits for the other; and a working file held open by
someone else ends a run with exit 3 and one line naming the holder's PID.

Readers here are other processes where it matters: DuckDB caches one database instance per path
within a process, so a second connection in the same process would share the first one's file.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
import threading
import time
from datetime import date, timedelta
from io import StringIO
from pathlib import Path

import duckdb
import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

from flows.cli import app
from flows.demo import demo_config_dict, prepare_demo, write_demo_config
from flows.pipeline import hourly_sync, pipeline_flow
from flows.warehouse import (
    WarehouseHeld,
    begin_tables_write,
    connection,
    end_tables_write,
    init_warehouse,
    lock_holder,
    publish,
)

END = date(2026, 6, 30)
VENV_BIN = Path(sys.executable).parent


def _working(path: Path, orders: int) -> None:
    """A small working file: marts, planning and ops tables, a staging view and a raw table."""
    with connection(path) as con:
        init_warehouse(con)
        for schema in ("marts", "staging"):
            con.execute(f"create schema if not exists {schema}")
        con.execute(
            "create or replace table marts.orders as select range as order_id, "
            "(range * 1.5)::decimal(18, 4) as net_sales, date '2026-06-01' + range::int as "
            f"order_date from range({orders})"
        )
        con.execute("create or replace table planning.po as select 'SKU-1' as sku, 3 as qty")
        con.execute("create or replace view staging.v as select 1 as x")
        con.execute("delete from ops.runs")
        con.execute(
            "insert into ops.runs (run_id, flow, started_at, status) "
            f"values ('run-{orders}', 'test', now(), 'success')"
        )


def _hold(path: Path | str, read_only: bool = True) -> subprocess.Popen:
    """Another process holding a DuckDB connection to `path` until killed."""
    code = textwrap.dedent(f"""
        import sys, time, duckdb
        con = duckdb.connect({str(path)!r}, read_only={read_only})
        print("held", flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()


# ------------------------------------------------------------------------ publish, alone


def test_publish_copies_marts_planning_and_ops_only(tmp_path):
    working, published = tmp_path / "oms.duckdb", tmp_path / "oms_read.duckdb"
    _working(working, 10)
    report = publish(working, published, "run-1")
    assert report.path == str(published) and report.tables >= 3 and report.seconds < 30
    assert not list(tmp_path.glob(".oms_read.duckdb.*"))  # no temporary file left behind
    con = duckdb.connect(str(published), read_only=True)
    try:
        schemas = {
            s for (s,) in con.execute("select distinct schema_name from duckdb_tables()").fetchall()
        }
        assert schemas == {"marts", "planning", "ops"}
        assert con.execute("select count(*) from marts.orders").fetchall() == [(10,)]
        assert con.execute("select run_id from ops.publication").fetchall() == [("run-1",)]
        assert not con.execute("select * from duckdb_views() where not internal").fetchall()
    finally:
        con.close()


def test_a_reader_keeps_its_snapshot_while_a_new_one_is_published(tmp_path):
    """On Linux an open file survives a rename over it: the old reader goes on reading the
    snapshot it opened; a new connection sees the new one. A reader that opened the published
    file read-write (a BI tool without read-only) does not stop the publish either."""
    working, published = tmp_path / "oms.duckdb", tmp_path / "oms_read.duckdb"
    _working(working, 10)
    publish(working, published, "run-10")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PUBLISHED": str(published)},
    )
    try:
        assert json.loads(reader.stdout.readline()) == ["run-10", 10]
        _working(working, 25)
        publish(working, published, "run-25")
        reader.stdin.write("again\n")
        reader.stdin.flush()
        assert json.loads(reader.stdout.readline()) == ["run-10", 10]  # still its snapshot
        assert _fingerprint(published) == ["run-25", 25]
        writer = _hold(published, read_only=False)
        try:
            _working(working, 7)
            publish(working, published, "run-7")
        finally:
            _stop(writer)
        assert _fingerprint(published) == ["run-7", 7]
    finally:
        _stop(reader)


READER = textwrap.dedent("""
    import json, os, sys, duckdb
    con = duckdb.connect(os.environ["PUBLISHED"], read_only=True)
    query = ("select (select run_id from ops.publication), "
             "(select count(*) from marts.orders)")
    print(json.dumps(list(con.execute(query).fetchone())), flush=True)
    for line in sys.stdin:
        print(json.dumps(list(con.execute(query).fetchone())), flush=True)
""")


def _fingerprint(path: Path | str) -> list:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "select (select run_id from ops.publication), (select count(*) from marts.orders)"
        ).fetchone()
        return list(row or [])
    finally:
        con.close()


def test_a_held_working_file_names_the_holder_after_waiting(tmp_path):
    working = tmp_path / "oms.duckdb"
    _working(working, 3)
    holder = _hold(working)
    try:
        started = time.monotonic()
        with pytest.raises(WarehouseHeld) as err, connection(working, wait=1.0):
            pass
        assert 0.9 <= time.monotonic() - started < 10
    finally:
        _stop(holder)
    assert err.value.pid == holder.pid
    assert f"PID {holder.pid}" in str(err.value) and "\n" not in str(err.value)
    with connection(working):  # free again once the holder is gone
        pass
    assert lock_holder(ValueError("Conflicting lock is held in x (PID 12)")) is None  # by type


def test_dbt_waits_for_a_reader_of_the_working_file_then_names_it(tmp_path, monkeypatch):
    """A reader of the working file (`oms status` before anything is published, a notebook) must
    not fail a run's dbt step: dbt could not open the file and did nothing, so the invocation
    waits for the reader within the run's lock timeout; without a wait it names the holder."""
    from flows.dbt_runner import invoke, project_dir
    from flows.warehouse import held_error, writer_lock

    working = tmp_path / "oms.duckdb"
    _working(working, 3)
    monkeypatch.setenv("OMS_WAREHOUSE", str(working))
    dirs = ["--project-dir", str(project_dir()), "--profiles-dir", str(project_dir())]
    args = ["show", "--inline", "select count(*) as n from marts.orders", *dirs, "--quiet"]
    holder = _hold(working)
    try:
        with pytest.raises(WarehouseHeld) as err:  # outside a run: no wait
            invoke(args)
        assert err.value.pid == holder.pid
        threading.Timer(3.0, _stop, [holder]).start()  # the reader leaves after 3 s
        started = time.monotonic()
        with writer_lock(working, 120):
            result = invoke(args)
        assert result.success and time.monotonic() - started >= 2.5
    finally:
        _stop(holder)
    # dbt wraps the refusal when a node opens the file: the cause decides, not the message
    refusal = duckdb.IOException(
        'Could not set lock on file "x": Conflicting lock is held in p (PID 12)'
    )
    try:
        try:
            raise refusal
        except duckdb.IOException as exc:
            raise RuntimeError("Runtime Error") from exc
    except RuntimeError as wrapped:
        assert held_error(wrapped) is refusal
    assert held_error(RuntimeError("Conflicting lock is held in x (PID 12)")) is None


# ------------------------------------------------------------------ incremental publication


def _same_tables(published: Path | str, full: Path | str) -> dict[str, int]:
    """Assert that two published files hold the same tables, column for column and row for row
    (`except all` both ways empty), `ops.publication` aside; return {table: rows}."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"attach '{published}' as a (read_only)")
        con.execute(f"attach '{full}' as b (read_only)")

        def tables(db: str) -> list[tuple[str, str]]:
            return con.execute(
                """select schema_name, table_name from duckdb_tables() where database_name = ?
                   and not (schema_name = 'ops' and table_name = 'publication') order by all""",
                [db],
            ).fetchall()

        def columns(db: str, schema: str, name: str) -> list:
            return con.execute(
                """select column_name, data_type from duckdb_columns() where database_name = ?
                   and schema_name = ? and table_name = ? order by column_index""",
                [db, schema, name],
            ).fetchall()

        assert tables("a") == tables("b")
        rows = {}
        for schema, name in tables("a"):
            assert columns("a", schema, name) == columns("b", schema, name), (schema, name)
            t = f'"{schema}"."{name}"'
            n_a, n_b, a_only, b_only = (
                con.execute(
                    f"""select (select count(*) from a.{t}), (select count(*) from b.{t}),
                           (select count(*) from (from a.{t} except all from b.{t})),
                           (select count(*) from (from b.{t} except all from a.{t}))"""
                ).fetchone()
                or ()
            )
            assert (n_a, a_only, b_only) == (n_b, 0, 0), (schema, name, n_a, n_b, a_only, b_only)
            rows[f"{schema}.{name}"] = n_a
        return rows
    finally:
        con.close()


def _equals_a_full_copy(working: Path | str, published: Path | str, tmp_path: Path) -> None:
    full = tmp_path / f"full-{time.monotonic_ns()}.duckdb"
    report = publish(working, full, "full")
    assert report.full_copy is not None and report.kept == 0
    try:
        _same_tables(published, full)
    finally:
        full.unlink()


def _built(working: Path, *tables: str) -> None:
    """What a dbt build that wrote `tables` (marts) records."""
    begin_tables_write(working)
    end_tables_write(working, [("marts", t) for t in tables])


def _marts(working: Path, **tables: int) -> None:
    with connection(working) as con:
        for name, n in tables.items():
            con.execute(f"create or replace table marts.{name} as select range as id, "
                        f"range % 7 as k from range({n})")  # fmt: skip


def test_an_incremental_publication_copies_only_what_a_build_wrote(tmp_path):
    working, published = tmp_path / "oms.duckdb", tmp_path / "oms_read.duckdb"
    _working(working, 10)
    _marts(working, big=5000, other=30)
    _built(working, "orders", "big", "other")
    first = publish(working, published, "run-1")
    assert (first.copied, first.kept, first.full_copy) == (
        first.tables,
        0,
        "no previous publication",
    )

    again = publish(working, published, "run-2")  # nothing built since: every mart kept
    assert again.full_copy is None and again.kept == 3 and again.copied == again.tables - 3
    assert again.kept_rows == 5040 and again.copied + again.kept == first.tables
    _equals_a_full_copy(working, published, tmp_path)
    assert _fingerprint(published) == ["run-2", 10]

    _working(working, 12)  # a build rewrote orders (and big, to the same rows)
    _marts(working, big=5000, new_one=4)
    _built(working, "orders", "big", "new_one")
    with connection(working) as con:
        con.execute("drop table marts.other")  # a model removed from the project
    third = publish(working, published, "run-3")
    assert third.full_copy is None and third.kept == 0 and third.tables == first.tables
    _equals_a_full_copy(working, published, tmp_path)
    assert _fingerprint(published) == ["run-3", 12]

    _built(working)  # a build that failed and was put back: wrote nothing
    fourth = publish(working, published, "run-4")
    assert fourth.kept == 3 and fourth.full_copy is None
    sizes = [published.stat().st_size]
    for i in range(3):  # re-copying the same tables again and again does not grow the file
        _marts(working, big=5000 + i)
        _built(working, "big")
        assert publish(working, published, f"run-{5 + i}").kept == 2
        sizes.append(published.stat().st_size)
    assert max(sizes) <= sizes[0] * 1.5, sizes
    _equals_a_full_copy(working, published, tmp_path)
    with connection(published, read_only=True) as con:
        kept, copied = con.execute("select kept, copied from ops.publication").fetchone() or ()
    assert kept == 2 and copied == fourth.tables - 2


def test_publication_falls_back_to_a_full_copy_when_it_cannot_trust_the_last_one(tmp_path):
    working, published = tmp_path / "oms.duckdb", tmp_path / "oms_read.duckdb"
    _working(working, 10)
    _marts(working, big=3000)
    # No record of what builds wrote (a file from before it was kept, or marts made by hand).
    assert publish(working, published, "r").full_copy == (
        "the working file has no record of what its builds wrote"
    )
    _built(working, "orders", "big")
    assert "records no ledger" in (publish(working, published, "r").full_copy or "")
    assert publish(working, published, "r").full_copy is None

    # A reader opened the published copy read-write and wrote to it.
    con = duckdb.connect(str(published))
    con.execute("insert into marts.big values (-1, -1)")
    con.close()
    report = publish(working, published, "r")
    assert report.kept == 0 and "modified" in (report.full_copy or ""), report.full_copy
    _equals_a_full_copy(working, published, tmp_path)

    # Not a DuckDB file at all.
    published.write_bytes(b"not a database" * 1000)
    report = publish(working, published, "r")
    assert report.kept == 0 and "cannot be read" in (report.full_copy or ""), report.full_copy
    _equals_a_full_copy(working, published, tmp_path)

    # A build is running, or died: whatever it touched is copied.
    begin_tables_write(working)
    _marts(working, big=17)
    report = publish(working, published, "r")
    assert report.kept == 0 and "did not finish" in (report.full_copy or "")
    _equals_a_full_copy(working, published, tmp_path)
    end_tables_write(working, [])
    assert publish(working, published, "r").kept == 2

    # A mart changed with no build recorded (by hand): a row count that differs is caught.
    with connection(working) as con:
        con.execute("delete from marts.big where id < 5")
    report = publish(working, published, "r")
    assert report.kept == 1 and report.full_copy is None
    _equals_a_full_copy(working, published, tmp_path)

    # Another working file published to the same place.
    other = tmp_path / "other.duckdb"
    _working(other, 3)
    _built(other, "orders")
    report = publish(other, published, "r")
    assert report.kept == 0 and "another working file" in (report.full_copy or "")
    _equals_a_full_copy(other, published, tmp_path)
    assert not list(tmp_path.glob(".oms_read.duckdb.*"))


# ------------------------------------------------------------------------------ oms sql


@pytest.fixture
def sql_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "oms.yaml").write_text(yaml.safe_dump(demo_config_dict()))
    working = tmp_path / "data" / "oms.duckdb"
    _working(working, 4)
    return tmp_path, working, tmp_path / "data" / "oms_read.duckdb"


QUERY = "select order_id, net_sales, order_date from marts.orders order by order_id limit 3"


def test_oms_sql_reads_the_working_file_until_something_is_published(sql_project):
    _, working, published = sql_project
    result = CliRunner().invoke(app, ["sql", "select count(*) as n from marts.orders", "-f", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output == "n\n4\n"
    publish(working, published, "run-x")
    _working(working, 9)  # the working file moves on; readers see the published copy
    result = CliRunner().invoke(app, ["sql", "select count(*) as n from marts.orders", "-f", "csv"])
    assert result.output == "n\n4\n"


def test_oms_sql_formats_and_out(sql_project):
    root, working, published = sql_project
    publish(working, published, "run-x")
    runner = CliRunner()
    csv_out = runner.invoke(app, ["sql", QUERY, "--format", "csv"])
    assert csv_out.exit_code == 0, csv_out.output
    assert csv_out.output.splitlines() == [
        "order_id,net_sales,order_date",
        "0,0.0000,2026-06-01",
        "1,1.5000,2026-06-02",
        "2,3.0000,2026-06-03",
    ]
    json_out = runner.invoke(app, ["sql", QUERY, "--format", "json"])
    assert json.loads(json_out.output) == [
        {"order_id": 0, "net_sales": 0.0, "order_date": "2026-06-01"},
        {"order_id": 1, "net_sales": 1.5, "order_date": "2026-06-02"},
        {"order_id": 2, "net_sales": 3.0, "order_date": "2026-06-03"},
    ]
    table_out = runner.invoke(app, ["sql", QUERY])
    assert table_out.exit_code == 0 and "net_sales" in table_out.output
    assert "2026-06-03" in table_out.output and "3 rows" in table_out.output
    for fmt, name in (("csv", "o.csv"), ("json", "o.json"), ("table", "o.txt")):
        out = root / "exports" / name
        result = runner.invoke(app, ["sql", QUERY, "--format", fmt, "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert f"wrote 3 rows to {out}" in result.output
        text = out.read_text()
        assert "2026-06-03" in text
    assert (root / "exports" / "o.csv").read_text() == csv_out.output
    assert json.loads((root / "exports" / "o.json").read_text()) == json.loads(json_out.output)
    bad = runner.invoke(app, ["sql", "select nope from marts.orders"])
    assert bad.exit_code == 1 and "nope" in bad.output and "Traceback" not in bad.output
    write = runner.invoke(app, ["sql", "delete from marts.orders"])
    assert write.exit_code == 1 and "read-only" in write.output
    wrong = runner.invoke(app, ["sql", QUERY, "--format", "xml"])
    assert wrong.exit_code == 2


def test_oms_sql_prompt(sql_project):
    """The prompt: statements over several lines, dot commands, the newest snapshot each time."""
    from flows import sqlshell

    _, working, published = sql_project
    publish(working, published, "run-4")
    lines = iter(
        [
            "select count(*) as n",
            "from marts.orders;",
            ".format csv",
            "select run_id from ops.publication;",
            "<publish>",
            "select count(*) as n from marts.orders;",
            ".quit",
        ]
    )

    def read(prompt: str) -> str:
        line = next(lines)
        if line == "<publish>":
            _working(working, 12)
            publish(working, published, "run-12")
            return ""
        return line

    buf = StringIO()
    console = Console(file=buf, width=120)
    sqlshell.repl(str(published), console, history=None, read=read)
    out = buf.getvalue()
    assert "│ 4 │" in out or "4 │" in out
    assert "run_id\nrun-4\n" in out and "n\n12\n" in out


# ------------------------------------------------------------ the pipeline and its readers


def _orders(path: str) -> int:
    with connection(path, read_only=True) as con:
        return con.execute("select count(*) from marts.orders").fetchall()[0][0]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory, prefect_harness):
    """A tiny sandbox landed and built up to 20 days before its end: the snapshot readers hold."""
    project = tmp_path_factory.mktemp("published")
    cfg, _, _ = prepare_demo(
        project, seed=11, scale="tiny", end_date=END, as_of=END - timedelta(20)
    )
    summary = pipeline_flow(cfg=cfg, stages=["sync", "build"])
    assert summary.published is not None, summary
    return project, cfg, summary, _orders(cfg.warehouse)


def test_an_hourly_run_publishes_while_readers_read(first_run):
    """A reader holds the published file through an hourly run (land, build, check, publish):
    the run succeeds; every snapshot anyone opens during it is complete (the old one or the new
    one); the old connection still sees the old snapshot; a new connection sees the new data."""
    project, cfg, first, n_first = first_run
    published = cfg.published_path()
    assert first.published.path == published
    assert _fingerprint(published) == [first.run_id, n_first]
    reader = subprocess.Popen(
        [sys.executable, "-c", READER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PUBLISHED": published},
    )
    seen: list[list] = []
    stop = threading.Event()

    def poll() -> None:  # fresh connections all through the run
        while not stop.is_set():
            seen.append(_fingerprint(published))
            time.sleep(0.05)

    poller = threading.Thread(target=poll, daemon=True)
    try:
        assert json.loads(reader.stdout.readline()) == [first.run_id, n_first]
        prepare_demo(project, seed=11, scale="tiny", end_date=END)  # the last 20 days arrive
        poller.start()
        second = hourly_sync(cfg=cfg)
        stop.set()
        poller.join()
        assert second.skipped is None and second.checks.ok and second.dbt.models_built > 0
        assert second.published is not None and second.published.tables >= 15
        n_second = _orders(cfg.warehouse)
        assert n_second > n_first
        reader.stdin.write("again\n")
        reader.stdin.flush()
        assert json.loads(reader.stdout.readline()) == [first.run_id, n_first]
    finally:
        stop.set()
        _stop(reader)
    assert _fingerprint(published) == [second.run_id, n_second]
    snapshots = {tuple(s) for s in seen}
    assert snapshots <= {(first.run_id, n_first), (second.run_id, n_second)}, snapshots
    assert (second.run_id, n_second) in snapshots or len(seen) == 0
    with connection(published, read_only=True) as con:  # published after the run was recorded
        runs = dict(con.execute("select run_id, status from ops.runs").fetchall())
    assert runs[second.run_id] == "success" and runs[first.run_id] == "success"
    assert second.log_file and Path(second.log_file).exists()


def test_the_summary_hint_runs_as_printed(first_run, monkeypatch):
    import flows.cli as cli

    project, cfg, summary, n_first = first_run
    write_demo_config(project / "oms.yaml")
    monkeypatch.chdir(project)
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    buf = StringIO()
    monkeypatch.setattr(cli, "console", Console(file=buf, width=80))
    monkeypatch.setitem(cli._state, "config", None)
    cli.print_summary(summary, "oms demo")
    out = buf.getvalue()
    lines = {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in out.splitlines()
             if line[:1].isalpha()}  # fmt: skip
    assert lines["try"] == 'oms sql "from marts.orders limit 5"'
    assert lines["published"] == cfg.published_path()  # whole, on one line
    assert lines["warehouse"] == cfg.warehouse
    assert "duckdb -readonly" not in out and "…/" not in out
    done = subprocess.run(
        shlex.split(lines["try"]) + ["--format", "csv"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("order_key,") and len(done.stdout.splitlines()) == 6
    printed = subprocess.run(
        shlex.split(lines["try"]), cwd=project, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    assert printed.returncode == 0 and "5 rows" in printed.stdout, printed.stdout + printed.stderr


def test_a_run_with_the_working_file_held_exits_3_naming_the_pid(
    tmp_path, monkeypatch, prefect_harness
):
    """An analyst's notebook opened the working file (read-only, even): the run waits
    `lock_timeout_seconds`, then exits 3 with one line naming the holder's PID and pointing at
    the published file; no traceback."""
    monkeypatch.chdir(tmp_path)
    data = demo_config_dict()
    data["lock_timeout_seconds"] = 1
    (tmp_path / "oms.yaml").write_text(yaml.safe_dump(data))
    working = tmp_path / "data" / "oms.duckdb"
    with connection(working) as con:
        init_warehouse(con)
    holder = _hold(working)
    try:
        result = CliRunner().invoke(app, ["sync"])
    finally:
        _stop(holder)
    assert result.exit_code == 3, result.output + repr(result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and f"PID {holder.pid}" in lines[0]
    assert str(tmp_path / "data" / "oms_read.duckdb") in lines[0]
    assert "Traceback" not in result.output


def test_incremental_publications_equal_full_copies_through_a_run_history(
    tmp_path, prefect_harness, monkeypatch
):
    """After every run of a history (first build, hourly with new orders, a run with nothing new,
    a failed build rolled back, the fix, a build killed mid-way and the run after it, a full
    refresh), the published file equals a full copy of the working file, table for table. The
    failed build leaves every model table as it was, row for row; the fix builds what the failed
    run landed; the incremental history equals a full refresh from raw."""
    from flows.dbt_runner import DbtFailed, snapshot
    from flows.pipeline import full_refresh
    from tests.test_orchestration import _broken_project, _fingerprint

    cfg, _, _ = prepare_demo(
        tmp_path, seed=11, scale="tiny", end_date=END, as_of=END - timedelta(20)
    )
    published = cfg.published_path()
    history = []

    def check(label: str, report) -> None:
        assert report is not None, label
        _equals_a_full_copy(cfg.warehouse, published, tmp_path)
        assert report.copied + report.kept == report.tables
        history.append((label, report.copied, report.kept, report.full_copy))

    first = pipeline_flow(cfg=cfg, stages=["sync", "build"])
    check("first build", first.published)
    assert first.published.kept == 0
    with connection(published, read_only=True) as con:
        q = "select count(*) from duckdb_tables() where schema_name = 'marts'"
        n_marts = con.execute(q).fetchall()[0][0]
    n_other = first.published.tables - n_marts

    prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END, as_of=END - timedelta(14))
    hourly = hourly_sync(cfg=cfg)
    assert hourly.dbt is not None and hourly.sync.rows_landed > 0
    check("hourly, new orders", hourly.published)
    assert hourly.published.full_copy is None

    idle = hourly_sync(cfg=cfg)
    assert idle.dbt is None  # nothing new: no build, no mart copied
    check("hourly, nothing new", idle.published)
    assert (idle.published.copied, idle.published.kept) == (n_other, n_marts)

    prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END, as_of=END - timedelta(10))
    before = _fingerprint(cfg.warehouse)
    assert any(k.startswith("marts.") for k in before)
    monkeypatch.setenv("OMS_DBT_PROJECT_DIR", str(_broken_project(tmp_path)))
    with pytest.raises(DbtFailed, match="zz_broken") as failed:
        hourly_sync(cfg=cfg)
    monkeypatch.delenv("OMS_DBT_PROJECT_DIR")
    assert any("left as before the build" in n for n in failed.value.__notes__)
    assert _fingerprint(cfg.warehouse) == before  # every staging, intermediate and mart table
    with connection(cfg.warehouse, read_only=True) as con:
        newest = con.execute("select max(demand_date) from marts.daily_demand").fetchall()[0][0]
        landed = con.execute("select count(*) from raw.shop__orders").fetchall()[0][0]
    with connection(published, read_only=True) as con:  # published after the failure
        publication = con.execute("select kept, copied from ops.publication").fetchone()
        runs = con.execute("select status from ops.runs order by started_at desc").fetchall()
    assert runs[0] == ("failed",) and publication == (n_marts, n_other)  # rolled back: kept
    _equals_a_full_copy(cfg.warehouse, published, tmp_path)

    fixed = hourly_sync(cfg=cfg)  # lands nothing, builds what the failed run landed
    assert fixed.dbt is not None and fixed.sync.rows_landed == 0 and fixed.dbt.models_built > 0
    with connection(cfg.warehouse, read_only=True) as con:
        assert con.execute("select count(*) from raw.shop__orders").fetchall()[0][0] == landed
        later = con.execute("select max(demand_date) from marts.daily_demand").fetchall()[0][0]
    assert later > newest  # the days the failed run landed are built now
    check("hourly after the fix", fixed.published)

    # A build killed mid-way: what `build` had recorded and opened, and its half-done work.
    from flows.warehouse import begin_tables_write as begin

    begin(cfg.warehouse)
    snapshot(cfg, set())
    with connection(cfg.warehouse) as con:
        con.execute("delete from marts.daily_demand where demand_date > ?", [END - timedelta(15)])
    after_kill = pipeline_flow(cfg=cfg, stages=["sync"])  # publishes the working file as it is
    check("a sync after a killed build", after_kill.published)
    assert after_kill.published.kept == 0 and "did not finish" in after_kill.published.full_copy

    prepare_demo(tmp_path, seed=11, scale="tiny", end_date=END)
    restored = hourly_sync(cfg=cfg)  # puts the killed build's snapshot back, then builds
    assert restored.dbt is not None
    check("hourly restoring the killed build", restored.published)

    incremental = _fingerprint(cfg.warehouse)
    refreshed = full_refresh(cfg=cfg)
    assert refreshed.dbt is not None and refreshed.skipped is None
    assert _fingerprint(cfg.warehouse) == incremental  # the history equals a rebuild from raw
    check("full refresh", refreshed.published)
    assert refreshed.published.full_copy is None and refreshed.published.kept == 0
    print(history)
