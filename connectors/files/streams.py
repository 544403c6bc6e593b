"""How each file-borne stream names its records: source id and updated time (docs/raw-contract.md).

The specs are declared with their channel (`connectors/<kind>/streams.py`, the reference files in
`connectors/reference/streams.py`) and collected by `connectors.registry`; `STREAMS` is that
collection keyed by (channel name, stream). The record vocabulary lives in `connectors.records`.
"""

from __future__ import annotations

from connectors import registry
from connectors.records import (
    RecordError,
    StreamSpec,
    date_field,
    id_field,
    joined_ids,
    no_time,
    parse_timestamp,
    ts_field,
)

STREAMS: dict[tuple[str, str], StreamSpec] = registry.file_streams()

__all__ = [
    "STREAMS",
    "RecordError",
    "StreamSpec",
    "date_field",
    "id_field",
    "joined_ids",
    "no_time",
    "parse_timestamp",
    "ts_field",
]
