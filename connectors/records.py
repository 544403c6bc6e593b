"""The unit every connector yields: one record version as the source sent it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class RawRecord:
    """One record version: its id in the source, the source's updated time (UTC) and the payload
    exactly as received (lands in `raw.<channel>__<stream>._payload`)."""

    source_id: str
    source_updated_at: datetime | None
    payload: dict
