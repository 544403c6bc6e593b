"""The GraphQL engine of the emulated Shopify Admin API: Shopify's published schema, graphql-core.

A query is parsed and validated against the Admin API SDL of the requested version (the schemas in
`shared/fixtures/platform-docs/shopify/admin-graphql/schema/`, introspected from real stores; the
default version is also kept in this package, gzipped, so the demo runs without `shared/`), then
executed with one generic resolver over plain dicts: only the fields the query selects come back.
Connections (`...Connection` types) are paged by that resolver: `first` or `last` is required and
at most 250, `after`/`before` cursors, `edges { cursor node }`, `nodes` and `pageInfo`.

Errors are shaped as Shopify's (the captures in `admin-graphql/captures/`): `undefinedField`,
`selectionMismatch`, `missingRequiredArguments`, `argumentNotAccepted`, `INVALID_VARIABLE`,
`PARSE_ERROR`, `BAD_REQUEST`.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute,
    get_named_type,
    parse,
    validate,
)

from sandbox.emulators.shopify_cost import _Pricer
from sandbox.shared import PLATFORM_DOCS

MAX_PAGE = 250
HERE = Path(__file__).resolve().parent
SCHEMA_DIRS = (
    Path(os.environ.get("OMS_SHOPIFY_SCHEMA_DIR", "/nonexistent")),
    PLATFORM_DOCS / "shopify" / "admin-graphql" / "schema",
    HERE / "shopify_schema",
)


class UnknownVersion(ValueError):
    pass


@lru_cache(maxsize=4)
def load_schema(version: str) -> GraphQLSchema:
    """The Admin API schema of `version` (building it from the 3 MB SDL takes ~3 s: cached)."""
    for d in SCHEMA_DIRS:
        plain, packed = d / f"admin-{version}.graphql", d / f"admin-{version}.graphql.gz"
        if plain.is_file():
            return build_schema(plain.read_text())
        if packed.is_file():
            return build_schema(gzip.decompress(packed.read_bytes()).decode())
    raise UnknownVersion(version)


def encode_cursor(key: object) -> str:
    return base64.b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(base64.b64decode(text.encode()))
    except (ValueError, TypeError):
        raise GraphQLError("Invalid cursor", extensions={"code": "BAD_REQUEST"}) from None


def bad_request(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_REQUEST"})


BULK = 10**9  # a bulk query reads every node of a connection


def page_args(args: dict, bulk: bool = False) -> tuple[int, bool]:
    """(size, from the end) of a connection's `first`/`last`, checked as Shopify checks them
    (a bulk operation's connections take no size: all of it)."""
    if bulk:
        return BULK, False
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise bad_request("you must provide one of first or last")
    if first is not None and last is not None:
        raise bad_request("providing both first and last is not supported")
    size = int(first if first is not None else last or 0)
    if size < 0 or size > MAX_PAGE:
        raise bad_request(
            f"The {'first' if first is not None else 'last'} argument must be between 0 and "
            f"{MAX_PAGE} (got {size})."
        )
    return size, first is None


def connection(
    items: list,
    args: dict,
    key: Callable[[int, Any], object] | None = None,
    bulk: bool = False,
) -> dict:
    """A page of `items` (already in the connection's order) as Shopify's connection object."""
    size, from_end = page_args(args, bulk)
    if args.get("reverse"):
        items = items[::-1]
    keyed = [((key(i, it) if key else i), it) for i, it in enumerate(items)]
    after, before = decode_cursor(args.get("after")), decode_cursor(args.get("before"))
    lo, hi = 0, len(keyed)
    if after is not None:
        lo = next((n + 1 for n, (k, _) in enumerate(keyed) if k == after), lo)
    if before is not None:
        hi = next((n for n, (k, _) in enumerate(keyed) if k == before), hi)
    window = keyed[lo:hi]
    page = window[-size:] if from_end and size else window[:size]
    if from_end:
        has_next, has_prev = hi < len(keyed), len(window) > len(page)
    else:
        has_next, has_prev = len(window) > len(page), lo > 0
    return make_page([(encode_cursor(k), it) for k, it in page], has_next, has_prev)


def make_page(rows: list[tuple[str, Any]], has_next: bool, has_prev: bool) -> dict:
    """The connection object of (cursor, node) rows."""
    return {
        "__page__": True,
        "edges": [{"cursor": c, "node": n} for c, n in rows],
        "nodes": [n for _, n in rows],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": rows[0][0] if rows else None,
            "endCursor": rows[-1][0] if rows else None,
        },
    }


