"""Helpers (no tests) shared by the connector tests: a sandbox store, its emulators, a config using them."""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from flows.config import parse_config
from flows.demo import demo_config_dict
from flows.warehouse import connection
from sandbox import generate_store
from sandbox.emulators import Faults, run_emulators

END = dt.date(2026, 6, 30)


@cache
def tiny_store():
    return generate_store(seed=11, scale="tiny", end_date=END)


def api_config(tmp: Path, eps, channels=("shop",), **api):
    """The sandbox config with `channels` pulled from the running emulators (fast retries)."""
    data = demo_config_dict(
        warehouse=str(tmp / "oms.duckdb"), drop_dir=str(tmp / "drop"), output_dir=str(tmp / "out")
    )
    settings = {"retry_base_seconds": 0.01, "retry_max_seconds": 0.05, "retry_total_seconds": 60,
                "max_attempts": 30, "page_size": 100, "landing_batch": 500, **api}  # fmt: skip
    for c in data["channels"]:
        if c["name"] in channels:
            c.pop("path", None)
            c.update(eps.channel_config(c["name"], **settings))
    return parse_config(data, source="test config", base_dir=tmp)


@contextmanager
def emulated(store=None, faults: Faults | None = None, channels=("shop",), **kw):
    store = store or tiny_store()
    with run_emulators(store, faults=faults, channels=channels, **kw) as eps:
        old = {k: os.environ.get(k) for k in eps.env()}
        os.environ.update(eps.env())
        try:
            yield eps
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def raw_rows(cfg, table: str) -> list[tuple]:
    with connection(cfg.warehouse, read_only=True) as con:
        return con.execute(
            f"select _source_id, _source_updated_at, _payload::varchar, _payload_hash from raw.{table}"
        ).fetchall()


def latest(cfg, table: str) -> dict[str, dict]:
    """The version staging would pick per source id: greatest (_source_updated_at, _loaded_at)."""
    import json

    with connection(cfg.warehouse, read_only=True) as con:
        rows = con.execute(
            f"""select _source_id, _payload::varchar from raw.{table}
                qualify row_number() over (partition by _source_id
                        order by _source_updated_at desc, _loaded_at desc) = 1"""
        ).fetchall()
    return {sid: json.loads(p) for sid, p in rows}


def quarantined(cfg) -> list[tuple]:
    with connection(cfg.warehouse, read_only=True) as con:
        return con.execute(
            "select channel, stream, source_id, reason from ops.quarantine"
        ).fetchall()


def cursors(cfg) -> dict[tuple[str, str], str]:
    with connection(cfg.warehouse, read_only=True) as con:
        rows = con.execute("select channel, stream, cursor from ops.sync_state").fetchall()
    return {(c, s): cur for c, s, cur in rows}
