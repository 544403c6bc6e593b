"""The drop folder: which files are waiting, and where they go once handled.

Files live under one configured root. Anything that resolves outside it (`../`, an absolute path,
a symlink pointing elsewhere) is refused, so a mistyped config can never make us read or move a
file we do not own. Handled files move to `<root>/processed/` or `<root>/rejected/` (with a
`.reason.txt` beside it), keeping their relative path, so the inbox only ever shows new work.
"""

from __future__ import annotations

import os
import time
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


def pending_files(
    root: Path, folder: str, settle_seconds: float = 0, now: float | None = None
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files waiting in `<root>/<folder>`, oldest name first (monthly names sort in time order),
    and the entries refused with their reason (a symlink leading out of the drop folder), which
    never stop the files beside them. A file modified less than `settle_seconds` ago is left for
    the next run: it may still be being written."""
    base = safe_path(root, folder)
    if not base.exists():
        return [], []
    root_r = root.resolve()
    moment = time.time() if now is None else now
    found: list[Path] = []
    refused: list[tuple[Path, str]] = []
    for p in sorted(base.rglob("*")):
        if p.name.startswith(".") or p.suffix.lower() not in SUFFIXES:
            continue
        rel_parts = _unresolved(p).relative_to(root_r).parts
        if rel_parts and rel_parts[0] in HANDLED_DIRS:
            continue
        try:
            safe_path(root, _unresolved(p).relative_to(root_r))  # a symlink leading out
        except UnsafePath as exc:
            refused.append((p, str(exc)))
            continue
        if not p.is_file():
            continue
        if settle_seconds and moment - p.stat().st_mtime < settle_seconds:
            continue
        found.append(p)
    return found, refused


def _unresolved(path: Path) -> Path:
    """`path` with its folders resolved but not itself (a symlink stays the link)."""
    return path.parent.resolve() / path.name


def _destination(root: Path, path: Path, bucket: str, content_hash: str) -> Path:
    root_r = root.resolve()
    rel = _unresolved(path).relative_to(root_r)
    dest = root_r / bucket / rel
    if dest.exists() or dest.is_symlink():
        dest = dest.with_name(f"{dest.stem}.{content_hash[:12]}{dest.suffix}")
    # processed/ or rejected/ (or a folder in them) symlinked elsewhere must not make us write
    # outside the drop folder: confine the folder we write into.
    safe_path(root, dest.parent.relative_to(root_r))
    return dest


def move_handled(root: Path, path: Path, content_hash: str, reason: str | None = None) -> Path:
    """Move a handled file (or a refused link, not its target) to processed/ (reason None) or
    rejected/ with a reason file; UnsafePath when that folder leads out of the drop folder."""
    dest = _destination(root, path, "rejected" if reason else "processed", content_hash)
    dest.parent.mkdir(parents=True, exist_ok=True)
    safe_path(root, dest.parent.relative_to(root.resolve()))  # created through a link?
    os.replace(path, dest)
    if reason:
        dest.with_name(dest.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
    return dest
