{%- set items_shape = {
    'AmazonOrderId': 'VARCHAR',
    'OrderItems': [{
        'OrderItemId': 'VARCHAR',
        'SellerSKU': 'VARCHAR',
        'ASIN': 'VARCHAR',
        'Title': 'VARCHAR',
        'QuantityOrdered': 'VARCHAR',
        'QuantityShipped': 'VARCHAR',
        'ItemPrice': {'Amount': 'VARCHAR', 'CurrencyCode': 'VARCHAR'},
        'PromotionDiscount': {'Amount': 'VARCHAR'},
        'ItemTax': {'Amount': 'VARCHAR'},
        'ShippingPrice': {'Amount': 'VARCHAR'},
    }],
} -%}
-- One row per Amazon order item. ItemPrice is the price of the whole line (unit price x quantity).
with

source as (
    {{ latest_version(source('raw', 'amazon__order_items')) }}
),

parsed as (
    -- the payload parsed once into the fields read below
    select
        _source_id,
        _max_loaded_at,
        {{ json_shape('_payload', items_shape) }} as p
    from source
),

items as (
    select
        _source_id,
        _max_loaded_at,
        coalesce(p.AmazonOrderId, _source_id) as order_id,
        unnest(p.OrderItems) as item
    from parsed
),

final as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        item.OrderItemId as order_item_id,
        item.SellerSKU as sku,
        item.ASIN as asin,
        item.Title as title,
        coalesce({{ text_int('item.QuantityOrdered') }}, 0) as quantity,
        coalesce({{ text_int('item.QuantityShipped') }}, 0) as quantity_shipped,
        upper(item.ItemPrice.CurrencyCode) as currency,
        coalesce({{ text_money('item.ItemPrice.Amount') }}, 0) as gross_local,
        coalesce({{ text_money('item.PromotionDiscount.Amount') }}, 0) as discount_local,
        coalesce({{ text_money('item.ItemTax.Amount') }}, 0) as tax_local,
        coalesce({{ text_money('item.ShippingPrice.Amount') }}, 0) as shipping_local
    from items
)

select
    *,
    case when quantity > 0 then cast(gross_local / quantity as decimal(18, 4)) end as unit_price_local,
    cast(gross_local - discount_local as decimal(18, 4)) as net_local
from final
