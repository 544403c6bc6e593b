-- One row per Amazon order item. ItemPrice is the price of the whole line (unit price x quantity).
with

source as (
    {{ latest_version(source('raw', 'amazon__order_items')) }}
),

items as (
    select
        _source_id,
        _max_loaded_at,
        coalesce(_payload ->> 'AmazonOrderId', _source_id) as order_id,
        unnest({{ json_array('_payload', '$.OrderItems') }}) as item
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        item ->> 'OrderItemId' as order_item_id,
        item ->> 'SellerSKU' as sku,
        item ->> 'ASIN' as asin,
        item ->> 'Title' as title,
        coalesce({{ json_int('item', '$.QuantityOrdered') }}, 0) as quantity,
        coalesce({{ json_int('item', '$.QuantityShipped') }}, 0) as quantity_shipped,
        upper(item ->> '$.ItemPrice.CurrencyCode') as currency,
        coalesce({{ json_money('item', '$.ItemPrice.Amount') }}, 0) as gross_local,
        coalesce({{ json_money('item', '$.PromotionDiscount.Amount') }}, 0) as discount_local,
        coalesce({{ json_money('item', '$.ItemTax.Amount') }}, 0) as tax_local,
        coalesce({{ json_money('item', '$.ShippingPrice.Amount') }}, 0) as shipping_local
    from items
)

select
    *,
    case when quantity > 0 then cast(gross_local / quantity as decimal(18, 4)) end as unit_price_local,
    cast(gross_local - discount_local as decimal(18, 4)) as net_local
from final
