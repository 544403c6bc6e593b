"""The file-drop connector and the landing gate, against a real DuckDB file and real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.files.inbox import UnsafePath, pending_files, safe_path
from flows.sync import sync_files
from flows.warehouse import connection

pytestmark = pytest.mark.fast  # make test-fast

ORDER = {
    "id": 5100000001,
    "name": "#1001",
    "currency": "EUR",
    "created_at": "2026-01-05T10:00:00+01:00",
    "updated_at": "2026-01-05T10:00:00+01:00",
    "total_price": "42.84",
    "total_line_items_price": "40.00",
    "line_items": [{"id": 1, "sku": "SKU-0001", "quantity": 2, "price": "20.00"}],
}


def _order(i: int, **changes) -> dict:
    o = json.loads(json.dumps(ORDER))
    o["id"] = 5100000000 + i
    o.update(changes)
    return o


def _write_jsonl(path: Path, rows: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _raw(cfg, table: str) -> list[tuple]:
    with connection(cfg.warehouse, read_only=True) as con:
        return con.execute(f"select _source_id, _payload from raw.{table} order by 1").fetchall()


def _quarantine(cfg) -> list[tuple]:
    with connection(cfg.warehouse, read_only=True) as con:
        return con.execute(
            "select stream, source_id, reason from ops.quarantine order by 2"
        ).fetchall()


def test_files_land_once_and_move_to_processed(cfg):
    drop = Path(cfg.files.drop_dir)
    f = _write_jsonl(drop / "shop/orders/orders_2026-01.jsonl", [_order(i) for i in range(10)])
    content = f.read_bytes()
    report = sync_files(cfg)
    assert (report.files_landed, report.rows_landed, report.rows_quarantined) == (1, 10, 0)
    assert not f.exists() and (drop / "processed/shop/orders/orders_2026-01.jsonl").exists()
    # The same file dropped again is recognised by its content and lands nothing.
    f.write_bytes(content)
    again = sync_files(cfg)
    assert (again.files_landed, again.files_skipped, again.rows_landed) == (0, 1, 0)
    assert len(_raw(cfg, "shop__orders")) == 10
    with connection(cfg.warehouse, read_only=True) as con:
        cursor = con.execute(
            "select cursor from ops.sync_state where channel='shop' and stream='orders'"
        ).fetchall()
    assert cursor[0][0].startswith("2026-01-05T09:00:00")


def test_bad_records_are_quarantined_and_good_ones_land(cfg):
    rows = [_order(i) for i in range(20)]
    rows[3] = "{not json"
    rows[5] = _order(5, currency="XYZ")
    rows[7] = _order(7, updated_at="2099-01-01T00:00:00Z")
    rows[9] = {k: v for k, v in _order(9).items() if k != "id"}
    _write_jsonl(Path(cfg.files.drop_dir) / "shop/orders/o.jsonl", rows)
    report = sync_files(cfg)
    assert report.rows_landed == 16 and report.rows_quarantined == 4
    reasons = " | ".join(r for _, _, r in _quarantine(cfg))
    for expected in (
        "malformed JSON",
        "currency is one of",
        "in the future",
        "missing id field 'id'",
    ):
        assert expected in reasons
    assert len(_raw(cfg, "shop__orders")) + len(_quarantine(cfg)) == 20  # nothing lost


def test_a_mostly_bad_file_is_refused_whole(cfg):
    rows = [_order(i, currency="???") for i in range(8)] + [_order(100 + i) for i in range(2)]
    f = _write_jsonl(Path(cfg.files.drop_dir) / "shop/orders/changed_format.jsonl", rows)
    report = sync_files(cfg)
    assert report.files_rejected == 1 and report.rows_landed == 0
    assert _raw(cfg, "shop__orders") == []
    assert len(_quarantine(cfg)) == 10  # kept, with the reason, for release later
    reason = f.parent.parent.parent / "rejected/shop/orders/changed_format.jsonl.reason.txt"
    assert "nothing landed" in reason.read_text()


def test_till_csv_mapping_timezone_and_bad_rows(cfg):
    drop = Path(cfg.files.drop_dir)
    (drop / "tills").mkdir(parents=True)
    header = (
        "Receipt,Line,Timestamp,Store,Article,Description,Qty,Price,Discount,Currency,Email,Void,"
        "Original\n"
    )  # the sandbox till's export: day-first local times (flows/demo.py)
    good = "R1,1,01.07.2026 12:00:00,ST-BER,SKU-0001,Tee,2,10.00,0.00,EUR,a@b.de,0,\n"
    ret = "R2,1,02.07.2026 09:30:00,ST-BER,SKU-0001,Tee,-1,10.00,0.00,EUR,,0,\n"
    frac = "R3,1,02.07.2026 09:31:00,ST-BER,SKU-0002,Cap,1.5,10.00,0.00,EUR,,0,\n"
    short = "R4,1,02.07.2026 09:32:00,ST-BER\n"
    body = (
        header
        + good
        + ret
        + frac
        + short
        + "".join(good.replace("R1", f"R{9 + i}") for i in range(6))
    )
    (drop / "tills/tills_2026-07.csv").write_text(body)
    report = sync_files(cfg)
    assert report.rows_landed == 8 and report.rows_quarantined == 2
    with connection(cfg.warehouse, read_only=True) as con:
        rows = con.execute(
            "select _source_id, _source_updated_at::varchar, _payload->>'$.timezone', _payload->>'$.quantity' "
            "from raw.tills__orders where _source_id in ('R1:1', 'R2:1') order by 1"
        ).fetchall()
    assert rows == [
        ("R1:1", "2026-07-01 10:00:00+00", "Europe/Berlin", "2"),
        ("R2:1", "2026-07-02 07:30:00+00", "Europe/Berlin", "-1"),
    ]
    reasons = " | ".join(r for _, _, r in _quarantine(cfg))
    assert "quantity is a whole number" in reasons and "fewer cells" in reasons


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.csv", b"", "empty file"),
        (
            "latin1.csv",
            "sku,location_id,on_hand,counted_at\nJACKÉ,WH-AMS,3,2026-01-01T00:00:00Z\n".encode(
                "latin-1"
            ),
            "not UTF-8",
        ),
        ("columns.csv", b"sku,on_hand\nA,1\n", "missing column(s) ['location_id', 'counted_at']"),
        ("broken.parquet", b"PAR1 this is not parquet", "not a readable Parquet file"),
    ],
)
def test_unreadable_files_are_rejected_with_a_reason(cfg, name, content, reason):
    folder = Path(cfg.files.drop_dir) / "stock"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(content)
    report = sync_files(cfg)
    assert report.files_rejected == 1
    assert reason in report.rejected[0]
    moved = Path(cfg.files.drop_dir) / "rejected/stock" / name
    assert moved.exists() and reason in Path(str(moved) + ".reason.txt").read_text()


def test_negative_stock_is_quarantined(cfg):
    folder = Path(cfg.files.drop_dir) / "stock"
    folder.mkdir(parents=True)
    lines = ["sku,location_id,on_hand,counted_at"] + [
        f"SKU-{i:04d},WH-LON,{-4 if i == 0 else 5},2026-01-01T23:59:00Z" for i in range(10)
    ]
    (folder / "stock_WH-LON_2026-01.csv").write_text("\n".join(lines) + "\n")
    report = sync_files(cfg)
    assert report.rows_landed == 9
    assert _quarantine(cfg)[0][2] == "on_hand between 0 and 1,000,000"


def test_paths_outside_the_drop_folder_are_refused(tmp_path):
    root = tmp_path / "drop"
    (root / "shop").mkdir(parents=True)
    (tmp_path / "secret.csv").write_text("x")
    with pytest.raises(UnsafePath):
        safe_path(root, "../secret.csv")
    with pytest.raises(UnsafePath):
        safe_path(root, "/etc/passwd")
    (root / "shop" / "link.csv").symlink_to(tmp_path / "secret.csv")
    files, refused = pending_files(root, "shop")
    assert files == [] and [p.name for p, _ in refused] == ["link.csv"]
    assert "outside the drop folder" in refused[0][1]


def test_a_channel_folder_outside_the_drop_is_reported_not_read(tmp_path):
    from tests.conftest import make_config

    cfg = make_config(tmp_path)
    data = cfg.model_dump()
    data["channels"][0]["path"] = "../../etc"
    from flows.config import Config

    bad = Config.model_validate(data)
    report = sync_files(bad, only_channel="shop")
    assert report.files_rejected >= 1 and "outside the drop folder" in report.rejected[0]
