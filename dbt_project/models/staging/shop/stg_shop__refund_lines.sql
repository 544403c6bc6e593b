-- One row per refunded order line. Refunds are part of the Shopify order payload; they are dated
-- by their own processed_at/created_at, never by the order.
with

source as (
    {{ latest_version(source('raw', 'shop__orders')) }}
),

refunds as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as order_id,
        unnest({{ json_array('_payload', '$.refunds') }}) as refund
    from source
),

refund_lines as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        cast(refund ->> 'id' as varchar) as refund_id,
        coalesce(
            {{ to_utc_ts("refund ->> 'processed_at'") }},
            {{ to_utc_ts("refund ->> 'created_at'") }}
        ) as refunded_at,
        cast(refund ->> 'restock' as boolean) as refund_restock,
        unnest({{ json_array('refund', '$.refund_line_items') }}) as refund_line
    from refunds
),

final as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        refund_id,
        cast(refund_line ->> 'id' as varchar) as refund_line_id,
        cast(refund_line ->> 'line_item_id' as varchar) as line_id,
        coalesce(refund_line ->> 'sku', refund_line ->> '$.line_item.sku') as sku,
        cast(refund_line ->> 'quantity' as integer) as quantity,
        refunded_at,
        refund_line ->> 'restock_type' as restock_type,
        coalesce(refund_line ->> 'restock_type', '') in ('return', 'cancel', 'legacy_restock')
            as is_restocked,
        refund_line ->> 'location_id' as restock_external_location_id,
        -- merchandise refunded, after the line's discount share, excluding tax
        coalesce({{ json_money('refund_line', '$.subtotal') }}, 0) as amount_local,
        coalesce({{ json_money('refund_line', '$.total_tax') }}, 0) as tax_local
    from refund_lines
)

select * from final
