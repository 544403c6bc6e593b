-- WooCommerce order lines. `price` is a JSON number; money comes from subtotal (before discounts)
-- and total (after discounts), which are strings. Woo reports both without tax whatever the shop's
-- setting; when the order says `prices_include_tax` (prices were entered and shown with tax), the
-- line's tax is added back, so gross/net are on the order's price basis (taxes_included), as for
-- Shopify's tax-inclusive prices.
with

source as (
    {{ latest_version(source('raw', 'woo__orders')) }}
),

lines as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as order_id,
        coalesce(cast(_payload ->> 'prices_include_tax' as boolean), false) as prices_include_tax,
        unnest({{ json_array('_payload', '$.line_items') }}) as line_item
    from source
),

renamed as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        cast(line_item ->> 'id' as varchar) as line_id,
        line_item ->> 'sku' as sku,
        cast(line_item ->> 'product_id' as varchar) as product_id,
        nullif(cast(line_item ->> 'variation_id' as varchar), '0') as variation_id,
        coalesce({{ json_int('line_item', '$.quantity') }}, 0) as quantity,
        coalesce({{ json_money('line_item', '$.subtotal') }}, 0)
        + case when prices_include_tax
            then coalesce({{ json_money('line_item', '$.subtotal_tax') }}, {{ json_money('line_item', '$.total_tax') }}, 0)
            else 0 end as gross_local,
        coalesce({{ json_money('line_item', '$.total') }}, 0)
        + case when prices_include_tax then coalesce({{ json_money('line_item', '$.total_tax') }}, 0) else 0 end
            as net_local,
        coalesce({{ json_money('line_item', '$.total_tax') }}, 0) as tax_local
    from lines
),

final as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        line_id,
        sku,
        product_id,
        variation_id,
        quantity,
        case when quantity <> 0 then cast(gross_local / quantity as decimal(18, 4)) end as unit_price_local,
        gross_local,
        cast(gross_local - net_local as decimal(18, 4)) as discount_local,
        net_local,
        tax_local
    from renamed
)

select * from final
