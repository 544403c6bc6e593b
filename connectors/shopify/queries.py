"""Shopify GraphQL Admin API: the query text of every stream (docs/channels.md).

Shopify refuses, before running it, a query whose *requested* cost exceeds 1,000 points; a
connection costs 2 + `first` x its node, multiplied through nesting (connectors/shopify/cost.py).
So the page queries ask for small first pages of every nested connection (`pageInfo` included)
and the connector completes an order whose nested connection has more with follow-up queries on
that connection alone (`FOLLOW_UPS`, `node(id:)` of its owner). Lists that Shopify does not page
(`refunds`, `fulfillments`, `taxLines`) are asked with a `first`; one that comes back full is
asked again with the largest `first` that fits (`LIST_REFETCH`).
"""

from __future__ import annotations

from dataclasses import dataclass

MONEY = "amount currencyCode"
BAG = f"shopMoney {{ {MONEY} }} presentmentMoney {{ {MONEY} }}"
LOC = "location { id legacyResourceId }"
PAGE = "pageInfo { hasNextPage endCursor }"

# First-page sizes of the nested connections and lists inside one order.
NESTED = {
    "discountApplications": 3,
    "shippingLines": 2,
    "lineItems": 5,
    "taxLines": 3,
    "fulfillmentOrders": 2,
    "fulfillments": 2,
    "fulfillmentLineItems": 5,
    "refunds": 2,
    "refundLineItems": 3,
    "transactions": 2,
    "variants": 10,
    "productVariantComponents": 3,
}

# The node selection of each nested connection (also what a follow-up asks for).
DISCOUNT_APP = f"""__typename ... on DiscountCodeApplication {{ code value {{ __typename
    ... on PricingPercentageValue {{ percentage }} ... on MoneyV2 {{ {MONEY} }} }} }}"""
SHIPPING_LINE = f"id title originalPriceSet {{ {BAG} }}"
TAX_LINE = f"priceSet {{ {BAG} }} rate title"
LINE_ITEM = f"""id sku title quantity variant {{ id legacyResourceId }}
  product {{ id legacyResourceId }} originalUnitPriceSet {{ {BAG} }}
  totalDiscountSet {{ {BAG} }} taxLines(first: {NESTED["taxLines"]}) {{ {TAX_LINE} }}"""
FULFILLMENT_ORDER = f"id status assignedLocation {{ {LOC} }}"
FULFILLMENT_LINE = "lineItem { id } quantity"
FULFILLMENT = f"""id status createdAt updatedAt displayStatus deliveredAt estimatedDeliveryAt
  trackingInfo(first: 1) {{ company number }} {LOC}
  fulfillmentLineItems(first: {NESTED["fulfillmentLineItems"]}) {{
    nodes {{ {FULFILLMENT_LINE} }} {PAGE} }}"""
REFUND_LINE = f"""id quantity restockType {LOC}
  lineItem {{ id sku originalUnitPriceSet {{ {BAG} }} }}
  subtotalSet {{ {BAG} }} totalTaxSet {{ {BAG} }}"""
TRANSACTION = f"kind amountSet {{ {BAG} }}"
REFUND = f"""id legacyResourceId createdAt
  refundLineItems(first: {NESTED["refundLineItems"]}) {{ nodes {{ {REFUND_LINE} }} {PAGE} }}
  transactions(first: {NESTED["transactions"]}) {{ nodes {{ {TRANSACTION} }} {PAGE} }}"""


def _conn(field: str) -> str:
    node = {
        "discountApplications": DISCOUNT_APP,
        "shippingLines": SHIPPING_LINE,
        "lineItems": LINE_ITEM,
        "fulfillmentOrders": FULFILLMENT_ORDER,
    }[field]
    return f"{field}(first: {NESTED[field]}) {{ nodes {{ {node} }} {PAGE} }}"


ORDER_FIELDS = f"""
id legacyResourceId name email createdAt updatedAt processedAt cancelledAt cancelReason
currencyCode presentmentCurrencyCode displayFinancialStatus displayFulfillmentStatus taxesIncluded
subtotalPriceSet {{ {BAG} }} totalDiscountsSet {{ {BAG} }} totalTaxSet {{ {BAG} }}
totalPriceSet {{ {BAG} }} totalShippingPriceSet {{ {BAG} }}
customer {{ id legacyResourceId email firstName lastName }}
shippingAddress {{ countryCodeV2 address1 }}
discountCodes
{_conn("discountApplications")}
{_conn("shippingLines")}
{_conn("lineItems")}
{_conn("fulfillmentOrders")}
fulfillments(first: {NESTED["fulfillments"]}) {{ {FULFILLMENT} }}
refunds(first: {NESTED["refunds"]}) {{ {REFUND} }}
"""

