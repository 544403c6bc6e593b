"""The bulk JSONL's orders mapped to REST payload text in DuckDB: the same canonical JSON text
(sorted keys, no whitespace) `flows.staged.stage` writes for `mapping.order_to_rest`'s dicts,
byte for byte, built with SQL over the parsed lines instead of per-order Python.

Two statements (an in-memory DuckDB, one per result file):
- `CLASSIFY`, per chunk of lines, parses each line (`json_type` of the fields whose shape the
  mapping depends on, `json_transform` of every value it reads: DuckDB writes each back as
  minified JSON text), says what the line is (an order, a child of one, or one for orjson: a
  line DuckDB's parser and orjson may judge differently), whether the SQL may map it (`fast`),
  and builds its mapped pieces: a child's REST object, an order's text around its lists;
- `BUILD` joins each order's pieces (its children in line order, its refunds and fulfilments
  from the join queries, mapped in Python and serialised) into the payload.

`fast` holds only where the SQL gives exactly what the Python mapping gives: every value has the
type and shape Shopify documents (ids `gid://.../<digits>`, money amounts as decimal strings,
quantities as integers, ASCII enums, `Z` timestamps), no JSON escape whose spelling DuckDB and
orjson write differently (`\\u001f` against `\\u001F`), no empty object, no key twice in a line.
An order any of whose lines is not `fast` is rebuilt and mapped by `mapping.order_to_rest` (the
code paged reads use), so an odd value lands as Python maps it or is quarantined with the reason
it gives: the Python mapping stays the reference, and the path for what the SQL does not cover.

The SQL is generated here from small Python helpers (one expression per field, no macros: DuckDB
expands a macro's argument at every use, which made the first version ~100 us per line).
"""

from __future__ import annotations

import json

import duckdb

# the fields whose JSON type the mapping depends on (objects, lists, present or absent)
TYPED = [
    "__parentId", "id", "__typename", "refunds", "fulfillments", "customer", "shippingAddress",
    "discountCodes", "variant", "product", "taxLines", "assignedLocation",
    "assignedLocation.location", "value",
    *(f"{bag}{part}" for bag in (
        "subtotalPriceSet", "totalDiscountsSet", "totalTaxSet", "totalPriceSet",
        "totalShippingPriceSet", "originalUnitPriceSet", "totalDiscountSet", "originalPriceSet",
    ) for part in ("", ".shopMoney", ".presentmentMoney")),
]  # fmt: skip
_T = {p: i for i, p in enumerate(TYPED, 1)}

_J = "JSON"
_MONEY = {"amount": _J, "currencyCode": _J}
_BAG = {"shopMoney": _MONEY, "presentmentMoney": _MONEY}
_LOC = {"id": _J, "legacyResourceId": _J}
# every value the mapping reads, each as the JSON text DuckDB writes for it
VALUES = {
    **{k: _J for k in (
        "id", "legacyResourceId", "name", "email", "createdAt", "updatedAt", "processedAt",
        "cancelledAt", "cancelReason", "currencyCode", "presentmentCurrencyCode",
        "displayFinancialStatus", "displayFulfillmentStatus", "taxesIncluded", "__parentId",
        "__typename", "sku", "title", "quantity", "status", "code", "taxLines",
    )},
    **{k: _BAG for k in (
        "subtotalPriceSet", "totalDiscountsSet", "totalTaxSet", "totalPriceSet",
        "totalShippingPriceSet", "originalUnitPriceSet", "totalDiscountSet", "originalPriceSet",
    )},
    "customer": {"id": _J, "legacyResourceId": _J, "email": _J, "firstName": _J, "lastName": _J},
    "shippingAddress": {"countryCodeV2": _J, "address1": _J},
    "discountCodes": [_J], "refunds": [_J], "fulfillments": [_J],
    "variant": _LOC, "product": _LOC, "assignedLocation": {"location": _LOC},
    "value": {"__typename": _J, "amount": _J},
}  # fmt: skip
TAX_LINE = {"priceSet": _BAG, "rate": _J, "title": _J}

# DuckDB's parser accepts these and orjson does not: such a line is judged by orjson
_LENIENT = r"NaN|Infinity|,\s*[\]}]"
# control characters DuckDB escapes in upper case hex, orjson in lower case; empty objects
_NOT_PLAIN = r"\\u00(0[bBeEfF]|1[a-fA-F])|\{\s*\}"

