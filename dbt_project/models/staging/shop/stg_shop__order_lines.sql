{%- set order_shape = {
    'id': 'VARCHAR',
    'line_items': [{
        'id': 'VARCHAR',
        'sku': 'VARCHAR',
        'variant_id': 'VARCHAR',
        'product_id': 'VARCHAR',
        'title': 'VARCHAR',
        'quantity': 'VARCHAR',
        'price': 'VARCHAR',
        'total_discount': 'VARCHAR',
        'tax_lines': [{'price': 'VARCHAR'}],
    }],
    'fulfillments': [{
        'location_id': 'VARCHAR',
        'status': 'VARCHAR',
        'created_at': 'VARCHAR',
        'line_items': [{'id': 'VARCHAR', 'quantity': 'VARCHAR'}],
    }],
} -%}
with

source as (
    {{ latest_version(source('raw', 'shop__orders')) }}
),

parsed as (
    -- the payload parsed once into the fields read below
    select
        _source_id,
        _max_loaded_at,
        {{ json_shape('_payload', order_shape) }} as o
    from source
),

lines as (
    select
        _source_id,
        _max_loaded_at,
        o.id as order_id,
        unnest(o.line_items) as line_item
    from parsed
),

fulfillments as (
    select
        o.id as order_id,
        unnest(o.fulfillments) as fulfillment
    from parsed
),

fulfilled as (
    -- units of each line in successful fulfillments, with the (Shopify) location they left from
    -- (plain unnests: a lateral join on the payload costs a join over every order)
    select
        order_id,
        fulfillment.location_id as external_location_id,
        fulfillment.status as fulfillment_status,
        {{ to_utc_ts('fulfillment.created_at') }} as fulfilled_at,
        unnest(fulfillment.line_items) as fulfillment_line
    from fulfillments
),

fulfilled_by_line as (
    select
        order_id,
        fulfillment_line.id as line_id,
        sum(cast(fulfillment_line.quantity as integer)) as quantity_fulfilled,
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
        line_item.id as line_id,
        line_item.sku,
        line_item.variant_id,
        line_item.product_id,
        line_item.title,
        cast(line_item.quantity as integer) as quantity,
        {{ text_money('line_item.price') }} as unit_price_local,
        coalesce({{ text_money('line_item.total_discount') }}, 0) as discount_local,
        coalesce(list_sum(list_transform(
            line_item.tax_lines, lambda t: cast(t.price as decimal(18, 4))
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
