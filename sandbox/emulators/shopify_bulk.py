"""Bulk Operations of the emulated Shopify Admin API (`bulkOperationRunQuery`, JSONL results).

`validate_bulk` applies Shopify's bulk query rules with the messages a real store answered
(captures `bulk-operations/bulk-operation-run-query-validators.json`): a `query` operation with at
least one connection, no top-level `node`, connections selected through `edges { node }`, at most 5
connections, nesting depth at most 2, a nested connection's parent selecting `id`, and no connection
inside a list field. `to_jsonl` flattens an executed bulk query as Shopify's result file does
(bulk-results/): one JSON object per line, a nested connection's nodes after their parent with
`__parentId`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    parse,
    validate,
)

from sandbox.emulators.shopify_cost import _Pricer

MAX_CONNECTIONS = 5
MAX_DEPTH = 2


def _invalid(message: str) -> dict:
    return {"field": ["query"], "message": message, "code": "INVALID"}


def _is_connection(t: Any) -> bool:
    return isinstance(t, GraphQLObjectType) and t.name.endswith("Connection")


def _is_list(t: Any) -> bool:
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


def validate_bulk(schema: GraphQLSchema, text: str) -> tuple[DocumentNode | None, list[dict]]:
    """The parsed bulk query and Shopify's userErrors for it (empty: it may run)."""
    try:
        doc = parse(text)
    except GraphQLError as err:
        what = "unexpected end of file" if "<EOF>" in err.message else err.message
        return None, [_invalid(f"Invalid bulk query: syntax error, {what}")]
    op = next((d for d in doc.definitions if isinstance(d, OperationDefinitionNode)), None)
    if op is None or op.operation != OperationType.QUERY:
        return None, [_invalid("Invalid operation type. Only `query` operations are supported.")]
    errors: list[dict] = []
    found = [e.message for e in validate(schema, doc) if "first or last" not in e.message]
    if found:
        return None, [_invalid(f"Invalid bulk query: {found[0]}")]
    p = _Pricer(schema, doc, {})
    roots = p.fields(op.selection_set, schema.query_type)
    if any(f.name.value == "node" for f, _ in roots):
        errors.append(_invalid("Bulk queries cannot contain a top level `node` field."))
    connections: list[tuple[str, int]] = []
    via_nodes: list[str] = []
    without_id: list[str] = []
    in_list = False

    def walk(
        sel: Any, t: Any, depth: int, under_list: bool, parent_has_id: bool | None, owner: str
    ) -> None:
        nonlocal in_list
        for f, parent in p.fields(sel, t):
            fdef = getattr(parent, "fields", {}).get(f.name.value)
            if fdef is None or f.selection_set is None:
                continue
            named = get_named_type(fdef.type)
            if _is_connection(named):
                connections.append((f.name.value, depth + 1))
                if under_list:
                    in_list = True
                if depth > 0 and parent_has_id is False and owner not in without_id:
                    without_id.append(owner)  # Shopify names the connection whose node lacks it
                subs = {g.name.value: g for g, _ in p.fields(f.selection_set, named)}
                if "nodes" in subs:
                    via_nodes.append(f.name.value)
                edge = subs.get("edges")
                if edge is not None:
                    edge_t = get_named_type(named.fields["edges"].type)
                    for g, _ in p.fields(edge.selection_set, edge_t):
                        if g.name.value == "node":
                            node_t = get_named_type(edge_t.fields["node"].type)
                            has_id = any(
                                h.name.value == "id" and h.alias is None
                                for h, _ in p.fields(g.selection_set, node_t)
                            )
                            walk(g.selection_set, node_t, depth + 1, False, has_id, f.name.value)
            else:
                walk(f.selection_set, named, depth, under_list or _is_list(fdef.type), None, owner)

    walk(op.selection_set, schema.query_type, 0, False, None, "")
    if via_nodes:
        errors.append(_invalid(
            "All connection fields in a bulk query must select their contents using 'edges' > "
            f"'node', e.g: '{via_nodes[0]} {{ edges {{ node {{'. Selecting via 'nodes' is not "
            f"supported. Invalid connection fields: '{', '.join(via_nodes)}'."
        ))  # fmt: skip
    if not connections:
        errors.append(_invalid("Bulk queries must contain at least one connection."))
    if len(connections) > MAX_CONNECTIONS:
        errors.append(
            _invalid(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections.")
        )
    if any(d > MAX_DEPTH for _, d in connections):
        errors.append(_invalid(
            f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_DEPTH}."
        ))  # fmt: skip
    if without_id:
        errors.append(_invalid(
            "The parent 'node' field for a nested connection must select the 'id' field without "
            "an alias and must be of 'ID' return type. Connection fields without 'id': "
            f"{', '.join(without_id)}."
        ))  # fmt: skip
    if in_list:
        errors.append(_invalid(
            "Queries that contain a connection field within a list field are not currently supported."
        ))  # fmt: skip
    return (None if errors else doc), errors


def to_jsonl(schema: GraphQLSchema, doc: DocumentNode, data: dict) -> Iterator[bytes]:
    """The lines of Shopify's bulk result file for an executed bulk query's `data`."""
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    p = _Pricer(schema, doc, {})

    def flatten(sel: Any, t: Any, value: dict, parent_id: str | None) -> Iterator[bytes]:
        children: list[tuple[FieldNode, Any, Any]] = []
        for f, parent in p.fields(sel, t):
            key = f.alias.value if f.alias else f.name.value
            fdef = getattr(parent, "fields", {}).get(f.name.value)
            named = get_named_type(fdef.type) if fdef is not None else None
            if named is not None and _is_connection(named):
                children.append((f, named, value.get(key)))
        # every other executed field is the object's own, including those selected in inline
        # fragments on an interface or union (a discount application's `code` and `value`)
        skip = {f.alias.value if f.alias else f.name.value for f, _, _ in children}
        own: dict[str, Any] = {k: v for k, v in value.items() if k not in skip}
        if parent_id is not None:
            own["__parentId"] = parent_id
        yield orjson.dumps(own) + b"\n"
        for f, named, conn in children:
            yield from nodes_of(f, named, conn, value.get("id"))

    def nodes_of(f: FieldNode, named: Any, conn: Any, parent_id: str | None) -> Iterator[bytes]:
        edge_t = get_named_type(named.fields["edges"].type)
        node_t = get_named_type(edge_t.fields["node"].type)
        for g, _ in p.fields(f.selection_set, named):
            if g.name.value != "edges":
                continue
            for h, _ in p.fields(g.selection_set, edge_t):
                if h.name.value != "node":
                    continue
                for edge in (conn or {}).get("edges") or []:
                    yield from flatten(h.selection_set, node_t, edge["node"], parent_id)

    for f, parent in p.fields(op.selection_set, schema.query_type):
        fdef = parent.fields.get(f.name.value)
        named = get_named_type(fdef.type)
        key = f.alias.value if f.alias else f.name.value
        if _is_connection(named):
            yield from nodes_of(f, named, data.get(key), None)
