{%- set order_shape = {
    'id': 'VARCHAR',
    'refunds': [{
        'id': 'VARCHAR',
        'processed_at': 'VARCHAR',
        'created_at': 'VARCHAR',
        'restock': 'VARCHAR',
        'refund_line_items': [{
            'id': 'VARCHAR',
            'line_item_id': 'VARCHAR',
            'sku': 'VARCHAR',
            'line_item': {'sku': 'VARCHAR'},
            'quantity': 'VARCHAR',
            'restock_type': 'VARCHAR',
            'location_id': 'VARCHAR',
            'subtotal': 'VARCHAR',
            'total_tax': 'VARCHAR',
        }],
    }],
} -%}
-- One row per refunded order line. Refunds are part of the Shopify order payload; they are dated
-- by their own processed_at/created_at, never by the order.
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

refunds as (
    select
        _source_id,
        _max_loaded_at,
        o.id as order_id,
        unnest(o.refunds) as refund
    from parsed
),

refund_lines as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        refund.id as refund_id,
        coalesce(
            {{ to_utc_ts('refund.processed_at') }},
            {{ to_utc_ts('refund.created_at') }}
        ) as refunded_at,
        cast(refund.restock as boolean) as refund_restock,
        unnest(refund.refund_line_items) as refund_line
    from refunds
),

final as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        refund_id,
        refund_line.id as refund_line_id,
        refund_line.line_item_id as line_id,
        coalesce(refund_line.sku, refund_line.line_item.sku) as sku,
        cast(refund_line.quantity as integer) as quantity,
        refunded_at,
        refund_line.restock_type,
        coalesce(refund_line.restock_type, '') in ('return', 'cancel', 'legacy_restock')
            as is_restocked,
        refund_line.location_id as restock_external_location_id,
        -- merchandise refunded, after the line's discount share, excluding tax
        coalesce({{ text_money('refund_line.subtotal') }}, 0) as amount_local,
        coalesce({{ text_money('refund_line.total_tax') }}, 0) as tax_local
    from refund_lines
)

select * from final