CUSTOMER_FIELDS = """id legacyResourceId email firstName lastName createdAt updatedAt
defaultAddress { countryCodeV2 } tags"""

# A bundle (fixed bundle: a variant with components, Shopify's `productVariantComponents`; up to
# 30 of them) comes with its first components; the rest by a follow-up on the variant.
COMPONENT = "id quantity productVariant { id legacyResourceId sku }"
VARIANT = f"""id legacyResourceId sku title price createdAt updatedAt
  inventoryItem {{ id legacyResourceId unitCost {{ amount currencyCode }} }} requiresComponents
  productVariantComponents(first: {NESTED["productVariantComponents"]}) {{
    nodes {{ {COMPONENT} }} {PAGE} }}"""
PRODUCT_FIELDS = f"""id legacyResourceId title productType vendor status createdAt updatedAt
variants(first: {NESTED["variants"]}) {{ nodes {{ {VARIANT} }} {PAGE} }}"""


def _list_query(root: str, fields: str) -> str:
    return (
        f"query Sync($first: Int!, $after: String, $query: String) {{ "
        f"{root}(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{ "
        f"nodes {{ {fields} }} {PAGE} }} }}"
    )


LOCATIONS_QUERY = (
    "query Locations($first: Int!, $after: String) { locations(first: $first, after: $after) "
    "{ nodes { id legacyResourceId name isActive address { countryCode } } "
    f"{PAGE} }} }}"
)
LEVELS_QUERY = (
    "query Levels($locationId: ID!, $first: Int!, $after: String) { inventoryLevels: "
    "location(id: $locationId) { inventoryLevels(first: $first, after: $after) { nodes { id updatedAt "
    "location { id legacyResourceId } item { id legacyResourceId sku unitCost { amount currencyCode } } "
    'quantities(names: ["available", "on_hand", "committed", "incoming"]) { name quantity } } '
    f"{PAGE} }} }} }}"
)


@dataclass(frozen=True)
class FollowUp:
    """The rest of one nested connection, asked on its owner (`node(id:)`)."""

    owner_type: str  # the GraphQL type owning the connection
    field: str
    node: str  # the node selection

    @property
    def query(self) -> str:
        return (
            f"query More{self.field[0].upper()}{self.field[1:]}($id: ID!, $first: Int!, "
            f"$after: String) {{ node(id: $id) {{ ... on {self.owner_type} {{ "
            f"{self.field}(first: $first, after: $after) {{ nodes {{ {self.node} }} {PAGE} }} "
            f"}} }} }}"
        )


FOLLOW_UPS: dict[str, FollowUp] = {
    f.field: f
    for f in (
        FollowUp("Order", "discountApplications", DISCOUNT_APP),
        FollowUp("Order", "shippingLines", SHIPPING_LINE),
        FollowUp("Order", "lineItems", LINE_ITEM),
        FollowUp("Order", "fulfillmentOrders", FULFILLMENT_ORDER),
        FollowUp("Fulfillment", "fulfillmentLineItems", FULFILLMENT_LINE),
        FollowUp("Refund", "refundLineItems", REFUND_LINE),
        FollowUp("Refund", "transactions", TRANSACTION),
        FollowUp("Product", "variants", VARIANT),
        FollowUp("ProductVariant", "productVariantComponents", COMPONENT),
    )
}


@dataclass(frozen=True)
class ListRefetch:
    """An unpaged list asked again, whole, with the largest `first` that fits."""

    owner_type: str
    field: str
    node: str

    @property
    def query(self) -> str:
        return (
            f"query All{self.field[0].upper()}{self.field[1:]}($id: ID!, $first: Int!) {{ "
            f"node(id: $id) {{ ... on {self.owner_type} {{ {self.field}(first: $first) {{ "
            f"{self.node} }} }} }} }}"
        )


LIST_REFETCH: dict[str, ListRefetch] = {
    r.field: r
    for r in (
        ListRefetch("Order", "refunds", REFUND),
        ListRefetch("Order", "fulfillments", FULFILLMENT),
        ListRefetch("LineItem", "taxLines", TAX_LINE),
    )
}