_AMT2 = r'"-?[0-9]{1,15}\.[0-9]{2}"'  # already the exact 2-decimal text: kept as is
_AMTN = r'"-?(0|[1-9][0-9]{0,11})(\.[0-9]{0,2}0*)?"'  # a decimal Python writes with 2 decimals
_RATE = r"-?(0|[1-9][0-9]{0,9})(\.([1-9][0-9]{0,9}|0[1-9][0-9]{0,8}|00[1-9][0-9]{0,7}))?"
_AMT_RE = rf'(null|{_AMT2}|{_AMTN})'
_STR_RE = r'(null|"[^"\\]*")'
_MONEY_RE = rf'(null|\{{"amount":{_AMT_RE},"currencyCode":{_STR_RE}\}})'
# (an object: DuckDB reads a null one as an object of nulls, where the mapping gives null)
_BAG_RE = rf'\{{"shopMoney":{_MONEY_RE},"presentmentMoney":{_MONEY_RE}\}}'
_TAX_LINE_RE = rf'\{{"priceSet":{_BAG_RE},"rate":(null|{_RATE}),"title":{_STR_RE}\}}'
# a line item's tax lines as DuckDB writes them back, in the shape Shopify writes them
TAX_LINES_RE = rf"\[({_TAX_LINE_RE}(,{_TAX_LINE_RE})*)?\]"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def T(path: str) -> str:
    """The JSON type of `path` in the line (NULL: absent)."""
    return f"ty[{_T[path]}]"


def V(path: str, root: str = "s") -> str:
    """The JSON text of the value at `path` (NULL: absent or null)."""
    return root + "".join(f"[{_lit(k)}]" for k in path.split("."))


def nul(t: str) -> str:
    return f"coalesce({t}, 'NULL') = 'NULL'"


def is_str(j: str) -> str:
    return f"({j} is null or left({j}, 1) = '\"')"


def sv(j: str) -> str:
    """A JSON string's value."""
    return (f"(case when left({j}, 1) = '\"' then case when strpos({j}, '\\') = 0 "
            f"then substr({j}, 2, length({j}) - 2) else json_extract_string({j}, '$') end end)")  # fmt: skip


def qs(j: str) -> str:
    """A string or null as JSON (DuckDB's text of it, as orjson writes it)."""
    return f"coalesce({j}, 'null')"


def amt_ok(j: str) -> str:
    return f"({j} is null or regexp_full_match({j}, {_lit(_AMT2)}) or regexp_full_match({j}, {_lit(_AMTN)}))"


def amt(j: str) -> str:
    """`mapping._amount`: the exact 2-decimal text kept, else the decimal with 2 decimals."""
    return (f"(case when {j} is null then null when regexp_full_match({j}, {_lit(_AMT2)}) "
            f"then substr({j}, 2, length({j}) - 2) "
            f"else regexp_extract({j}, '^\"(-?[0-9]+)', 1) || '.' "
            f"|| rpad(regexp_extract({j}, '^\"-?[0-9]+\\.?([0-9]{{0,2}})', 1), 2, '0') end)")  # fmt: skip


def qa(j: str) -> str:
    return f"coalesce('\"' || {amt(j)} || '\"', 'null')"


def money_ok(p: str) -> str:
    return (f"({nul(T(p))} or ({T(p)} = 'OBJECT' and {amt_ok(V(p + '.amount'))} "
            f"and {is_str(V(p + '.currencyCode'))}))")  # fmt: skip


def money(p: str, root: str = "s") -> str:
    return (f"'{{\"amount\":' || {qa(V(p + '.amount', root))} || ',\"currency_code\":' "
            f"|| {qs(V(p + '.currencyCode', root))} || '}}'")  # fmt: skip


def bag_ok(p: str) -> str:
    return (f"({nul(T(p))} or ({T(p)} = 'OBJECT' and {money_ok(p + '.shopMoney')} "
            f"and {money_ok(p + '.presentmentMoney')}))")  # fmt: skip


def pset(p: str, null: str, root: str = "s") -> str:
    """`mapping._set`: a bag as a REST price_set (`null`: the SQL saying it is absent)."""
    return (f"(case when {null} then 'null' else '{{\"presentment_money\":' || "
            f"{money(p + '.presentmentMoney', root)} || ',\"shop_money\":' || "
            f"{money(p + '.shopMoney', root)} || '}}' end)")  # fmt: skip


