"""The drop folder: which files are waiting, and where they go once handled.

Files live under one configured root. Anything that resolves outside it (`../`, an absolute path,
a symlink pointing elsewhere) is refused, so a mistyped config can never make us read or move a
file we do not own. Handled files move to `<root>/processed/` or `<root>/rejected/` (with a
`.reason.txt` beside it), keeping their relative path, so the inbox only ever shows new work.
"""

from __future__ import annotations

import os
from pathlib import Path

SUFFIXES = {".jsonl", ".ndjson", ".csv", ".parquet", ".xlsx"}
HANDLED_DIRS = ("processed", "rejected")


class UnsafePath(ValueError):
    """A path that leaves the drop folder."""


def safe_path(root: Path, relative: str | os.PathLike[str]) -> Path:
    """Resolve `relative` under `root`, refusing anything that escapes it."""
    root_r = root.resolve()
    candidate = (root_r / relative).resolve()
    if candidate != root_r and root_r not in candidate.parents:
        raise UnsafePath(f"{relative}: outside the drop folder {root_r}; refused")
    return candidate


def pending_files(root: Path, folder: str) -> list[Path]:
    """Files waiting in `<root>/<folder>`, oldest name first (monthly names sort in time order)."""
    base = safe_path(root, folder)
    if not base.exists():
        return []
    found = []
    for p in sorted(base.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in SUFFIXES or p.name.startswith("."):
            continue
        rel_parts = p.relative_to(root.resolve()).parts
        if rel_parts and rel_parts[0] in HANDLED_DIRS:
            continue
        safe_path(root, p.relative_to(root.resolve()))  # a symlink leading out is refused here
        found.append(p)
    return found


def _destination(root: Path, path: Path, bucket: str, content_hash: str) -> Path:
    rel = path.resolve().relative_to(root.resolve())
    dest = root.resolve() / bucket / rel
    if dest.exists():
        dest = dest.with_name(f"{dest.stem}.{content_hash[:12]}{dest.suffix}")
    return dest


def move_handled(root: Path, path: Path, content_hash: str, reason: str | None = None) -> Path:
    """Move a handled file to processed/ (reason None) or rejected/ with a reason file."""
    dest = _destination(root, path, "rejected" if reason else "processed", content_hash)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, dest)
    if reason:
        dest.with_name(dest.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    return dest
