with

source as (
    {{ latest_version(source('raw', 'shop__orders')) }}
),

lines as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as order_id,
        unnest({{ json_array('_payload', '$.line_items') }}) as line_item
    from source
),

fulfillments as (
    select
        cast(_payload ->> 'id' as varchar) as order_id,
        unnest({{ json_array('_payload', '$.fulfillments') }}) as fulfillment
    from source
),

fulfilled as (
    -- units of each line in successful fulfillments, with the (Shopify) location they left from
    -- (plain unnests: a lateral join on the payload costs a join over every order)
    select
        order_id,
        fulfillment ->> 'location_id' as external_location_id,
        fulfillment ->> 'status' as fulfillment_status,
        {{ to_utc_ts("fulfillment ->> 'created_at'") }} as fulfilled_at,
        unnest({{ json_array('fulfillment', '$.line_items') }}) as fulfillment_line
    from fulfillments
),

fulfilled_by_line as (
    select
        order_id,
        cast(fulfillment_line ->> 'id' as varchar) as line_id,
        sum(cast(fulfillment_line ->> 'quantity' as integer)) as quantity_fulfilled,
        min_by(external_location_id, fulfilled_at) as fulfillment_external_location_id
    from fulfilled
    where coalesce(fulfillment_status, 'success') = 'success'
    group by all
),

renamed as (
    select
        lines._source_id,
        lines._max_loaded_at,
        lines.order_id,
        cast(line_item ->> 'id' as varchar) as line_id,
        line_item ->> 'sku' as sku,
        cast(line_item ->> 'variant_id' as varchar) as variant_id,
        cast(line_item ->> 'product_id' as varchar) as product_id,
        line_item ->> 'title' as title,
        cast(line_item ->> 'quantity' as integer) as quantity,
        {{ json_money('line_item', '$.price') }} as unit_price_local,
        coalesce({{ json_money('line_item', '$.total_discount') }}, 0) as discount_local,
        coalesce(list_sum(list_transform(
            {{ json_array('line_item', '$.tax_lines') }}, lambda t: cast(t ->> 'price' as decimal(18, 4))
        )), 0) as tax_local
    from lines
),

final as (
    select
        renamed._source_id,
        renamed._max_loaded_at,
        renamed.order_id,
        renamed.line_id,
        renamed.sku,
        renamed.variant_id,
        renamed.product_id,
        renamed.title,
        renamed.quantity,
        renamed.unit_price_local,
        cast(renamed.unit_price_local * renamed.quantity as decimal(18, 4)) as gross_local,
        renamed.discount_local,
        cast(renamed.unit_price_local * renamed.quantity - renamed.discount_local as decimal(18, 4)) as net_local,
        renamed.tax_local,
        coalesce(fulfilled_by_line.quantity_fulfilled, 0) as quantity_fulfilled,
        fulfilled_by_line.fulfillment_external_location_id
    from renamed
    left join fulfilled_by_line
        on renamed.order_id = fulfilled_by_line.order_id
        and renamed.line_id = fulfilled_by_line.line_id
)

select * from final