def _is_list(t: Any) -> bool:
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


def resolve(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    """The one resolver: a dict's key (a callable value is called with the arguments); a
    connection's list is paged; a list with `first` is cut to it."""
    name = info.field_name
    if isinstance(source, dict):
        value = source.get(name)
    else:
        value = getattr(source, name, None)
    if callable(value):
        value = value(info, **args)
    named = get_named_type(info.return_type)
    if isinstance(named, GraphQLObjectType) and named.name.endswith("Connection"):
        if isinstance(value, dict) and value.get("__page__"):
            return value
        items = value.get("nodes", []) if isinstance(value, dict) else (value or [])
        bulk = isinstance(info.context, dict) and bool(info.context.get("bulk"))
        return connection(list(items), args, bulk=bulk)
    if _is_list(info.return_type) and isinstance(value, list) and args.get("first") is not None:
        return value[: args["first"]]
    return value


# ------------------------------------------------------------------ Shopify-shaped errors
def _op_label(op: OperationDefinitionNode | None) -> str:
    if op is None:
        return "query"
    kind = op.operation.value
    return f"{kind} {op.name.value}" if op.name else kind


def _loc(node: Any) -> list[dict]:
    if node is None or node.loc is None:
        return []
    src = node.loc.source
    from graphql.language import get_location

    where = get_location(src, node.loc.start)
    return [{"line": where.line, "column": where.column}]


def undefined_fields(schema: GraphQLSchema, doc: DocumentNode) -> list[dict]:
    """Fields the schema does not have, with Shopify's message, path and extensions."""
    out: list[dict] = []
    p = _Pricer(schema, doc, {})
    for op in doc.definitions:
        if not isinstance(op, OperationDefinitionNode):
            continue
        root = schema.mutation_type if op.operation.value == "mutation" else schema.query_type
        label = _op_label(op)

        def walk(sel: Any, t: Any, path: list[str]) -> None:
            for f, parent in p.fields(sel, t):
                name = f.name.value
                if name.startswith("__"):
                    continue
                fdef = getattr(parent, "fields", {}).get(name)
                if fdef is None:
                    tname = "QueryRoot" if parent is schema.query_type else parent.name
                    out.append({
                        "message": f"Field '{name}' doesn't exist on type '{tname}'",
                        "locations": _loc(f),
                        "path": [*path, name],
                        "extensions": {"code": "undefinedField", "typeName": tname,
                                       "fieldName": name},
                    })  # fmt: skip
                    continue
                if f.selection_set is not None:
                    walk(f.selection_set, get_named_type(fdef.type), [*path, name])

        walk(op.selection_set, root, [label])
    return out


def shopify_validation_error(err: GraphQLError, doc: DocumentNode) -> dict:
    """A graphql-core validation error in the shape Shopify answers it."""
    msg = err.message
    locs = [{"line": x.line, "column": x.column} for x in err.locations or []]
    op = next((d for d in doc.definitions if isinstance(d, OperationDefinitionNode)), None)
    node = err.nodes[0] if err.nodes else None
    name = node.name.value if isinstance(node, FieldNode) else None
    out: dict[str, Any] = {"message": msg, "locations": locs}
    if "must have a selection of subfields" in msg and name:
        tname = msg.split("of type '", 1)[1].split("'", 1)[0].rstrip("!")
        out["message"] = (
            f"Field must have selections (field '{name}' returns {tname} but has no selections."
            f" Did you mean '{name} {{ ... }}'?)"
        )
        out["path"] = [_op_label(op), name]
        out["extensions"] = {
            "code": "selectionMismatch",
            "nodeName": f"field '{name}'",
            "typeName": tname,
        }
    elif "is required, but it was not provided" in msg and name:
        arg = msg.split("argument '", 1)[1].split("'", 1)[0]
        out["message"] = f"Field '{name}' is missing required arguments: {arg}"
        out["path"] = [_op_label(op), name]
        out["extensions"] = {
            "code": "missingRequiredArguments",
            "className": "Field",
            "name": name,
            "arguments": arg,
        }
    elif msg.startswith("Unknown argument"):
        arg = msg.split("'", 2)[1]
        field = msg.split("on field '", 1)[1].split("'", 1)[0]
        out["message"] = f"Field '{field.split('.')[-1]}' doesn't accept argument '{arg}'"
        out["extensions"] = {
            "code": "argumentNotAccepted",
            "name": field.split(".")[-1],
            "typeName": "Field",
            "argumentName": arg,
        }
    else:
        out["extensions"] = {"code": "GRAPHQL_VALIDATION_FAILED"}
    return out


def _last_token(source: str) -> tuple[int, int] | None:
    """Line and column of the last token (where Shopify points an unexpected end of file)."""
    from graphql.language import Lexer, Source, TokenKind

    lexer, last = Lexer(Source(source)), None
    try:
        while True:
            tok = lexer.advance()
            if tok.kind == TokenKind.EOF:
                return last
            last = (tok.line, tok.column)
    except GraphQLError:
        return last


def parse_error(err: GraphQLError, source: str = "") -> dict:
    loc = err.locations[0] if err.locations else None
    line, col = (loc.line, loc.column) if loc else (1, 1)
    if "<EOF>" in err.message:
        line, col = _last_token(source) or (line, col)
    what = "end of file" if "<EOF>" in err.message else err.message.split(": ", 1)[-1]
    return {
        "message": f"syntax error, unexpected {what} at [{line}, {col}]",
        "locations": [{"line": line, "column": col}],
        "extensions": {"code": "PARSE_ERROR"},
    }


@lru_cache(maxsize=256)
def prepare(version: str, query: str) -> tuple[DocumentNode | None, list[dict]]:
    """Parse and validate once per query text (the connector sends the same few queries)."""
    schema = load_schema(version)
    try:
        doc = parse(query)
    except GraphQLError as err:
        return None, [parse_error(err, query)]
    undefined = undefined_fields(schema, doc)
    if undefined:
        return doc, undefined
    errors = validate(schema, doc)
    return doc, [shopify_validation_error(e, doc) for e in errors]


def _never(_: object) -> bool:
    return False


def run(
    schema: GraphQLSchema,
    doc: DocumentNode,
    root: object,
    variables: dict | None,
    operation_name: str | None = None,
    bulk: bool = False,
) -> tuple[dict | None, list[dict]]:
    """Execute a validated document: (data, Shopify-shaped errors). `bulk`: as a bulk
    operation runs it (connections unsized, whole)."""
    result = execute(
        schema,
        doc,
        root_value=root,
        variable_values=variables or {},
        operation_name=operation_name,
        field_resolver=resolve,
        context_value={"bulk": bulk},
        is_awaitable=_never,  # every resolver is synchronous: skip the per-field check
    )
    assert isinstance(result, ExecutionResult)
    errors = []
    for e in result.errors or []:
        ext = dict(e.extensions or {})
        if e.path is None and "Variable" in e.message:
            # a variable of the wrong type: Shopify's INVALID_VARIABLE
            var = e.message.split("'", 2)[1] if "'" in e.message else ""
            errors.append({
                "message": f"Variable {var} was provided invalid value",
                "locations": [{"line": x.line, "column": x.column} for x in e.locations or []],
                "extensions": {"code": "INVALID_VARIABLE",
                               "problems": [{"path": [], "explanation": e.message}]},
            })  # fmt: skip
            continue
        err: dict[str, Any] = {
            "message": e.message,
            "locations": [{"line": x.line, "column": x.column} for x in e.locations or []],
        }
        if e.path is not None:
            err["path"] = list(e.path)
        err["extensions"] = ext or {"code": "INTERNAL_SERVER_ERROR"}
        errors.append(err)
    return result.data, errors