def qshop(p: str, root: str = "s") -> str:
    return qa(V(p + ".shopMoney.amount", root))


def lid_ok(j: str) -> str:
    return f"({j} is null or regexp_full_match({j}, '\"([^?\"\\\\]*/)?[0-9]{{1,18}}\"'))"


def lid(j: str) -> str:
    """`mapping.legacy_id` of a gid string, as JSON (a number, or null)."""
    return f"coalesce(cast(cast(regexp_extract({j}, '([0-9]+)\"$', 1) as bigint) as varchar), 'null')"


def either(a: str, b: str) -> str:
    """`a or b` of two JSON strings."""
    return f"(case when {a} is null or {a} = '\"\"' then {b} else {a} end)"


def loc_ok(p: str) -> str:
    return (f"({nul(T(p))} or ({T(p)} = 'OBJECT' and "
            f"{lid_ok(either(V(p + '.legacyResourceId'), V(p + '.id')))}))")  # fmt: skip


def loc(p: str) -> str:
    return (f"(case when {nul(T(p))} then 'null' else "
            f"{lid(either(V(p + '.legacyResourceId'), V(p + '.id')))} end)")  # fmt: skip


def lower_ok(j: str) -> str:
    return f"({j} is null or regexp_full_match({j}, '\"[A-Za-z0-9_ ]*\"'))"


def ql(j: str) -> str:
    """`mapping._lower` as JSON."""
    return f"(case when {j} is null or {j} = '\"\"' then 'null' else lower({j}) end)"


ROOT = "kind = 1"
ITEM = "kind = 2 and typename = 'LineItem'"
SHIP = "kind = 2 and typename = 'ShippingLine'"
FORD = "kind = 2 and typename = 'FulfillmentOrder'"
APP = "kind = 2 and typename = 'DiscountCodeApplication'"
_TS = (
    r'"[0-9]{4}-(0[1-9]|1[0-2])-[0-3][0-9]T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]'
    r'(\.[0-9]{3}|\.[0-9]{6})?Z"'
)


def _root_fast() -> str:
    name = V("name")
    return " and ".join([
        lid_ok(either(V("legacyResourceId"), V("id"))),
        f"({name} is null or (regexp_full_match({name}, '\"[ -~]*\"') and strpos({name}, '\\') = 0"
        f" and not regexp_full_match({name}, '\"#*[0-9]{{19,}}\"')))",
        *(is_str(V(k)) for k in ("email", "createdAt", "processedAt", "cancelledAt",
                                 "currencyCode", "presentmentCurrencyCode",
                                 "displayFulfillmentStatus")),
        f"regexp_full_match(coalesce({V('updatedAt')}, ''), {_lit(_TS)})",
        f"try_cast({sv(V('updatedAt'))} as timestamptz) is not null",
        lower_ok(V("cancelReason")), lower_ok(V("displayFinancialStatus")),
        f"coalesce({V('taxesIncluded')}, 'false') in ('true', 'false')",
        *(bag_ok(b) for b in ("subtotalPriceSet", "totalDiscountsSet", "totalTaxSet",
                              "totalPriceSet", "totalShippingPriceSet")),
        f"({nul(T('customer'))} or ({T('customer')} = 'OBJECT' and "
        f"{lid_ok(either(V('customer.legacyResourceId'), V('customer.id')))} and "
        + " and ".join(is_str(V(f"customer.{k}")) for k in ("email", "firstName", "lastName"))
        + "))",
        f"({nul(T('shippingAddress'))} or ({T('shippingAddress')} = 'OBJECT' and "
        f"{is_str(V('shippingAddress.address1'))} and {is_str(V('shippingAddress.countryCodeV2'))}))",
        f"({nul(T('discountCodes'))} or ({T('discountCodes')} = 'ARRAY' and coalesce(list_bool_and("
        f"list_transform({V('discountCodes')}, lambda c: coalesce(left(c, 1) = '\"', false))), true)))",
    ])  # fmt: skip


