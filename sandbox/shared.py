"""Where the shared reference material is: the platforms' published contracts and examples
(`fixtures/`) and the real data sets (`datasets/`), read by the tests, the emulators and the
benchmarks. Declared once: `../shared` beside the repository, else `$OMS_SHARED`, else
`/work/shared` (a checkout elsewhere, e.g. CI's clean clone, still finds it)."""

from __future__ import annotations

import os
from pathlib import Path

_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "shared",
    Path(os.environ.get("OMS_SHARED", "/work/shared")),
    Path("/work/shared"),
)
SHARED: Path = next((p for p in _CANDIDATES if (p / "fixtures").is_dir()), _CANDIDATES[0])
FIXTURES: Path = SHARED / "fixtures"
PLATFORM_DOCS: Path = FIXTURES / "platform-docs"
DATASETS: Path = SHARED / "datasets"
