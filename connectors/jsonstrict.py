"""Strict JSON for what channels send, and record-by-record reading when a page is not JSON.

Why strict: Python's and orjson's readers accept things that lose or change data on the way to
`raw`. A key given twice keeps the second value silently (with `id` that makes the record a new
version of *another* order); `NaN` / `Infinity` are not JSON and would land as null; an integer
beyond 64 bits becomes a float (orjson) or cannot be stored; a lone UTF-16 surrogate is not
text; nesting thousands deep exhausts the parser. Each of these is a fault of one record, so
`loads` refuses them with the rule broken, and `loads_page` confines the fault to the record that
holds it: the rest of the page lands, the bad record goes to quarantine with its text.

What counts as a record when a page must be read piece by piece: an object that is an element of
an array (a Woo order in the top-level list, an Amazon order in `payload.Orders`, a Shopify edge),
or, by the GraphQL (Relay) convention, the `node` of such an edge. Wrapper objects around those
arrays (`data`, `payload`, `orders`) are read member by member; a fault in a wrapper itself
(not inside a record) leaves the page unreadable, as before.
"""

from __future__ import annotations

import json
import math
import re

__all__ = ["NotStrictJson", "Unreadable", "UnreadableRecordError", "loads", "loads_page"]

_INT64 = 2**63
_MAX_WRAPPER_DEPTH = 16  # pages wrap their records in a few objects, never in dozens


class NotStrictJson(ValueError):
    """The text is not (strict) JSON; the message names the rule it breaks."""


class UnreadableRecordError(ValueError):
    """Raised when a mapping reads a field of an `Unreadable` record: the mapping's usual
    "unreadable record" handling then quarantines it."""


class Unreadable(dict):
    """A record of a page that is not JSON, standing in its place.

    Mappings hold it with its text (`Batch.hold_unreadable`); one that does not treats it like
    any record it cannot read: indexing raises (so its `except ValueError` quarantines it),
    while `.get` of a record's field answers None (error handlers look up the id with it).
    Serialised (`json.dumps`), it is
    `{"_unreadable": reason, "_received": text}`: quarantine keeps the text as received."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(_unreadable=reason, _received=text)
        self.reason = reason
        self.text = text

    def __getitem__(self, key: object) -> object:
        raise UnreadableRecordError(f"not JSON: {self.reason}")


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        keys = [k for k, _ in pairs]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise NotStrictJson(f"key {', '.join(map(repr, twice))} appears twice in one object")
    return out


def _int(text: str) -> int:
    value = int(text)
    if not -_INT64 <= value < _INT64:
        raise NotStrictJson(f"integer {text[:24]}{'…' if len(text) > 24 else ''} exceeds 64 bits")
    return value


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NotStrictJson(f"number {text[:24]} is out of range")
    return value


def _constant(name: str) -> object:
    raise NotStrictJson(f"{name} is not a JSON number")


def loads(data: bytes | str) -> object:
    """Parse strictly (see the module doc); raises `NotStrictJson` naming the rule broken."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise NotStrictJson(f"not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except NotStrictJson:
        raise
    except RecursionError:
        raise NotStrictJson("nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise NotStrictJson(f"malformed JSON ({exc.msg} at char {exc.pos})") from None
    if "\\ud" in text or "\\uD" in text:  # only then can a string hold a lone surrogate
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise NotStrictJson("a lone UTF-16 surrogate in a string") from None
    return value


def loads_page(data: bytes | str) -> object:
    """A page: strict as a whole when it can be; otherwise read piece by piece, each record
    that breaks a rule replaced by an `Unreadable`. Raises `NotStrictJson` when the fault is
    not inside a record (or the page is not JSON at all)."""
    try:
        return loads(data)
    except NotStrictJson as whole:
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
        except UnicodeDecodeError:
            raise whole from None
        value, end = _piecewise(text, _skip_ws(text, 0), 0, record=False)
        if _skip_ws(text, end) != len(text):
            raise whole from None
        if not _holds_unreadable(value):
            raise whole from None
        return value


# --- reading a page piece by piece ---------------------------------------------------------

_WS = re.compile(r"[ \t\r\n]*")
# a string token (with escapes) or a structural character
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},:]', re.S)


def _skip_ws(text: str, i: int) -> int:
    m = _WS.match(text, i)
    return m.end() if m else i


def _value_end(text: str, i: int) -> int:
    """End of the JSON value starting at `i`, by counting brackets (no recursion, so any depth)."""
    if text[i] not in "[{":
        if text[i] == '"':
            m = _TOKEN.match(text, i)
            if not m:
                raise NotStrictJson("unterminated string")
            return m.end()
        m = re.compile(r"[^,\]}\s]*").match(text, i)
        return m.end() if m else i
    depth = 0
    for m in _TOKEN.finditer(text, i):
        tok = m.group()
        if tok in "[{":
            depth += 1
        elif tok in "]}":
            depth -= 1
            if depth == 0:
                return m.end()
    raise NotStrictJson("unbalanced brackets")


def _members(text: str, i: int) -> tuple[list[tuple[str | None, int, int]], int]:
    """Members of the container at `i`: (key or None, value start, value end), and its end."""
    close = "}" if text[i] == "{" else "]"
    out: list[tuple[str | None, int, int]] = []
    j = _skip_ws(text, i + 1)
    if text[j] == close:
        return out, j + 1
    while True:
        key: str | None = None
        if close == "}":
            end = _value_end(text, j)
            key = json.loads(text[j:end])
            j = _skip_ws(text, end)
            if text[j] != ":":
                raise NotStrictJson("expected ':'")
            j = _skip_ws(text, j + 1)
        end = _value_end(text, j)
        out.append((key, j, end))
        j = _skip_ws(text, end)
        if text[j] == close:
            return out, j + 1
        if text[j] != ",":
            raise NotStrictJson("expected ','")
        j = _skip_ws(text, j + 1)


def _piecewise(text: str, i: int, depth: int, record: bool) -> tuple[object, int]:
    """The value at `i`: parsed strictly when it can be; else, for a record, an `Unreadable`;
    for a wrapper, rebuilt from its members read the same way."""
    end = _value_end(text, i)
    piece = text[i:end]
    try:
        return loads(piece), end
    except NotStrictJson as exc:
        fault = exc
    if text[i] not in "[{" or depth >= _MAX_WRAPPER_DEPTH:
        if record:
            return Unreadable(str(fault), piece), end
        raise fault
    members, end = _members(text, i)
    if text[i] == "[":
        return [_piecewise(text, s, depth + 1, record=True)[0] for _, s, _ in members], end
    if record and not any(k == "node" for k, _, _ in members):
        return Unreadable(str(fault), piece), end
    obj: dict[str, object] = {}
    for key, s, _ in members:
        assert key is not None
        if key in obj:
            if record:
                return Unreadable(str(fault), piece), end
            raise NotStrictJson(f"key {key!r} appears twice in one object")
        # a Relay edge's node is the record; the edge's other members must be readable
        obj[key] = _piecewise(text, s, depth + 1, record=record and key == "node")[0]
    return obj, end


def _holds_unreadable(value: object) -> bool:
    if isinstance(value, Unreadable):
        return True
    if isinstance(value, dict):
        return any(_holds_unreadable(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_unreadable(v) for v in value)
    return False
