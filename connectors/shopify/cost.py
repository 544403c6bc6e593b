"""The requested cost of our own queries, by Shopify's published rules, from the query text alone.

Shopify refuses a query whose requested cost exceeds 1,000 points (`MAX_COST_EXCEEDED`) before
running it, so the connector prices a query before it sends it and picks the largest page size
that fits (`max_page`). The rules (shopify.dev, "GraphQL Admin API rate limits"): scalars and
enums 0, objects 1, a connection 2 + `first` x its node (`nodes` or `edges { node }`), so nested
connections multiply; a list with `first` (or `nodes(ids:)`, by its ids) that many items. Without the schema, a field with a
sub-selection is an object, one with `first`/`last` and `nodes`/`edges` a connection, one with
`first` and neither a list; alternatives of a union or interface (`... on X`) cost the most of
them. That is exact for the queries in `queries.py` (a test prices them with the emulator's
schema-aware pricing too) and errs high otherwise. Shopify's own `requestedQueryCost`, which each
answer reports, corrects the estimate at run time (`ShopifyConnector`).
"""

from __future__ import annotations

from functools import lru_cache

from graphql import (
    FieldNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    parse,
)

MAX_QUERY_COST = 1000
MAX_PAGE = 250


def _arg(node: FieldNode, name: str, variables: dict) -> int | None:
    for a in node.arguments or ():
        if a.name.value == name:
            v = a.value
            if isinstance(v, VariableNode):
                got = variables.get(v.name.value)
                return got if isinstance(got, int) else None
            if isinstance(v, IntValueNode):
                return int(v.value)
    return None


def _ids(node: FieldNode, variables: dict) -> int | None:
    """How many ids `nodes(ids:)` is asked for: one object each, priced as a list that long."""
    for a in node.arguments or ():
        if a.name.value == "ids":
            v = a.value
            if isinstance(v, VariableNode):
                got = variables.get(v.name.value)
                return len(got) if isinstance(got, list) else None
            if isinstance(v, ListValueNode):
                return len(v.values)
    return None


def _children(sel: SelectionSetNode | None) -> tuple[list[FieldNode], list[InlineFragmentNode]]:
    fields, frags = [], []
    for s in sel.selections if sel else ():
        if isinstance(s, FieldNode):
            fields.append(s)
        elif isinstance(s, InlineFragmentNode):
            frags.append(s)
    return fields, frags


def _selection(sel: SelectionSetNode | None, variables: dict) -> int:
    fields, frags = _children(sel)
    common = sum(_field(f, variables) for f in fields)
    return common + max((_selection(f.selection_set, variables) for f in frags), default=0)


def _node_cost(sel: SelectionSetNode | None, variables: dict) -> int:
    best = 0
    fields, _ = _children(sel)
    for f in fields:
        if f.name.value == "nodes":
            best = max(best, 1 + _selection(f.selection_set, variables))
        elif f.name.value == "edges":
            for g in _children(f.selection_set)[0]:
                if g.name.value == "node":
                    best = max(best, 1 + _selection(g.selection_set, variables))
    return best


def _field(f: FieldNode, variables: dict) -> int:
    if f.selection_set is None or f.name.value.startswith("__"):
        return 0
    size = _arg(f, "first", variables) or _arg(f, "last", variables)
    names = {c.name.value for c in _children(f.selection_set)[0]}
    if size is not None and names & {"nodes", "edges"}:
        return 2 + size * _node_cost(f.selection_set, variables)
    size = size if size is not None else _ids(f, variables)
    if size is not None:
        return size * (1 + _selection(f.selection_set, variables))
    return 1 + _selection(f.selection_set, variables)


@lru_cache(maxsize=64)
def _document(query: str):  # noqa: ANN202 - graphql's DocumentNode
    return parse(query)


def requested_cost(query: str, variables: dict | None = None) -> int:
    """The requested cost of `query` with `variables`, by the published rules."""
    doc = _document(query)
    op = next(d for d in doc.definitions if isinstance(d, OperationDefinitionNode))
    return _selection(op.selection_set, variables or {})


def max_page(
    query: str,
    variables: dict | None = None,
    size_var: str = "first",
    limit: float = MAX_QUERY_COST,
) -> int:
    """The largest `size_var` (<= 250) at which `query` costs at most `limit` points (Shopify's
    1,000, or less: a bucket smaller than that); 0 when not even one fits."""
    base = dict(variables or {})
    lo, hi = 0, MAX_PAGE
    while lo < hi:  # cost grows with the page size: bisect
        mid = (lo + hi + 1) // 2
        if requested_cost(query, {**base, size_var: mid}) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo
