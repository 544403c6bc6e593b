-- WooCommerce has no shipments: an order is shipped when it is `completed`, at
-- date_completed_gmt (UTC, no offset). One row per order, with its first shipping line's
-- method (method_title, e.g. Flat Rate) as the service; Woo names no carrier.
with

source as (
    {{ latest_version(source('raw', 'woo__orders')) }}
),

final as (
    select
        _source_id,
        _max_loaded_at,
        cast(_payload ->> 'id' as varchar) as order_id,
        _payload ->> 'status' as order_status,
        {{ local_to_utc_ts("_payload ->> 'date_completed_gmt'") }} as completed_at,
        nullif(_payload ->> '$.shipping_lines[0].method_title', '') as shipping_method,
        nullif(_payload ->> '$.shipping_lines[0].method_id', '') as shipping_method_id,
        coalesce(json_array_length(_payload, '$.line_items'), 0) as lines,
        coalesce(list_sum(list_transform(
            {{ json_array('_payload', '$.line_items') }},
            lambda x: cast(x ->> 'quantity' as integer)
        )), 0) as units
    from source
)

select * from final