def _root_pieces() -> dict[str, str]:
    cust = "customer"
    addr = "shippingAddress"
    ful = sv(V("displayFulfillmentStatus"))
    name = V("name")
    return {
        "seg_a": "'{\"admin_graphql_api_id\":' || " + qs(V("id"))
        + " || ',\"cancel_reason\":' || " + ql(V("cancelReason"))
        + " || ',\"cancelled_at\":' || " + qs(V("cancelledAt"))
        + " || ',\"created_at\":' || " + qs(V("createdAt"))
        + " || ',\"currency\":' || " + qs(V("currencyCode"))
        + f" || ',\"customer\":' || (case when {nul(T(cust))} then 'null' else "
        + "'{\"email\":' || " + qs(V(f"{cust}.email"))
        + " || ',\"first_name\":' || " + qs(V(f"{cust}.firstName"))
        + " || ',\"id\":' || " + lid(either(V(f"{cust}.legacyResourceId"), V(f"{cust}.id")))
        + " || ',\"last_name\":' || " + qs(V(f"{cust}.lastName")) + " || '}' end)"
        + " || ',\"discount_codes\":'",
        "seg_b": "',\"email\":' || " + qs(V("email"))
        + " || ',\"financial_status\":' || " + ql(V("displayFinancialStatus"))
        + " || ',\"fulfillment_orders\":'",
        "seg_c": f"',\"fulfillment_status\":' || (case {ful} when 'FULFILLED' then '\"fulfilled\"' "
        f"when 'PARTIALLY_FULFILLED' then '\"partial\"' else 'null' end) || ',\"fulfillments\":'",
        "seg_d": "',\"id\":' || " + lid(either(V("legacyResourceId"), V("id")))
        + " || ',\"line_items\":'",
        "seg_e": "',\"name\":' || " + qs(name)
        + f" || ',\"order_number\":' || (case when regexp_full_match(coalesce({name}, ''), "
        f"'\"#*[0-9]{{1,18}}\"') then cast(cast(ltrim(substr({name}, 2, length({name}) - 2), '#') "
        "as bigint) as varchar) else 'null' end)"
        + " || ',\"presentment_currency\":' || " + qs(V("presentmentCurrencyCode"))
        + " || ',\"processed_at\":' || " + qs(V("processedAt")) + " || ',\"refunds\":'",
        "seg_f": f"',\"shipping_address\":' || (case when {nul(T(addr))} then 'null' else "
        + "'{\"address1\":' || " + qs(V(f"{addr}.address1"))
        + " || ',\"country_code\":' || " + qs(V(f"{addr}.countryCodeV2")) + " || '}' end)"
        + " || ',\"shipping_lines\":'",
        "seg_g": "',\"subtotal_price\":' || " + qshop("subtotalPriceSet")
        + " || ',\"taxes_included\":' || coalesce(" + V("taxesIncluded") + ", 'false')"
        + " || ',\"total_discounts\":' || " + qshop("totalDiscountsSet")
        + " || ',\"total_line_items_price\":'",
        "seg_h": "',\"total_price\":' || " + qshop("totalPriceSet")
        + " || ',\"total_shipping_price_set\":' || "
        + pset("totalShippingPriceSet", nul(T("totalShippingPriceSet")))
        + " || ',\"total_tax\":' || " + qshop("totalTaxSet")
        + " || ',\"updated_at\":' || " + qs(V("updatedAt")) + " || '}'",
    }


def _tax_line(t: str) -> str:
    """One tax line (a struct of TAX_LINE) as REST JSON."""
    return (
        "'{\"price\":' || " + qshop("priceSet", t)
        + " || ',\"price_set\":' || " + pset("priceSet", "false", t)
        + " || ',\"rate\":' || " + qs(f"{t}['rate']")
        + " || ',\"title\":' || " + qs(f"{t}['title']") + " || '}'"
    )  # fmt: skip


def _item_frag() -> str:
    tl = V("taxLines")
    return (
        "'{\"id\":' || " + lid(V("id"))
        + " || ',\"price\":' || " + qshop("originalUnitPriceSet")
        + " || ',\"price_set\":' || " + pset("originalUnitPriceSet", nul(T("originalUnitPriceSet")))
        + " || ',\"product_id\":' || " + loc("product")
        + " || ',\"quantity\":' || cast(cast(" + V("quantity") + " as bigint) as varchar)"
        + " || ',\"sku\":' || " + qs(V("sku"))
        + " || ',\"tax_lines\":[' || coalesce(array_to_string(list_transform(json_transform("
        + tl + ", " + _lit(json.dumps([TAX_LINE])) + "), lambda t: " + _tax_line("t")
        + "), ','), '') || ']'"
        + " || ',\"title\":' || " + qs(V("title"))
        + " || ',\"total_discount\":' || coalesce('\"' || "
        + amt(V("totalDiscountSet.shopMoney.amount")) + " || '\"', '\"0.00\"')"
        + " || ',\"total_discount_set\":' || " + pset("totalDiscountSet", nul(T("totalDiscountSet")))
        + " || ',\"variant_id\":' || " + loc("variant") + " || '}'"
    )  # fmt: skip


