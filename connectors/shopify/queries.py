"""Shopify GraphQL Admin API: the query text of every stream (docs/channels.md)."""

from __future__ import annotations

MONEY = "amount currencyCode"
BAG = f"shopMoney {{ {MONEY} }} presentmentMoney {{ {MONEY} }}"
LOC = "location { id legacyResourceId }"

ORDER_FIELDS = f"""
id legacyResourceId name email createdAt updatedAt processedAt cancelledAt cancelReason
currencyCode presentmentCurrencyCode displayFinancialStatus displayFulfillmentStatus taxesIncluded
subtotalPriceSet {{ {BAG} }} totalDiscountsSet {{ {BAG} }} totalTaxSet {{ {BAG} }}
totalPriceSet {{ {BAG} }} totalShippingPriceSet {{ {BAG} }}
customer {{ id legacyResourceId email firstName lastName }}
shippingAddress {{ countryCodeV2 address1 }}
discountCodes
discountApplications(first: 20) {{ nodes {{ __typename
  ... on DiscountCodeApplication {{ code value {{ __typename
    ... on PricingPercentageValue {{ percentage }} ... on MoneyV2 {{ {MONEY} }} }} }} }} }}
shippingLines(first: 20) {{ nodes {{ id title originalPriceSet {{ {BAG} }} }} }}
lineItems(first: 250) {{ nodes {{ id sku title quantity
  variant {{ id legacyResourceId }} product {{ id legacyResourceId }}
  originalUnitPriceSet {{ {BAG} }} totalDiscountSet {{ {BAG} }}
  taxLines {{ priceSet {{ {BAG} }} rate title }} }} }}
fulfillmentOrders(first: 20) {{ nodes {{ id status assignedLocation {{ {LOC} }} }} }}
fulfillments {{ id status createdAt {LOC}
  fulfillmentLineItems(first: 250) {{ nodes {{ lineItem {{ id }} quantity }} }} }}
refunds {{ id legacyResourceId createdAt
  refundLineItems(first: 250) {{ nodes {{ id quantity restockType {LOC}
    lineItem {{ id sku originalUnitPriceSet {{ {BAG} }} }}
    subtotalSet {{ {BAG} }} totalTaxSet {{ {BAG} }} }} }}
  transactions(first: 20) {{ nodes {{ kind amountSet {{ {BAG} }} }} }} }}
"""

CUSTOMER_FIELDS = """id legacyResourceId email firstName lastName createdAt updatedAt
defaultAddress { countryCodeV2 }"""

PRODUCT_FIELDS = """id legacyResourceId title productType vendor status createdAt updatedAt
variants(first: 100) { nodes { id legacyResourceId sku title price createdAt updatedAt
  inventoryItem { id legacyResourceId unitCost { amount currencyCode } } } }"""


def _list_query(root: str, fields: str) -> str:
    return (
        f"query Sync($first: Int!, $after: String, $query: String) {{ "
        f"{root}(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {{ "
        f"nodes {{ {fields} }} pageInfo {{ hasNextPage endCursor }} }} }}"
    )


LOCATIONS_QUERY = (
    "query Locations($first: Int!, $after: String) { locations(first: $first, after: $after) "
    "{ nodes { id legacyResourceId name isActive address { countryCode } } "
    "pageInfo { hasNextPage endCursor } } }"
)
LEVELS_QUERY = (
    "query Levels($locationId: ID!, $first: Int!, $after: String) { inventoryLevels: "
    "location(id: $locationId) { inventoryLevels(first: $first, after: $after) { nodes { id updatedAt "
    "location { id legacyResourceId } item { id legacyResourceId sku unitCost { amount currencyCode } } "
    'quantities(names: ["available", "on_hand", "committed", "incoming"]) { name quantity } } '
    "pageInfo { hasNextPage endCursor } } } }"
)
