-- WooCommerce refunds, one row per refunded line item (quantities and amounts are negative in
-- Woo; here they are positive). Dated by the refund's date_created_gmt (UTC, no offset).
with

source as (
    {{ latest_version(source('raw', 'woo__refunds')) }}
),

lines as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as refund_id,
        cast(_payload ->> 'order_id' as varchar) as order_id,
        {{ local_to_utc_ts("_payload ->> 'date_created_gmt'") }} as refunded_at,
        _payload ->> 'reason' as reason,
        unnest({{ json_array('_payload', '$.line_items') }}) as line_item
    from source
),

final as (
    select
        _source_id,
        _max_loaded_at,
        order_id,
        refund_id,
        refund_id || ':' || cast(line_item ->> 'id' as varchar) as refund_line_id,
        -- the order line it refunds: only in meta_data `_refunded_item_id` (Woo's published
        -- refund example has an empty sku)
        cast(list_filter(
            {{ json_array('line_item', '$.meta_data') }},
            lambda m: m ->> 'key' = '_refunded_item_id'
        )[1] ->> 'value' as varchar) as refunded_line_id,
        nullif(line_item ->> 'sku', '') as sku,
        cast(line_item ->> 'product_id' as varchar) as product_id,
        abs(coalesce({{ json_int('line_item', '$.quantity') }}, 0)) as quantity,
        refunded_at,
        reason,
        abs(coalesce(
            {{ json_money('line_item', '$.total') }}, {{ json_money('line_item', '$.subtotal') }}, 0
        )) as amount_local,
        abs(coalesce({{ json_money('line_item', '$.total_tax') }}, 0)) as tax_local
    from lines
)

select * from final
