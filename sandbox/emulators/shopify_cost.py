"""Shopify's calculated query cost, from the published rules (shopify.dev, "GraphQL Admin API
rate limits"), computed on a parsed query against the Admin API schema.

- a scalar or enum field costs 0, an object 1, an interface or union the most of its possible
  selections;
- a connection (a `...Connection` type) costs 2 plus its page size (`first` or `last`) times the
  cost of one node, so nested connections multiply;
- a list of objects sized by a `first` argument (or `nodes(ids:)`, by its ids) costs that many
  times one item (unsized: one);
- a mutation's root field costs 10.

`requested_cost` prices the query before it runs (what `MAX_COST_EXCEEDED` and the bucket judge);
`actual_cost` prices what a response returned (connections by the nodes that came back), which is
what Shopify charges once the query ran. Both the emulator and the tests use this module, so a
test pricing the connector's queries prices them as the emulated Shopify does; the calibration
test checks it against the costs real Shopify reported in the published captures.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

MAX_QUERY_COST = 1000  # Shopify's single-query limit on the requested cost
MUTATION_COST = 10

# Plan presets: restore rate per second as published; the bucket (maximumAvailable) holds 20
# seconds of restore, as the captures of a Standard development store show (2000 at 100/s).
PLANS: dict[str, tuple[float, float]] = {
    "standard": (2000.0, 100.0),
    "advanced": (4000.0, 200.0),
    "plus": (20000.0, 1000.0),
    "enterprise": (40000.0, 2000.0),
    # not a Shopify plan: the demo and most tests, where waiting for points proves nothing
    "fast": (1_000_000.0, 1_000_000.0),
}


def _is_connection(t: Any) -> bool:
    return isinstance(t, GraphQLObjectType) and t.name.endswith("Connection")


def _is_list(t: Any) -> bool:
    while isinstance(t, GraphQLNonNull):
        t = t.of_type
    return isinstance(t, GraphQLList)


class _Pricer:
    def __init__(self, schema: GraphQLSchema, doc: DocumentNode, variables: dict | None) -> None:
        self.schema = schema
        self.variables = variables or {}
        self.fragments = {
            d.name.value: d for d in doc.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def arg(self, node: FieldNode, name: str) -> Any:
        for a in node.arguments or ():
            if a.name.value == name:
                v = a.value
                if isinstance(v, VariableNode):
                    got = self.variables.get(v.name.value)
                    # a wrong type is the executor's INVALID_VARIABLE, not a price
                    return got if isinstance(got, int) and not isinstance(got, bool) else None
                if isinstance(v, IntValueNode):
                    return int(v.value)
                return getattr(v, "value", None)
        return None

    def ids(self, node: FieldNode) -> int | None:
        """How many ids a list field such as `nodes(ids:)` is asked for (literal or variable):
        it answers one object per id, so it is priced as a list of that size."""
        for a in node.arguments or ():
            if a.name.value == "ids":
                v = a.value
                if isinstance(v, VariableNode):
                    got = self.variables.get(v.name.value)
                    return len(got) if isinstance(got, list) else None
                if isinstance(v, ListValueNode):
                    return len(v.values)
        return None

    def fields(self, sel: SelectionSetNode | None, parent: Any) -> list[tuple[FieldNode, Any]]:
        """The fields of a selection on `parent`, fragments applying to it expanded."""
        out: list[tuple[FieldNode, Any]] = []
        for s in sel.selections if sel else ():
            if isinstance(s, FieldNode):
                out.append((s, parent))
            elif isinstance(s, InlineFragmentNode):
                cond = s.type_condition.name.value if s.type_condition else None
                if self._applies(cond, parent):
                    out += self.fields(s.selection_set, parent)
            elif isinstance(s, FragmentSpreadNode):
                frag = self.fragments.get(s.name.value)
                if frag and self._applies(frag.type_condition.name.value, parent):
                    out += self.fields(frag.selection_set, parent)
        return out

    def _applies(self, cond: str | None, parent: Any) -> bool:
        if cond is None or cond == parent.name:
            return True
        t = self.schema.get_type(cond)
        if isinstance(t, GraphQLInterfaceType | GraphQLUnionType) and isinstance(
            parent, GraphQLObjectType
        ):
            return self.schema.is_sub_type(t, parent)
        return False

    def selection(self, sel: SelectionSetNode | None, t: Any, data: Any = ...) -> float:
        """Cost of one object of type `t` (its own point excluded) with selection `sel`."""
        if isinstance(t, GraphQLInterfaceType | GraphQLUnionType):
            if data is not ... and isinstance(data, dict) and data.get("__typename"):
                concrete = self.schema.get_type(data["__typename"])
                return self.selection(sel, concrete, data)
            kinds = self.schema.get_possible_types(t)
            return max((self.selection(sel, k, data) for k in kinds), default=0.0)
        total = 0.0
        for node, parent in self.fields(sel, t):
            total += self.field(node, parent, data)
        return total

    def field(self, node: FieldNode, parent: Any, data: Any = ...) -> float:
        name = node.name.value
        if name.startswith("__"):
            return 0.0
        fdef = parent.fields.get(name) if hasattr(parent, "fields") else None
        if fdef is None:
            return 0.0
        t = get_named_type(fdef.type)
        if not isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            return 0.0
        key = node.alias.value if node.alias else name
        value = data.get(key) if isinstance(data, dict) else ...
        if data is not ... and value is None:
            return 0.0 if _is_connection(t) else 1.0  # asked for, came back null
        if _is_connection(t):
            size = self.arg(node, "first") or self.arg(node, "last") or 0
            node_cost = self.connection_node(node.selection_set, t, ...)
            if value is ...:
                return 2.0 + size * node_cost
            items = _connection_items(value if isinstance(value, dict) else {})
            return 2.0 + sum(self.connection_node(node.selection_set, t, it) for it in items)
        if _is_list(fdef.type):
            if value is ...:
                size = self.arg(node, "first") or self.ids(node) or 1
                return size * (1.0 + self.selection(node.selection_set, t))
            return sum(1.0 + self.selection(node.selection_set, t, it) for it in value or [])
        return 1.0 + self.selection(node.selection_set, t, value)

    def connection_node(self, sel: SelectionSetNode | None, conn: Any, item: Any) -> float:
        """One node of a connection: the most that `edges { node }` or `nodes` select of it."""
        best = 0.0
        for f, parent in self.fields(sel, conn):
            name = f.name.value
            if name == "nodes":
                node_t = get_named_type(parent.fields["nodes"].type)
                best = max(best, 1.0 + self.selection(f.selection_set, node_t, item))
            elif name == "edges":
                edge_t = get_named_type(parent.fields["edges"].type)
                for g, _ in self.fields(f.selection_set, edge_t):
                    if g.name.value == "node":
                        node_t = get_named_type(edge_t.fields["node"].type)
                        best = max(best, 1.0 + self.selection(g.selection_set, node_t, item))
        return best


def _connection_items(value: dict) -> list:
    if value.get("nodes") is not None:
        return list(value["nodes"])
    return [e.get("node") for e in value.get("edges") or [] if isinstance(e, dict)]


def _operation(doc: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if name:
        ops = [o for o in ops if o.name and o.name.value == name]
    return ops[0] if ops else None


def requested_cost(
    schema: GraphQLSchema,
    doc: DocumentNode,
    variables: dict | None = None,
    operation_name: str | None = None,
) -> int:
    """The cost Shopify requests from the bucket before running the operation."""
    return _price(schema, doc, variables, operation_name, ...)


def actual_cost(
    schema: GraphQLSchema,
    doc: DocumentNode,
    data: dict | None,
    variables: dict | None = None,
    operation_name: str | None = None,
) -> int:
    """The cost of what the operation returned (connections priced by the nodes returned)."""
    return _price(schema, doc, variables, operation_name, data or {})


def _price(schema, doc, variables, operation_name, data) -> int:
    op = _operation(doc, operation_name)
    if op is None:
        return 0
    p = _Pricer(schema, doc, variables)
    if op.operation == OperationType.MUTATION:
        root = schema.mutation_type
        return int(MUTATION_COST * len(p.fields(op.selection_set, root)))
    root = schema.query_type
    return int(p.selection(op.selection_set, root, data))