def _classify_sql() -> str:
    typed = ", ".join(_lit("$." + p) for p in TYPED)
    pieces = _root_pieces()
    item_fast = " and ".join([
        f"{T('id')} is not null", lid_ok(V("id")), is_str(V("sku")), is_str(V("title")),
        f"regexp_full_match(coalesce({V('quantity')}, ''), '-?[0-9]{{1,9}}')",
        loc_ok("variant"), loc_ok("product"), bag_ok("originalUnitPriceSet"),
        bag_ok("totalDiscountSet"),
        f"regexp_full_match(coalesce({V('taxLines')}, '[]'), {_lit(TAX_LINES_RE)})",
    ])  # fmt: skip
    ship_fast = " and ".join([lid_ok(V("id")), is_str(V("title")), bag_ok("originalPriceSet")])
    ford_fast = " and ".join([
        lid_ok(V("id")), lower_ok(V("status")),
        f"({nul(T('assignedLocation'))} or ({T('assignedLocation')} = 'OBJECT' "
        f"and {loc_ok('assignedLocation.location')}))",
    ])  # fmt: skip
    app_fast = (f"{is_str(V('code'))} and ({nul(T('value'))} or ({T('value')} = 'OBJECT' and "
                f"{is_str(V('value.__typename'))} and {amt_ok(V('value.amount'))}))")  # fmt: skip
    ship_frag = (
        "'{\"id\":' || " + lid(V("id"))
        + " || ',\"price\":' || " + qshop("originalPriceSet")
        + " || ',\"price_set\":' || " + pset("originalPriceSet", nul(T("originalPriceSet")))
        + " || ',\"title\":' || " + qs(V("title")) + " || '}'"
    )  # fmt: skip
    ford_frag = (
        "'{\"assigned_location_id\":' || " + loc("assignedLocation.location")
        + " || ',\"id\":' || " + lid(V("id"))
        + " || ',\"status\":' || " + ql(V("status")) + " || '}'"
    )  # fmt: skip
    unit = V("originalUnitPriceSet.shopMoney.amount")
    return f"""
insert into lines
with v as (
    select n, line, line is not null and json_valid(line)
        and not regexp_matches(line, {_lit(_LENIENT)}) as valid
    from chunk
), o as (
    select n, line, valid and json_type(line) = 'OBJECT' as obj from v
), k as (
    select n, obj,
        case when obj then len(json_keys(line)) = len(list_distinct(json_keys(line))) end
            as unique_keys,
        obj and not regexp_matches(line, {_lit(_NOT_PLAIN)}) as plain,
        case when obj then json_type(line, [{typed}]) end as ty,
        case when obj then json_transform(line, {_lit(json.dumps(VALUES))}) end as s
    from o
), c as (
    select n, plain, ty, s,
        case
            when not (obj and unique_keys) then 0
            when {nul(T('__parentId'))} then
                case when {T('id')} = 'VARCHAR' and {V('id')} <> '""'
                      and coalesce({T('refunds')}, 'NULL') in ('NULL', 'ARRAY')
                      and coalesce({T('fulfillments')}, 'NULL') in ('NULL', 'ARRAY')
                     then 1 else 0 end
            when {T('__parentId')} = 'VARCHAR' and {T('__typename')} = 'VARCHAR' then 2
            else 0 end as kind,
        {sv(V('__typename'))} as typename
    from k
)
select n, kind,
    case when kind = 1 then {sv(V('id'))} end as oid,
    case when kind = 2 then {sv(V('__parentId'))} end as parent_id,
    case when kind = 2 then typename end as typename,
    case when kind = 1 then coalesce(len({V('refunds')}), 0) end as n_refunds,
    case when kind = 1 then coalesce(len({V('fulfillments')}), 0) end as n_fulfillments,
    plain and case
        when {ROOT} then {_root_fast()}
        when {ITEM} then {item_fast}
        when {SHIP} then {ship_fast}
        when {FORD} then {ford_fast}
        when {APP} then {app_fast}
        when kind = 2 and suffix(typename, 'Application') then true
        else false end as fast,
    case when {ROOT} then {lid(either(V('legacyResourceId'), V('id')))} end as sid,
    case when {ROOT} then try_cast({sv(V('updatedAt'))} as timestamptz) end as updated_at,
    case when {ROOT} then list_transform({V('discountCodes')},
                                         lambda c: json_extract_string(c, '$')) end as code_list,
    case when {ROOT} then {qshop('totalDiscountsSet')} end as discount,
    {", ".join(f"case when {ROOT} then {sql} end as {name}" for name, sql in pieces.items())},
    case when {ITEM} then {_item_frag()}
         when {SHIP} then {ship_frag}
         when {FORD} then {ford_frag} end as frag,
    case when {ITEM} then coalesce(cast(replace({amt(unit)}, '.', '') as hugeint), 0)
        * try_cast({V('quantity')} as hugeint) end as cents,
    case when {APP} then {sv(V('code'))} end as app_code,
    case when {APP} then struct_pack(
        kind := case when {sv(V('value.__typename'))} = 'PricingPercentageValue'
                     then 'percentage' else 'fixed_amount' end,
        amount := {qa(V('value.amount'))}) end as app
from c
"""


