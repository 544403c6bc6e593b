"""`oms sql`: a query against the published warehouse (the read-only copy no run ever locks),
printed as a table or written as CSV or JSON; without a query, a small prompt with history.

The prompt reopens the file when a run has published a newer copy since the last statement, so
every statement reads the newest complete snapshot.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table
from rich.text import Text

FORMATS = ("table", "csv", "json")
TABLE_MAX_ROWS = 1000  # a table on screen; csv and json write every row


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[tuple]


def run_query(con: duckdb.DuckDBPyConnection, query: str) -> QueryResult:
    """Execute `query` (several statements: the last one's result) and fetch its rows."""
    cur = con.execute(query)
    if cur.description is None:
        return QueryResult([], [])
    return QueryResult([d[0] for d in cur.description], cur.fetchall())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def to_csv(result: QueryResult) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(result.columns)
    writer.writerows([_cell(v) for v in row] for row in result.rows)
    return buf.getvalue()


def to_json(result: QueryResult) -> str:
    """An array of objects, one per row (decimals as numbers, times as ISO 8601 text)."""
    records = [
        {c: _json_value(v) for c, v in zip(result.columns, row, strict=True)} for row in result.rows
    ]
    return json.dumps(records, ensure_ascii=False, indent=1) + "\n"


def to_table(result: QueryResult, title: str | None = None) -> Table:
    t = Table(title=title)
    for c in result.columns:
        t.add_column(c, overflow="fold")
    for row in result.rows[:TABLE_MAX_ROWS]:
        t.add_row(*(_cell(v) for v in row))
    return t


def _natural_width(result: QueryResult) -> int:
    rows = result.rows[:TABLE_MAX_ROWS]
    widths = [
        max([len(c), *(len(_cell(r[i])) for r in rows)]) for i, c in enumerate(result.columns)
    ]
    return sum(widths) + 3 * len(widths) + 1


def to_records(result: QueryResult) -> str:
    """Each row as a block of `column | value` lines (for results wider than the screen)."""
    pad = max(len(c) for c in result.columns)
    blocks = []
    for n, row in enumerate(result.rows[:TABLE_MAX_ROWS], 1):
        lines = [f"-[ row {n} ]" + "-" * max(pad - 6, 4)]
        lines += [f"{c:<{pad}} | {_cell(v)}" for c, v in zip(result.columns, row, strict=True)]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def render(result: QueryResult, fmt: str, console: Console, out: Path | None = None) -> None:
    """Print `result` in `fmt`, or write it to `out` (table: as aligned text)."""
    if fmt not in FORMATS:
        raise ValueError(f"--format: '{fmt}' is not one of {', '.join(FORMATS)}")
    if fmt == "csv":
        text = to_csv(result)
    elif fmt == "json":
        text = to_json(result)
    else:
        if out is not None:
            file_console = Console(file=io.StringIO(), width=10_000, color_system=None)
            file_console.print(to_table(result))
            text = file_console.file.getvalue()  # type: ignore[attr-defined]
        else:
            if result.columns and _natural_width(result) <= console.width:
                console.print(to_table(result))
            elif result.columns:  # too wide for the screen: one block per row, as psql's \x
                console.print(to_records(result), soft_wrap=True, markup=False, highlight=False)
            more = len(result.rows) - TABLE_MAX_ROWS
            console.print(
                f"{len(result.rows):,} row{'s' if len(result.rows) != 1 else ''}"
                + (f" ({more:,} not shown: use --format csv --out FILE)" if more > 0 else ""),
                style="dim",
            )
            return
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(result.rows):,} rows to {out}", soft_wrap=True)
    else:
        console.file.write(text)
        console.file.flush()


# ------------------------------------------------------------------------------ the prompt

PROMPT, MORE = "oms sql> ", "    ...> "
HELP = (
    "end a statement with ';' (it may span lines). .tables lists the tables, .format "
    "table|csv|json changes the output, .quit (or Ctrl-D) leaves."
)


def _setup_history(history: Path | None) -> Callable[[], None]:
    try:
        import readline
    except ImportError:  # not every platform has it; the prompt works without history
        return lambda: None
    if history is not None:
        history.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError, OSError):
            readline.read_history_file(str(history))
        readline.set_history_length(1000)

    def save() -> None:
        if history is not None:
            with contextlib.suppress(OSError):
                readline.write_history_file(str(history))

    return save


class _Reader:
    """A read-only connection to `path` that reopens when the file was replaced (published)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.con: duckdb.DuckDBPyConnection | None = None
        self.inode: int | None = None

    def get(self) -> duckdb.DuckDBPyConnection:
        inode = os.stat(self.path).st_ino
        if self.con is None or inode != self.inode:
            if self.con is not None:
                self.con.close()
            self.con = duckdb.connect(self.path, read_only=True)
            self.con.execute("set timezone = 'UTC'")
            self.con.execute("set enable_progress_bar = false")
            self.inode = inode
        return self.con

    def close(self) -> None:
        if self.con is not None:
            self.con.close()


def repl(
    path: str,
    console: Console,
    fmt: str = "table",
    history: Path | None = None,
    read: Callable[[str], str] = input,
) -> None:
    """A prompt: statements end with ';'; `.tables`, `.format X`, `.quit`; history in `history`."""
    save = _setup_history(history)
    reader = _Reader(path)
    console.print(f"{path} (read-only). {HELP}", soft_wrap=True)
    buffer: list[str] = []
    try:
        while True:
            try:
                line = read(MORE if buffer else PROMPT)
            except EOFError:
                console.print()
                break
            except KeyboardInterrupt:
                console.print()
                buffer.clear()
                continue
            stripped = line.strip()
            if not buffer and stripped.startswith("."):
                command, _, arg = stripped.partition(" ")
                if command in (".quit", ".exit", ".q"):
                    break
                if command == ".format" and arg.strip() in FORMATS:
                    fmt = arg.strip()
                elif command == ".tables":
                    _print(reader, TABLES_SQL, fmt, console)
                else:
                    console.print(HELP)
                continue
            if not buffer and stripped.lower() in ("exit", "quit"):
                break
            if stripped:
                buffer.append(line)
            if buffer and stripped.endswith(";"):
                _print(reader, "\n".join(buffer), fmt, console)
                buffer.clear()
    finally:
        reader.close()
        save()


TABLES_SQL = """select schema_name as schema, table_name as "table", estimated_size as rows
from duckdb_tables() where database_name = current_database() order by 1, 2"""


def _print(reader: _Reader, query: str, fmt: str, console: Console) -> None:
    try:
        render(run_query(reader.get(), query), fmt, console)
    except duckdb.Error as exc:
        console.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
