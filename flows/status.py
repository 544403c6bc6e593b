"""`oms status`: what ran, how fresh each stream is, what is quarantined, where the files are.

It reads the published copy (flows.warehouse.reader_connection), so it works while a run writes;
the working file only until something has been published."""

from __future__ import annotations

from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from flows.config import Config
from flows.warehouse import reader_connection


def _table(title: str, columns: list[str], rows: list[tuple]) -> Table:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    if not rows:
        t.add_row(*(["(none)"] + [""] * (len(columns) - 1)))
    return t


def open_and_late_orders(con: duckdb.DuckDBPyConnection) -> list[tuple] | None:
    """Open orders per channel and location now, the late ones (past their ship-by promise,
    marts.order_fulfillment) and those placed today (UTC); None before the mart exists."""
    have = con.execute(
        """select count(*) from duckdb_tables()
           where schema_name = 'marts' and table_name = 'order_fulfillment'"""
    ).fetchone()
    if not have or not have[0]:
        return None
    return con.execute(
        """select channel, location_id, count(*) filter (where is_open),
                  count(*) filter (where is_open and ship_by_at < now()),
                  count(*) filter (where not is_cancelled
                                   and ordered_at >= date_trunc('day', now())),
                  min(ordered_at) filter (where is_open)::varchar
           from marts.order_fulfillment
           group by all
           having count(*) filter (where is_open) > 0
               or count(*) filter (where ordered_at >= date_trunc('day', now())) > 0
           order by 1, 2"""
    ).fetchall()


def print_status(cfg: Config, console: Console) -> None:
    if not Path(cfg.warehouse).exists() and not Path(cfg.published_path()).exists():
        console.print(f"no warehouse at {cfg.warehouse} yet: run `oms run` (or `oms demo`)")
        return
    with reader_connection(cfg) as (con, path):
        publication = []
        if path != cfg.warehouse:
            publication = con.execute(
                "select run_id, published_at::varchar from ops.publication"
            ).fetchall()
        runs = con.execute(
            """select flow, status, started_at::varchar, finished_at::varchar, rows_landed,
                      rows_quarantined, coalesce(message, '')
               from ops.runs qualify row_number() over (partition by flow order by started_at desc) = 1
               order by started_at desc"""
        ).fetchall()
        cursors = con.execute(
            "select channel, stream, cursor, last_success_at::varchar from ops.sync_state order by 1, 2"
        ).fetchall()
        quarantine = con.execute(
            """select channel, stream, count(*) from ops.quarantine where released_at is null
               group by all order by 1, 2"""
        ).fetchall()
        backlog = open_and_late_orders(con)
    console.print(
        _table(
            "last run of each flow",
            ["flow", "status", "started", "finished", "landed", "quarantined", "message"],
            [r[:6] + (r[6][:60],) for r in runs],
        )
    )
    console.print(
        _table("cursor per stream", ["channel", "stream", "newest record", "last success"], cursors)
    )
    console.print(_table("quarantined records", ["channel", "stream", "records"], quarantine))
    if backlog is not None:
        console.print(
            _table(
                "open and late orders now (late: past the ship-by promise)",
                ["channel", "location", "open", "late", "placed today", "oldest open since"],
                backlog,
            )
        )
    reorder = Path(cfg.replenishment.output_dir) / "reorder"
    folders = sorted(p for p in reorder.glob("*") if p.is_dir()) if reorder.exists() else []
    console.print(f"last reorder files: {folders[-1] if folders else '(none yet)'}", soft_wrap=True)
    if publication:
        run_id, at = publication[0]
        read = f"published copy {path} (run {run_id}, published {at})"
    else:
        read = f"working file {path} (nothing published yet)"
    console.print(f"read from: {read}", soft_wrap=True, markup=False, highlight=False)