CLASSIFY = _classify_sql()

LINES_DDL = """
create or replace table lines (n bigint, kind tinyint, oid varchar, parent_id varchar,
    typename varchar, n_refunds bigint, n_fulfillments bigint, fast boolean, sid varchar,
    updated_at timestamptz, code_list varchar[], discount varchar, seg_a varchar, seg_b varchar,
    seg_c varchar, seg_d varchar, seg_e varchar, seg_f varchar, seg_g varchar, seg_h varchar,
    frag varchar, cents hugeint, app_code varchar,
    app struct(kind varchar, amount varchar))
"""

# members(o, n, f): the lines of each order the SQL maps (f: 0 the order, 1 line item,
# 2 shipping line, 3 fulfilment order, 4 discount application); joined(o, refunds,
# fulfillments): their refunds and fulfilments as canonical JSON text. Amounts (`discount`,
# `app.amount`) are JSON already (a quoted decimal, or null).
BUILD = """
with m as (select members.o, members.f, lines.* from members join lines using (n)),
li as (select o, '[' || string_agg(frag, ',' order by n) || ']' as items, sum(cents) as cents
       from m where f = 1 group by o),
sl as (select o, '[' || string_agg(frag, ',' order by n) || ']' as items
       from m where f = 2 group by o),
fo as (select o, '[' || string_agg(frag, ',' order by n) || ']' as items
       from m where f = 3 group by o),
apps as (select o, app_code as code, arg_max(app, n) as app
         from m where f = 4 and app is not null group by o, app_code),
roots as (select * from m where f = 0),
codes as (select o, discount, len(code_list) as k, unnest(code_list) as code,
                 generate_subscripts(code_list, 1) as i
          from roots where len(code_list) > 0),
dc as (select c.o, '[' || string_agg('{"amount":' || case
                  when c.k = 1 then c.discount
                  when coalesce(a.app.kind, 'fixed_amount') = 'fixed_amount'
                      then coalesce(a.app.amount, 'null')
                  else 'null' end
              || ',"code":' || to_json(c.code)::varchar
              || ',"type":"' || coalesce(a.app.kind, 'fixed_amount') || '"}', ',' order by c.i)
              || ']' as items
       from codes c left join apps a on a.o = c.o and a.code = c.code group by c.o)
select r.o, r.sid as _source_id, r.updated_at as _source_updated_at,
    r.seg_a || coalesce(dc.items, '[]') || r.seg_b || coalesce(fo.items, '[]') || r.seg_c
    || j.fulfillments || r.seg_d || coalesce(li.items, '[]') || r.seg_e || j.refunds
    || r.seg_f || coalesce(sl.items, '[]') || r.seg_g
    || '"' || case when coalesce(li.cents, 0) < 0 then '-' else '' end
    || (abs(coalesce(li.cents, 0)) // 100)::varchar || '.'
    || lpad((abs(coalesce(li.cents, 0)) % 100)::varchar, 2, '0') || '"'
    || r.seg_h as _payload
from roots r join joined j using (o)
left join li using (o) left join sl using (o) left join fo using (o) left join dc using (o)
order by r.o
"""


def connect() -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for one result file and its `lines` table."""
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    # one chunk of lines (and the open page's) is held at a time; beyond this DuckDB spills
    con.execute("set memory_limit = '256MB'")
    con.execute(LINES_DDL)
    return con
