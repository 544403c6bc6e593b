"""The warehouse: append-only landing that never duplicates, run records, and the writer lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import pytest
import yaml
from typer.testing import CliRunner

from connectors.records import RawRecord
from flows.cli import app
from flows.demo import demo_config_dict
from flows.warehouse import (
    WarehouseBusy,
    all_raw_tables,
    connection,
    finish_run,
    init_warehouse,
    land_records,
    start_run,
    writer_lock,
)


def test_init_creates_every_raw_table_and_reference_tables(cfg):
    with connection(cfg.warehouse) as con:
        init_warehouse(con, cfg)
        init_warehouse(con, cfg)  # idempotent
        tables = {
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        assert tables == set(all_raw_tables())
        assert con.execute("select count(*) from ops.locations").fetchall()[0][0] == 4
        assert (
            con.execute(
                "select location_id from ops.location_aliases where channel = 'shop' and external_id = '71000001'"
            ).fetchall()[0][0]
            == "WH-AMS"
        )


def test_landing_appends_only_new_versions(cfg):
    t = datetime(2026, 1, 1, tzinfo=UTC)
    v1 = RawRecord("1", t, {"id": 1, "status": "open"})
    v1_reordered = RawRecord("1", t, {"status": "open", "id": 1})  # same content, other key order
    v2 = RawRecord("1", t.replace(day=2), {"id": 1, "status": "paid"})
    with connection(cfg.warehouse) as con:
        init_warehouse(con)
        assert land_records(con, "shop__orders", [v1, v1_reordered], "load-a") == 1
        assert land_records(con, "shop__orders", [v1, v2], "load-b") == 1
        assert land_records(con, "shop__orders", [v1, v2], "load-c") == 0
        rows = con.execute(
            "select _payload->>'$.status', _load_id from raw.shop__orders order by _source_updated_at"
        ).fetchall()
        assert rows == [("open", "load-a"), ("paid", "load-b")]
        with pytest.raises(ValueError, match="unknown raw table"):
            land_records(con, "shop__nope", [v1], "x")


def test_payload_hash_is_sha256_of_canonical_json(cfg):
    """The text raw stores (orjson, sorted keys) is the canonical JSON the hash has always been
    taken of, so a record landed by an older version is not landed again; integers beyond 64
    bits (which orjson refuses) fall back to json with the same spelling."""
    import hashlib
    import json

    from flows.staged import canonical_json

    payload = {"b": [1, 2.5, None, True], "a": {"z": "Café ☕", "y": -0.1}, "big": 2**70}
    expected = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(payload) == expected
    small = {k: v for k, v in payload.items() if k != "big"}
    text = json.dumps(small, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(small) == text
    with connection(cfg.warehouse) as con:
        init_warehouse(con)
        land_records(con, "shop__orders", [RawRecord("9", None, small)], "load-h")
        stored = con.execute(
            "select _payload::varchar, _payload_hash from raw.shop__orders"
        ).fetchall()
    assert stored == [(text, hashlib.sha256(text.encode()).hexdigest())]


def test_runs_are_recorded(cfg):
    start_run(cfg.warehouse, "r1", "test-flow")
    finish_run(cfg.warehouse, "r1", "success", rows_landed=5)
    with connection(cfg.warehouse, read_only=True) as con:
        row = con.execute(
            "select status, rows_landed, finished_at is not null from ops.runs"
        ).fetchall()[0]
    assert row == ("success", 5, True)


def _hold_lock_in_subprocess(warehouse: str, seconds: float) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        import time
        from flows.warehouse import writer_lock
        with writer_lock({warehouse!r}, 5):
            print("held", flush=True)
            time.sleep({seconds})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_waits_then_is_refused_cleanly(cfg):
    proc = _hold_lock_in_subprocess(cfg.warehouse, 30)
    try:
        started = time.monotonic()
        with (
            pytest.raises(WarehouseBusy, match="another oms run is writing") as err,
            writer_lock(cfg.warehouse, 1.0),
        ):
            pass
        assert 0.9 <= time.monotonic() - started < 10
        assert "Nothing was changed" in str(err.value)
    finally:
        proc.kill()
        proc.wait()
    with writer_lock(cfg.warehouse, 5):  # free again once the holder is gone
        pass


def test_cli_run_refused_while_another_run_writes(tmp_path, monkeypatch, prefect_harness):
    monkeypatch.chdir(tmp_path)
    data = demo_config_dict()
    data["lock_timeout_seconds"] = 0.5
    (tmp_path / "oms.yaml").write_text(yaml.safe_dump(data))
    proc = _hold_lock_in_subprocess(str((tmp_path / "data" / "oms.duckdb").resolve()), 60)
    try:
        result = CliRunner().invoke(app, ["sync"])
    finally:
        proc.kill()
        proc.wait()
    assert result.exit_code == 3, result.output
    assert "another oms run is writing" in result.output
